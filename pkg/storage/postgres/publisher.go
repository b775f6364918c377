package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"k8s.io/klog/v2"
)

// The publisher is the revision loop: the one place where revisions become
// visible. Writes draw revisions from a sequence and commit in any order; the
// publisher reads the events table in revision order and publishes the
// longest prefix with no holes. Everything a client can see — watch events,
// the revision of a list, the revision a write returns — is at or below the
// published revision P, so nobody can see revision N and later meet a commit
// below N.
//
// A hole is a revision that was drawn but has no event yet: its write is
// still running, or it failed after drawing (a lost create race, a
// conflicting update, a crash). A write holds an advisory lock on its
// revision from the moment it draws it until it ends. When a hole outlives
// GapGrace and its lock is free, the publisher inserts a gap row for it; a
// hole whose write is still running stays open, however long the write
// takes. The events primary key makes that insert the decision: if the
// write's row is already there, the gap row is not written and the event is
// published; otherwise the gap row wins, and a write that drew the revision
// but had not yet locked it fails on the key and is retried with a new one.
// docs/storage.md has the argument in full.

const (
	evGap      int16 = 0
	evCreate   int16 = 1
	evUpdate   int16 = 2
	evDelete   int16 = 3
	evProgress int16 = -1 // not stored: a bookmark marker in a watcher's stream
)

// event is one row of sluice.events, shared read-only by every subscriber.
type event struct {
	rv        int64
	key       string
	typ       int16
	value     []byte
	prevValue []byte
	prevRV    int64
	createRV  int64

	decodeMu sync.Mutex
	decoded  map[*Store]*decodedEvent
}

const (
	// selectEvents reads the holes still open below readPos and the next
	// events after it.
	selectEvents = `
SELECT rv, coalesce(key, ''), type, value, prev_value, coalesce(prev_rv, 0), coalesce(create_rv, 0)
FROM sluice.events
WHERE rv = ANY($1) OR rv > $2
ORDER BY rv
LIMIT $3`
	selectCompactRV = `SELECT compact_rv FROM sluice.meta`
	// fillGaps closes the holes whose write no longer holds its revision
	// (migrations/0003_revision_locks.sql) and returns the revisions it
	// closed. A write that committed keeps its row (ON CONFLICT).
	fillGaps = `
INSERT INTO sluice.events (rv, type)
SELECT g, 0 FROM unnest($1::bigint[]) AS g WHERE sluice.try_lock_rv(g)
ON CONFLICT (rv) DO NOTHING
RETURNING rv`
	// selectStartRV finds where publishing may start after a restart: the
	// last revision before the first hole above the compacted revision.
	selectStartRV = `
WITH r AS (SELECT rv, lag(rv, 1, $1::bigint) OVER (ORDER BY rv) AS prev FROM sluice.events WHERE rv > $1)
SELECT coalesce((SELECT prev FROM r WHERE rv <> prev + 1 ORDER BY rv LIMIT 1), (SELECT max(rv) FROM r), $1)`
	notifyChannel = "sluice_events"
)

// While a hole is open, the publisher looks again after holeWaitMin,
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

// readBatch bounds the rows one publisher round reads.
const readBatch = 1000

// maxPending bounds the events held past a hole before the publisher stops
// reading ahead and waits for the hole to close.
const maxPending = 20 * readBatch

// closeBatch bounds the holes one statement closes: each takes an advisory
// lock until the statement commits, and PostgreSQL's lock table is sized for
// tens of locks per connection, not thousands.
const closeBatch = 100

type waiter struct {
	rv int64
	ch chan error
}

type publisher struct {
	b *Backend
	// wake: local writes have committed (their events are in local).
	// wakeDB: the events table must be read (another replica wrote, or a
	// write happened whose event we do not have).
	wake, wakeDB chan struct{}

	mu         sync.Mutex
	pub        int64 // the published revision P
	compacted  int64
	subs       map[*subscription]struct{}
	stats      map[*statsTracker]struct{}
	waiters    []*waiter
	local      []*event  // events of local writes that committed, not yet merged
	failSince  time.Time // zero while healthy
	lastErr    error
	marks      []revisionMark // (time, P) samples for time-based compaction
	localWrite bool           // a local write happened since the last notify

	// Owned by the run goroutine.
	readPos      int64
	pending      map[int64]*event
	missingSince map[int64]time.Time
	lastNotify   time.Time
	lastProgress time.Time
}

type revisionMark struct {
	at time.Time
	rv int64
}

func newPublisher(b *Backend) *publisher {
	return &publisher{
		b:            b,
		wake:         make(chan struct{}, 1),
		wakeDB:       make(chan struct{}, 1),
		subs:         map[*subscription]struct{}{},
		stats:        map[*statsTracker]struct{}{},
		pending:      map[int64]*event{},
		missingSince: map[int64]time.Time{},
	}
}

func (p *publisher) init(ctx context.Context) error {
	var compacted, start int64
	if err := p.b.pool.QueryRow(ctx, selectCompactRV).Scan(&compacted); err != nil {
		return fmt.Errorf("reading the compacted revision: %w", err)
	}
	if err := p.b.pool.QueryRow(ctx, selectStartRV, compacted).Scan(&start); err != nil {
		return fmt.Errorf("finding the published revision: %w", err)
	}
	p.compacted, p.pub, p.readPos = compacted, start, start
	p.marks = append(p.marks, revisionMark{at: time.Now(), rv: start})
	return nil
}

// poke wakes the run loop.
func (p *publisher) poke() { signal(p.wake) }

// pokeDB wakes the run loop to read the events table.
func (p *publisher) pokeDB() { signal(p.wakeDB) }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// committed hands the publisher the event of a local write that has just
// committed: the statement returned everything the events row holds, so
// local writes are published without reading them back. Other replicas
// hear of it through a NOTIFY hint.
func (p *publisher) committed(e *event) {
	p.mu.Lock()
	p.local = append(p.local, e)
	p.localWrite = true
	p.mu.Unlock()
	p.poke()
}

func (p *publisher) published() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pub
}

func (p *publisher) compactRevision() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.compacted
}

func (p *publisher) setCompacted(rv int64) {
	p.mu.Lock()
	if rv > p.compacted {
		p.compacted = rv
	}
	p.mu.Unlock()
}

func (p *publisher) healthy() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.failSince.IsZero() && time.Since(p.failSince) >= p.b.opts.UnavailableAfter {
		return fmt.Errorf("storage unavailable since %s: %w", p.failSince.Format(time.RFC3339), p.lastErr)
	}
	return nil
}

// waitPublished blocks until revision rv is published.
func (p *publisher) waitPublished(ctx context.Context, rv int64) error {
	p.mu.Lock()
	if p.pub >= rv {
		p.mu.Unlock()
		return nil
	}
	if err := p.unavailableLocked(); err != nil {
		p.mu.Unlock()
		return err
	}
	w := &waiter{rv: rv, ch: make(chan error, 1)}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()
	p.poke()
	select {
	case err := <-w.ch:
		return err
	case <-ctx.Done():
		p.mu.Lock()
		for i, o := range p.waiters {
			if o == w {
				p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
		return interpret("", ctx.Err())
	}
}

func (p *publisher) unavailableLocked() error {
	if !p.failSince.IsZero() && time.Since(p.failSince) >= p.b.opts.UnavailableAfter {
		return unavailable(p.lastErr)
	}
	return nil
}

// run is the publisher loop.
func (p *publisher) run(ctx context.Context) {
	ticker := time.NewTicker(p.b.opts.PollInterval)
	defer ticker.Stop()
	for {
		readDB := false
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-p.wakeDB:
			readDB = true
		case <-ticker.C:
			readDB = true
		}
		idle := holeWaitMin
		for ctx.Err() == nil {
			busy, progressed, more, err := p.round(ctx, readDB)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				p.failed(err)
				sleep(ctx, 200*time.Millisecond)
				continue
			}
			p.recovered()
			p.sendProgress()
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
			// replica is found by reading the table again shortly.
			t := time.NewTimer(idle)
			select {
			case <-ctx.Done():
			case <-p.wake:
			case <-p.wakeDB:
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

// round takes the events of local writes, reads the events table when
// readDB is set, publishes the prefix without holes, and closes holes older
// than GapGrace. busy reports that another round is needed; more, that the
// table has more rows than one round reads.
func (p *publisher) round(ctx context.Context, readDB bool) (busy, progressed, more bool, err error) {
	p.mu.Lock()
	pub := p.pub
	target := pub
	for _, w := range p.waiters {
		if w.rv > target {
			target = w.rv
		}
	}
	local := p.local
	p.local = nil
	p.mu.Unlock()
	for _, e := range local {
		if e.rv > pub {
			p.pending[e.rv] = e
			p.readPos = max(p.readPos, e.rv)
		}
	}
	var n int
	if readDB {
		if n, err = p.readEvents(ctx, pub); err != nil {
			return false, false, false, err
		}
	}

	// Publish the prefix without holes.
	var out []*event
	next := pub
	for {
		e, ok := p.pending[next+1]
		if !ok {
			break
		}
		delete(p.pending, next+1)
		delete(p.missingSince, next+1)
		next++
		if e.typ != evGap {
			out = append(out, e)
		}
	}
	if next > pub {
		p.publish(out, next)
	}

	// Holes: every revision above P up to what has been read, or up to what
	// a waiter was told exists, that has no event.
	limit := max(p.readPos, target)
	now := time.Now()
	var expired []int64
	for rv := next + 1; rv <= limit && rv-next <= maxPending && len(expired) < closeBatch; rv++ {
		if _, ok := p.pending[rv]; ok {
			continue
		}
		since, seen := p.missingSince[rv]
		if !seen {
			p.missingSince[rv] = now
			continue
		}
		if now.Sub(since) >= p.b.opts.GapGrace {
			expired = append(expired, rv)
		}
	}
	if len(expired) > 0 {
		closed, err := p.closeHoles(ctx, expired)
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
			p.missingSince[rv] = now
		}
		return true, next > pub, len(closed) > 0, nil
	}
	p.maybeNotify()
	more = n == readBatch
	return more || limit > next, next > pub, more, nil
}

// closeHoles writes gap rows for the holes whose revision no write holds
// and returns the revisions it closed.
func (p *publisher) closeHoles(ctx context.Context, holes []int64) ([]int64, error) {
	rows, err := p.b.pool.Query(ctx, fillGaps, holes)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// readEvents reads the holes above pub that are still open and the events
// after readPos into pending, and refreshes the compacted revision.
func (p *publisher) readEvents(ctx context.Context, pub int64) (int, error) {
	var holes []int64
	for rv := pub + 1; rv <= p.readPos && len(holes) < readBatch; rv++ {
		if _, ok := p.pending[rv]; !ok {
			holes = append(holes, rv)
		}
	}
	readAhead := len(p.pending) < maxPending
	after := p.readPos
	if !readAhead {
		after = 1<<63 - 1
	}

	var compacted int64
	batch := &pgx.Batch{}
	batch.Queue(selectCompactRV).QueryRow(func(row pgx.Row) error { return row.Scan(&compacted) })
	var n int
	batch.Queue(selectEvents, holes, after, readBatch).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			e := &event{}
			if err := rows.Scan(&e.rv, &e.key, &e.typ, &e.value, &e.prevValue, &e.prevRV, &e.createRV); err != nil {
				return err
			}
			n++
			p.pending[e.rv] = e
			if e.rv > p.readPos {
				p.readPos = e.rv
			}
		}
		return rows.Err()
	})
	if err := p.b.pool.SendBatch(ctx, batch).Close(); err != nil {
		return 0, err
	}
	p.setCompacted(compacted)
	return n, nil
}

// publish makes revisions up to newPub visible: watchers get the events in
// order, and waiters for revisions up to newPub are released.
func (p *publisher) publish(events []*event, newPub int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range events {
		for s := range p.subs {
			if s.matches(e.key) && !s.send(e) {
				delete(p.subs, s)
			}
		}
		for t := range p.stats {
			if strings.HasPrefix(e.key, t.prefix) {
				t.apply(e)
			}
		}
	}
	p.pub = newPub
	publishedRevision.Set(float64(newPub))
	compactionLag.Set(float64(newPub - p.compacted))
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		if w.rv <= newPub {
			w.ch <- nil
		} else {
			kept = append(kept, w)
		}
	}
	p.waiters = kept
	now := time.Now()
	if len(p.marks) == 0 || now.Sub(p.marks[len(p.marks)-1].at) >= time.Second {
		p.marks = append(p.marks, revisionMark{at: now, rv: newPub})
	}
	// Keep marks for twice the compaction window; older ones are never needed.
	cut := sort.Search(len(p.marks), func(i int) bool { return now.Sub(p.marks[i].at) < 2*p.b.opts.CompactionWindow })
	if cut > 0 && cut < len(p.marks) {
		p.marks = append(p.marks[:0], p.marks[cut:]...)
	}
}

// publishedBefore returns the highest revision published at or before t.
func (p *publisher) publishedBefore(t time.Time) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var rv int64
	for _, m := range p.marks {
		if m.at.After(t) {
			break
		}
		rv = m.rv
	}
	return rv
}

// maybeNotify tells other replicas that there are new events, at most
// every notifySpacing and only after local writes. NOTIFY is a hint to poll now; the
// data always comes from the events table.
func (p *publisher) maybeNotify() {
	p.mu.Lock()
	local := p.localWrite
	if !local || time.Since(p.lastNotify) < notifySpacing {
		p.mu.Unlock()
		return
	}
	p.localWrite = false
	p.lastNotify = time.Now()
	p.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(p.b.ctx, 5*time.Second)
		defer cancel()
		if _, err := p.b.pool.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel); err != nil {
			klog.V(4).InfoS("notify failed", "err", err)
		}
	}()
}

// listen wakes the publisher when another replica announces new events.
func (p *publisher) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := p.listenOnce(ctx)
		if ctx.Err() == nil {
			klog.V(2).InfoS("event listener reconnecting", "err", err)
			sleep(ctx, time.Second)
		}
	}
}

func (p *publisher) listenOnce(ctx context.Context) error {
	conn, err := p.b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection is in LISTEN state: never return it to the pool.
	raw := conn.Hijack()
	defer raw.Close(context.Background())
	if _, err := raw.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	for {
		if _, err := raw.WaitForNotification(ctx); err != nil {
			return err
		}
		p.poke()
	}
}

func (p *publisher) failed(err error) {
	p.mu.Lock()
	if p.failSince.IsZero() {
		p.failSince = time.Now()
		klog.ErrorS(err, "storage publisher cannot read events")
	}
	p.lastErr = err
	down := time.Since(p.failSince) >= p.b.opts.UnavailableAfter
	var subs []*subscription
	if down {
		for s := range p.subs {
			subs = append(subs, s)
			delete(p.subs, s)
		}
		for _, w := range p.waiters {
			w.ch <- unavailable(err)
		}
		p.waiters = nil
	}
	p.mu.Unlock()
	// Watches end with an error so that their clients re-list once the
	// database is back.
	for _, s := range subs {
		s.fail(unavailable(err))
	}
}

func (p *publisher) recovered() {
	p.mu.Lock()
	if !p.failSince.IsZero() {
		klog.InfoS("storage publisher recovered", "downFor", time.Since(p.failSince).Round(time.Millisecond))
	}
	p.failSince, p.lastErr = time.Time{}, nil
	p.mu.Unlock()
}

// subscribe registers s and returns the published revision at that moment:
// s receives every event above it.
func (p *publisher) subscribe(s *subscription) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.unavailableLocked(); err != nil {
		return 0, err
	}
	p.subs[s] = struct{}{}
	s.subscribed.Store(true)
	watchers.Inc()
	return p.pub, nil
}

// addStats registers a stats tracker and returns the published revision at
// that moment: the tracker gets every event above it.
func (p *publisher) addStats(t *statsTracker) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats[t] = struct{}{}
	return p.pub
}

func (p *publisher) removeStats(t *statsTracker) {
	p.mu.Lock()
	delete(p.stats, t)
	p.mu.Unlock()
}

func (p *publisher) unsubscribe(s *subscription) {
	p.mu.Lock()
	if _, ok := p.subs[s]; ok {
		delete(p.subs, s)
	}
	p.mu.Unlock()
	s.unsubscribed()
}

// requestProgress sends every subscriber under prefix that wants bookmarks
// a bookmark at the published revision.
func (p *publisher) requestProgress(prefix string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	marker := &event{rv: p.pub, typ: evProgress}
	for s := range p.subs {
		if s.bookmarks && strings.HasPrefix(s.key, prefix) && !s.send(marker) {
			delete(p.subs, s)
		}
	}
}

// sendProgress sends periodic bookmarks to subscribers that want them.
func (p *publisher) sendProgress() {
	if time.Since(p.lastProgress) < p.b.opts.ProgressNotifyInterval {
		return
	}
	p.lastProgress = time.Now()
	p.requestProgress("")
}

func (p *publisher) closeAll() {
	p.mu.Lock()
	subs := p.subs
	p.subs = map[*subscription]struct{}{}
	for _, w := range p.waiters {
		w.ch <- errors.New("storage is shutting down")
	}
	p.waiters = nil
	p.mu.Unlock()
	for s := range subs {
		s.close()
	}
}

// summarize prints a list of revisions compactly for logs and errors.
func summarize(rvs []int64) string {
	if len(rvs) <= 4 {
		return fmt.Sprint(rvs)
	}
	return fmt.Sprintf("[%d %d ... %d] (%d)", rvs[0], rvs[1], rvs[len(rvs)-1], len(rvs))
}
