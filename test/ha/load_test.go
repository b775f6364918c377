package ha

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

// The load's shape: writers and watchers spread over the replicas. Each
// writer owns its keys, so any conflict it meets means a write was lost or
// applied twice.
const (
	writers        = 4
	keysPerWriter  = 4
	watchers       = 4
	requestTimeout = 5 * time.Second
)

// state is what a key holds: nothing, or a job with a value at a revision.
type state struct {
	exists bool
	value  string
	rv     int64
}

func (s state) String() string {
	if !s.exists {
		return "absent"
	}
	return fmt.Sprintf("%q@%d", s.value, s.rv)
}

// write is one write a writer made, and what became of it.
type write struct {
	writer, store int
	op            string // create, update or delete
	key, value    string
	rv            int64 // its revision, when known
	// outcome: "acked"; or, for a write that failed, what the next read of
	// the key found: "applied" or "not applied".
	outcome string
}

// event is what a watcher received.
type event struct {
	typ        watch.EventType
	key, value string
	rv         int64
}

// segment is one list-then-watch of a watcher: the list at listRV, then the
// events of the watch from listRV until it ended.
type segment struct {
	watcher, store int
	listRV         int64
	items          map[string]state
	events         []event
	end            string // why the watch ended
}

// load runs writers, watchers and revision samplers on the replicas until
// finish.
type load struct {
	t       *testing.T
	stores  []storage.Interface
	prefix  string
	startRV int64

	stop       atomic.Bool
	stopWatch  context.CancelFunc
	writersWG  sync.WaitGroup
	watchersWG sync.WaitGroup
	acked      atomic.Int64
	// ackedBy counts the acknowledged writes of each replica; streak, its
	// writes acknowledged since its writers' last failed call.
	ackedBy, streak []atomic.Int64
	// maxAcked is, per replica, the highest revision a write acknowledged
	// by it returned: its published revision must never be below it again.
	maxAcked []atomic.Int64

	mu         sync.Mutex
	writes     []write
	segments   []*segment
	failures   map[string]map[int32]int // per call, per HTTP status a client would get
	violations []string                 // seen while the load ran
	samples    int
}

func startLoad(t *testing.T, ctx context.Context, stores []storage.Interface, prefix string) *load {
	l := &load{t: t, stores: stores, prefix: prefix, maxAcked: make([]atomic.Int64, len(stores)), ackedBy: make([]atomic.Int64, len(stores)), streak: make([]atomic.Int64, len(stores)), failures: map[string]map[int32]int{}}
	rv, err := stores[0].GetCurrentResourceVersion(ctx)
	require.NoError(t, err)
	l.startRV = int64(rv)
	for w := range writers {
		l.writersWG.Add(1)
		go func() {
			defer l.writersWG.Done()
			l.writer(ctx, w)
		}()
	}
	for s := range stores {
		l.writersWG.Add(1)
		go func() {
			defer l.writersWG.Done()
			l.sampler(ctx, s)
		}()
	}
	watchCtx, cancel := context.WithCancel(ctx)
	l.stopWatch = cancel
	for w := range watchers {
		l.watchersWG.Add(1)
		go func() {
			defer l.watchersWG.Done()
			l.watcher(watchCtx, w)
		}()
	}
	// A test that fails before finish must still stop the load before its
	// replicas close (cleanups run last first).
	t.Cleanup(l.halt)
	return l
}

// halt stops the writers, samplers and watchers, and waits for them.
func (l *load) halt() {
	l.stop.Store(true)
	l.writersWG.Wait()
	l.stopWatch()
	l.watchersWG.Wait()
}

func (l *load) violation(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.violations = append(l.violations, fmt.Sprintf(format, args...))
}

// failed records a call that failed with err, as a client would see it.
// deadline says whether the call's own deadline (the request's, in
// sluice-apiserver) had passed: the handler then answers 504 itself
// (finisher.FinishRequest), whatever the storage returns afterwards.
func (l *load) failed(verb, name string, err error, deadline bool) {
	code := int32(504)
	if !deadline {
		code = clientStatus(verb, jobs, name, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures[verb] == nil {
		l.failures[verb] = map[int32]int{}
	}
	l.failures[verb][code]++
	if !retryable(code) {
		l.violations = append(l.violations, fmt.Sprintf("%s %s failed with %d, not 503 or 504: %v", verb, name, code, err))
	}
}

// waitAcked waits until every replica has acknowledged n writes in a row,
// from the call on and since its writers' last failed call, if recovered is
// set, or else n more writes than it had when called. After a fault every replica must be
// writing again, and not only now and then: a pool that keeps some
// connections on a standby fails a share of its writes for ever. A writer
// stops at its first violation, so it fails at once on one.
func (l *load) waitAcked(ctx context.Context, n int64, recovered bool) {
	l.t.Helper()
	want := make([]int64, len(l.ackedBy))
	for i := range l.ackedBy {
		want[i] = l.ackedBy[i].Load() + n
	}
	count := func(i int) int64 { return l.ackedBy[i].Load() }
	if recovered {
		for i := range want {
			want[i] = n
			l.streak[i].Store(0) // counted from now on
		}
		count = func(i int) int64 { return l.streak[i].Load() }
	}
	for i := 0; i < len(want); {
		if count(i) >= want[i] {
			i++
			continue
		}
		l.mu.Lock()
		violations := l.violations
		l.mu.Unlock()
		if len(violations) > 0 {
			l.t.Fatalf("after %d acknowledged writes: %s", l.acked.Load(), strings.Join(violations, "\n"))
		}
		select {
		case <-ctx.Done():
			l.t.Fatalf("timed out waiting for replica %d to acknowledge %d writes (in a row: %v); it has %d (%d in all), and failed calls so far: %s",
				i, n, recovered, count(i), l.ackedBy[i].Load(), l.failureSummary())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (l *load) failureSummary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return formatFailures(l.failures)
}

func newJob(key, value string) *sluice.PipelineJob {
	ns, name := path.Split(strings.TrimSuffix(key, "/"))
	return &sluice.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: path.Base(ns), Name: name},
		Spec: sluice.PipelineJobSpec{
			PipelineRef: &sluice.PipelineReference{Name: "ha"},
			Params:      []sluice.Param{{Name: "value", Value: value}},
		},
	}
}

func valueOf(obj runtime.Object) string {
	j := unwrap(obj).(*sluice.PipelineJob)
	if len(j.Spec.Params) == 0 {
		return ""
	}
	return j.Spec.Params[0].Value
}

// writer creates, updates and deletes its own keys until the load stops.
// After a write that failed with an unknown outcome it reads the key until
// it can, and carries on from what it finds, which must be the state before
// the write or the state the write would have made.
func (l *load) writer(ctx context.Context, w int) {
	store := w % len(l.stores)
	s := l.stores[store]
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
	known := map[string]state{}
	for n := 0; !l.stop.Load() && ctx.Err() == nil; n++ {
		key := fmt.Sprintf("%sw%d-k%d", l.prefix, w, rng.IntN(keysPerWriter))
		name := path.Base(key)
		before := known[key]
		wr := write{writer: w, store: store, key: key, value: fmt.Sprintf("w%d-%d", w, n)}
		precondition := &storage.Preconditions{ResourceVersion: ptr(strconv.FormatInt(before.rv, 10))}
		out := &sluice.PipelineJob{}
		reqCtx, cancel := context.WithTimeout(ctx, requestTimeout)
		var err error
		switch {
		case !before.exists:
			wr.op = "create"
			err = s.Create(reqCtx, key, newJob(key, wr.value), out, 0)
		case rng.IntN(3) == 0:
			wr.op, wr.value = "delete", ""
			err = s.Delete(reqCtx, key, out, precondition, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
		default:
			wr.op = "update"
			err = s.GuaranteedUpdate(reqCtx, key, out, false, precondition,
				func(in runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
					j := in.(*sluice.PipelineJob).DeepCopy()
					j.Spec.Params = []sluice.Param{{Name: "value", Value: wr.value}}
					return j, nil, nil
				}, nil)
		}
		deadline := reqCtx.Err() != nil
		cancel()
		switch {
		case err == nil:
			wr.outcome, wr.rv = "acked", revisionOf(l.t, out)
			known[key] = state{}
			if wr.op != "delete" {
				known[key] = state{exists: true, value: wr.value, rv: wr.rv}
			}
			for {
				m := l.maxAcked[store].Load()
				if wr.rv <= m || l.maxAcked[store].CompareAndSwap(m, wr.rv) {
					break
				}
			}
			l.acked.Add(1)
			l.ackedBy[store].Add(1)
			l.streak[store].Add(1)
		case storage.IsExist(err), storage.IsNotFound(err), storage.IsConflict(err), storage.IsInvalidObj(err):
			// The writer owns the key and knows its state: a write it was
			// told of is missing, or one it was not told of is there.
			l.violation("%s of %s expecting %v: %v", wr.op, name, before, err)
			return
		default:
			l.failed(wr.op, name, err, deadline)
			l.streak[store].Store(0)
			after, ok := l.read(ctx, s, key)
			if !ok {
				return
			}
			switch {
			case after == before:
				wr.outcome = "not applied"
			case wr.op == "delete" && !after.exists,
				wr.op != "delete" && after.exists && after.value == wr.value && after.rv > before.rv:
				wr.outcome, wr.rv = "applied", after.rv
			default:
				l.violation("after a failed %s of %s the key holds %v: neither what it held (%v) nor what the write made", wr.op, name, after, before)
				return
			}
			known[key] = after
		}
		l.mu.Lock()
		l.writes = append(l.writes, wr)
		l.mu.Unlock()
	}
}

// read reads key until a read succeeds (or the load stops), backing off as
// a client would; it reports false if the load ended first.
func (l *load) read(ctx context.Context, s storage.Interface, key string) (state, bool) {
	for failures := 0; ctx.Err() == nil; failures++ {
		out := &sluice.PipelineJob{}
		reqCtx, cancel := context.WithTimeout(ctx, requestTimeout)
		err := s.Get(reqCtx, key, storage.GetOptions{}, out)
		deadline := reqCtx.Err() != nil
		cancel()
		switch {
		case err == nil:
			return state{exists: true, value: valueOf(out), rv: revisionOf(l.t, out)}, true
		case storage.IsNotFound(err):
			return state{}, true
		}
		l.failed("get", path.Base(key), err, deadline)
		for i := range l.stores {
			if l.stores[i] == s {
				l.streak[i].Store(0)
			}
		}
		backOff(ctx, s, min(10*time.Millisecond<<failures, time.Second))
	}
	return state{}, false
}

// backOff waits for d, then until s says it is ready, or until ctx ends.
func backOff(ctx context.Context, s storage.Interface, d time.Duration) {
	for wait := time.After(d); ; wait = time.After(20 * time.Millisecond) {
		select {
		case <-ctx.Done():
			return
		case <-wait:
		}
		if s.ReadinessCheck() == nil {
			return
		}
	}
}

// sampler reads replica s's published revision until the load stops. It
// must never go backwards, and never be below a revision the replica has
// acknowledged a write at.
func (l *load) sampler(ctx context.Context, s int) {
	var last int64
	for !l.stop.Load() && ctx.Err() == nil {
		floor := l.maxAcked[s].Load()
		reqCtx, cancel := context.WithTimeout(ctx, requestTimeout)
		rv, err := l.stores[s].GetCurrentResourceVersion(reqCtx)
		deadline := reqCtx.Err() != nil
		cancel()
		if err != nil {
			l.failed("list", "", err, deadline) // a consistent list asks for the same
			backOff(ctx, l.stores[s], 100*time.Millisecond)
			continue
		}
		p := int64(rv)
		if p < last {
			l.violation("replica %d's published revision went back from %d to %d", s, last, p)
		}
		if p < floor {
			l.violation("replica %d's published revision %d is below %d, a revision it acknowledged a write at", s, p, floor)
		}
		last = max(last, p)
		l.mu.Lock()
		l.samples++
		l.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// watcher lists and watches the jobs until ctx ends, re-listing each time
// its watch ends with an error, as an informer does.
func (l *load) watcher(ctx context.Context, w int) {
	store := w % len(l.stores)
	s := l.stores[store]
	for failures := 0; ctx.Err() == nil; {
		list := &sluice.PipelineJobList{}
		err := s.GetList(ctx, l.prefix, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, list)
		if err != nil {
			if ctx.Err() == nil {
				l.failed("list", "", err, false)
			}
			failures++
			backOff(ctx, s, min(10*time.Millisecond<<failures, time.Second))
			continue
		}
		seg := &segment{watcher: w, store: store, items: map[string]state{}}
		seg.listRV, _ = strconv.ParseInt(list.ResourceVersion, 10, 64)
		for i := range list.Items {
			j := &list.Items[i]
			seg.items[l.prefix+j.Name] = state{exists: true, value: valueOf(j), rv: revisionOf(l.t, j)}
		}
		wi, err := s.Watch(ctx, l.prefix, storage.ListOptions{ResourceVersion: list.ResourceVersion, Recursive: true, Predicate: storage.Everything})
		if err != nil {
			if ctx.Err() == nil {
				l.failed("watch", "", err, false)
			}
			failures++
			backOff(ctx, s, min(10*time.Millisecond<<failures, time.Second))
			continue
		}
		failures = 0
		seg.end = "stopped"
		for ev := range wi.ResultChan() {
			if ev.Type == watch.Error {
				status, ok := ev.Object.(*metav1.Status)
				if !ok || !retryable(status.Code) {
					l.violation("watcher %d's watch ended with %#v, not a 503 or 504", w, ev.Object)
				} else {
					seg.end = fmt.Sprintf("%d %s", status.Code, status.Message)
				}
				continue
			}
			a := unwrap(ev.Object).(*sluice.PipelineJob)
			seg.events = append(seg.events, event{typ: ev.Type, key: l.prefix + a.Name, value: valueOf(a), rv: revisionOf(l.t, a)})
		}
		wi.Stop()
		l.mu.Lock()
		l.segments = append(l.segments, seg)
		l.mu.Unlock()
	}
}

func ptr[T any](v T) *T { return &v }

// report sums up what the load did, for the test's log.
type report struct {
	writes, acked, applied, notApplied int
	failures                           string
	failedCalls                        int // of every kind: writes, reads, lists
	segments, errorEnds, events        int
	samples                            int
}

func (r report) String() string {
	return fmt.Sprintf("%d writes (%d acknowledged; of the %d that failed, %d found applied and %d not); failed calls by status: %s; "+
		"%d watch segments, %d ended by an error and re-listed, %d events checked; %d published revisions sampled",
		r.writes, r.acked, r.applied+r.notApplied, r.applied, r.notApplied, r.failures, r.segments, r.errorEnds, r.events, r.samples)
}

// finish stops the load and checks everything it recorded against the
// history the database kept: a watch from before the load, replayed after
// it, is the reference every write and every watch segment is held to.
func (l *load) finish(ctx context.Context) report {
	t := l.t
	t.Helper()
	l.halt()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.violations {
		t.Error(v)
	}

	// The final state, and a sentinel written after everything: the replay
	// has every event once it has reached the sentinel.
	s := l.stores[0]
	for s.ReadinessCheck() != nil {
		select {
		case <-ctx.Done():
			t.Fatal("timed out waiting for replica 0 to be ready")
		case <-time.After(20 * time.Millisecond):
		}
	}
	final := &sluice.PipelineJobList{}
	require.NoError(t, s.GetList(ctx, l.prefix, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, final))
	sentinel := l.prefix + "sentinel"
	require.NoError(t, s.Create(ctx, sentinel, newJob(sentinel, "end"), &sluice.PipelineJob{}, 0))
	wi, err := s.Watch(ctx, l.prefix, storage.ListOptions{ResourceVersion: strconv.FormatInt(l.startRV, 10), Recursive: true, Predicate: storage.Everything})
	require.NoError(t, err)
	defer wi.Stop()
	var history []event
replay:
	for {
		select {
		case ev, ok := <-wi.ResultChan():
			require.True(t, ok, "the replay ended early")
			require.NotEqual(t, watch.Error, ev.Type, "replay: %#v", ev.Object)
			a := unwrap(ev.Object).(*sluice.PipelineJob)
			e := event{typ: ev.Type, key: l.prefix + a.Name, value: valueOf(a), rv: revisionOf(t, a)}
			if e.key == sentinel {
				break replay
			}
			history = append(history, e)
		case <-ctx.Done():
			t.Fatalf("timed out replaying the history after %d events", len(history))
		}
	}

	// No revision handed out twice, in order.
	byRV := map[int64]event{}
	for i, e := range history {
		if i > 0 && e.rv <= history[i-1].rv {
			t.Errorf("history out of order: %v after %v", e, history[i-1])
		}
		byRV[e.rv] = e
	}

	// Every write: acknowledged ones (and failed ones found applied) are in
	// the history, at their revision, with their value; failed ones found
	// not applied are not in it at all; no two writes share a revision.
	var r report
	writeAt := map[int64]write{}
	attempted := map[string]write{} // by value
	for _, w := range l.writes {
		r.writes++
		switch w.outcome {
		case "acked":
			r.acked++
		case "applied":
			r.applied++
		case "not applied":
			r.notApplied++
		}
		if w.value != "" {
			attempted[w.value] = w
		}
		if w.rv == 0 {
			continue // a failed delete found applied: its revision is unknown
		}
		if other, ok := writeAt[w.rv]; ok {
			t.Errorf("revision %d handed out twice: %+v and %+v", w.rv, other, w)
		}
		writeAt[w.rv] = w
		e, ok := byRV[w.rv]
		want := map[string]watch.EventType{"create": watch.Added, "update": watch.Modified, "delete": watch.Deleted}[w.op]
		switch {
		case !ok:
			t.Errorf("%s write %+v is not in the history", w.outcome, w)
		case e.key != w.key || e.typ != want || (w.op != "delete" && e.value != w.value):
			t.Errorf("%s write %+v: the history has %+v at its revision", w.outcome, w, e)
		}
	}
	for _, e := range history {
		if e.typ == watch.Deleted {
			continue
		}
		w, ok := attempted[e.value]
		switch {
		case !ok:
			t.Errorf("the history has %+v, which no writer wrote", e)
		case w.outcome == "not applied":
			t.Errorf("the history has %+v, from a write whose writer found it not applied", e)
		}
	}

	// The final state is what the writers know.
	finalState := map[string]state{}
	for i := range final.Items {
		j := &final.Items[i]
		finalState[l.prefix+j.Name] = state{exists: true, value: valueOf(j), rv: revisionOf(t, j)}
	}
	want := stateAt(history, 1<<62)
	if !equalStates(finalState, want) {
		t.Errorf("the final list is not the state the history leads to:\n list    %v\n history %v", finalState, want)
	}
	lastWrite := map[string]write{}
	for _, w := range l.writes {
		lastWrite[w.key] = w
	}
	for key, w := range lastWrite {
		if w.outcome != "acked" {
			continue
		}
		got := finalState[key]
		if w.op == "delete" && got.exists || w.op != "delete" && (got.value != w.value || got.rv != w.rv) {
			t.Errorf("%s: the last acknowledged write was %+v, the store holds %v", key, w, got)
		}
	}

	// Every watch segment: its list is the state at its revision, and its
	// events are exactly the history after that revision, up to where it
	// ended: gap-free, in order, none twice. A watcher's next segment starts
	// at or after the last event of the one before.
	r.segments = len(l.segments)
	lastOf := map[int]int64{}
	for _, seg := range l.segments {
		if seg.end != "stopped" {
			r.errorEnds++
		}
		r.events += len(seg.events)
		if !equalStates(seg.items, stateAt(history, seg.listRV)) {
			t.Errorf("watcher %d's list at %d is not the state at that revision:\n list    %v\n history %v",
				seg.watcher, seg.listRV, seg.items, stateAt(history, seg.listRV))
		}
		if seg.listRV < lastOf[seg.watcher] {
			t.Errorf("watcher %d re-listed at %d, below the last event %d it had seen", seg.watcher, seg.listRV, lastOf[seg.watcher])
		}
		end := seg.listRV
		if n := len(seg.events); n > 0 {
			end = seg.events[n-1].rv
		}
		lastOf[seg.watcher] = end
		var want []event
		for _, e := range history {
			if e.rv > seg.listRV && e.rv <= end {
				want = append(want, e)
			}
		}
		if !equalEvents(seg.events, want) {
			t.Errorf("watcher %d's watch from %d to %d (ended: %s) is not the history: got %d events, want %d\n got  %v\n want %v",
				seg.watcher, seg.listRV, end, seg.end, len(seg.events), len(want), firstEvents(seg.events), firstEvents(want))
		}
	}
	r.samples = l.samples
	r.failures = formatFailures(l.failures)
	for _, codes := range l.failures {
		for _, n := range codes {
			r.failedCalls += n
		}
	}
	return r
}

// stateAt folds the history up to rv into the state of each key.
func stateAt(history []event, rv int64) map[string]state {
	m := map[string]state{}
	for _, e := range history {
		if e.rv > rv {
			break
		}
		if e.typ == watch.Deleted {
			delete(m, e.key)
		} else {
			m[e.key] = state{exists: true, value: e.value, rv: e.rv}
		}
	}
	return m
}

func equalStates(a, b map[string]state) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func equalEvents(a, b []event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func firstEvents(es []event) []event { return es[:min(len(es), 5)] }

func formatFailures(f map[string]map[int32]int) string {
	if len(f) == 0 {
		return "none"
	}
	var parts []string
	for verb, codes := range f {
		for code, n := range codes {
			parts = append(parts, fmt.Sprintf("%s %d ×%d", verb, code, n))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
