package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The broadcaster fans the sequencer's batches out to watchers and to
// observers. It owns the subscriptions, each with a bounded queue, the
// bookmarks, and the slow-watcher 410; observers (the stats trackers, the
// compactor's revision marks) see every batch in order. It never blocks the
// sequencer: a watcher that falls a queue behind is closed, not waited for.
//
// Registration is atomic with the stream: subscribe and addObserver return
// the revision of the last batch handed out, and the registrant gets every
// batch after it.

// batchObserver sees every published batch, in order. observe is called with
// the broadcaster's lock held and must not block.
type batchObserver interface {
	observe(b batch)
}

type broadcaster struct {
	progressInterval time.Duration

	mu        sync.Mutex
	rv        int64 // the revision of the last batch
	down      error // the sequencer cannot read events; no new watches
	subs      map[*subscription]struct{}
	observers map[batchObserver]struct{}
}

var _ batchSink = (*broadcaster)(nil)

func newBroadcaster(rv int64, progressInterval time.Duration) *broadcaster {
	return &broadcaster{
		progressInterval: progressInterval,
		rv:               rv,
		subs:             map[*subscription]struct{}{},
		observers:        map[batchObserver]struct{}{},
	}
}

// publish hands each event to the subscriptions it matches, wrapped once so
// that the watchers of a store decode it once, then the batch to every
// observer.
func (c *broadcaster) publish(b batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range b.events {
		var shared *watchEvent
		for s := range c.subs {
			if !s.matches(e.key) {
				continue
			}
			if shared == nil {
				shared = &watchEvent{event: e}
			}
			if !s.send(shared) {
				delete(c.subs, s)
			}
		}
	}
	for o := range c.observers {
		o.observe(b)
	}
	c.rv = b.rv
}

// unavailable ends every watch with err (a 503), so that clients re-list
// once the database is back, and refuses new ones until available.
func (c *broadcaster) unavailable(err error) {
	c.mu.Lock()
	c.down = err
	subs := c.subs
	c.subs = map[*subscription]struct{}{}
	c.mu.Unlock()
	for s := range subs {
		s.fail(err)
	}
}

func (c *broadcaster) available() {
	c.mu.Lock()
	c.down = nil
	c.mu.Unlock()
}

// subscribe registers s and returns the revision it starts after: s
// receives every event above it.
func (c *broadcaster) subscribe(s *subscription) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down != nil {
		return 0, c.down
	}
	c.subs[s] = struct{}{}
	s.subscribed.Store(true)
	watchers.Inc()
	return c.rv, nil
}

func (c *broadcaster) unsubscribe(s *subscription) {
	c.mu.Lock()
	delete(c.subs, s)
	c.mu.Unlock()
	s.unsubscribed()
}

// addObserver registers o and returns the revision it starts after: o
// observes every batch above it.
func (c *broadcaster) addObserver(o batchObserver) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observers[o] = struct{}{}
	return c.rv
}

func (c *broadcaster) removeObserver(o batchObserver) {
	c.mu.Lock()
	delete(c.observers, o)
	c.mu.Unlock()
}

// requestProgress sends every subscriber under prefix that wants bookmarks
// a bookmark at the revision of the last batch: it has been sent every
// event up to there.
func (c *broadcaster) requestProgress(prefix string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	marker := &watchEvent{event: &event{rv: c.rv, typ: evProgress}}
	for s := range c.subs {
		if s.bookmarks && strings.HasPrefix(s.key, prefix) && !s.send(marker) {
			delete(c.subs, s)
		}
	}
}

// runProgress sends periodic bookmarks to subscribers that want them.
func (c *broadcaster) runProgress(ctx context.Context) {
	wait.UntilWithContext(ctx, func(context.Context) { c.requestProgress("") }, c.progressInterval)
}

// closeAll ends every watch without an error, at shutdown.
func (c *broadcaster) closeAll() {
	c.mu.Lock()
	subs := c.subs
	c.subs = map[*subscription]struct{}{}
	c.mu.Unlock()
	for s := range subs {
		s.close()
	}
}

// subscription is a watcher's place in the fan-out: a bounded queue of the
// events under one key or prefix. The broadcaster never blocks on it; when
// the queue is full the subscription fails with 410 Gone and its client
// re-lists.
type subscription struct {
	key       string
	recursive bool
	bookmarks bool // send progress bookmarks
	ch        chan *watchEvent

	once       sync.Once
	err        error // set before ch is closed
	subscribed atomic.Bool
}

func newSubscription(key string, recursive, bookmarks bool, size int) *subscription {
	return &subscription{key: key, recursive: recursive, bookmarks: bookmarks, ch: make(chan *watchEvent, size)}
}

// unsubscribed is called once the subscription has left the fan-out.
func (s *subscription) unsubscribed() {
	if s.subscribed.Swap(false) {
		watchers.Dec()
	}
}

func (s *subscription) matches(key string) bool {
	if s.recursive {
		return strings.HasPrefix(key, s.key)
	}
	return key == s.key
}

// send queues e. It is called with the broadcaster's lock held, so it never
// races another send or the close of a subscription still in the fan-out.
// It reports false when the queue is full: the subscription has then failed
// with 410 Gone and the caller drops it.
func (s *subscription) send(e *watchEvent) bool {
	select {
	case s.ch <- e:
		return true
	default:
		slowWatchersClosed.Inc()
		s.fail(apierrors.NewResourceExpired(fmt.Sprintf(
			"watch of %q fell %d events behind and was closed; list again and watch from the new resourceVersion", s.key, cap(s.ch))))
		return false
	}
}

// fail ends the subscription with err once: the watcher sends err to its
// client after the events already queued. Callers send no more events to s
// afterwards: they have removed it from the fan-out first, or are removing
// it under the broadcaster's lock.
func (s *subscription) fail(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.ch)
	})
}

func (s *subscription) close() { s.fail(nil) }

// watchEvent is an event as the broadcaster hands it to watchers: the row,
// and the objects decoded from it for each store, shared read-only by every
// watcher of that store, as in the apiserver's watch cache.
type watchEvent struct {
	*event

	decodeMu sync.Mutex
	decoded  map[*Store]*decodedEvent
}

// decodedEvent is an event decoded by one store.
type decodedEvent struct {
	cur, prev runtime.Object
	// sharedCur and sharedPrev are cur and prev as sent to watchers: with
	// SharedWatchObjects, wrapped to cache their serializations, so that
	// an event is encoded once for all the watchers that receive it.
	sharedCur, sharedPrev runtime.Object
	err                   error
}

// decode decodes e with s's codec once, however many of s's watchers see it.
func (e *watchEvent) decode(ctx context.Context, s *Store, needPrev bool) *decodedEvent {
	e.decodeMu.Lock()
	defer e.decodeMu.Unlock()
	if d, ok := e.decoded[s]; ok && (d.prev != nil || !needPrev || len(e.prevValue) == 0 || d.err != nil) {
		return d
	}
	d := e.decoded[s]
	if d == nil {
		d = &decodedEvent{}
		if e.decoded == nil {
			e.decoded = map[*Store]*decodedEvent{}
		}
		e.decoded[s] = d
		if e.typ != evDelete {
			d.cur, d.err = s.decodeValue(ctx, e.key, e.value, e.rv, nil)
			d.sharedCur = s.share(d.cur)
		}
	}
	if d.err == nil && needPrev && len(e.prevValue) > 0 && d.prev == nil {
		d.prev, d.err = s.decodeValue(ctx, e.key, e.prevValue, e.rv, nil)
		d.sharedPrev = s.share(d.prev)
	}
	return d
}
