package postgres

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// The sequencer's tests run it on fakeEvents, an in-memory events table with
// the properties the sequencer relies on: a revision holds one row, the
// first row written there wins (a gap row or the write's event), and a gap
// row is never written at a revision a running write holds. No database and
// no watcher is involved.

type fakeEvents struct {
	mu        sync.Mutex
	rows      map[int64]*event
	compacted int64
	failWith  error
	served    map[int64]bool // revisions read returned
	held      map[int64]bool // revisions of writes still running
	closed    []int64        // revisions closeHoles closed
	closes    int            // calls of closeHoles
	notified  int
	changed   chan struct{} // signalled after every call
	// notifications carries the notifications of other replicas.
	notifications chan struct{}
}

func newFakeEvents(published int64) *fakeEvents {
	f := &fakeEvents{rows: map[int64]*event{}, served: map[int64]bool{}, held: map[int64]bool{}, changed: make(chan struct{}, 1), notifications: make(chan struct{})}
	for rv := int64(1); rv <= published; rv++ {
		f.rows[rv] = &event{rv: rv, typ: evGap}
	}
	return f
}

// hold marks rv as drawn by a write that is still running (and has locked
// it).
func (f *fakeEvents) hold(rv int64) {
	f.mu.Lock()
	f.held[rv] = true
	f.mu.Unlock()
}

// abort ends the write holding rv without an event.
func (f *fakeEvents) abort(rv int64) {
	f.mu.Lock()
	delete(f.held, rv)
	f.mu.Unlock()
}

// commit writes the event of a write that drew rv and ends it; false means
// a gap row took rv first, and the write must retry.
func (f *fakeEvents) commit(rv int64, key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.held, rv)
	if _, taken := f.rows[rv]; taken {
		return false
	}
	f.rows[rv] = &event{rv: rv, key: key, typ: evCreate, value: []byte(key)}
	return true
}

func (f *fakeEvents) setFailing(err error) {
	f.mu.Lock()
	f.failWith = err
	f.mu.Unlock()
}

func (f *fakeEvents) hasServed(rv int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served[rv]
}

func (f *fakeEvents) closedHoles() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.closed)
}

func (f *fakeEvents) called() { signal(f.changed) }

func (f *fakeEvents) start(context.Context) (int64, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pub := f.compacted
	for f.rows[pub+1] != nil {
		pub++
	}
	return f.compacted, pub, nil
}

func (f *fakeEvents) read(_ context.Context, holes []int64, after int64, limit int) ([]*event, int64, error) {
	defer f.called()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return nil, 0, f.failWith
	}
	var out []*event
	for rv, e := range f.rows {
		if slices.Contains(holes, rv) || rv > after {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *event) int { return int(a.rv - b.rv) })
	if len(out) > limit {
		out = out[:limit]
	}
	for _, e := range out {
		f.served[e.rv] = true
	}
	return out, f.compacted, nil
}

func (f *fakeEvents) closeHoles(_ context.Context, rvs []int64) ([]int64, error) {
	defer f.called()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return nil, f.failWith
	}
	f.closes++
	var closed []int64
	for _, rv := range rvs {
		if f.rows[rv] == nil && !f.held[rv] {
			f.rows[rv] = &event{rv: rv, typ: evGap}
			closed = append(closed, rv)
		}
	}
	f.closed = append(f.closed, closed...)
	return closed, nil
}

func (f *fakeEvents) notify(context.Context) error {
	defer f.called()
	f.mu.Lock()
	f.notified++
	f.mu.Unlock()
	return nil
}

func (f *fakeEvents) listen(ctx context.Context, wake func()) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.notifications:
			wake()
		}
	}
}

// batchRecorder is a batchSink that keeps what it is given.
type batchRecorder struct {
	mu      sync.Mutex
	batches []batch
	downs   []error
	ups     int
	changed chan struct{}
}

func newBatchRecorder() *batchRecorder { return &batchRecorder{changed: make(chan struct{}, 1)} }

func (r *batchRecorder) publish(b batch) {
	r.mu.Lock()
	r.batches = append(r.batches, b)
	r.mu.Unlock()
	signal(r.changed)
}

func (r *batchRecorder) unavailable(err error) {
	r.mu.Lock()
	r.downs = append(r.downs, err)
	r.mu.Unlock()
	signal(r.changed)
}

func (r *batchRecorder) available() {
	r.mu.Lock()
	r.ups++
	r.mu.Unlock()
	signal(r.changed)
}

// published lists the revisions of the published events in order, and the
// revision of the last batch.
func (r *batchRecorder) published(t *testing.T) (rvs []int64, last int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.batches {
		require.Greater(t, b.rv, last, "batches come in increasing revision order")
		for _, e := range b.events {
			require.NotEqual(t, evGap, e.typ, "gap rows are not published")
			require.True(t, e.rv > last && e.rv <= b.rv, "event %d is outside its batch (%d, %d]", e.rv, last, b.rv)
			rvs = append(rvs, e.rv)
		}
		last = b.rv
	}
	return rvs, last
}

type sequencerHarness struct {
	t    *testing.T
	src  *fakeEvents
	sink *batchRecorder
	seq  *sequencer
	ctx  context.Context
}

// startSequencer runs a sequencer over an events table whose revisions up to
// published are committed. A long PollInterval means it reads only when woken.
func startSequencer(t *testing.T, published int64, opts sequencerOptions) *sequencerHarness {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Hour
	}
	if opts.UnavailableAfter == 0 {
		opts.UnavailableAfter = time.Hour
	}
	h := &sequencerHarness{t: t, src: newFakeEvents(published), sink: newBatchRecorder()}
	h.seq = newSequencer(h.src, opts)
	h.seq.out = h.sink
	start, err := h.seq.init(context.Background())
	require.NoError(t, err)
	require.Equal(t, published, start)
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); h.seq.run(ctx) }()
	go func() { defer wg.Done(); h.seq.listen(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); h.seq.stop() })
	return h
}

// until waits for cond, woken by the fake table and the sink, for at most
// ten seconds.
func (h *sequencerHarness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-h.src.changed:
		case <-h.sink.changed:
		case <-deadline.C:
			h.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (h *sequencerHarness) publishedUpTo(rv int64) func() bool {
	return func() bool { _, last := h.sink.published(h.t); return last >= rv }
}

func TestSequencerPublishesCommitsInRevisionOrder(t *testing.T) {
	h := startSequencer(t, 1, sequencerOptions{GapGrace: time.Hour})
	// Revisions 2, 3 and 4 are drawn; 4 and 3 commit first.
	require.True(t, h.src.commit(4, "d"))
	require.True(t, h.src.commit(3, "c"))
	h.seq.pokeDB()
	h.until("revisions 3 and 4 to be read", func() bool { return h.src.hasServed(3) && h.src.hasServed(4) })
	rvs, _ := h.sink.published(t)
	require.Empty(t, rvs, "nothing above the hole at 2 is published")
	require.EqualValues(t, 1, h.seq.published())

	require.True(t, h.src.commit(2, "b"))
	h.seq.pokeDB()
	h.until("revision 4 to be published", h.publishedUpTo(4))
	rvs, _ = h.sink.published(t)
	require.Equal(t, []int64{2, 3, 4}, rvs)
	require.EqualValues(t, 4, h.seq.published())
	require.Empty(t, h.src.closedHoles(), "no hole outlived GapGrace")
}

func TestSequencerClosesAHoleThatOutlivesGapGrace(t *testing.T) {
	h := startSequencer(t, 1, sequencerOptions{GapGrace: 20 * time.Millisecond})
	// Revision 2 is drawn by a write that fails; 3 commits.
	require.True(t, h.src.commit(3, "c"))
	require.NoError(t, h.seq.waitPublished(h.ctx, 3))
	rvs, last := h.sink.published(t)
	require.Equal(t, []int64{3}, rvs, "the gap is not an event")
	require.EqualValues(t, 3, last)
	require.Equal(t, []int64{2}, h.src.closedHoles())
	require.False(t, h.src.commit(2, "b"), "a write that comes back to its closed revision loses it and retries")
}

func TestSequencerPublishesLocalCommitsWithoutReading(t *testing.T) {
	h := startSequencer(t, 1, sequencerOptions{GapGrace: time.Hour})
	h.seq.committed(&event{rv: 2, key: "a", typ: evCreate})
	h.seq.committed(&event{rv: 3, key: "b", typ: evCreate})
	require.NoError(t, h.seq.waitPublished(h.ctx, 3))
	rvs, _ := h.sink.published(t)
	require.Equal(t, []int64{2, 3}, rvs)
	require.False(t, h.src.hasServed(2) || h.src.hasServed(3), "local events are not read back")
}

func TestSequencerWaiterLearnsOfARevisionItHasNotRead(t *testing.T) {
	h := startSequencer(t, 1, sequencerOptions{GapGrace: time.Hour})
	// Another replica committed 2; a consistent read on this one waits for
	// it (it learnt of it from the revision sequence, not from an event).
	require.True(t, h.src.commit(2, "a"))
	require.NoError(t, h.seq.waitPublished(h.ctx, 2))
	rvs, _ := h.sink.published(t)
	require.Equal(t, []int64{2}, rvs)
}

func TestSequencerReadsWhenAnotherReplicaNotifies(t *testing.T) {
	h := startSequencer(t, 1, sequencerOptions{GapGrace: time.Hour})
	require.True(t, h.src.commit(2, "a"))
	select {
	case h.src.notifications <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("the sequencer does not listen")
	}
	// No waiter and no poll: only the notification can make it read.
	h.until("the notified event to be published", h.publishedUpTo(2))
}

func TestSequencerNotifiesOtherReplicasAfterLocalWrites(t *testing.T) {
	h := startSequencer(t, 1, sequencerOptions{GapGrace: time.Hour})
	h.seq.committed(&event{rv: 2, key: "a", typ: evCreate})
	require.NoError(t, h.seq.waitPublished(h.ctx, 2))
	h.until("a notification", func() bool {
		h.src.mu.Lock()
		defer h.src.mu.Unlock()
		return h.src.notified > 0
	})
}

func TestSequencerUnavailableAndRecovered(t *testing.T) {
	h := startSequencer(t, 1, sequencerOptions{GapGrace: time.Hour, UnavailableAfter: 50 * time.Millisecond})
	dbDown := errors.New("connection refused")
	h.src.setFailing(dbDown)

	err := h.seq.waitPublished(h.ctx, 2)
	require.True(t, apierrors.IsServiceUnavailable(err), "a waiter is released with 503 once reads have failed for UnavailableAfter: %v", err)
	require.ErrorIs(t, h.seq.healthy(), dbDown)
	h.until("the sink to be told", func() bool { h.sink.mu.Lock(); defer h.sink.mu.Unlock(); return len(h.sink.downs) > 0 })
	err = h.seq.waitPublished(h.ctx, 2)
	require.True(t, apierrors.IsServiceUnavailable(err), "new waiters fail at once while down: %v", err)

	h.src.setFailing(nil)
	require.True(t, h.src.commit(2, "a"))
	h.until("recovery", func() bool { h.sink.mu.Lock(); defer h.sink.mu.Unlock(); return h.sink.ups > 0 })
	require.NoError(t, h.seq.healthy())
	require.NoError(t, h.seq.waitPublished(h.ctx, 2))
	h.sink.mu.Lock()
	require.Len(t, h.sink.downs, 1, "the sink hears of one outage once")
	h.sink.mu.Unlock()
}

func TestSequencerStopsReadingAheadPastAnOpenHole(t *testing.T) {
	h := startSequencer(t, 1, sequencerOptions{GapGrace: time.Hour})
	// Revision 2 stays open while far more than maxPending events commit
	// after it: the sequencer must stop reading ahead, and publish it all
	// once 2 commits.
	last := int64(2 + maxPending + 2*readBatch)
	for rv := int64(3); rv <= last; rv++ {
		require.True(t, h.src.commit(rv, "k"))
	}
	h.seq.pokeDB()
	h.until("reading up to the read-ahead bound", func() bool { return h.src.hasServed(2 + maxPending) })
	require.False(t, h.src.hasServed(last), "it read past maxPending held events")
	require.True(t, h.src.commit(2, "k"))
	h.seq.pokeDB()
	h.until("everything to be published", h.publishedUpTo(last))
	rvs, _ := h.sink.published(t)
	require.Len(t, rvs, int(last-1))
}

func TestSequencerKeepsTheHoleOfAWriteStillRunning(t *testing.T) {
	h := startSequencer(t, 1, sequencerOptions{GapGrace: time.Millisecond})
	// Revision 2 belongs to a slow write (a large value); 3 commits. The
	// hole at 2 outlives GapGrace many times over, but its write holds it.
	h.src.hold(2)
	require.True(t, h.src.commit(3, "c"))
	h.seq.pokeDB()
	h.until("several attempts to close the hole", func() bool {
		h.src.mu.Lock()
		defer h.src.mu.Unlock()
		return h.src.served[3] && h.src.closes >= 3
	})
	require.Empty(t, h.src.closedHoles())
	require.EqualValues(t, 1, h.seq.published(), "nothing is published past the running write")
	require.True(t, h.src.commit(2, "b"), "the slow write keeps its revision")
	h.seq.pokeDB()
	h.until("both to be published", h.publishedUpTo(3))
	rvs, _ := h.sink.published(t)
	require.Equal(t, []int64{2, 3}, rvs)

	// A write that ends without an event releases its revision: the hole is
	// then closed.
	h.src.hold(4)
	require.True(t, h.src.commit(5, "e"))
	h.src.abort(4)
	require.NoError(t, h.seq.waitPublished(h.ctx, 5))
	require.Equal(t, []int64{4}, h.src.closedHoles())
}
