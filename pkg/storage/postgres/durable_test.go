package postgres

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"

	pgtest "github.com/sluice-dev/sluice/pkg/testing/postgres"
)

// TestAnotherReplicasWriteIsPublishedOnceDurable: under synchronous
// replication a commit becomes visible when the standby has it, or when
// the wait is cut short (the primary's postmaster died, the backend was
// terminated): then the commit is visible on the primary, its client got
// an error, and a failover would lose it. A replica that reads such a
// write must not show it to watchers before the standby has it. Here no
// standby ever confirms (synchronous_standby_names names none that
// exists); replica A's create waits, and its backend is terminated: the
// create is visible. Replica B reads it and waits for the standby
// (durableBarrierSQL) instead of publishing it. Once no standby is
// required, B publishes it. Before the barrier, B published at once, and
// this test timed out waiting for B to wait.
func TestAnotherReplicasWriteIsPublishedOnceDurable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server, err := pgtest.Start(ctx, pgtest.Options{Durable: true}) // synchronous_commit on
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Remove() })
	dsn := server.DSN("postgres")
	a := newStoreOn(t, newBackendOn(t, dsn, nil), defaultSetup())
	b := newStoreOn(t, newBackendOn(t, dsn, nil), defaultSetup())
	rv, err := b.GetCurrentResourceVersion(ctx)
	require.NoError(t, err)
	w, err := b.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: strconv.FormatUint(rv, 10), Recursive: true, Predicate: storage.Everything})
	require.NoError(t, err)
	defer w.Stop()

	admin, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer admin.Close(context.Background())
	requireStandbys := func(names string) {
		t.Helper()
		_, err := admin.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = '"+names+"'")
		require.NoError(t, err)
		_, err = admin.Exec(ctx, "SELECT pg_reload_conf()")
		require.NoError(t, err)
		// Every backend reads the reloaded file before its next command;
		// a new session shows it once the postmaster has.
		require.Eventually(t, func() bool {
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return false
			}
			defer c.Close(context.Background())
			var got string
			return c.QueryRow(ctx, "SHOW synchronous_standby_names").Scan(&got) == nil && got == names
		}, 30*time.Second, 20*time.Millisecond)
	}
	requireStandbys("nobody")

	go func() {
		pod := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
		// Its outcome is unknown to its client: the connection dies.
		_ = a.Create(ctx, "/pods/ns/p", pod, &example.Pod{}, 0)
	}()
	require.Eventually(t, func() bool {
		var n int
		err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE wait_event = 'SyncRep' AND query LIKE '%INSERT INTO sluice.kv%'`).Scan(&n)
		return err == nil && n > 0
	}, time.Minute, 20*time.Millisecond, "A's create never waited for the standby: %s", activity(t, admin))
	// B has read the row, committed locally and now visible, and waits
	// for the standby before publishing it.
	require.Eventually(t, func() bool {
		var n int
		err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event = 'SyncRep' AND query = $1`, durableBarrierSQL).Scan(&n)
		return err == nil && n > 0
	}, 20*time.Second, 20*time.Millisecond, "no sequencer waits for the standby before publishing: %s", activity(t, admin))
	select {
	case ev := <-w.ResultChan():
		t.Fatalf("B published %s of a write no standby has", ev.Type)
	default:
	}

	requireStandbys("")
	select {
	case ev := <-w.ResultChan():
		require.Equal(t, watch.Added, ev.Type)
		m, err := meta.Accessor(ev.Object)
		require.NoError(t, err)
		require.Equal(t, "p", m.GetName())
	case <-ctx.Done():
		t.Fatal("B never published the create")
	}
}

// activity is what the server's sessions are doing, for a failure message.
func activity(t *testing.T, c *pgx.Conn) string {
	rows, err := c.Query(context.Background(), `SELECT coalesce(wait_event, '-'), state, left(query, 80) FROM pg_stat_activity WHERE backend_type = 'client backend'`)
	if err != nil {
		return err.Error()
	}
	var out string
	for rows.Next() {
		var w, st, q string
		if rows.Scan(&w, &st, &q) == nil {
			out += "\n  " + w + " " + st + " " + q
		}
	}
	return out
}
