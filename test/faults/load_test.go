package faults

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// valueAnnotation holds the value each write sets, which the checks look for.
const valueAnnotation = "faults.sluice.dev/value"

// load is a write load on the Pipelines of one namespace through
// kube-apiserver with the generated clientset, and watchers of them, that
// records what was acknowledged, what failed and how, and what each
// watcher saw, for the checks of a fault test.
//
// Each writer creates Pipelines of its own and updates each twice; after a
// failed write it leaves that Pipeline alone, so at most its last write has
// an unknown outcome. A write is:
//   - acknowledged: it must be stored, and seen by every watcher;
//   - refused (507): it must never be stored or seen;
//   - of unknown outcome (503, 504, a timeout): it may be stored, or not.
type load struct {
	t  *testing.T
	ns string
	// client has a request timeout; watchClient has none, as a watch
	// lasts as long as the server lets it.
	client, watchClient *sluiceclient.Clientset
	// refusable: a 507 is an expected failure (the disk-full test).
	refusable bool

	mu       sync.Mutex
	keys     map[string]*keyState
	failures map[string]int    // by kind ("503 ServiceUnavailable"), for the report
	samples  map[string]string // a message of each kind
	firstAt  map[string]time.Time
	lastAt   map[string]time.Time
	bad      []error
	lastAck  time.Time

	acked, failed, refused atomic.Int64
	stopWriters            atomic.Bool
	writers                sync.WaitGroup
	cancelWatchers         context.CancelFunc
	watchersDone           sync.WaitGroup
	watchers               []*watcher
}

// keyState is what its writer knows of one Pipeline.
type keyState struct {
	acked    string   // the value of its last acknowledged write
	ackedRV  uint64   // and its revision
	ackedRVs []uint64 // the revisions of all its acknowledged writes
	unknown  []string // values written after it with an unknown outcome
	refused  []string // values refused with 507
}

// startLoad starts writers and watchers on ns. The watchers start at the
// namespace's current revision, before any write.
func startLoad(t *testing.T, ns string, writers, watchers int, refusable bool) *load {
	t.Helper()
	watchClient, err := sluiceclient.NewForConfig(stack.Config)
	require.NoError(t, err)
	l := &load{t: t, ns: ns, client: sluiceAdmin(t), watchClient: watchClient, refusable: refusable,
		keys: map[string]*keyState{}, failures: map[string]int{}, samples: map[string]string{},
		firstAt: map[string]time.Time{}, lastAt: map[string]time.Time{}}
	list, err := l.client.SluiceV1alpha1().Pipelines(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	l.cancelWatchers = cancel
	for i := range watchers {
		w := &watcher{load: l, name: fmt.Sprintf("watcher-%d", i), rv: list.ResourceVersion, errors: map[string]int{}, samples: map[string]string{},
			errorOutcomes: map[outcome]map[string]bool{}}
		l.watchers = append(l.watchers, w)
		l.watchersDone.Go(func() { w.run(ctx) })
	}
	for i := range writers {
		l.writers.Go(func() { l.write(i) })
	}
	t.Cleanup(l.stop)
	return l
}

// padding makes each Pipeline about 1 KiB larger with bytes that do not
// compress, so the disk-full test's writes need new pages soon.
func padding() string {
	b := make([]byte, 768)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func (l *load) write(i int) {
	pipelines := l.client.SluiceV1alpha1().Pipelines(l.ns)
	for n := 0; !l.stopWriters.Load(); n++ {
		name := fmt.Sprintf("w%d-%d", i, n)
		p := testutil.Pipeline(name, v1alpha1.Step{Name: "s", Actions: []v1alpha1.Action{{Name: "a", Image: "alpine:3.20"}}})
		var err error
		for v := 0; v < 3 && !l.stopWriters.Load(); v++ {
			value := fmt.Sprintf("%s-v%d", name, v)
			p.Annotations = map[string]string{valueAnnotation: value, "faults.sluice.dev/padding": padding()}
			var out *v1alpha1.Pipeline
			if v == 0 {
				out, err = pipelines.Create(context.Background(), p, metav1.CreateOptions{})
			} else {
				out, err = pipelines.Update(context.Background(), p, metav1.UpdateOptions{})
			}
			l.record(name, value, out, err)
			if err != nil {
				break
			}
			p = out
		}
		if err != nil {
			time.Sleep(50 * time.Millisecond) // a client's backoff, not a wait for a condition
		}
	}
}

// record files the outcome of one write of value to the Pipeline name.
func (l *load) record(name, value string, out *v1alpha1.Pipeline, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.keys[name]
	if st == nil {
		st = &keyState{}
		l.keys[name] = st
	}
	if err == nil {
		rv, perr := strconv.ParseUint(out.ResourceVersion, 10, 64)
		if perr != nil {
			l.bad = append(l.bad, fmt.Errorf("%s: resourceVersion %q: %w", name, out.ResourceVersion, perr))
			return
		}
		st.acked, st.ackedRV, st.unknown = value, rv, nil
		st.ackedRVs = append(st.ackedRVs, rv)
		l.acked.Add(1)
		l.lastAck = time.Now()
		return
	}
	kind, outcome := classify(err)
	l.failures[kind]++
	if _, ok := l.samples[kind]; !ok {
		l.samples[kind] = err.Error()
		l.firstAt[kind] = time.Now()
	}
	l.lastAt[kind] = time.Now()
	switch {
	case outcome == refused && l.refusable:
		st.refused = append(st.refused, value)
		l.refused.Add(1)
	case outcome == unknown:
		st.unknown = append(st.unknown, value)
		l.failed.Add(1)
	default:
		l.bad = append(l.bad, fmt.Errorf("write %s of %s: %s: %w", value, name, kind, err))
	}
}

type outcome int

const (
	bad     outcome = iota
	unknown         // may have been stored
	refused         // was not stored
)

// classify names the kind of a failed request, as the client saw it, and
// what it says of the write's outcome: a 503, a 504, a timeout or a broken
// connection leave it unknown, a 507 says it was not stored, anything else
// (a 500 above all) is a bug.
func classify(err error) (string, outcome) {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		if s.Details != nil && slices.ContainsFunc(s.Details.Causes, func(c metav1.StatusCause) bool { return c.Type == "ClientWatchDecoding" }) {
			// Not an answer of the server: client-go's own status for
			// a watch stream that broke (kube-apiserver resets it when
			// the sluice-apiserver it proxies to dies).
			return "watch stream broken", unknown
		}
		kind := fmt.Sprintf("%d %s", s.Code, s.Reason)
		switch s.Code {
		case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return kind, unknown
		case http.StatusInsufficientStorage:
			return kind, refused
		}
		return kind, bad
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return "client timeout", unknown
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		// No answer at all: kube-apiserver reset the request's stream,
		// as its proxy does when the sluice-apiserver it proxies to dies
		// after the request reached it.
		return "connection broken", unknown
	}
	return "error", bad
}

// waitAcked waits until n more writes than now have been acknowledged.
func (l *load) waitAcked(n int64, timeout time.Duration) {
	l.t.Helper()
	target := l.acked.Load() + n
	eventually(l.t, timeout, fmt.Sprintf("%d acknowledged writes", n), func(context.Context) error {
		if got := l.acked.Load(); got < target {
			return fmt.Errorf("%d of %d", got, target)
		}
		return nil
	})
}

// firstAckAfter waits for a write acknowledged after t and returns how long
// after t the first one was.
func (l *load) firstAckAfter(t time.Time, timeout time.Duration) time.Duration {
	l.t.Helper()
	var d time.Duration
	eventually(l.t, timeout, "a write to be acknowledged", func(context.Context) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.lastAck.After(t) {
			return errors.New("none yet")
		}
		d = l.lastAck.Sub(t)
		return nil
	})
	return d
}

// stop stops the writers, waits until every watcher has seen the last
// acknowledged write, and stops the watchers.
func (l *load) stop() {
	if l.stopWriters.Swap(true) {
		return
	}
	l.writers.Wait()
	var last uint64
	l.mu.Lock()
	for _, st := range l.keys {
		last = max(last, st.ackedRV)
	}
	l.mu.Unlock()
	deadline := time.Now().Add(time.Minute)
	for _, w := range l.watchers {
		for w.lastRV() < last && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if got := w.lastRV(); got < last {
			l.t.Errorf("%s is at revision %d, behind the last acknowledged write at %d", w.name, got, last)
		}
	}
	l.cancelWatchers()
	l.watchersDone.Wait()
}

// check stops the load and checks its records: no failure of a kind the
// fault must not cause; every acknowledged write stored with its value (or
// a later value of unknown outcome) and seen by every watcher; no refused
// write stored or seen. It returns how many acknowledged writes were lost.
func (l *load) check() (lost int) {
	t := l.t
	t.Helper()
	l.stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.bad {
		t.Error(err)
	}

	list, err := l.client.SluiceV1alpha1().Pipelines(l.ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	stored := map[string]*v1alpha1.Pipeline{}
	for i := range list.Items {
		stored[list.Items[i].Name] = &list.Items[i]
	}
	for name, st := range l.keys {
		p := stored[name]
		if p == nil {
			if st.ackedRV != 0 {
				lost++
				t.Errorf("acknowledged write of %s (%s at %d) lost", name, st.acked, st.ackedRV)
			}
			continue
		}
		v := p.Annotations[valueAnnotation]
		rv, _ := strconv.ParseUint(p.ResourceVersion, 10, 64)
		switch {
		case slices.Contains(st.refused, v):
			t.Errorf("%s holds %q, whose write was refused", name, v)
		case v == st.acked && rv == st.ackedRV, slices.Contains(st.unknown, v) && rv > st.ackedRV:
		default:
			lost++
			t.Errorf("%s holds %q at %d, not its acknowledged %q at %d or a later write", name, v, rv, st.acked, st.ackedRV)
		}
	}

	for _, w := range l.watchers {
		w.mu.Lock()
		for kind, n := range w.errorOutcomes {
			if kind != unknown {
				for k := range n {
					t.Errorf("%s: %d watches failed with %s, e.g. %s", w.name, w.errors[k], k, w.samples[k])
				}
			}
		}
		for _, e := range w.violations {
			t.Errorf("%s: %s", w.name, e)
		}
		seen := map[uint64]string{}
		for _, e := range w.events {
			seen[e.rv] = e.name
			if st := l.keys[e.name]; st != nil && e.typ != watch.Deleted && slices.Contains(st.refused, e.value) {
				t.Errorf("%s saw %s's refused write %q at %d", w.name, e.name, e.value, e.rv)
			}
		}
		if w.relists == 0 {
			for name, st := range l.keys {
				for _, rv := range st.ackedRVs {
					if seen[rv] != name {
						t.Errorf("%s never saw %s's acknowledged write at %d", w.name, name, rv)
					}
				}
			}
		}
		w.mu.Unlock()
	}
	return lost
}

// report is the figures for the test's log; the times of failures are
// relative to since.
func (l *load) report(since time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	kinds := make([]string, 0, len(l.failures))
	for k := range l.failures {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	fmt.Fprintf(&b, "%d writes acknowledged, %d failed with an unknown outcome, %d refused", l.acked.Load(), l.failed.Load(), l.refused.Load())
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n  %5d × %s, from %s to %s, e.g. %q", l.failures[k], k,
			l.firstAt[k].Sub(since).Round(time.Millisecond), l.lastAt[k].Sub(since).Round(time.Millisecond), l.samples[k])
	}
	for _, w := range l.watchers {
		w.mu.Lock()
		fmt.Fprintf(&b, "\n  %s: %d events, %d watches started, %d re-lists", w.name, len(w.events), w.started, w.relists)
		for k, n := range w.errors {
			fmt.Fprintf(&b, "\n    %d × %s, e.g. %q", n, k, w.samples[k])
		}
		w.mu.Unlock()
	}
	return b.String()
}

// watcher watches the namespace's Pipelines as a client that keeps its
// place does: when a watch ends it watches again from the last revision it
// saw, and re-lists only on 410 Gone.
type watcher struct {
	load *load
	name string

	mu         sync.Mutex
	rv         string // where the next watch starts
	events     []watchedEvent
	violations []string
	started    int       // watches opened
	startedAt  time.Time // when the last one was opened
	errors     map[string]int
	samples    map[string]string // a message of each kind of error
	// errorOutcomes are the kinds of errors by what they say of the
	// outcome: only unknown (503, a timeout, a broken stream) is right.
	errorOutcomes map[outcome]map[string]bool
	relists       int
}

type watchedEvent struct {
	typ         watch.EventType
	name, value string
	rv          uint64
	at          time.Time
}

func (w *watcher) run(ctx context.Context) {
	pipelines := w.load.watchClient.SluiceV1alpha1().Pipelines(w.load.ns)
	for ctx.Err() == nil {
		w.mu.Lock()
		rv := w.rv
		w.mu.Unlock()
		wi, err := pipelines.Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			if ctx.Err() == nil {
				w.failed("start", err)
				time.Sleep(100 * time.Millisecond) // a client's backoff
			}
			continue
		}
		w.mu.Lock()
		w.started++
		w.startedAt = time.Now()
		w.mu.Unlock()
		w.consume(ctx, wi)
		wi.Stop()
	}
}

// failed records a watch that could not start, or ended with an error
// other than 410 (where stage says which).
func (w *watcher) failed(stage string, err error) {
	kind, outcome := classify(err)
	kind = stage + ": " + kind
	w.mu.Lock()
	w.errors[kind]++
	if w.errorOutcomes[outcome] == nil {
		w.errorOutcomes[outcome] = map[string]bool{}
	}
	w.errorOutcomes[outcome][kind] = true
	if _, ok := w.samples[kind]; !ok {
		w.samples[kind] = err.Error()
	}
	w.mu.Unlock()
}

// consume reads one watch until it ends.
func (w *watcher) consume(ctx context.Context, wi watch.Interface) {
	for ev := range wi.ResultChan() {
		if ev.Type == watch.Error {
			if ctx.Err() != nil {
				return // the test stopped it
			}
			err := apierrors.FromObject(ev.Object)
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				w.relist(ctx)
			} else {
				w.failed("error event", err)
			}
			return
		}
		accessor, err := meta.Accessor(ev.Object)
		if err != nil {
			w.mu.Lock()
			w.violations = append(w.violations, fmt.Sprintf("an event without metadata: %v", ev.Object))
			w.mu.Unlock()
			return
		}
		rv, _ := strconv.ParseUint(accessor.GetResourceVersion(), 10, 64)
		w.mu.Lock()
		last, _ := strconv.ParseUint(w.rv, 10, 64)
		if ev.Type != watch.Bookmark {
			if rv <= last {
				w.violations = append(w.violations, fmt.Sprintf("%s %s at %d after %d: not strictly increasing", ev.Type, accessor.GetName(), rv, last))
			}
			w.events = append(w.events, watchedEvent{typ: ev.Type, name: accessor.GetName(),
				value: accessor.GetAnnotations()[valueAnnotation], rv: rv, at: time.Now()})
		}
		if rv > last {
			w.rv = accessor.GetResourceVersion()
		}
		w.mu.Unlock()
	}
}

func (w *watcher) relist(ctx context.Context) {
	list, err := w.load.client.SluiceV1alpha1().Pipelines(w.load.ns).List(ctx, metav1.ListOptions{})
	w.mu.Lock()
	defer w.mu.Unlock()
	w.relists++
	if err == nil {
		w.rv = list.ResourceVersion
	}
}

func (w *watcher) lastRV() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	rv, _ := strconv.ParseUint(w.rv, 10, 64)
	return rv
}

// firstEventAfter waits for the watcher to see an event after t, on a
// watch opened after t if newWatch, and returns how long after t that was.
func (w *watcher) firstEventAfter(t time.Time, newWatch bool, timeout time.Duration) time.Duration {
	w.load.t.Helper()
	var d time.Duration
	eventually(w.load.t, timeout, w.name+" to see an event", func(context.Context) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		since := t
		if newWatch {
			if !w.startedAt.After(t) {
				return errors.New("no watch opened since")
			}
			since = w.startedAt
		}
		for _, e := range slices.Backward(w.events) {
			if e.at.After(since) {
				d = e.at.Sub(t)
				return nil
			}
		}
		return errors.New("no event yet")
	})
	return d
}
