package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"
)

// TestWatchIsRegisteredWhenWatchReturns opens a watch of the current state
// (resourceVersion unset, as `kubectl get -w` and TestCRUD in test/e2e do)
// and checks that it is registered by the time Watch returns: the apiserver
// answers the client then, and the client's next write, on this replica or
// another, must reach the watch. A watch that registered later, from its
// goroutine after a database round trip, started after writes its client
// had already seen acknowledged, and missed them.
func TestWatchIsRegisteredWhenWatchReturns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := newDatabaseURL(t)
	watched := newStoreOn(t, newBackendOn(t, dsn, nil), defaultSetup())
	other := newStoreOn(t, newBackendOn(t, dsn, nil), defaultSetup())

	for i := range 20 {
		w, err := watched.Watch(ctx, "/pods/ns/", storage.ListOptions{Recursive: true, Predicate: storage.Everything})
		require.NoError(t, err)
		require.True(t, w.(*watcher).sub.subscribed.Load(), "watch %d was not registered when Watch returned", i)

		// The other replica writes; its acknowledgement comes after Watch
		// returned, so the watch must see both events.
		key := "/pods/ns/p"
		require.NoError(t, other.Create(ctx, key, &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}, nil, 0))
		require.NoError(t, other.Delete(ctx, key, &example.Pod{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{}))
		var types []watch.EventType
		for len(types) < 2 {
			select {
			case ev := <-w.ResultChan():
				types = append(types, ev.Type)
			case <-ctx.Done():
				t.Fatalf("watch %d saw only %v", i, types)
			}
		}
		require.Equal(t, []watch.EventType{watch.Added, watch.Deleted}, types)
		w.Stop()
	}
}
