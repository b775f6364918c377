package postgres

import (
	"context"
	"strings"
	"sync"
)

// statsTracker keeps the object count and total stored size of one resource
// without counting rows on every call: it counts once, at the revision it
// started observing the published batches at, and then applies every
// published event under the resource's prefix.
type statsTracker struct {
	s      *Store
	prefix string

	// initMu lets one caller at a time count the rows, so that concurrent
	// first calls do not add the count twice.
	initMu sync.Mutex

	mu          sync.Mutex
	initialized bool
	count, size int64 // the count at registration + events published since
}

func newStatsTracker(s *Store) *statsTracker {
	return &statsTracker{s: s, prefix: s.pathPrefix + strings.TrimPrefix(s.resourcePrefix, "/") + "/"}
}

// observe applies a published batch's events under the prefix.
func (t *statsTracker) observe(b batch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range b.events {
		if !strings.HasPrefix(e.key, t.prefix) {
			continue
		}
		switch e.typ {
		case evCreate:
			t.count++
			t.size += int64(len(e.value))
		case evUpdate:
			t.size += int64(len(e.value) - len(e.prevValue))
		case evDelete:
			t.count--
			t.size -= int64(len(e.prevValue))
		}
	}
}

func (t *statsTracker) get(ctx context.Context) (count, size int64, err error) {
	if !t.ready() {
		if err := t.initOnce(ctx); err != nil {
			return 0, 0, err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count, t.size, nil
}

func (t *statsTracker) ready() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.initialized
}

// initOnce initialises the tracker unless a concurrent caller has.
func (t *statsTracker) initOnce(ctx context.Context) error {
	t.initMu.Lock()
	defer t.initMu.Unlock()
	if t.ready() {
		return nil
	}
	return t.init(ctx)
}

// init registers with the broadcaster, then counts the rows at the revision
// it registered at; events published meanwhile have been accumulated as
// deltas and are added to the count. When counting fails, the tracker
// unregisters and drops those deltas: the next init starts from nothing.
func (t *statsTracker) init(ctx context.Context) error {
	rv := t.s.b.broadcaster.addObserver(t)
	count, size, err := t.s.countAt(ctx, rv, prefixRange(t.prefix), 0)
	if err != nil {
		t.s.b.broadcaster.removeObserver(t) // no observe runs after this returns
		t.mu.Lock()
		t.count, t.size = 0, 0
		t.mu.Unlock()
		return interpret(t.prefix, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.count += count
	t.size += size
	t.initialized = true
	return nil
}
