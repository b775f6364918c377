package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

const (
	benchNamespace = "bench"
	watchNamespace = "bench-watch"
)

// Run is what one system did at one object count.
type Run struct {
	System string `json:"system"`
	// Stack is the stack mode, api or full; empty in older results, which
	// were all measured on the api stack.
	Stack   string `json:"stack,omitempty"`
	Objects int    `json:"objects"`
	// Stored is how many jobs were created; less than Objects when the
	// system failed on the way.
	Stored int `json:"stored"`
	// ObjectBytes is the JSON size of a sample object of each kind.
	ObjectBytes   map[string]int    `json:"objectBytes"`
	Creates       []Create          `json:"creates"`
	StatusUpdates *Throughput       `json:"statusUpdates,omitempty"`
	Gets          *Throughput       `json:"gets,omitempty"`
	PaginatedList *PaginatedList    `json:"paginatedList,omitempty"`
	LabelList     *Throughput       `json:"labelList,omitempty"`
	FieldList     *Throughput       `json:"fieldList,omitempty"`
	Watch         *WatchResult      `json:"watch,omitempty"`
	Memory        map[string]Memory `json:"memory,omitempty"`
	DBBytes       map[string]int64  `json:"dbBytes,omitempty"`
	// Failure says where and how the system stopped working, if it did.
	Failure string `json:"failure,omitempty"`
	// Ceiling is set when the failure means the system cannot hold this
	// many objects (creates failed, or its server died or outgrew the
	// machine); larger counts are then not attempted.
	Ceiling bool `json:"ceiling,omitempty"`
}

// Create is one batch of creates.
type Create struct {
	Size string `json:"size"`
	Throughput
	// CPUSeconds is the CPU time each process of the stack used during the
	// batch, by process name (stackProcesses).
	CPUSeconds map[string]float64 `json:"cpuSeconds,omitempty"`
}

// PaginatedList is a full list, 500 per page.
type PaginatedList struct {
	Pages   int     `json:"pages"`
	Items   int     `json:"items"`
	Seconds float64 `json:"seconds"`
	Page    Latency `json:"page"`
	// CPUSeconds is the CPU time each process used during the list.
	CPUSeconds map[string]float64 `json:"cpuSeconds,omitempty"`
}

// WatchResult is the delivery latency of created objects to watchers, from
// the moment the create request was sent.
type WatchResult struct {
	Watchers     int     `json:"watchers"`
	TargetRate   int     `json:"targetRatePerSecond"`
	AchievedRate float64 `json:"achievedRatePerSecond"`
	Sent         int     `json:"sent"`
	Delivered    int     `json:"delivered"`
	Expected     int     `json:"expected"`
	// ClosedEarly counts watch streams the server ended before they had
	// received every event (kube-apiserver's watch cache closes watchers
	// that fall behind; clients then re-list); FirstClose says how.
	ClosedEarly int     `json:"closedEarly"`
	FirstClose  string  `json:"firstClose,omitempty"`
	Latency     Latency `json:"latency"`
	// CPUSeconds is the CPU time each process used from the first write
	// until the watchers had every event: the creates, and each event's
	// way to every watcher, decoding included.
	CPUSeconds map[string]float64 `json:"cpuSeconds,omitempty"`
}

// workload runs the measurements against one system.
type workload struct {
	system string
	gvr    schema.GroupVersionResource
	client dynamic.Interface
	// restCfg and httpClient reach kube-apiserver directly, for the raw
	// watch streams.
	restCfg    *rest.Config
	httpClient *http.Client
	objects    int
	cfg        config
	log        func(format string, args ...any)
	// procs are the processes whose CPU time is read around each create
	// batch and the paginated list.
	procs []process

	rvs []string // resourceVersion of each created job, for status updates

	// profiler, when set, profiles sluice-apiserver during the phases
	// cfg.profile names.
	profiler *profiler
}

func (w *workload) jobs(ns string) dynamic.ResourceInterface {
	return w.client.Resource(w.gvr).Namespace(ns)
}

// plan splits the fill into the batches whose rates are reported.
func (w *workload) plan() []struct {
	size     string
	clients  int
	from, to int
} {
	n := w.objects
	one, many, big := min(1000, n/10), min(20000, n/5), min(2000, n/20)
	bulk := n - one - many - big
	return []struct {
		size     string
		clients  int
		from, to int
	}{
		{"1KiB", 1, 0, one},
		{"1KiB", 16, one, one + bulk},
		{"1KiB", 64, one + bulk, one + bulk + many},
		{"5KiB", 16, one + bulk + many, n},
	}
}

// run does every phase; it stops at the first phase the system fails and
// records why.
func (w *workload) run(ctx context.Context) *Run {
	r := &Run{System: w.system, Objects: w.objects, ObjectBytes: map[string]int{}}
	w.rvs = make([]string, w.objects)
	for _, size := range []string{"1KiB", "5KiB"} {
		b, _ := json.Marshal(newJob(w.gvr, 1, size).Object)
		r.ObjectBytes[size] = len(b)
	}
	withStatus := newJob(w.gvr, 1, "1KiB")
	withStatus.Object["status"] = finishedStatus("x", true, time.Now())
	b, _ := json.Marshal(withStatus.Object)
	r.ObjectBytes["1KiB+status"] = len(b)

	phases := []struct {
		name string
		fn   func(context.Context, *Run) error
	}{
		{"creates", w.creates},
		{"status updates", w.statusUpdates},
		{"gets", w.gets},
		{"paginated list", w.paginatedList},
		{"label-selected list", w.labelList},
		{"field-selected list", w.fieldList},
		{"watch", w.watch},
	}
	for _, p := range phases {
		start := time.Now()
		w.log("%s, %d objects: %s", w.system, w.objects, p.name)
		var stopProfile func()
		if w.profiler != nil && w.cfg.profile[strings.Fields(p.name)[0]] {
			stopProfile = w.profiler.start(ctx, fmt.Sprintf("sluice-apiserver-%d-%s", w.objects, strings.Fields(p.name)[0]))
		}
		err := p.fn(ctx, r)
		if stopProfile != nil {
			stopProfile()
		}
		if err != nil {
			if cause := context.Cause(ctx); cause != nil {
				err = cause // the memory guard's reason, rather than "context canceled"
			}
			r.Failure = fmt.Sprintf("%s: %v", p.name, err)
			r.Ceiling = p.name == "creates" || ctx.Err() != nil
			w.log("%s, %d objects: FAILED in %s: %v", w.system, w.objects, p.name, err)
			return r
		}
		w.log("   done in %s", time.Since(start).Round(100*time.Millisecond))
	}
	return r
}

func (w *workload) creates(ctx context.Context, r *Run) error {
	client := w.jobs(benchNamespace)
	for _, b := range w.plan() {
		if b.to <= b.from {
			continue
		}
		cpu := cpuSnapshot(w.procs)
		t, err := parallel(ctx, b.clients, b.from, b.to, func(ctx context.Context, i int) error {
			created, err := client.Create(ctx, newJob(w.gvr, i, b.size), metav1.CreateOptions{})
			if err != nil {
				return err
			}
			w.rvs[i] = created.GetResourceVersion()
			return nil
		})
		r.Creates = append(r.Creates, Create{Size: b.size, Throughput: t, CPUSeconds: cpuSince(w.procs, cpu)})
		r.Stored += t.Requests - t.Errors
		w.log("   %s × %d clients: %.0f/s (p50 %.1f ms, p99 %.1f ms)", b.size, b.clients, t.PerSec, t.Latency.P50, t.Latency.P99)
		if err != nil {
			return err
		}
	}
	return nil
}

// statusUpdates writes a finished status on the first tenth of the jobs
// (at most 20,000), as a controller does: a PUT of the status subresource
// with the resourceVersion it last saw. One in ten fails.
func (w *workload) statusUpdates(ctx context.Context, r *Run) error {
	n := min(w.objects/10, 20000)
	client := w.jobs(benchNamespace)
	now := time.Now()
	t, err := parallel(ctx, 16, 0, n, func(ctx context.Context, i int) error {
		job := newJob(w.gvr, i, sizeOf(w, i))
		job.SetResourceVersion(w.rvs[i])
		job.Object["status"] = finishedStatus(job.GetName(), i%10 == 0, now)
		updated, err := client.UpdateStatus(ctx, job, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		w.rvs[i] = updated.GetResourceVersion()
		return nil
	})
	r.StatusUpdates = &t
	w.log("   %.0f/s (p50 %.1f ms, p99 %.1f ms)", t.PerSec, t.Latency.P50, t.Latency.P99)
	return err
}

// sizeOf is the size class job i was created with.
func sizeOf(w *workload, i int) string {
	for _, b := range w.plan() {
		if i >= b.from && i < b.to {
			return b.size
		}
	}
	return "1KiB"
}

func (w *workload) gets(ctx context.Context, r *Run) error {
	client := w.jobs(benchNamespace)
	t, err := parallel(ctx, 8, 0, w.cfg.gets, func(ctx context.Context, _ int) error {
		_, err := client.Get(ctx, jobName(rand.IntN(w.objects)), metav1.GetOptions{})
		return err
	})
	r.Gets = &t
	w.log("   p50 %.1f ms, p99 %.1f ms", t.Latency.P50, t.Latency.P99)
	return err
}

func (w *workload) paginatedList(ctx context.Context, r *Run) error {
	client := w.jobs(benchNamespace)
	var pages []time.Duration
	items := 0
	cpu := cpuSnapshot(w.procs)
	start := time.Now()
	cont := ""
	for {
		t := time.Now()
		list, err := client.List(ctx, metav1.ListOptions{Limit: 500, Continue: cont})
		if err != nil {
			return fmt.Errorf("page %d: %w", len(pages)+1, err)
		}
		pages = append(pages, time.Since(t))
		items += len(list.Items)
		if cont = list.GetContinue(); cont == "" {
			break
		}
	}
	r.PaginatedList = &PaginatedList{Pages: len(pages), Items: items, Seconds: time.Since(start).Seconds(), Page: summarise(pages),
		CPUSeconds: cpuSince(w.procs, cpu)}
	w.log("   %d items in %d pages: %.2fs (page p50 %.1f ms, p99 %.1f ms)", items, len(pages), r.PaginatedList.Seconds, r.PaginatedList.Page.P50, r.PaginatedList.Page.P99)
	if items != r.Stored {
		return fmt.Errorf("listed %d items, %d were created", items, r.Stored)
	}
	return nil
}

// labelList lists one cohort (0.1% of the jobs) at a time.
func (w *workload) labelList(ctx context.Context, r *Run) error {
	client := w.jobs(benchNamespace)
	want := w.objects / cohorts
	t, err := parallel(ctx, 1, 0, w.cfg.selectorLists, func(ctx context.Context, i int) error {
		cohort := (i * 7919) % cohorts
		list, err := client.List(ctx, metav1.ListOptions{LabelSelector: fmt.Sprintf("%s=c%04d", labelCohort, cohort)})
		if err != nil {
			return err
		}
		if len(list.Items) < want || len(list.Items) > want+1 {
			return fmt.Errorf("cohort c%04d: %d items, want %d", cohort, len(list.Items), want)
		}
		return nil
	})
	r.LabelList = &t
	w.log("   %d items each: p50 %.1f ms, p99 %.1f ms", want, t.Latency.P50, t.Latency.P99)
	return err
}

// fieldList lists the failed jobs: one in ten of those with a status. The
// minimal-schema CRDs have no selectable fields (a field must be in the
// schema to be selectable), so they are not asked.
func (w *workload) fieldList(ctx context.Context, r *Run) error {
	if w.system == "crd-minimal" {
		w.log("   skipped: the minimal-schema CRDs have no selectable fields")
		return nil
	}
	client := w.jobs(benchNamespace)
	n := min(w.objects/10, 20000)
	want := (n + 9) / 10
	t, err := parallel(ctx, 1, 0, w.cfg.selectorLists, func(ctx context.Context, _ int) error {
		list, err := client.List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Failed"})
		if err != nil {
			return err
		}
		if len(list.Items) != want {
			return fmt.Errorf("%d failed jobs listed, want %d", len(list.Items), want)
		}
		return nil
	})
	r.FieldList = &t
	w.log("   %d items each: p50 %.1f ms, p99 %.1f ms", want, t.Latency.P50, t.Latency.P99)
	return err
}

// watch starts the watchers on an empty namespace, creates objects there at
// a fixed rate, and measures when each watcher receives each of them.
//
// The watchers read the raw watch stream and decode only the annotations:
// with 100 watchers, decoding whole objects would make the benchmark's own
// CPU the bottleneck on a small machine.
func (w *workload) watch(ctx context.Context, r *Run) error {
	client := w.jobs(watchNamespace)
	list, err := client.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return err
	}
	rv := list.GetResourceVersion()
	total := w.cfg.watchRate * w.cfg.watchSeconds
	res := &WatchResult{Watchers: w.cfg.watchers, TargetRate: w.cfg.watchRate, Expected: total * w.cfg.watchers}
	r.Watch = res

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	url := fmt.Sprintf("%s/apis/%s/%s/namespaces/%s/%s?watch=true&allowWatchBookmarks=true&resourceVersion=%s",
		w.restCfg.Host, w.gvr.Group, w.gvr.Version, watchNamespace, w.gvr.Resource, rv)
	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, res.Expected)
		wg        sync.WaitGroup
	)
	for range w.cfg.watchers {
		req, err := http.NewRequestWithContext(wctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := w.httpClient.Do(req)
		if err != nil {
			return fmt.Errorf("starting a watch: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("starting a watch: %s", resp.Status)
		}
		wg.Go(func() {
			defer resp.Body.Close()
			dec := json.NewDecoder(resp.Body)
			local := make([]time.Duration, 0, total)
			for len(local) < total {
				var ev struct {
					Type   string `json:"type"`
					Object struct {
						Metadata struct {
							Annotations map[string]string `json:"annotations"`
						} `json:"metadata"`
					} `json:"object"`
				}
				if err := dec.Decode(&ev); err != nil {
					if wctx.Err() == nil {
						mu.Lock()
						res.ClosedEarly++
						if res.FirstClose == "" {
							res.FirstClose = fmt.Sprintf("after %d events: %v", len(local), err)
						}
						mu.Unlock()
					}
					break // the stream ended or was cancelled
				}
				if ev.Type == string(watch.Error) {
					mu.Lock()
					res.ClosedEarly++
					if res.FirstClose == "" {
						res.FirstClose = fmt.Sprintf("after %d events: an ERROR event", len(local))
					}
					mu.Unlock()
					break
				}
				if ev.Type != string(watch.Added) {
					continue
				}
				sent, err := strconv.ParseInt(ev.Object.Metadata.Annotations[annotationSent], 10, 64)
				if err != nil {
					continue
				}
				local = append(local, time.Since(time.Unix(0, sent)))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		})
	}

	// The writer keeps the rate whatever each create's latency: a ticker
	// releases creates to 32 senders.
	start, cpu := time.Now(), cpuSnapshot(w.procs)
	tick := time.NewTicker(time.Second / time.Duration(w.cfg.watchRate))
	send := make(chan int)
	var senders sync.WaitGroup
	var sentOK, sendErrs int
	var firstErr error
	var smu sync.Mutex
	for range 32 {
		senders.Go(func() {
			for i := range send {
				job := newJob(w.gvr, i, "1KiB")
				job.SetAnnotations(map[string]string{annotationSent: strconv.FormatInt(time.Now().UnixNano(), 10)})
				_, err := client.Create(ctx, job, metav1.CreateOptions{})
				smu.Lock()
				if err != nil {
					sendErrs++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					sentOK++
				}
				smu.Unlock()
			}
		})
	}
	for i := 0; i < total; i++ {
		<-tick.C
		send <- i
	}
	close(send)
	tick.Stop()
	senders.Wait()
	res.Sent = sentOK
	res.AchievedRate = float64(sentOK) / time.Since(start).Seconds()

	// Give the watchers up to 30s after the last write to catch up; what
	// they have not received by then is reported as not delivered.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cancel()
		<-done
	}
	res.CPUSeconds = cpuSince(w.procs, cpu)
	res.Delivered = len(latencies)
	res.Latency = summarise(latencies)
	w.log("   %d watchers, %.0f writes/s: p50 %.1f ms, p99 %.1f ms, %d of %d delivered, %d streams closed early %s",
		res.Watchers, res.AchievedRate, res.Latency.P50, res.Latency.P99, res.Delivered, res.Expected, res.ClosedEarly, res.FirstClose)
	if sendErrs > 0 {
		return fmt.Errorf("%d creates failed, first: %v", sendErrs, firstErr)
	}
	return nil
}
