package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"
)

// TestSlowWatchersHoldNoConnections opens as many watches with initial
// events as the pool has connections, on more objects than a watch buffers,
// and reads one event from each: their clients are slow. Writes and new
// watches must still go through. Informers start with such watches
// (client-go's watch-list), and under CPU contention their clients read
// slowly; while the initial state was sent from inside the read, each slow
// client held a connection, and a few of them stopped every write and watch
// of the process.
func TestSlowWatchersHoldNoConnections(t *testing.T) {
	const conns = 4
	const objects = 1200 // more than the watch buffers, and more than one page
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store := newStoreOn(t, newBackend(t, func(o *Options) { o.MaxConns = conns }), defaultSetup())

	var wg sync.WaitGroup
	errs := make(chan error, objects)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < objects; i += 8 {
				name := fmt.Sprintf("p%04d", i)
				pod := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
				if err := store.Create(ctx, "/pods/ns/"+name, pod, &example.Pod{}, 0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	watchFromZero := func() watch.Interface {
		w, err := store.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: "0", Recursive: true, Predicate: storage.Everything})
		require.NoError(t, err)
		t.Cleanup(w.Stop)
		return w
	}
	next := func(w watch.Interface) watch.Event {
		t.Helper()
		select {
		case ev, ok := <-w.ResultChan():
			require.True(t, ok, "the watch ended")
			return ev
		case <-time.After(30 * time.Second):
			t.Fatal("no event from the watch in 30s")
			return watch.Event{}
		}
	}
	var slow []watch.Interface
	for range conns {
		w := watchFromZero()
		require.Equal(t, watch.Added, next(w).Type)
		slow = append(slow, w)
	}

	// A write while the slow watches wait for their clients.
	writeCtx, cancelWrite := context.WithTimeout(ctx, 10*time.Second)
	defer cancelWrite()
	pod := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: "ns"}}
	require.NoError(t, store.Create(writeCtx, "/pods/ns/late", pod, &example.Pod{}, 0), "a write behind slow watchers")

	// A slow watch, read to the end, sent every object once and then the write.
	seen := map[string]bool{}
	seen["p0000"] = true // the first event was read above; keys are sent in order
	w := slow[0]
	for len(seen) < objects+1 {
		ev := next(w)
		require.NotEqual(t, watch.Error, ev.Type, "%v", ev.Object)
		name := ev.Object.(metav1.Object).GetName()
		require.False(t, seen[name], "%s sent twice", name)
		seen[name] = true
	}
	require.True(t, seen["late"])
}
