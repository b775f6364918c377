package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/apis/example"
)

// statsSetup is a store of Pods whose keys are under the resource's prefix
// as in sluice-apiserver: "/pods/<namespace>/<name>".
func statsSetup(t *testing.T) (context.Context, *Store) {
	return testSetup(t, func(o *setupOptions) { o.resourcePref = "/pods" })
}

func createPods(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf("p%d", i)
		pod := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
		require.NoError(t, s.Create(context.Background(), "/pods/ns/"+name, pod, &example.Pod{}, 0))
	}
}

// TestStatsConcurrentFirstCalls calls Stats for the first time from many
// goroutines at once: the rows must be counted into the total once.
func TestStatsConcurrentFirstCalls(t *testing.T) {
	ctx, store := statsSetup(t)
	createPods(t, store, 20)

	const callers = 16
	start := make(chan struct{})
	counts := make([]int64, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, err := store.Stats(ctx)
			counts[i], errs[i] = st.ObjectCount, err
		}()
	}
	close(start)
	wg.Wait()
	for i := range callers {
		require.NoError(t, errs[i])
		require.EqualValues(t, 20, counts[i], "caller %d", i)
	}
	st, err := store.Stats(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 20, st.ObjectCount)
}

// TestStatsInitFailure fails the first count after an event was applied
// while it ran: the next count must start from nothing, not from that delta.
func TestStatsInitFailure(t *testing.T) {
	ctx, store := statsSetup(t)
	createPods(t, store, 3)
	tracker := newStatsTracker(store)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	// An event the broadcaster hands over while the count runs, as it would
	// after the tracker registered.
	tracker.observe(batch{events: []*event{{key: tracker.prefix + "ns/other", typ: evCreate, value: []byte("x")}}})
	_, _, err := tracker.get(cancelled)
	require.Error(t, err)

	count, _, err := tracker.get(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 3, count)
}
