package postgres

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"

	pgtest "github.com/sluice-dev/sluice/pkg/testing/postgres"
)

// TestDatabaseOutage crashes PostgreSQL under a write load and starts it
// again. While it is down, requests fail with 503 (never 500), watches end
// with an error, and the readiness check fails. Once it is back, everything
// recovers by itself, and every write that was acknowledged is there.
func TestDatabaseOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Durable: a crash must not lose a commit that was acknowledged.
	pgOpts := pgtest.Options{Durable: true}
	server, err := pgtest.Start(ctx, pgOpts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Remove() })

	store := newStoreOn(t, newBackendOn(t, server.DSN("postgres"), func(o *Options) {
		o.UnavailableAfter = 300 * time.Millisecond
	}), defaultSetup())
	startRV, err := store.GetCurrentResourceVersion(ctx)
	require.NoError(t, err)

	w, err := store.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: fmt.Sprint(startRV), Recursive: true, Predicate: storage.Everything})
	require.NoError(t, err)
	defer w.Stop()

	// Writers create objects until stopped, recording what was acknowledged
	// and every error they saw.
	var (
		mu       sync.Mutex
		acked    = map[string]int64{}
		badErrs  []error
		stop     atomic.Bool
		writers  sync.WaitGroup
		failures atomic.Int64
	)
	for i := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for n := 0; !stop.Load(); n++ {
				key := fmt.Sprintf("/pods/ns/w%d-%d", i, n)
				out := &example.Pod{}
				reqCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := store.Create(reqCtx, key, &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w%d-%d", i, n), Namespace: "ns"}}, out, 0)
				cancel()
				mu.Lock()
				switch {
				case err == nil:
					acked[key] = int64(mustRV(t, store, out))
				case apierrors.IsServiceUnavailable(err), storage.IsRequestTimeout(err):
					failures.Add(1)
				default:
					badErrs = append(badErrs, err)
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitFor(t, ctx, "writes before the outage", func() bool { return ackedCount() >= 200 })

	require.NoError(t, server.Kill())

	waitFor(t, ctx, "readiness to fail", func() bool { return store.ReadinessCheck() != nil })
	waitFor(t, ctx, "writes to fail", func() bool { return failures.Load() >= 4 })
	// The watch ends with an error event.
	sawError := false
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			status, ok := ev.Object.(*metav1.Status)
			require.True(t, ok, "error event must carry a Status")
			require.EqualValues(t, 503, status.Code, "watch error: %s", status.Message)
			sawError = true
		}
	}
	require.True(t, sawError, "the watch must end with an error so its client re-lists")
	// Reads fail cleanly too.
	err = store.GetList(ctx, "/pods/", storage.ListOptions{Recursive: true, Predicate: storage.Everything}, &example.PodList{})
	require.True(t, apierrors.IsServiceUnavailable(err), "list while down: %v", err)

	before := ackedCount()
	require.NoError(t, server.Restart(ctx, pgOpts))

	waitFor(t, ctx, "readiness to recover", func() bool { return store.ReadinessCheck() == nil })
	waitFor(t, ctx, "writes to succeed again", func() bool { return ackedCount() >= before+100 })
	stop.Store(true)
	writers.Wait()

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, badErrs, "every failure must be a 503 or a timeout")

	// Every acknowledged write is stored, at the revision it was acknowledged at.
	list := &example.PodList{}
	require.NoError(t, store.GetList(ctx, "/pods/", storage.ListOptions{Recursive: true, Predicate: storage.Everything}, list))
	stored := map[string]string{}
	for _, p := range list.Items {
		stored["/pods/ns/"+p.Name] = p.ResourceVersion
	}
	for key, rv := range acked {
		require.Equal(t, fmt.Sprint(rv), stored[key], "acknowledged write %s lost", key)
	}

	// And a new watch from before the outage replays all of them, in order.
	w2, err := store.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: fmt.Sprint(startRV), Recursive: true, Predicate: storage.Everything})
	require.NoError(t, err)
	defer w2.Stop()
	seen := map[string]bool{}
	var last uint64
	for len(seen) < len(stored) {
		select {
		case ev := <-w2.ResultChan():
			require.Equal(t, watch.Added, ev.Type, "%v", ev.Object)
			rv := mustRV(t, store, ev.Object)
			require.Greater(t, rv, last)
			last = rv
			accessor, err := meta.Accessor(ev.Object) // events carry shared objects
			require.NoError(t, err)
			seen["/pods/ns/"+accessor.GetName()] = true
		case <-ctx.Done():
			t.Fatalf("replay stopped after %d of %d events", len(seen), len(stored))
		}
	}
	t.Logf("acknowledged %d writes; %d requests failed cleanly during the outage", len(acked), failures.Load())
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestWritesToAStandbyAre503 points a replica at a database that accepts no
// writes, as a standby does: a URL of one host that names a standby, or a
// connection made just before a demotion.
// Reads are served; every write is a 503 that names the cause and asks the
// client to retry, never a 500.
func TestWritesToAStandbyAre503(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := newDatabaseURL(t)
	writable := newPodStore(t, dsn) // migrates the schema
	require.NoError(t, writable.Create(ctx, "/pods/ns/before", &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "before", Namespace: "ns"}}, &example.Pod{}, 0))

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{conn.Config().Database}.Sanitize()+" SET default_transaction_read_only = on")
	conn.Close(ctx)
	require.NoError(t, err)
	store := newPodStore(t, dsn) // its sessions are read-only

	require.NoError(t, store.Get(ctx, "/pods/ns/before", storage.GetOptions{}, &example.Pod{}))
	err = store.Create(ctx, "/pods/ns/after", &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "after", Namespace: "ns"}}, &example.Pod{}, 0)
	require.True(t, apierrors.IsServiceUnavailable(err), "a write to a read-only database: %v", err)
	require.Contains(t, err.Error(), "the database accepts no writes")
	delay, ok := apierrors.SuggestsClientDelay(err)
	require.True(t, ok && delay > 0, "the 503 asks the client to retry: %v", err)
	err = store.Delete(ctx, "/pods/ns/before", &example.Pod{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
	require.True(t, apierrors.IsServiceUnavailable(err), "a delete on a read-only database: %v", err)
}

// TestAURLOfSeveralHostsSkipsStandbys gives a replica a URL of several hosts
// without target_session_attrs, all of them read-only, as the standbys of a
// cluster are. Every replica writes, so it must connect only to a host that
// accepts writes, as target_session_attrs=read-write does: otherwise its
// pool keeps connections to a standby (the old primary after a failover)
// and a share of its writes fails for as long as they last.
func TestAURLOfSeveralHostsSkipsStandbys(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := newDatabaseURL(t)
	newPodStore(t, dsn) // migrates the schema
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{conn.Config().Database}.Sanitize()+" SET default_transaction_read_only = on")
	conn.Close(ctx)
	require.NoError(t, err)

	u, err := url.Parse(dsn)
	require.NoError(t, err)
	// The same server under two names: two hosts to pgx.
	twoHosts := strings.Replace(dsn, u.Host, u.Host+",localhost:"+u.Port(), 1)
	b, err := New(ctx, testOptions(twoHosts))
	if err == nil {
		b.Close()
	}
	require.Error(t, err, "a replica started on standbys alone")
	require.Contains(t, err.Error(), "read only connection")

	// One host is the operator's to choose: a standby named alone is
	// connected to, and its writes are 503s (TestWritesToAStandbyAre503).
	// sslmode=prefer makes pgx try one host twice, with TLS and without:
	// still one host.
	for _, oneHost := range []string{dsn, strings.Replace(dsn, "sslmode=disable", "sslmode=prefer", 1)} {
		b, err = New(ctx, testOptions(oneHost))
		require.NoError(t, err, oneHost)
		b.Close()
	}
}
