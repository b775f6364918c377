package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	sluiceinformers "github.com/sluice-dev/sluice/pkg/generated/informers/externalversions"
	"github.com/sluice-dev/sluice/pkg/testing/localstack"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

var (
	controllerJobs    = flag.Int("controller-jobs", 1000, "jobs the controller benchmark submits at once")
	controllerArgs    = flag.String("controller-args", "", "extra sluice-controller flags for the controller benchmark, space-separated, to try a setting before it becomes a default (recorded in the results)")
	controllerProfile = flag.Bool("controller-profile", false, "take CPU profiles of sluice-controller during the controller benchmark, into <out>/profiles")
)

// controllerStepDuration is how long kwok runs each step's Pod, as in
// test/e2e TestManyJobs.
const controllerStepDuration = "100ms"

// ControllerResults is controller.json: one run of the controller
// benchmark.
type ControllerResults struct {
	Date    string  `json:"date"`
	Command string  `json:"command"`
	Machine Machine `json:"machine"`
	// Jobs of Steps steps each, every step one Pod that kwok ends after
	// StepDuration; Nodes kwok nodes.
	Jobs         int    `json:"jobs"`
	Steps        int    `json:"steps"`
	StepDuration string `json:"stepDuration"`
	Nodes        int    `json:"nodes"`
	// ControllerArgs are the flags given beyond the stack's own; none is
	// the defaults a user gets.
	ControllerArgs []string `json:"controllerArgs"`
	// SubmitSeconds is how long the creates took; ElapsedSeconds is from
	// the first create to the last job finishing.
	SubmitSeconds  float64 `json:"submitSeconds"`
	ElapsedSeconds float64 `json:"elapsedSeconds"`
	Succeeded      int     `json:"succeeded"`
	Failed         int     `json:"failed"`
	// Requests are sluice-controller's own API requests during the run
	// (sluice_controller_api_requests_total), by verb and resource.
	Requests []RequestCount `json:"requests"`
	// ClientRequests is the same total from client-go's
	// rest_client_requests_total, as a cross-check.
	ClientRequests float64 `json:"clientRequests"`
	// ThrottledSeconds is the time requests waited in the client's rate
	// limiter (--kube-api-qps/--kube-api-burst), summed over requests.
	ThrottledSeconds float64 `json:"throttledSeconds"`
	// Queues are the controller's workqueues during the run: how long an
	// item waited for a worker and how long a worker took, on average.
	Queues []QueueTimes `json:"queues"`
	// PodsCreated is what kube-apiserver counted (POST pods, 201).
	PodsCreated float64 `json:"podsCreated"`
	// CPUSeconds per process over the run, and Memory at its end.
	CPUSeconds map[string]float64 `json:"cpuSeconds"`
	Memory     map[string]Memory  `json:"memory"`
}

// QueueTimes are a workqueue's mean wait and work times, in seconds.
type QueueTimes struct {
	Name  string  `json:"name"`
	Items float64 `json:"items"`
	Wait  float64 `json:"waitSeconds"`
	Work  float64 `json:"workSeconds"`
}

// queueTimes reads the workqueue metrics of the named queues between two
// scrapes.
func queueTimes(before, after promMetrics, names ...string) []QueueTimes {
	var out []QueueTimes
	for _, name := range names {
		q := map[string]string{"name": name}
		delta := func(metric string) float64 { return after.sum(metric, q) - before.sum(metric, q) }
		items := delta("workqueue_work_duration_seconds_count")
		if items == 0 {
			continue
		}
		out = append(out, QueueTimes{Name: name, Items: items,
			Wait: delta("workqueue_queue_duration_seconds_sum") / delta("workqueue_queue_duration_seconds_count"),
			Work: delta("workqueue_work_duration_seconds_sum") / items})
	}
	return out
}

// RequestCount is a number of requests of one kind.
type RequestCount struct {
	Verb        string  `json:"verb"`
	Group       string  `json:"group"`
	Resource    string  `json:"resource"`
	Subresource string  `json:"subresource"`
	Count       float64 `json:"count"`
	// Failed are those answered with a code other than 2xx, or not at all.
	Failed float64 `json:"failed"`
}

// write reports whether the request changes something.
func (r RequestCount) write() bool {
	switch r.Verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

func (r RequestCount) name() string {
	res := r.Resource
	if r.Subresource != "" {
		res += "/" + r.Subresource
	}
	return r.Verb + " " + res
}

// JobsPerMinute is the rate from the first create to the last finish.
func (r *ControllerResults) JobsPerMinute() float64 {
	if r.ElapsedSeconds == 0 {
		return 0
	}
	return float64(r.Succeeded+r.Failed) / (r.ElapsedSeconds / 60)
}

// perJob divides by the jobs.
func (r *ControllerResults) perJob(v float64) float64 { return v / float64(r.Jobs) }

// RequestTotals are the controller's requests and writes in the run.
func (r *ControllerResults) RequestTotals() (requests, writes float64) {
	for _, c := range r.Requests {
		requests += c.Count
		if c.write() {
			writes += c.Count
		}
	}
	return requests, writes
}

// benchController runs the controller benchmark on a full stack of its
// own and writes controller.md and controller.json to out.
func benchController(ctx context.Context, out string, updateDocs bool) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	res, err := measureController(ctx, root, filepath.Join(root, ".local", "bench", "controller"), out, *controllerJobs,
		strings.Fields(*controllerArgs), *controllerProfile)
	if err != nil {
		return err
	}
	res.Command = "go run ./hack/bench -controller-only"
	if *controllerJobs != 1000 {
		res.Command += fmt.Sprintf(" -controller-jobs=%d", *controllerJobs)
	}
	if *controllerArgs != "" {
		res.Command += fmt.Sprintf(" -controller-args=%q", *controllerArgs)
	}
	return writeControllerResults(res, out, updateDocs)
}

// measureController starts the stack in dir, submits jobs jobs at once and
// measures until the last has finished and the controller is quiet.
func measureController(ctx context.Context, root, dir, out string, jobs int, extraArgs []string, profile bool) (*ControllerResults, error) {
	// Room for every job's two Pods at once (OnJobCompletion keeps the
	// first step's Pod until the job ends), so that the scheduler never
	// waits for a node: this measures the controller, not node capacity.
	nodes := max(2, (2*jobs+199)/200)
	logf("== controller: %d jobs of 2 steps at once, %d kwok nodes, sluice-controller flags: %s", jobs, nodes, orDefaults(extraArgs))
	// The stack's controllers log at --v=2; a user's runs at klog's
	// default, and Events logged at level 2 cost CPU.
	args := append([]string{"--v=0"}, extraArgs...)
	if profile {
		// Its profiles are served beside /metrics only when asked for.
		args = append(args, "--profiling")
	}
	stack, err := localstack.Start(ctx, localstack.Options{
		Dir: dir, RepoRoot: root, Durable: true, Nodes: nodes, Controllers: 1, ControllerArgs: args, Log: indent{},
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		stack.Stop()
		_ = os.RemoveAll(dir)
	}()
	mem, _ := memTotal()
	res := &ControllerResults{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: Machine{Cores: runtime.NumCPU(), MemoryBytes: mem, CPU: cpuModel(), Kubernetes: "v1.36.3"},
		Jobs:    jobs, Steps: 2, StepDuration: controllerStepDuration, Nodes: nodes, ControllerArgs: extraArgs,
	}
	res.Machine.Postgres, _ = serverVersion(ctx, stack.DatabaseURL)

	cfg := rest.CopyConfig(stack.Config)
	cfg.QPS, cfg.Burst = -1, 0
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	sluice, err := sluiceclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	const ns = "bench-controller"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	if _, err := sluice.SluiceV1alpha1().Pipelines(ns).Create(ctx, benchPipeline(), metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	finished, stopWatch, err := watchFinished(ctx, sluice, ns)
	if err != nil {
		return nil, err
	}
	defer stopWatch()

	controller := stack.Controllers[0]
	procs := stackProcesses(stack)
	cpuBefore := cpuSnapshot(procs)
	metricsBefore, err := scrape(ctx, http.DefaultClient, controller.MetricsURL+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("sluice-controller's metrics: %w", err)
	}
	apiBefore, err := kubeAPIMetrics(ctx, kube)
	if err != nil {
		return nil, err
	}
	if profile {
		stop := newProfiler(&rest.Config{Host: controller.MetricsURL}, filepath.Join(out, "profiles")).start(ctx, "controller")
		defer stop()
	}

	start := time.Now()
	if err := submitJobs(ctx, sluice, ns, jobs); err != nil {
		return nil, err
	}
	res.SubmitSeconds = time.Since(start).Seconds()
	logf("   %d jobs submitted in %.1fs", jobs, res.SubmitSeconds)
	last, succeeded, failed, err := finished.wait(ctx, jobs, 30*time.Minute)
	if err != nil {
		return nil, err
	}
	res.ElapsedSeconds = last.Sub(start).Seconds()
	res.Succeeded, res.Failed = succeeded, failed
	logf("   all finished after %.1fs (%d succeeded): %.0f jobs/min", res.ElapsedSeconds, succeeded, res.JobsPerMinute())

	// What follows a job's end (Pod deletes, the Pipeline's lastJob,
	// Events) belongs to it: wait for the controller to go quiet.
	metricsAfter, err := waitQuiet(ctx, controller.MetricsURL+"/metrics")
	if err != nil {
		return nil, err
	}
	res.CPUSeconds = cpuSince(procs, cpuBefore)
	apiAfter, err := kubeAPIMetrics(ctx, kube)
	if err != nil {
		return nil, err
	}
	res.Memory = map[string]Memory{}
	if m, err := processMemory(controller.Pid()); err == nil {
		res.Memory["sluice-controller"] = m
	}
	res.Requests = requestCounts(metricsBefore, metricsAfter)
	res.ClientRequests = metricsAfter.sum("rest_client_requests_total", nil) - metricsBefore.sum("rest_client_requests_total", nil)
	res.ThrottledSeconds = metricsAfter.sum("rest_client_rate_limiter_duration_seconds_sum", nil) -
		metricsBefore.sum("rest_client_rate_limiter_duration_seconds_sum", nil)
	res.Queues = queueTimes(metricsBefore, metricsAfter, "pipelinejobs", "logcopies")
	podCreates := map[string]string{"resource": "pods", "subresource": "", "verb": "POST", "code": "201"}
	res.PodsCreated = apiAfter.sum("apiserver_request_total", podCreates) - apiBefore.sum("apiserver_request_total", podCreates)
	return res, nil
}

func orDefaults(args []string) string {
	if len(args) == 0 {
		return "the defaults"
	}
	return strings.Join(args, " ")
}

// benchPipeline is TestManyJobs' pipeline: two steps of two actions, the
// last of which kwok ends after controllerStepDuration; podRetention is
// the default (the Pods go when the job ends).
func benchPipeline() *v1alpha1.Pipeline {
	step := func(name string) v1alpha1.Step {
		return v1alpha1.Step{Name: name, Actions: []v1alpha1.Action{
			{Name: "prepare", Image: "alpine:3.20", Command: []string{"true"}},
			{Name: "run", Image: "alpine:3.20", Command: []string{"sh", "-c", "echo $(step.name)"},
				Env: []corev1.EnvVar{{Name: "KWOK_DURATION", Value: controllerStepDuration}}},
		}}
	}
	return testutil.Pipeline("p", step("a"), step("b"))
}

// submitJobs creates jobs jobs with 16 clients, as TestManyJobs does.
func submitJobs(ctx context.Context, sluice sluiceclient.Interface, ns string, jobs int) error {
	next := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				if _, err := sluice.SluiceV1alpha1().PipelineJobs(ns).Create(ctx, testutil.Job(fmt.Sprintf("j-%05d", i), "p"), metav1.CreateOptions{}); err != nil {
					select {
					case errs <- fmt.Errorf("creating job %d: %w", i, err):
					default:
					}
				}
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// finishedJobs records, from a watch, when each job was first seen
// finished.
type finishedJobs struct {
	mu        sync.Mutex
	changed   chan struct{}
	last      time.Time
	succeeded map[string]bool
	failed    map[string]bool
}

func watchFinished(ctx context.Context, sluice sluiceclient.Interface, ns string) (*finishedJobs, func(), error) {
	f := &finishedJobs{changed: make(chan struct{}, 1), succeeded: map[string]bool{}, failed: map[string]bool{}}
	factory := sluiceinformers.NewSharedInformerFactoryWithOptions(sluice, 0, sluiceinformers.WithNamespace(ns))
	informer := factory.Sluice().V1alpha1().PipelineJobs().Informer()
	see := func(obj any) {
		job, ok := obj.(*v1alpha1.PipelineJob)
		if !ok {
			return
		}
		now := time.Now()
		f.mu.Lock()
		defer f.mu.Unlock()
		switch job.Status.Phase {
		case v1alpha1.JobSucceeded:
			if f.succeeded[job.Name] {
				return
			}
			f.succeeded[job.Name] = true
		case v1alpha1.JobFailed, v1alpha1.JobCancelled:
			if f.failed[job.Name] {
				return
			}
			f.failed[job.Name] = true
		default:
			return
		}
		f.last = now
		select {
		case f.changed <- struct{}{}:
		default:
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: see, UpdateFunc: func(_, obj any) { see(obj) }}); err != nil {
		return nil, nil, err
	}
	stop := make(chan struct{})
	factory.Start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		close(stop)
		return nil, nil, fmt.Errorf("the job watch did not sync")
	}
	return f, func() { close(stop); factory.Shutdown() }, nil
}

// wait returns when jobs jobs have finished: when the last did, and how
// many succeeded and failed.
func (f *finishedJobs) wait(ctx context.Context, jobs int, timeout time.Duration) (last time.Time, succeeded, failed int, err error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	progress := time.NewTicker(15 * time.Second)
	defer progress.Stop()
	for {
		f.mu.Lock()
		last, succeeded, failed = f.last, len(f.succeeded), len(f.failed)
		f.mu.Unlock()
		if succeeded+failed >= jobs {
			return last, succeeded, failed, nil
		}
		select {
		case <-ctx.Done():
			return last, succeeded, failed, ctx.Err()
		case <-deadline.C:
			return last, succeeded, failed, fmt.Errorf("%d of %d jobs finished within %s", succeeded+failed, jobs, timeout)
		case <-progress.C:
			logf("   %d of %d jobs finished", succeeded+failed, jobs)
		case <-f.changed:
		}
	}
}

// waitQuiet scrapes the controller's metrics until its requests, but for
// the Lease renewals, have not changed for three seconds (at most a
// minute), and returns the last scrape.
func waitQuiet(ctx context.Context, url string) (promMetrics, error) {
	busy := func(m promMetrics) float64 {
		return m.sum("sluice_controller_api_requests_total", nil) - m.sum("sluice_controller_api_requests_total", map[string]string{"resource": "leases"})
	}
	var last promMetrics
	quiet := 0
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && quiet < 3; {
		m, err := scrape(ctx, http.DefaultClient, url)
		if err != nil {
			return nil, err
		}
		if last != nil && busy(m) == busy(last) {
			quiet++
		} else {
			quiet = 0
		}
		last = m
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return last, nil
}

// requestCounts are the differences of sluice_controller_api_requests_total
// between two scrapes, codes summed, most first.
func requestCounts(before, after promMetrics) []RequestCount {
	byKind := map[[4]string]*RequestCount{}
	for _, s := range after["sluice_controller_api_requests_total"] {
		k := [4]string{s.labels["verb"], s.labels["group"], s.labels["resource"], s.labels["subresource"]}
		n := s.value - before.sum("sluice_controller_api_requests_total", s.labels)
		if n == 0 {
			continue
		}
		c := byKind[k]
		if c == nil {
			c = &RequestCount{Verb: k[0], Group: k[1], Resource: k[2], Subresource: k[3]}
			byKind[k] = c
		}
		c.Count += n
		if !strings.HasPrefix(s.labels["code"], "2") {
			c.Failed += n
		}
	}
	out := make([]RequestCount, 0, len(byKind))
	for _, c := range byKind {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b RequestCount) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name(), b.name())
	})
	return out
}

// promMetrics are the samples of a Prometheus text exposition, by metric
// name.
type promMetrics map[string][]promSample

type promSample struct {
	labels map[string]string
	value  float64
}

// sum adds the samples of name whose labels include match.
func (m promMetrics) sum(name string, match map[string]string) float64 {
	var total float64
	for _, s := range m[name] {
		ok := true
		for k, v := range match {
			if s.labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			total += s.value
		}
	}
	return total
}

func scrape(ctx context.Context, client *http.Client, url string) (promMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// kubeAPIMetrics scrapes kube-apiserver's /metrics as the admin.
func kubeAPIMetrics(ctx context.Context, kube kubernetes.Interface) (promMetrics, error) {
	b, err := kube.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver's metrics: %w", err)
	}
	return parseMetrics(strings.NewReader(string(b)))
}

// parseMetrics reads a Prometheus text exposition with Prometheus's own
// parser. A histogram or summary gives its _sum and _count samples, under
// those names as the exposition has them.
func parseMetrics(r io.Reader) (promMetrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	m := promMetrics{}
	for name, family := range families {
		for _, metric := range family.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			add := func(name string, v float64) { m[name] = append(m[name], promSample{labels: labels, value: v}) }
			switch {
			case metric.Counter != nil:
				add(name, metric.GetCounter().GetValue())
			case metric.Gauge != nil:
				add(name, metric.GetGauge().GetValue())
			case metric.Untyped != nil:
				add(name, metric.GetUntyped().GetValue())
			case metric.Histogram != nil:
				add(name+"_sum", metric.GetHistogram().GetSampleSum())
				add(name+"_count", float64(metric.GetHistogram().GetSampleCount()))
			case metric.Summary != nil:
				add(name+"_sum", metric.GetSummary().GetSampleSum())
				add(name+"_count", float64(metric.GetSummary().GetSampleCount()))
			}
		}
	}
	return m, nil
}

// Argo Workflows' published figures, for scale (cnoe.io, "Argo Workflows
// scalability"): workflows per minute of one controller on real Pods.
const (
	argoDefaultPerMin = 270
	argoBestPerMin    = 810
)

// cpuOrder is the order of the processes in the table.
var cpuOrder = []string{"sluice-controller", "kube-apiserver", "sluice-apiserver", "postgres", "etcd",
	"kube-controller-manager", "kube-scheduler", "kwok"}

// controllerMarkdown is the controller benchmark's report.
func controllerMarkdown(r *ControllerResults) string {
	var b strings.Builder
	requests, writes := r.RequestTotals()
	fmt.Fprintf(&b, "`%s` (part of `make bench`), %s, %d cores, %.0f GiB, %s: %s jobs of a %d-step pipeline submitted at once "+
		"by 16 clients, each step one Pod that kwok ends after %s; a full local stack (durable PostgreSQL and etcd, "+
		"kube-controller-manager, kube-scheduler, %d kwok nodes) and one sluice-controller leader with %s.\n\n",
		r.Command, r.Date[:10], r.Machine.Cores, float64(r.Machine.MemoryBytes)/(1<<30), r.Machine.CPU,
		thousands(r.Jobs), r.Steps, r.StepDuration, r.Nodes, flagsText(r.ControllerArgs))
	b.WriteString("| | Sluice | Argo Workflows, default controller | Argo Workflows, best single controller |\n|---|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| jobs/min, first create to last finished | %.0f | %d | %d |\n\n", r.JobsPerMinute(), argoDefaultPerMin, argoBestPerMin)
	b.WriteString("| per job | |\n|---|---:|\n")
	fmt.Fprintf(&b, "| jobs succeeded (failed) | %s (%d) |\n", thousands(r.Succeeded), r.Failed)
	fmt.Fprintf(&b, "| wall time: submitted, all finished | %.1f s, %.1f s |\n", r.SubmitSeconds, r.ElapsedSeconds)
	fmt.Fprintf(&b, "| sluice-controller API requests | %.1f |\n", r.perJob(requests))
	fmt.Fprintf(&b, "| of which writes | %.1f |\n", r.perJob(writes))
	fmt.Fprintf(&b, "| Pods created (kube-apiserver's count) | %.2f |\n", r.perJob(r.PodsCreated))
	fmt.Fprintf(&b, "| client-side throttling (rate limiter wait, summed) | %.0f ms |\n", 1000*r.perJob(r.ThrottledSeconds))
	var total float64
	for _, p := range cpuOrder {
		if v, ok := r.CPUSeconds[p]; ok {
			fmt.Fprintf(&b, "| CPU of %s | %.1f ms |\n", p, 1000*r.perJob(v))
			total += v
		}
	}
	fmt.Fprintf(&b, "| CPU of all of them | %.1f ms |\n", 1000*r.perJob(total))
	if m, ok := r.Memory["sluice-controller"]; ok {
		fmt.Fprintf(&b, "| sluice-controller RSS at the end (peak), whole run | %.0f MiB (%.0f MiB) |\n", float64(m.RSS)/(1<<20), float64(m.Peak)/(1<<20))
	}
	for _, q := range r.Queues {
		fmt.Fprintf(&b, "| workqueue %s: items, mean wait for a worker, mean work | %.1f, %.0f ms, %.0f ms |\n",
			q.Name, r.perJob(q.Items), 1000*q.Wait, 1000*q.Work)
	}
	b.WriteString("\nsluice-controller's API requests per job, by verb and resource (`sluice_controller_api_requests_total`; ")
	fmt.Fprintf(&b, "client-go's `rest_client_requests_total` counted %.1f per job):\n\n", r.perJob(r.ClientRequests))
	b.WriteString("| request | per job | not 2xx |\n|---|---:|---:|\n")
	for _, c := range r.Requests {
		group := ""
		if c.Group != "" {
			group = " (" + c.Group + ")"
		}
		fmt.Fprintf(&b, "| %s%s | %.2f | %.2f |\n", c.name(), group, r.perJob(c.Count), r.perJob(c.Failed))
	}
	b.WriteString("\nArgo Workflows' figures are its published ones (cnoe.io, \"Argo Workflows scalability\": real Pods on larger machines), " +
		"for scale only; kwok Pods start and end without a kubelet, so this measures the controller, the scheduler and the API path.\n")
	return b.String()
}

func flagsText(args []string) string {
	if len(args) == 0 {
		return "the default flags"
	}
	return "the flags `" + strings.Join(args, " ") + "`"
}

// writeControllerResults prints the report and writes controller.md and
// controller.json to out.
func writeControllerResults(r *ControllerResults, out string, updateDocs bool) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	md := controllerMarkdown(r)
	if err := os.WriteFile(filepath.Join(out, "controller.json"), j, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "controller.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Printf("\n%s\nwritten to %s/{controller.md,controller.json}\n", md, out)
	if !updateDocs {
		return nil
	}
	return replaceGenerated(filepath.Join("docs", "benchmarks.md"), "bench:controller", md)
}
