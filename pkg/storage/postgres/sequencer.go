package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// The sequencer is the one place where revisions become visible. Writes draw
// revisions from a sequence and commit in any order; the sequencer reads the
// events in revision order and publishes the longest prefix with no holes, as
// ordered batches. Everything a client can see — watch events, the revision
// of a list, the revision a write returns — is at or below the published
// revision P, so nobody can see revision N and later meet a commit below N.
//
// A hole is a revision that was drawn but has no event yet: its write is
// still running, or it failed after drawing (a lost create race, a
// conflicting update, a crash). A write holds a lock on its revision from
// the moment it draws it until it ends. When a hole outlives GapGrace, the
// sequencer asks the event source to close it with a gap row, which it does
// only where the lock is free: a hole whose write is still running stays
// open, however long the write takes. The events primary key makes that
// insert the decision: if the write's row is already there, the gap row is
// not written and the event is published; otherwise the gap row wins, and a
// write that drew the revision but had not yet locked it fails on the key
// and is retried with a new one. docs/storage.md has the argument in full.
//
// The sequencer knows nothing of watchers. Its output goes to a batchSink
// (the broadcaster), called from the sequencer's loop in revision order.

// batch is what the sequencer publishes: the events above the previous
// published revision up to rv, in revision order, without gap rows.
type batch struct {
	events []*event
	rv     int64
}

// batchSink receives the sequencer's output. Its methods are called from
// the sequencer's loop, one at a time, and must not block.
type batchSink interface {
	// publish hands over a batch, before waiters for its revisions are
	// released: whoever learns of revision rv from the sequencer can count
	// on the sink having seen it.
	publish(b batch)
	// unavailable reports that events could not be read for
	// UnavailableAfter; available, that they can be again.
	unavailable(err error)
	available()
}

// eventSource is what the sequencer reads events from and writes gap rows
// to: the events table (sequencer_source.go), or a fake in tests.
type eventSource interface {
	// start returns the compacted revision and the revision publishing may
	// start from: the last one before the first hole above the compacted
	// revision.
	start(ctx context.Context) (compacted, published int64, err error)
	// read returns, in revision order, the events at the revisions in holes
	// and at most limit events after after, with the compacted revision.
	read(ctx context.Context, holes []int64, after int64, limit int) (events []*event, compacted int64, err error)
	// closeHoles writes gap rows at those of rvs that no write holds and
	// that have no event, and returns them; a hole whose write is still
	// running stays open.
	closeHoles(ctx context.Context, rvs []int64) (closed []int64, err error)
	// notify tells other replicas that there are new events.
	notify(ctx context.Context) error
	// listen calls wake for every notification of another replica, until
	// ctx ends or the connection fails.
	listen(ctx context.Context, wake func()) error
}

// While a hole is open, the sequencer looks again after holeWaitMin,
// backing off to holeWaitMax. Holes are short-lived (a write between
// drawing its revision and committing), so the first looks are quick.
const (
	holeWaitMin = 250 * time.Microsecond
	holeWaitMax = 5 * time.Millisecond
)

// notifySpacing is the least time between two NOTIFY hints of a replica.
// NOTIFY serialises the commits that carry one, so it is rate-limited and
// never part of a write.
const notifySpacing = 5 * time.Millisecond

// readBatch bounds the rows one round reads.
const readBatch = 1000

// maxPending bounds the events held past a hole before the sequencer stops
// reading ahead and waits for the hole to close.
const maxPending = 20 * readBatch

// closeBatch bounds the holes one statement closes: each takes an advisory
// lock until the statement commits, and PostgreSQL's lock table is sized for
// tens of locks per connection, not thousands.
const closeBatch = 100

// sequencerOptions are the Backend options the sequencer uses.
type sequencerOptions struct {
	PollInterval     time.Duration
	GapGrace         time.Duration
	UnavailableAfter time.Duration
}

type waiter struct {
	rv int64
	ch chan error
}

type sequencer struct {
	src  eventSource
	out  batchSink
	opts sequencerOptions
	// wake: local writes have committed (their events are in local).
	// wakeDB: the events must be read (another replica wrote, or a write
	// happened whose event we do not have).
	wake, wakeDB chan struct{}

	mu         sync.Mutex
	pub        int64 // the published revision P
	compacted  int64
	waiters    []*waiter
	local      []*event  // events of local writes that committed, not yet merged
	failSince  time.Time // zero while healthy
	lastErr    error
	down       bool // out was told the events are unavailable
	localWrite bool // a local write happened since the last notify

	// Owned by the run goroutine.
	readPos      int64
	pending      map[int64]*event
	missingSince map[int64]time.Time
	lastNotify   time.Time
	notifying    sync.WaitGroup
}

// newSequencer returns a sequencer reading src. Its out must be set before
// it runs.
func newSequencer(src eventSource, opts sequencerOptions) *sequencer {
	return &sequencer{
		src:          src,
		opts:         opts,
		wake:         make(chan struct{}, 1),
		wakeDB:       make(chan struct{}, 1),
		pending:      map[int64]*event{},
		missingSince: map[int64]time.Time{},
	}
}

// init finds where publishing starts and returns that revision.
func (q *sequencer) init(ctx context.Context) (int64, error) {
	compacted, start, err := q.src.start(ctx)
	if err != nil {
		return 0, err
	}
	q.compacted, q.pub, q.readPos = compacted, start, start
	return start, nil
}

// poke wakes the run loop.
func (q *sequencer) poke() { signal(q.wake) }

// pokeDB wakes the run loop to read the events.
func (q *sequencer) pokeDB() { signal(q.wakeDB) }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// committed hands the sequencer the event of a local write that has just
// committed: the statement returned everything the events row holds, so
// local writes are published without reading them back. Other replicas
// hear of it through a NOTIFY hint.
func (q *sequencer) committed(e *event) {
	q.mu.Lock()
	q.local = append(q.local, e)
	q.localWrite = true
	q.mu.Unlock()
	q.poke()
}

func (q *sequencer) published() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pub
}

func (q *sequencer) compactRevision() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.compacted
}

func (q *sequencer) setCompacted(rv int64) {
	q.mu.Lock()
	if rv > q.compacted {
		q.compacted = rv
	}
	q.mu.Unlock()
}

// healthy fails once events could not be read for UnavailableAfter.
func (q *sequencer) healthy() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.unavailableLocked() {
		return fmt.Errorf("storage unavailable since %s: %w", q.failSince.Format(time.RFC3339), q.lastErr)
	}
	return nil
}

func (q *sequencer) unavailableLocked() bool {
	return !q.failSince.IsZero() && time.Since(q.failSince) >= q.opts.UnavailableAfter
}

// waitPublished blocks until revision rv is published.
func (q *sequencer) waitPublished(ctx context.Context, rv int64) error {
	q.mu.Lock()
	if q.pub >= rv {
		q.mu.Unlock()
		return nil
	}
	if q.unavailableLocked() {
		err := unavailable(q.lastErr)
		q.mu.Unlock()
		return err
	}
	w := &waiter{rv: rv, ch: make(chan error, 1)}
	q.waiters = append(q.waiters, w)
	q.mu.Unlock()
	q.poke()
	select {
	case err := <-w.ch:
		return err
	case <-ctx.Done():
		q.mu.Lock()
		for i, o := range q.waiters {
			if o == w {
				q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
				break
			}
		}
		q.mu.Unlock()
		return interpret("", ctx.Err())
	}
}

// run is the sequencer loop.
func (q *sequencer) run(ctx context.Context) {
	defer q.notifying.Wait()
	ticker := time.NewTicker(q.opts.PollInterval)
	defer ticker.Stop()
	for {
		readDB := false
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-q.wakeDB:
			readDB = true
		case <-ticker.C:
			readDB = true
		}
		idle := holeWaitMin
		for ctx.Err() == nil {
			busy, progressed, more, err := q.round(ctx, readDB)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				q.failed(err)
				sleep(ctx, 200*time.Millisecond)
				continue
			}
			q.recovered()
			q.maybeNotify(ctx)
			if !busy {
				break
			}
			readDB = more
			if progressed || more {
				idle = holeWaitMin
				continue
			}
			// A hole is open: its write is still committing. A local write
			// hands us its event as soon as it commits; one on another
			// replica is found by reading again shortly.
			t := time.NewTimer(idle)
			select {
			case <-ctx.Done():
			case <-q.wake:
			case <-q.wakeDB:
				readDB = true
			case <-t.C:
				readDB = true
				idle = min(2*idle, holeWaitMax)
			}
			t.Stop()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// round takes the events of local writes, reads events when readDB is set,
// publishes the prefix without holes, and closes holes older than GapGrace.
// busy reports that another round is needed; more, that there are more rows
// than one round reads.
func (q *sequencer) round(ctx context.Context, readDB bool) (busy, progressed, more bool, err error) {
	q.mu.Lock()
	pub := q.pub
	target := pub
	for _, w := range q.waiters {
		target = max(target, w.rv)
	}
	local := q.local
	q.local = nil
	q.mu.Unlock()
	for _, e := range local {
		if e.rv > pub {
			q.pending[e.rv] = e
			q.readPos = max(q.readPos, e.rv)
		}
	}
	var n int
	var held bool
	if readDB {
		if n, held, err = q.read(ctx, pub); err != nil {
			return false, false, false, err
		}
	}

	// Publish the prefix without holes.
	var out []*event
	next := pub
	for {
		e, ok := q.pending[next+1]
		if !ok {
			break
		}
		delete(q.pending, next+1)
		delete(q.missingSince, next+1)
		next++
		if e.typ != evGap {
			out = append(out, e)
		}
	}
	if next > pub {
		q.publish(batch{events: out, rv: next})
	}

	// Holes: every revision above P up to what has been read, or up to what
	// a waiter was told exists, that has no event.
	limit := max(q.readPos, target)
	now := time.Now()
	var expired []int64
	for rv := next + 1; rv <= limit && rv-next <= maxPending && len(expired) < closeBatch; rv++ {
		if _, ok := q.pending[rv]; ok {
			continue
		}
		since, seen := q.missingSince[rv]
		if !seen {
			q.missingSince[rv] = now
			continue
		}
		if now.Sub(since) >= q.opts.GapGrace {
			expired = append(expired, rv)
		}
	}
	if len(expired) > 0 {
		closed, err := q.src.closeHoles(ctx, expired)
		if err != nil {
			return false, next > pub, false, fmt.Errorf("closing holes %v: %w", summarize(expired), err)
		}
		if len(closed) > 0 {
			holesClosed.Add(float64(len(closed)))
			klog.V(4).InfoS("closed revision holes", "revisions", summarize(closed))
		}
		// Read the gap rows, and the rows of writes that committed meanwhile.
		// Holes whose writes are still running get another GapGrace.
		for _, rv := range expired {
			q.missingSince[rv] = now
		}
		return true, next > pub, len(closed) > 0, nil
	}
	// More to read: a full batch came back, or reading ahead was held
	// back by a hole that has now closed.
	more = n == readBatch || (held && next > pub)
	return more || limit > next, next > pub, more, nil
}

// read reads the holes above pub that are still open and the events after
// readPos into pending, and refreshes the compacted revision. held reports
// that it did not read ahead, because maxPending events wait behind a hole.
func (q *sequencer) read(ctx context.Context, pub int64) (n int, held bool, err error) {
	var holes []int64
	for rv := pub + 1; rv <= q.readPos && len(holes) < readBatch; rv++ {
		if _, ok := q.pending[rv]; !ok {
			holes = append(holes, rv)
		}
	}
	after := q.readPos
	if held = len(q.pending) >= maxPending; held {
		after = 1<<63 - 1 // only the holes: do not read further ahead
	}
	events, compacted, err := q.src.read(ctx, holes, after, readBatch)
	if err != nil {
		return 0, held, err
	}
	for _, e := range events {
		q.pending[e.rv] = e
		q.readPos = max(q.readPos, e.rv)
	}
	q.setCompacted(compacted)
	return len(events), held, nil
}

// publish hands b to the sink, then makes its revisions visible and
// releases the waiters for them.
func (q *sequencer) publish(b batch) {
	q.out.publish(b)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pub = b.rv
	publishedRevision.Set(float64(b.rv))
	compactionLag.Set(float64(b.rv - q.compacted))
	kept := q.waiters[:0]
	for _, w := range q.waiters {
		if w.rv <= b.rv {
			w.ch <- nil
		} else {
			kept = append(kept, w)
		}
	}
	clear(q.waiters[len(kept):])
	q.waiters = kept
}

// maybeNotify tells other replicas that there are new events, at most every
// notifySpacing and only after local writes. NOTIFY is a hint to read now;
// the data always comes from the events table.
func (q *sequencer) maybeNotify(ctx context.Context) {
	q.mu.Lock()
	if !q.localWrite || time.Since(q.lastNotify) < notifySpacing {
		q.mu.Unlock()
		return
	}
	q.localWrite = false
	q.lastNotify = time.Now()
	q.mu.Unlock()
	q.notifying.Add(1)
	go func() {
		defer q.notifying.Done()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := q.src.notify(ctx); err != nil {
			klog.V(4).InfoS("notify failed", "err", err)
		}
	}()
}

// listen wakes the sequencer when another replica announces new events.
func (q *sequencer) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := q.src.listen(ctx, q.pokeDB)
		if ctx.Err() == nil {
			klog.V(2).InfoS("event listener reconnecting", "err", err)
			sleep(ctx, time.Second)
		}
	}
}

// failed records a failed round. Once events could not be read for
// UnavailableAfter, waiting writes and reads are released with 503 and the
// sink is told, so that watches end and their clients re-list.
func (q *sequencer) failed(err error) {
	q.mu.Lock()
	if q.failSince.IsZero() {
		q.failSince = time.Now()
		klog.ErrorS(err, "storage sequencer cannot read events")
	}
	q.lastErr = err
	tellSink := false
	if q.unavailableLocked() {
		for _, w := range q.waiters {
			w.ch <- unavailable(err)
		}
		q.waiters = nil
		tellSink, q.down = !q.down, true
	}
	q.mu.Unlock()
	if tellSink {
		q.out.unavailable(unavailable(err))
	}
}

func (q *sequencer) recovered() {
	q.mu.Lock()
	if q.failSince.IsZero() {
		q.mu.Unlock()
		return
	}
	klog.InfoS("storage sequencer recovered", "downFor", time.Since(q.failSince).Round(time.Millisecond))
	wasDown := q.down
	q.failSince, q.lastErr, q.down = time.Time{}, nil, false
	q.mu.Unlock()
	if wasDown {
		q.out.available()
	}
}

// stop releases every waiter; the run loop must have ended.
func (q *sequencer) stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, w := range q.waiters {
		w.ch <- errors.New("storage is shutting down")
	}
	q.waiters = nil
}

// summarize prints a list of revisions compactly for logs and errors.
func summarize(rvs []int64) string {
	if len(rvs) <= 4 {
		return fmt.Sprint(rvs)
	}
	return fmt.Sprintf("[%d %d ... %d] (%d)", rvs[0], rvs[1], rvs[len(rvs)-1], len(rvs))
}
