package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/storage"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	utilflowcontrol "k8s.io/apiserver/pkg/util/flowcontrol"
)

// watcher implements watch.Interface for one Watch call.
type watcher struct {
	s      *Store
	key    string
	opts   storage.ListOptions
	pred   storage.SelectionPredicate
	sub    *subscription
	result chan watch.Event
	ctx    context.Context
	cancel context.CancelFunc
}

// Watch starts a watch of key (or, with opts.Recursive, everything under it)
// from opts.ResourceVersion, with the semantics of etcd3's watch: events
// after that revision, or the current state first when it is 0 or
// SendInitialEvents asks for it.
func (s *Store) Watch(ctx context.Context, key string, opts storage.ListOptions) (watch.Interface, error) {
	preparedKey, err := s.prepareKey(key, opts.Recursive)
	if err != nil {
		return nil, err
	}
	if opts.Recursive && !strings.HasSuffix(preparedKey, "/") {
		return nil, errors.New(`recursive key needs to end with "/"`)
	}
	if opts.ProgressNotify && s.newFunc == nil {
		return nil, apierrors.NewInternalError(errors.New("progressNotify for watch is unsupported by the storage because no newFunc was provided"))
	}
	rv, err := s.parseResourceVersion(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	if rv > math.MaxInt64 {
		return nil, s.tooLarge(ctx, rv)
	}
	startRV := int64(rv)
	if startRV == 0 && utilfeature.DefaultFeatureGate.Enabled(features.WatchList) &&
		opts.SendInitialEvents != nil && !*opts.SendInitialEvents {
		// Watch from "now" without the current state.
		if startRV, err = s.b.CurrentRevision(ctx); err != nil {
			return nil, err
		}
	}
	w := &watcher{
		s:    s,
		key:  preparedKey,
		opts: opts,
		pred: opts.Predicate,
		// Bookmarks go to watches that asked for progress notifications
		// (the watch cache) and to clients that allow bookmarks: they keep
		// a client's resourceVersion fresh, so that its next watch does not
		// start below the compacted revision.
		sub:    newSubscription(preparedKey, opts.Recursive, opts.ProgressNotify || opts.Predicate.AllowWatchBookmarks, s.b.opts.WatchBufferSize),
		result: make(chan watch.Event, 100),
	}
	if w.pred.Empty() {
		w.pred = storage.Everything
	}
	w.ctx, w.cancel = context.WithCancel(ctx)
	// The watch is registered before Watch returns, so that it has every
	// event after the moment its client is answered: a client that opened
	// a watch and then wrote must see its write, however late the watch's
	// goroutine gets to run. What goes wrong is sent as the first event, as
	// etcd3 does.
	initial := initialEventsRequired(startRV, opts)
	subscribedAt, err := w.subscribe(startRV, initial)
	go w.run(startRV, subscribedAt, err, initial, initialEventsEndBookmarkRequired(opts))
	utilflowcontrol.WatchInitialized(ctx)
	return w, nil
}

func initialEventsRequired(rv int64, opts storage.ListOptions) bool {
	if opts.SendInitialEvents == nil && rv == 0 {
		return true // a legacy watch from 0 starts with the current state
	}
	return utilfeature.DefaultFeatureGate.Enabled(features.WatchList) && opts.SendInitialEvents != nil && *opts.SendInitialEvents
}

func initialEventsEndBookmarkRequired(opts storage.ListOptions) bool {
	return utilfeature.DefaultFeatureGate.Enabled(features.WatchList) &&
		opts.SendInitialEvents != nil && *opts.SendInitialEvents && opts.Predicate.AllowWatchBookmarks
}

// Stop ends the watch; ResultChan is closed once everything has stopped.
func (w *watcher) Stop() { w.cancel() }

// ResultChan delivers the events.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

// subscribe registers the watch with the broadcaster and returns the
// revision it receives every event after. A watch that starts with the
// current state first waits until every write that committed before it is
// published, so that state is fresh.
func (w *watcher) subscribe(startRV int64, initialEvents bool) (int64, error) {
	if initialEvents {
		current, err := w.s.b.CurrentRevision(w.ctx)
		if err != nil {
			return 0, err
		}
		if startRV > current {
			return 0, storage.NewTooLargeResourceVersionError(uint64(startRV), uint64(current), int(wait.Jitter(time.Second, 3).Seconds()))
		}
	}
	return w.s.b.broadcaster.subscribe(w.sub)
}

// run sends the watch's events, from the revision it subscribed at, or the
// error subscribing ended with.
func (w *watcher) run(startRV, subscribedAt int64, subscribeErr error, initialEvents, endBookmark bool) {
	defer close(w.result)
	defer w.s.b.broadcaster.unsubscribe(w.sub)
	defer w.cancel()
	if subscribeErr != nil {
		w.sendError(subscribeErr)
		return
	}

	last := startRV // the revision the client has seen everything up to
	if initialEvents {
		last = subscribedAt
		if !w.sendInitialState(subscribedAt) {
			return
		}
		if endBookmark && !w.sendBookmark(subscribedAt, true) {
			return
		}
	} else if startRV < subscribedAt {
		if !w.catchUp(startRV, subscribedAt) {
			return
		}
		last = subscribedAt
	}

	for {
		select {
		case <-w.ctx.Done():
			return
		case e, ok := <-w.sub.ch:
			if !ok {
				if w.sub.err != nil {
					w.sendError(w.sub.err)
				}
				return
			}
			if e.typ == evProgress {
				if e.rv >= last && !w.sendBookmark(e.rv, false) {
					return
				}
				continue
			}
			if e.rv <= last {
				continue // already sent, or before a future start revision
			}
			last = e.rv
			if !w.sendEvent(e) {
				return
			}
		}
	}
}

// Initial events are read a page at a time and sent once the page's read
// has returned its connection to the pool: a slow client then holds up its
// own watch, never the connections that writes, reads and the sequencer
// need. A page is at most initialPageRows objects or initialPageBytes of
// stored values.
const (
	initialPageRows  = 500
	initialPageBytes = 32 << 20
)

var errPageFull = errors.New("page full")

// sendInitialState sends the state at revision rv as ADDED events.
func (w *watcher) sendInitialState(rv int64) bool {
	r := exactRange(w.key)
	if w.opts.Recursive {
		r = prefixRange(w.key)
	}
	for {
		var page []runtime.Object
		var rows, bytes int
		var last string
		err := w.s.scanAt(w.ctx, rv, r, w.pred, initialPageRows, func(row listRow) error {
			obj, err := w.s.decodeValue(w.ctx, row.key, row.value, row.rv, nil)
			if err != nil {
				return err
			}
			if w.matches(obj) {
				page = append(page, obj)
			}
			last = row.key
			rows++
			bytes += len(row.value)
			if rows >= initialPageRows || bytes >= initialPageBytes {
				return errPageFull
			}
			return nil
		})
		if err != nil && !errors.Is(err, errPageFull) {
			w.sendError(err)
			return false
		}
		for _, obj := range page {
			if !w.send(watch.Event{Type: watch.Added, Object: obj}) {
				return false
			}
		}
		if err == nil {
			return true
		}
		r = r.startingAt(last + "\x00")
	}
}

// catchUp sends the events in (from, to] from history.
func (w *watcher) catchUp(from, to int64) bool {
	for from < to {
		events, err := w.s.b.readHistory(w.ctx, w.key, w.opts.Recursive, from, to)
		if err != nil {
			if errors.Is(err, errCompacted) {
				err = apierrors.NewResourceExpired(watchTooOld)
			}
			w.sendError(err)
			return false
		}
		if len(events) == 0 {
			return true
		}
		for _, e := range events {
			if !w.sendEvent(&watchEvent{event: e}) {
				return false
			}
			from = e.rv
		}
	}
	return true
}

// sendEvent turns a stored event into a watch event for this watcher, as
// etcd3 does: an update that moves an object into or out of the selector
// becomes ADDED or DELETED.
func (w *watcher) sendEvent(e *watchEvent) bool {
	filtered := !w.pred.Empty()
	d := e.decode(w.ctx, w.s, filtered || e.typ == evDelete)
	if d.err != nil {
		if e.typ == evDelete {
			// The object is gone but its last state cannot be read: say so,
			// as etcd3 does, rather than send a DELETED without an object.
			w.send(watch.Event{Type: watch.Error, Object: &metav1.Status{
				Status:  metav1.StatusFailure,
				Code:    http.StatusInternalServerError,
				Reason:  metav1.StatusReasonStoreReadError,
				Message: fmt.Sprintf("saw a DELETED event, but object data is corrupt - %v", d.err),
			}})
			return false
		}
		w.sendError(d.err)
		return false
	}
	// Predicates see the decoded objects; watchers get the shared ones.
	var ev *watch.Event
	switch e.typ {
	case evDelete:
		if w.matches(d.prev) {
			ev = &watch.Event{Type: watch.Deleted, Object: d.sharedPrev}
		}
	case evCreate:
		if w.matches(d.cur) {
			ev = &watch.Event{Type: watch.Added, Object: d.sharedCur}
		}
	default:
		if !filtered {
			ev = &watch.Event{Type: watch.Modified, Object: d.sharedCur}
			break
		}
		cur, prev := w.matches(d.cur), d.prev != nil && w.matches(d.prev)
		switch {
		case cur && prev:
			ev = &watch.Event{Type: watch.Modified, Object: d.sharedCur}
		case cur:
			ev = &watch.Event{Type: watch.Added, Object: d.sharedCur}
		case prev:
			ev = &watch.Event{Type: watch.Deleted, Object: d.sharedPrev}
		}
	}
	if ev == nil {
		return true
	}
	return w.send(*ev)
}

func (w *watcher) matches(obj runtime.Object) bool {
	if w.pred.Empty() {
		return true
	}
	ok, err := w.pred.Matches(obj)
	return err == nil && ok
}

func (w *watcher) sendBookmark(rv int64, initialEventsEnd bool) bool {
	obj := w.s.newFunc()
	if err := w.s.versioner.UpdateObject(obj, uint64(rv)); err != nil {
		w.sendError(err)
		return false
	}
	if initialEventsEnd {
		if err := storage.AnnotateInitialEventsEndBookmark(obj); err != nil {
			w.sendError(err)
			return false
		}
	}
	return w.send(watch.Event{Type: watch.Bookmark, Object: obj})
}

func (w *watcher) send(ev watch.Event) bool {
	select {
	case w.result <- ev:
		return true
	case <-w.ctx.Done():
		return false
	}
}

func (w *watcher) sendError(err error) {
	if errors.Is(err, context.Canceled) || w.ctx.Err() != nil {
		return
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		err = apierrors.NewInternalError(err)
		errors.As(err, &status)
	}
	s := status.Status()
	w.send(watch.Event{Type: watch.Error, Object: &s})
}
