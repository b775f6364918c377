package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"
)

// A 503 with Retry-After makes client-go send the request again by itself,
// whatever its verb (rest.checkWait), and report only the last answer. A
// create that was stored and answered so is sent again and gets 409
// AlreadyExists: the client is told its object exists, not that it made
// it (test/faults' TestDiskFull saw five). So a write that may have been
// stored is answered with a 503 that says so and has no Retry-After; only
// a write the database never ran, or rolled back, asks for a retry
// (TestWritesToAStandbyAre503).

// TestAStoredWriteThatCannotBePublishedIsNotRetried: the create commits,
// but the sequencer cannot publish its revision (a hole below it is held
// open, and the sequencer's reads fail, as when the disk is full and gap
// rows cannot be written), so the store cannot answer it yet.
func TestAStoredWriteThatCannotBePublishedIsNotRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := newDatabaseURL(t)
	store := newStoreOn(t, newBackendOn(t, dsn, func(o *Options) { o.UnavailableAfter = 300 * time.Millisecond }), defaultSetup())

	// A write in flight: it drew a revision and holds it.
	inFlight, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer inFlight.Close(ctx)
	tx, err := inFlight.Begin(ctx)
	require.NoError(t, err)
	var hole int64
	require.NoError(t, tx.QueryRow(ctx, "SELECT sluice.next_rv()").Scan(&hole))
	// The sequencer's reads fail from now on; writes do not read sluice.meta.
	admin, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "ALTER TABLE sluice.meta RENAME TO meta_moved")
	require.NoError(t, err)

	reqCtx, cancelReq := context.WithTimeout(ctx, 20*time.Second)
	err = store.Create(reqCtx, "/pods/ns/stored", &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stored", Namespace: "ns"}}, &example.Pod{}, 0)
	cancelReq()
	require.True(t, apierrors.IsServiceUnavailable(err), "a create stored but not published: %v", err)
	_, retry := apierrors.SuggestsClientDelay(err)
	require.False(t, retry, "the 503 of a stored write must not ask the client to send it again: %v", err)
	require.Contains(t, err.Error(), "was stored at revision")
	require.Contains(t, err.Error(), "read it back")

	_, err = admin.Exec(ctx, "ALTER TABLE sluice.meta_moved RENAME TO meta")
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	waitFor(t, ctx, "the store to recover", func() bool { return store.ReadinessCheck() == nil })
	out := &example.Pod{}
	require.NoError(t, store.Get(ctx, "/pods/ns/stored", storage.GetOptions{}, out), "the write was stored, as its 503 said")
	rv, err := store.versioner.ObjectResourceVersion(out)
	require.NoError(t, err)
	require.Greater(t, int64(rv), hole)
}

// TestAWriteWhoseConnectionDiesIsNotRetried: the database terminates the
// backend of a create while it runs (a failover, an operator), so nobody
// knows whether it committed.
func TestAWriteWhoseConnectionDiesIsNotRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := newDatabaseURL(t)
	store := newPodStore(t, dsn)

	// Hold the create inside its statement: it waits for the table.
	locker, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer locker.Close(ctx)
	tx, err := locker.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE sluice.kv IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		done <- store.Create(ctx, "/pods/ns/cut", &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "cut", Namespace: "ns"}}, &example.Pod{}, 0)
	}()
	// Watched from a connection of its own: the locker's session is in
	// the transaction that holds the table.
	observer, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer observer.Close(ctx)
	var pid int32
	waitFor(t, ctx, "the create to wait for the table", func() bool {
		err := observer.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO sluice.kv%'`).Scan(&pid)
		return err == nil
	})
	var terminated bool
	require.NoError(t, observer.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&terminated))
	require.True(t, terminated)

	err = <-done
	require.True(t, apierrors.IsServiceUnavailable(err), "a create whose connection was terminated: %v", err)
	_, retry := apierrors.SuggestsClientDelay(err)
	require.False(t, retry, "the 503 of a write that may have been stored must not ask the client to send it again: %v", err)
	require.Contains(t, err.Error(), "may or may not have been stored")
	require.Contains(t, err.Error(), "terminating connection due to administrator command", "PostgreSQL's own words say why")
	require.NoError(t, tx.Rollback(ctx))

	// The store goes on: the next write gets a new connection.
	require.NoError(t, store.Create(ctx, "/pods/ns/after", &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "after", Namespace: "ns"}}, &example.Pod{}, 0))
}
