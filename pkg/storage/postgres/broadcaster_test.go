package postgres

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// The broadcaster's tests feed it batches by hand, as the sequencer would.

func created(rv int64, key string) *event {
	return &event{rv: rv, key: key, typ: evCreate, value: []byte(key)}
}

// drain returns what is queued on s without waiting.
func drain(s *subscription) (rvs []int64, open bool) {
	for {
		select {
		case e, ok := <-s.ch:
			if !ok {
				return rvs, false
			}
			rvs = append(rvs, e.rv)
		default:
			return rvs, true
		}
	}
}

func TestBroadcasterDeliversMatchingEventsAfterSubscription(t *testing.T) {
	c := newBroadcaster(10, time.Hour)
	c.publish(batch{events: []*event{created(11, "/r/a/1")}, rv: 11})

	prefix := newSubscription("/r/a/", true, false, 100)
	exact := newSubscription("/r/a/2", false, false, 100)
	other := newSubscription("/r/b/", true, false, 100)
	for _, s := range []*subscription{prefix, exact, other} {
		rv, err := c.subscribe(s)
		require.NoError(t, err)
		require.EqualValues(t, 11, rv, "a subscription starts after the last batch")
	}
	c.publish(batch{events: []*event{created(12, "/r/a/2"), created(14, "/r/b/1"), created(15, "/r/a/3")}, rv: 15})

	got, _ := drain(prefix)
	require.Equal(t, []int64{12, 15}, got)
	got, _ = drain(exact)
	require.Equal(t, []int64{12}, got)
	got, _ = drain(other)
	require.Equal(t, []int64{14}, got)
}

func TestBroadcasterSharesOneDecodeCachePerEvent(t *testing.T) {
	c := newBroadcaster(1, time.Hour)
	a, b := newSubscription("/r/", true, false, 10), newSubscription("/r/x", false, false, 10)
	_, err := c.subscribe(a)
	require.NoError(t, err)
	_, err = c.subscribe(b)
	require.NoError(t, err)
	c.publish(batch{events: []*event{created(2, "/r/x")}, rv: 2})
	ea, eb := <-a.ch, <-b.ch
	require.Same(t, ea, eb, "watchers of one event share its decoded objects")
}

func TestBroadcasterClosesASlowWatcherWith410(t *testing.T) {
	c := newBroadcaster(1, time.Hour)
	slow, fast := newSubscription("/r/", true, false, 2), newSubscription("/r/", true, false, 100)
	_, err := c.subscribe(slow)
	require.NoError(t, err)
	_, err = c.subscribe(fast)
	require.NoError(t, err)

	c.publish(batch{events: []*event{created(2, "/r/1"), created(3, "/r/2"), created(4, "/r/3")}, rv: 4})
	c.publish(batch{events: []*event{created(5, "/r/4")}, rv: 5})

	got, open := drain(slow)
	require.Equal(t, []int64{2, 3}, got, "the slow watcher keeps what it had queued")
	require.False(t, open)
	require.True(t, apierrors.IsResourceExpired(slow.err), "then gets 410 Gone: %v", slow.err)
	got, open = drain(fast)
	require.Equal(t, []int64{2, 3, 4, 5}, got, "a fast watcher is never held up")
	require.True(t, open)
}

type observedBatches struct {
	mu  sync.Mutex
	rvs []int64
}

func (o *observedBatches) observe(b batch) {
	o.mu.Lock()
	o.rvs = append(o.rvs, b.rv)
	o.mu.Unlock()
}

func TestBroadcasterObserversSeeEveryBatchAfterRegistering(t *testing.T) {
	c := newBroadcaster(1, time.Hour)
	c.publish(batch{rv: 3})
	o := &observedBatches{}
	require.EqualValues(t, 3, c.addObserver(o))
	c.publish(batch{events: []*event{created(4, "/r/1")}, rv: 4})
	c.publish(batch{rv: 6}) // only gaps
	c.removeObserver(o)
	c.publish(batch{rv: 7})
	require.Equal(t, []int64{4, 6}, o.rvs)
}

func TestBroadcasterUnavailableEndsWatchesUntilAvailable(t *testing.T) {
	c := newBroadcaster(1, time.Hour)
	s := newSubscription("/r/", true, false, 10)
	_, err := c.subscribe(s)
	require.NoError(t, err)

	down := unavailable(errors.New("connection refused"))
	c.unavailable(down)
	_, open := drain(s)
	require.False(t, open)
	require.Same(t, down, s.err)
	_, err = c.subscribe(newSubscription("/r/", true, false, 10))
	require.True(t, apierrors.IsServiceUnavailable(err), "no new watch while down: %v", err)

	c.available()
	_, err = c.subscribe(newSubscription("/r/", true, false, 10))
	require.NoError(t, err)
}

func TestBroadcasterBookmarksOnlyForThoseWhoAsked(t *testing.T) {
	c := newBroadcaster(1, time.Hour)
	wants := newSubscription("/r/a/", true, true, 10)
	other := newSubscription("/r/b/", true, true, 10)
	plain := newSubscription("/r/a/", true, false, 10)
	for _, s := range []*subscription{wants, other, plain} {
		_, err := c.subscribe(s)
		require.NoError(t, err)
	}
	c.publish(batch{events: []*event{created(2, "/r/a/1")}, rv: 3})
	c.requestProgress("/r/a/")

	got, _ := drain(wants)
	require.Equal(t, []int64{2, 3}, got, "the bookmark comes after the events, at the last batch's revision")
	got, _ = drain(other)
	require.Empty(t, got, "a bookmark request is scoped to its prefix")
	got, _ = drain(plain)
	require.Equal(t, []int64{2}, got, "no bookmarks for a watch that did not ask")
}
