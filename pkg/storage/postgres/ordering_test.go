package postgres

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"
)

// -long runs the ordering and linearizability tests at a size meant for soak
// runs, not make test.
var longTests = flag.Bool("long", false, "run the storage ordering test with 200k events instead of 20k, and the linearizability tests with 10k operations instead of 400")

// TestWatchOrderingUnderConcurrentWrites is the revision scheme's proof:
// many writers on two replicas (two Backends on one database) create,
// update and delete objects concurrently, while watchers on both replicas
// watch everything from the same starting revision. Every watcher must
// receive every acknowledged write exactly once, in strictly increasing
// revision order, with nothing lost and nothing invented.
func TestWatchOrderingUnderConcurrentWrites(t *testing.T) {
	const writersPerReplica, watchersPerReplica = 4, 4 // 8 writers, 8 watchers
	events := 20000
	if *longTests {
		events = 200000
	}
	dsn := newDatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var stores []*Store
	for range 2 {
		stores = append(stores, newPodStore(t, dsn))
	}

	start, err := stores[0].GetCurrentResourceVersion(ctx)
	require.NoError(t, err)

	// Start the watchers before writing.
	type received struct {
		rvs   []int64
		types map[int64]watch.EventType
		err   error
	}
	results := make([]*received, 2*watchersPerReplica)
	var watchWG sync.WaitGroup
	var ready sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	// Once writing is done, lastRV holds the last acknowledged revision.
	var lastRV atomic.Int64
	writesDone := make(chan struct{})
	for i := range results {
		results[i] = &received{types: map[int64]watch.EventType{}}
		s := stores[i%2]
		w, err := s.Watch(watchCtx, "/pods/", storage.ListOptions{
			ResourceVersion: fmt.Sprint(start), Recursive: true, Predicate: storage.Everything,
		})
		require.NoError(t, err)
		ready.Add(1)
		watchWG.Add(1)
		go func(r *received) {
			defer watchWG.Done()
			ready.Done()
			done := writesDone
			for {
				select {
				case <-done:
					done = nil
				case ev, ok := <-w.ResultChan():
					if !ok {
						return
					}
					if ev.Type == watch.Error {
						r.err = fmt.Errorf("watch error: %v", ev.Object)
						return
					}
					rv, err := s.Versioner().ObjectResourceVersion(ev.Object)
					if err != nil {
						r.err = err
						return
					}
					r.rvs = append(r.rvs, int64(rv))
					r.types[int64(rv)] = ev.Type
				}
				if done == nil && len(r.rvs) > 0 && r.rvs[len(r.rvs)-1] >= lastRV.Load() {
					w.Stop()
				}
			}
		}(results[i])
	}
	ready.Wait()

	// Writers: each owns a set of keys and cycles create, update, update,
	// delete, so that keys are re-created and some updates collide.
	type write struct {
		rv  int64
		typ watch.EventType
	}
	var mu sync.Mutex
	acked := map[int64]watch.EventType{}
	var remaining atomic.Int64
	remaining.Store(int64(events))
	var writeWG sync.WaitGroup
	for w := range 2 * writersPerReplica {
		s := stores[w%2]
		writeWG.Add(1)
		go func() {
			defer writeWG.Done()
			var mine []write
			defer func() {
				mu.Lock()
				for _, x := range mine {
					acked[x.rv] = x.typ
				}
				mu.Unlock()
			}()
			for i := 0; remaining.Add(-1) >= 0; i++ {
				key := fmt.Sprintf("/pods/ns%d/pod-%d", w, i%25)
				name := fmt.Sprintf("pod-%d", i%25)
				var out example.Pod
				var err error
				switch (i / 25) % 4 {
				case 0:
					err = s.Create(ctx, key, &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: fmt.Sprintf("ns%d", w)}}, &out, 0)
					mine = append(mine, write{typ: watch.Added})
				case 1, 2:
					err = s.GuaranteedUpdate(ctx, key, &out, false, nil, storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
						p := obj.(*example.Pod)
						p.Spec.NodeName = fmt.Sprintf("node-%d", i)
						return p, nil
					}), nil)
					mine = append(mine, write{typ: watch.Modified})
				case 3:
					err = s.Delete(ctx, key, &out, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
					mine = append(mine, write{typ: watch.Deleted})
				}
				if err != nil {
					t.Errorf("write %s: %v", key, err)
					return
				}
				mine[len(mine)-1].rv = int64(mustRV(t, s, &out))
			}
		}()
	}
	writeWG.Wait()
	require.False(t, t.Failed())

	var last int64
	for rv := range acked {
		last = max(last, rv)
	}
	require.Len(t, acked, events, "every write must have a distinct revision")
	lastRV.Store(last)
	close(writesDone)
	watchWG.Wait()

	for i, r := range results {
		require.NoError(t, r.err, "watcher %d", i)
		for j := 1; j < len(r.rvs); j++ {
			require.Greater(t, r.rvs[j], r.rvs[j-1], "watcher %d: events out of order or repeated at position %d", i, j)
		}
		require.Len(t, r.rvs, events, "watcher %d must see every write exactly once", i)
		for rv, typ := range acked {
			got, ok := r.types[rv]
			require.True(t, ok, "watcher %d missed the write at revision %d", i, rv)
			require.Equal(t, typ, got, "watcher %d: wrong event type at revision %d", i, rv)
		}
	}
}

func mustRV(t *testing.T, s *Store, obj runtime.Object) uint64 {
	rv, err := s.Versioner().ObjectResourceVersion(obj)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}
