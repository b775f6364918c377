package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"

	pgtest "github.com/sluice-dev/sluice/pkg/testing/postgres"
)

// TestDiskFull fills the disk under PostgreSQL's databases while writers
// create and update objects, then frees it (pgtest's disk fault: PostgreSQL
// meets ENOSPC and reports SQLSTATE 53100). While it is full:
//   - a write PostgreSQL cannot store is refused with 507 Insufficient
//     Storage and a message that says the disk is full, never 500, and
//     nothing of it is stored;
//   - any other failure is a 503 or a timeout (a write that found room may
//     have been stored), never 500.
//
// Once the disk is freed, writes succeed again by themselves, every
// acknowledged write is stored with its value, and a watch from before the
// fault replays every acknowledged write in revision order.
func TestDiskFull(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	server, err := pgtest.Start(ctx, pgtest.Options{DiskFault: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Remove() })
	store := newStoreOn(t, newBackendOn(t, server.DSN("postgres"), func(o *Options) {
		o.UnavailableAfter = 300 * time.Millisecond
	}), defaultSetup())
	startRV, err := store.GetCurrentResourceVersion(ctx)
	require.NoError(t, err)

	// keyState is what a writer knows of one of its keys: the value and
	// revision of its last acknowledged write, the values written after it
	// whose outcome is unknown, and the values refused with 507.
	type keyState struct {
		acked    string
		ackedRV  uint64
		ackedRVs []uint64 // of every acknowledged write
		unknown  []string
		refused  []string
		lastSeen *example.Pod // the object as last read or written
	}
	var (
		mu         sync.Mutex
		keys       = map[string]*keyState{}
		badErrs    []error
		refusedMsg string
		refused    atomic.Int64
		unknown    atomic.Int64
		acked      atomic.Int64
		stop       atomic.Bool
		writers    sync.WaitGroup
	)
	// Random padding fills pages quickly; random, so it does not compress.
	padding := func() string {
		b := make([]byte, 600)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	pod := func(name, value string) *example.Pod {
		return &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns",
			Annotations: map[string]string{"value": value, "padding": padding()}}}
	}
	// record files the outcome of one write of value to key.
	record := func(key, value string, out *example.Pod, err error) {
		mu.Lock()
		defer mu.Unlock()
		st := keys[key]
		if st == nil {
			st = &keyState{}
			keys[key] = st
		}
		switch {
		case err == nil:
			st.acked, st.ackedRV, st.unknown, st.lastSeen = value, mustRV(t, store, out), nil, out
			st.ackedRVs = append(st.ackedRVs, st.ackedRV)
			acked.Add(1)
		case isInsufficientStorage(err):
			st.refused = append(st.refused, value)
			refused.Add(1)
			refusedMsg = err.Error()
		case apierrors.IsServiceUnavailable(err), storage.IsRequestTimeout(err):
			st.unknown = append(st.unknown, value)
			unknown.Add(1)
		default:
			badErrs = append(badErrs, fmt.Errorf("write of %s: %w", key, err))
		}
	}
	for i := range 4 {
		writers.Go(func() {
			for n := 0; !stop.Load(); n++ {
				// Create a key, and update the one created two rounds ago
				// if it was: an update may fit in the page its row is in.
				name := fmt.Sprintf("w%d-%d", i, n)
				value := name + "-v0"
				out := &example.Pod{}
				reqCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := store.Create(reqCtx, "/pods/ns/"+name, pod(name, value), out, 0)
				cancel()
				record("/pods/ns/"+name, value, out, err)

				old := fmt.Sprintf("w%d-%d", i, n-2)
				mu.Lock()
				st := keys["/pods/ns/"+old]
				exists := st != nil && st.lastSeen != nil
				mu.Unlock()
				if exists {
					value := fmt.Sprintf("%s-v%d", old, n)
					out := &example.Pod{}
					reqCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
					err := store.GuaranteedUpdate(reqCtx, "/pods/ns/"+old, out, false, nil,
						func(input runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
							return pod(old, value), nil, nil
						}, nil)
					cancel()
					record("/pods/ns/"+old, value, out, err)
				}
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	t.Cleanup(func() { stop.Store(true); writers.Wait() })
	waitFor(t, ctx, "writes before the disk fills", func() bool { return acked.Load() >= 100 })

	// A watch from before the fault: it may end while the disk is full, but
	// only with a 503 that says why.
	w, err := store.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: fmt.Sprint(startRV), Recursive: true, Predicate: storage.Everything})
	require.NoError(t, err)
	defer w.Stop()

	require.NoError(t, server.SetDiskFull(true))
	fullCtx, cancelFull := context.WithTimeout(ctx, 30*time.Second)
	defer cancelFull()
	waitFor(t, fullCtx, "writes to be refused with 507", func() bool { return refused.Load() >= 200 })
	mu.Lock()
	msg := refusedMsg
	mu.Unlock()
	require.Contains(t, msg, "the database is out of disk space")
	require.Contains(t, msg, "No space left on device", "PostgreSQL's own words say which file")

	// Reads go on, or fail with 503: never 500.
	var readErrs []string
	for range 10 {
		err := store.GetList(ctx, "/pods/", storage.ListOptions{Recursive: true, Predicate: storage.Everything}, &example.PodList{})
		require.True(t, err == nil || apierrors.IsServiceUnavailable(err), "list while full: %v", err)
		if err != nil {
			readErrs = append(readErrs, "list: "+err.Error())
		}
		err = store.Get(ctx, "/pods/ns/w0-0", storage.GetOptions{}, &example.Pod{})
		require.True(t, err == nil || apierrors.IsServiceUnavailable(err), "get while full: %v", err)
		if err != nil {
			readErrs = append(readErrs, "get: "+err.Error())
		}
	}
	t.Logf("while full: readiness %v; %d of 20 reads failed %q", store.ReadinessCheck(), len(readErrs), readErrs)
	refusedWhileFull, unknownWhileFull := refused.Load(), unknown.Load()

	require.NoError(t, server.SetDiskFull(false))
	freed := time.Now()
	before := acked.Load()
	waitFor(t, ctx, "a write to succeed after the disk is freed", func() bool { return acked.Load() > before })
	recovery := time.Since(freed)
	waitFor(t, ctx, "readiness", func() bool { return store.ReadinessCheck() == nil })
	waitFor(t, ctx, "writes to go on", func() bool { return acked.Load() >= before+100 })
	stop.Store(true)
	writers.Wait()

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, badErrs, "every failure must be a 507, a 503 or a timeout")

	// Every acknowledged write is stored with its value, or a later write of
	// unknown outcome; no refused write is.
	list := &example.PodList{}
	require.NoError(t, store.GetList(ctx, "/pods/", storage.ListOptions{Recursive: true, Predicate: storage.Everything}, list))
	stored := map[string]*example.Pod{}
	for i := range list.Items {
		stored["/pods/ns/"+list.Items[i].Name] = &list.Items[i]
	}
	lost := 0
	for key, st := range keys {
		p := stored[key]
		if st.ackedRV == 0 {
			if p != nil {
				require.Contains(t, st.unknown, p.Annotations["value"], "%s holds a value no write of unknown outcome wrote", key)
			}
			continue
		}
		if p == nil {
			lost++
			t.Errorf("acknowledged write of %s (%s at %d) lost", key, st.acked, st.ackedRV)
			continue
		}
		v := p.Annotations["value"]
		require.NotContains(t, st.refused, v, "%s holds a value whose write was refused", key)
		if v != st.acked && !slices.Contains(st.unknown, v) {
			lost++
			t.Errorf("%s holds %q, not its acknowledged %q or a later write", key, v, st.acked)
		}
		require.GreaterOrEqual(t, mustRV(t, store, p), st.ackedRV, "%s went back", key)
	}

	// The watch from before the fault either ended with a 503 that names
	// the full disk, or went on and delivered every acknowledged write. A
	// new one from the same revision delivers them all.
	end, err := store.GetCurrentResourceVersion(ctx)
	require.NoError(t, err)
	seen, watchEnd := replay(t, ctx, store, w, end)
	if watchEnd != nil {
		require.EqualValues(t, http.StatusServiceUnavailable, watchEnd.Code, "watch error: %s", watchEnd.Message)
		require.Contains(t, watchEnd.Message, "out of disk space")
		t.Logf("the watch from before the fault ended: %s", watchEnd.Message)
		w2, err := store.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: fmt.Sprint(startRV), Recursive: true, Predicate: storage.Everything})
		require.NoError(t, err)
		defer w2.Stop()
		seen, watchEnd = replay(t, ctx, store, w2, end)
		require.Nil(t, watchEnd)
	}
	for key, st := range keys {
		for _, rv := range st.ackedRVs {
			require.True(t, seen[key][rv], "the watch replays %s's acknowledged write at %d", key, rv)
		}
	}
	t.Logf("%d writes acknowledged, %d refused with 507 and %d of unknown outcome while the disk was full (%d and %d in all); "+
		"%d acknowledged writes lost; the first write succeeded %s after the disk was freed",
		acked.Load(), refusedWhileFull, unknownWhileFull, refused.Load(), unknown.Load(), lost, recovery.Round(time.Millisecond))
}

// isInsufficientStorage is a 507: the database had no disk space for the
// request.
func isInsufficientStorage(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status) && status.Status().Code == http.StatusInsufficientStorage
}

// replay reads w's events, in strictly increasing revision order, until it
// reaches revision end or ends with an error, and returns the revisions seen
// of each key, and the error's Status.
func replay(t *testing.T, ctx context.Context, store *Store, w watch.Interface, end uint64) (map[string]map[uint64]bool, *metav1.Status) {
	t.Helper()
	last, seen := uint64(0), map[string]map[uint64]bool{}
	for last < end {
		select {
		case ev, ok := <-w.ResultChan():
			require.True(t, ok, "the watch ended without an error at %d", last)
			if ev.Type == watch.Error {
				return seen, ev.Object.(*metav1.Status)
			}
			rv := mustRV(t, store, ev.Object)
			require.Greater(t, rv, last)
			last = rv
			accessor, err := meta.Accessor(ev.Object)
			require.NoError(t, err)
			key := "/pods/ns/" + accessor.GetName()
			if seen[key] == nil {
				seen[key] = map[uint64]bool{}
			}
			seen[key][rv] = true
		case <-ctx.Done():
			t.Fatalf("the watch stopped at %d of %d", last, end)
		}
	}
	return seen, nil
}
