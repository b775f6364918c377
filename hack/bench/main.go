package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	corev1 "k8s.io/api/core/v1"

	"github.com/sluice-dev/sluice/hack/bench/crd"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/controlplane"
	"github.com/sluice-dev/sluice/pkg/testing/localstack"
)

// config is what a run measures.
type config struct {
	scale         string
	objects       []int
	gets          int
	selectorLists int
	watchers      int
	watchRate     int
	watchSeconds  int
	// memoryLimit stops a system whose server grows beyond it, before the
	// machine runs out of memory; the stop is recorded as its ceiling.
	memoryLimit int64
	// profile names the phases during which sluice-apiserver's CPU is
	// profiled, into out/profiles.
	profile map[string]bool
	// systems are measured in this order: "sluice", "crd" (the full-schema
	// CRDs) and "crd-minimal" (the minimal-schema CRDs), or some of them.
	systems []string
	// stackModes are the stacks each system is measured on: "api" (only
	// what serves the APIs) and "full" (a cluster's controllers too).
	stackModes []string
	// keep leaves each stack running after its measurements until the run
	// is interrupted, to look into it.
	keep bool
	// pgbenchSeconds is how long each pgbench script runs.
	pgbenchSeconds int
	// stackDir is the directory the stacks live in, one subdirectory per
	// stack; .local/bench under the checkout when empty.
	stackDir string
	out      string
}

// scales are the object counts of BENCH_SCALE.
var scales = map[string][]int{
	"small":  {2_000, 10_000},
	"medium": {10_000, 100_000},
	"large":  {10_000, 100_000, 1_000_000},
	// huge is bulk-loaded through the storage engine, then measured
	// through the API (huge.go).
	hugeScale: {10_000_000},
}

func main() {
	var (
		scale      = flag.String("scale", envOr("BENCH_SCALE", "small"), "small, medium, large or huge (BENCH_SCALE)")
		objects    = flag.String("objects", os.Getenv("BENCH_OBJECTS"), "comma-separated object counts, instead of the scale's (BENCH_OBJECTS)")
		out        = flag.String("out", ".local/bench", "directory for bench-results.json, results.md and chart.png")
		updateDocs = flag.Bool("update-docs", false, "also write the results into docs/benchmarks.md and docs/bench/")
		watchRate  = flag.Int("watch-rate", 300, "writes per second during the watch latency measurement (the rate of the watch goal in docs/benchmarks.md)")
		render     = flag.String("render", "", "render the table and chart of an earlier bench-results.json instead of running")
		systems    = flag.String("systems", envOr("BENCH_SYSTEMS", "sluice,crd,crd-minimal"), "comma-separated systems to measure: sluice, crd (full-schema CRDs), crd-minimal (minimal-schema CRDs) (BENCH_SYSTEMS)")
		stackModes = flag.String("stack", envOr("BENCH_STACK", "api,full"), "comma-separated stacks to measure on: api (PostgreSQL, etcd, kube-apiserver, sluice-apiserver), full (also kube-controller-manager with its default controllers, kube-scheduler and kwok nodes) (BENCH_STACK)")
		keep       = flag.Bool("keep", false, "leave each stack running after its measurements until interrupted, to look into it")
		logsOnly   = flag.Bool("logs-only", false, "measure only what the log archive costs per job")
		logJobs    = flag.Int("log-jobs", 500, "jobs whose output the log archive measurement writes")
		profile    = flag.String("profile", "", "comma-separated phases (creates, watch, ...) during which to take a CPU profile of sluice-apiserver, into <out>/profiles")
		// The controller benchmark (controller.go), on a full stack of its own.
		controllerOnly = flag.Bool("controller-only", false, "measure only the controller: jobs/min and API requests per job (controller.go)")
	)
	flag.Parse()
	if *render != "" {
		b, err := os.ReadFile(*render)
		if err != nil {
			fatalf("%v", err)
		}
		var res Results
		if err := json.Unmarshal(b, &res); err != nil {
			fatalf("%s: %v", *render, err)
		}
		if err := writeResults(&res, *out, *updateDocs); err != nil {
			fatalf("%v", err)
		}
		return
	}
	cfg := config{scale: *scale, gets: 5000, selectorLists: 20, watchers: 100, watchRate: *watchRate, watchSeconds: 10,
		pgbenchSeconds: 10, out: *out, keep: *keep}
	if *profile != "" {
		cfg.profile = map[string]bool{}
		for _, p := range strings.Split(*profile, ",") {
			cfg.profile[strings.TrimSpace(p)] = true
		}
	}
	for _, sys := range strings.Split(*systems, ",") {
		sys = strings.TrimSpace(sys)
		if !slices.Contains(allSystems, sys) {
			fatalf("-systems: %q is not one of %s", sys, strings.Join(allSystems, ", "))
		}
		cfg.systems = append(cfg.systems, sys)
	}
	for _, mode := range strings.Split(*stackModes, ",") {
		mode = strings.TrimSpace(mode)
		if mode != stackAPI && mode != stackFull {
			fatalf("-stack: %q is not api or full", mode)
		}
		cfg.stackModes = append(cfg.stackModes, mode)
	}
	if *objects != "" {
		for _, f := range strings.Split(*objects, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 100 {
				fatalf("-objects: %q is not a count of at least 100", f)
			}
			cfg.objects = append(cfg.objects, n)
		}
	} else if cfg.objects = scales[*scale]; cfg.objects == nil {
		fatalf("-scale: %q is not small, medium, large or huge", *scale)
	}
	mem, err := memTotal()
	if err != nil {
		fatalf("%v", err)
	}
	cfg.memoryLimit = mem * 3 / 4

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.scale == hugeScale {
		if err := runHuge(ctx, cfg, *updateDocs); err != nil {
			fatalf("%v", err)
		}
		return
	}
	if *controllerOnly {
		if err := benchController(ctx, *out, *updateDocs); err != nil {
			fatalf("controller: %v", err)
		}
		return
	}
	// The log archive is measured on PostgreSQL alone: it does not go
	// through the API's storage, and the CRDs have nothing to compare.
	logCost, err := measureLogs(ctx, filepath.Join(*out, "logs-postgres"), *logJobs)
	if err == nil {
		err = writeLogResults(logCost, *updateDocs)
	}
	if err != nil {
		fatalf("log archive: %v", err)
	}
	if *logsOnly {
		return
	}
	if err := benchController(ctx, *out, *updateDocs); err != nil {
		fatalf("controller: %v", err)
	}
	results, err := run(ctx, cfg)
	if results != nil {
		if werr := writeResults(results, *out, *updateDocs); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Printf("%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Results is bench-results.json.
type Results struct {
	Date    string  `json:"date"`
	Command string  `json:"command"`
	Machine Machine `json:"machine"`
	Scale   string  `json:"scale"`
	Objects []int   `json:"objects"`
	// Stacks are the stack modes measured, api and full; runs of an older
	// results file without them were all on the api stack.
	Stacks []string `json:"stacks,omitempty"`
	Runs   []*Run   `json:"runs"`
	// PGBench is PostgreSQL alone, per object count.
	PGBench []*PGBench `json:"pgbench"`
}

// Machine is where the run happened.
type Machine struct {
	Cores       int    `json:"cores"`
	MemoryBytes int64  `json:"memoryBytes"`
	CPU         string `json:"cpu"`
	Kubernetes  string `json:"kubernetes"`
	Postgres    string `json:"postgres"`
}

func run(ctx context.Context, cfg config) (*Results, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	mem, _ := memTotal()
	res := &Results{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Command: "make bench BENCH_SCALE=" + cfg.scale,
		Stacks:  cfg.stackModes,
		Machine: Machine{Cores: runtime.NumCPU(), MemoryBytes: mem, CPU: cpuModel(), Kubernetes: "v1.36.3"},
		Scale:   cfg.scale,
		Objects: cfg.objects,
	}
	defer func() { res.Machine.Postgres = postgresVersion }()
	failed := map[string]string{}
	for _, n := range cfg.objects {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		runs, pg, err := runScale(ctx, root, cfg, n, failed)
		res.Runs = append(res.Runs, runs...)
		if pg != nil {
			res.PGBench = append(res.PGBench, pg)
		}
		if err != nil {
			return res, fmt.Errorf("%d objects: %w", n, err)
		}
		for _, r := range runs {
			if r.Ceiling {
				failed[r.Stack+"/"+r.System] = fmt.Sprintf("failed at %d objects", n)
			}
		}
	}
	return res, nil
}

// postgresVersion is the server's version, read from the first stack.
var postgresVersion string

// The stacks a system is measured on.
const (
	// stackAPI is only what serves the APIs: PostgreSQL, etcd,
	// kube-apiserver and sluice-apiserver.
	stackAPI = "api"
	// stackFull is what a user's cluster runs besides: kube-controller-manager
	// with its default controllers (the garbage collector and the quota
	// controller watch every resource, Sluice's and the CRDs' included),
	// kube-scheduler and kwok's nodes. sluice-controller is not started:
	// the benchmark's jobs would be run by it, which is not what is
	// measured here (the controller benchmark is).
	stackFull = "full"
)

// allSystems are the systems a run can measure, in the order it does.
var allSystems = []string{"sluice", "crd", "crd-minimal"}

// runScale measures each system on each stack mode at one object count.
// Every system gets a fresh stack of its own, so none is measured with
// another's objects in kube-apiserver's memory or in kube-controller-manager's
// informers, and the order of the systems does not matter.
func runScale(ctx context.Context, root string, cfg config, n int, failed map[string]string) (runs []*Run, pg *PGBench, err error) {
	for _, mode := range cfg.stackModes {
		for _, system := range cfg.systems {
			if err := ctx.Err(); err != nil {
				return runs, pg, err
			}
			if why := failed[mode+"/"+system]; why != "" {
				runs = append(runs, &Run{System: system, Stack: mode, Objects: n, Failure: "not attempted: " + why})
				continue
			}
			// PostgreSQL alone is measured once per count, after Sluice on
			// the first stack mode.
			withPGBench := system == "sluice" && pg == nil
			r, p, err := runSystem(ctx, root, cfg, n, mode, system, withPGBench)
			if r != nil {
				runs = append(runs, r)
			}
			if p != nil {
				pg = p
			}
			if err != nil {
				return runs, pg, err
			}
		}
	}
	return runs, pg, nil
}

// runSystem starts a fresh stack, measures one system on it, and stops it.
func runSystem(ctx context.Context, root string, cfg config, n int, mode, system string, withPGBench bool) (r *Run, pg *PGBench, err error) {
	// A directory of its own per stack: client-go caches TLS transports by
	// the paths of their certificate files, so a new CA at an old path
	// would meet a transport that trusts the old one.
	stacks := cfg.stackDir
	if stacks == "" {
		stacks = filepath.Join(root, ".local", "bench")
	}
	dir := filepath.Join(stacks, fmt.Sprintf("stack-%d-%s-%s", n, mode, system))
	logf("== %d objects, %s stack, %s: starting the stack in %s", n, mode, system, dir)
	opts := localstack.Options{
		Dir: dir, RepoRoot: root, APIOnly: true, Durable: true,
		EtcdQuotaBytes:   8 << 30, // etcd's suggested maximum, so the CRDs get every chance
		PostgresSettings: map[string]string{"shared_buffers": "1GB", "max_wal_size": "4GB"},
		Log:              indent{},
	}
	if mode == stackFull {
		opts.APIOnly = false
		opts.KubeControllers = []string{"*"}
		opts.Controllers = -1
	}
	stack, err := localstack.Start(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	defer release(ctx, cfg, stack, dir)

	if postgresVersion == "" {
		postgresVersion, _ = serverVersion(ctx, stack.DatabaseURL)
	}
	cfgREST := rest.CopyConfig(stack.Config)
	cfgREST.QPS, cfgREST.Burst = -1, 0
	cfgREST.Timeout = 5 * time.Minute
	dyn, err := dynamic.NewForConfig(cfgREST)
	if err != nil {
		return nil, nil, err
	}
	httpClient, err := rest.HTTPClientFor(cfgREST)
	if err != nil {
		return nil, nil, err
	}
	httpClient.Timeout = 0 // watches run for as long as the measurement
	kube, err := kubernetes.NewForConfig(cfgREST)
	if err != nil {
		return nil, nil, err
	}
	for _, ns := range []string{benchNamespace, watchNamespace} {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return nil, nil, err
		}
	}

	gvr := schema.GroupVersionResource{Group: v1alpha1.SchemeGroupVersion.Group, Version: "v1alpha1", Resource: "pipelinejobs"}
	server := stack.APIServers[0].Process
	switch system {
	case "crd":
		gvr.Group, server = crd.Group, stack.ControlPlane.APIServer
		crds, err := crd.CRDs(crd.Group)
		if err != nil {
			return nil, nil, err
		}
		err = installCRDs(ctx, cfgREST, crds)
		if err != nil {
			return nil, nil, fmt.Errorf("installing the CRDs: %w", err)
		}
	case "crd-minimal":
		gvr.Group, server = crd.MinimalGroup, stack.ControlPlane.APIServer
		if err := installCRDs(ctx, cfgREST, crd.MinimalCRDs(crd.MinimalGroup)); err != nil {
			return nil, nil, fmt.Errorf("installing the CRDs: %w", err)
		}
	}
	if mode == stackFull {
		// kube-controller-manager finds new resources by discovery every
		// 30 seconds; in a user's cluster it has long been watching them.
		metricsCfg := cfgREST
		if system == "sluice" {
			metricsCfg = stack.DirectConfig(stack.APIServers[0], "admin", "system:masters")
		}
		if err := waitForControllerWatches(ctx, metricsCfg, gvr); err != nil {
			return nil, nil, err
		}
	}
	w := &workload{system: system, gvr: gvr, client: dyn, restCfg: cfgREST, httpClient: httpClient, objects: n, cfg: cfg, log: logf,
		procs: stackProcesses(stack)}
	if system == "sluice" && len(cfg.profile) > 0 {
		w.profiler = newProfiler(stack.DirectConfig(stack.APIServers[0], "admin", "system:masters"), filepath.Join(cfg.out, "profiles", mode))
	}
	guarded, cancel := guardMemory(ctx, system, server.Pid(), cfg.memoryLimit)
	r = w.run(guarded)
	cancel()
	r.Stack = mode
	if ctx.Err() != nil {
		return r, nil, ctx.Err()
	}
	r.Memory, r.DBBytes = sampleStack(ctx, stack)
	if withPGBench && r.Stored > 0 {
		// PostgreSQL alone, with nothing else using it.
		if err := stack.APIServers[0].Stop(30 * time.Second); err != nil {
			return r, nil, fmt.Errorf("stopping sluice-apiserver: %w", err)
		}
		if pg, err = runPGBench(ctx, stack.Postgres.BinDir(), stack.DatabaseURL, stack.Dir, cfg.out, n, cfg.pgbenchSeconds); err != nil {
			return r, pg, err
		}
	}
	return r, pg, nil
}

// controllerWatches is how many watches of a resource kube-controller-manager
// keeps with its default controllers: one, which its garbage collector and
// quota controller share through its shared (metadata) informer factory.
const controllerWatches = 1

// waitForControllerWatches waits until the server of gvr serves
// kube-controller-manager's watches of it, read from the server's own
// apiserver_longrunning_requests (no workload watch has started yet).
func waitForControllerWatches(ctx context.Context, cfg *rest.Config, gvr schema.GroupVersionResource) error {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	var watches int
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		metrics, err := scrape(ctx, client, cfg.Host+"/metrics")
		if err != nil {
			return false, nil
		}
		watches = longRunningWatches(metrics, gvr)
		return watches >= controllerWatches, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for kube-controller-manager to watch %s (%d of %d watches): %w", gvr.GroupResource(), watches, controllerWatches, err)
	}
	logf("   kube-controller-manager watches %s (after %s)", gvr.GroupResource(), time.Since(start).Round(time.Second))
	return nil
}

// longRunningWatches sums apiserver_longrunning_requests for watches of gvr.
func longRunningWatches(metrics promMetrics, gvr schema.GroupVersionResource) int {
	return int(metrics.sum("apiserver_longrunning_requests", map[string]string{
		"group": gvr.Group, "resource": gvr.Resource, "subresource": "", "verb": "WATCH",
	}))
}

// release stops a stack and removes its directory; with -keep, only once
// the run is interrupted.
func release(ctx context.Context, cfg config, stack *localstack.Stack, dir string) {
	if cfg.keep {
		logf("keeping the stack until interrupted: PostgreSQL at %s, kubeconfig %s", stack.DatabaseURL, stack.Kubeconfig)
		<-ctx.Done()
	}
	stack.Stop()
	_ = os.RemoveAll(dir)
}

// stackProcesses are the processes whose CPU time the workload reads
// around each phase: every server of the stack, and the load generator.
func stackProcesses(s *localstack.Stack) []process {
	procs := []process{
		{name: "kube-apiserver", pid: s.ControlPlane.APIServer.Pid()},
		{name: "etcd", pid: s.ControlPlane.Etcd.Pid()},
		{name: "sluice-apiserver", pid: s.APIServers[0].Pid()},
	}
	if pid, err := s.Postgres.PID(); err == nil {
		procs = append(procs, process{name: "postgres", pid: pid, tree: true})
	}
	for _, p := range []struct {
		name string
		proc *controlplane.Process
	}{{"kube-controller-manager", s.ControllerManager}, {"kube-scheduler", s.Scheduler}, {"kwok", s.Kwok}} {
		if p.proc != nil {
			procs = append(procs, process{name: p.name, pid: p.proc.Pid()})
		}
	}
	if len(s.Controllers) > 0 {
		procs = append(procs, process{name: "sluice-controller", pid: s.Controllers[0].Pid()})
	}
	return append(procs, process{name: loadGenerator, pid: os.Getpid()})
}

// guardMemory cancels the returned context when the server's RSS passes
// limit, with a cause that says so.
func guardMemory(ctx context.Context, system string, pid int, limit int64) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m, err := processMemory(pid)
				if err != nil {
					cancel(fmt.Errorf("the %s server exited: %w", system, err))
					return
				}
				if m.RSS > limit {
					cancel(fmt.Errorf("the %s server's RSS reached %.1f GiB, over the limit of %.1f GiB (3/4 of the machine)",
						system, float64(m.RSS)/(1<<30), float64(limit)/(1<<30)))
					return
				}
			}
		}
	}()
	return ctx, func() { cancel(nil) }
}

// sampleStack reads the memory of every server and the size of both
// databases.
func sampleStack(ctx context.Context, s *localstack.Stack) (map[string]Memory, map[string]int64) {
	mem := map[string]Memory{}
	add := func(name string, m Memory, err error) {
		if err == nil {
			mem[name] = m
		}
	}
	m, err := processMemory(s.ControlPlane.APIServer.Pid())
	add("kube-apiserver", m, err)
	m, err = processMemory(s.ControlPlane.Etcd.Pid())
	add("etcd", m, err)
	m, err = processMemory(s.APIServers[0].Pid())
	add("sluice-apiserver", m, err)
	if pid, err := s.Postgres.PID(); err == nil {
		m, err = treeMemory(pid)
		add("postgres", m, err)
	}
	db := map[string]int64{}
	if total, inUse, err := etcdDBSize(ctx, s.ControlPlane.EtcdURL); err == nil {
		db["etcd"], db["etcdInUse"] = total, inUse
	}
	if size, err := postgresDBSize(ctx, s.DatabaseURL); err == nil {
		db["postgres"] = size
	}
	return mem, db
}

func installCRDs(ctx context.Context, cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition) error {
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, c := range crds {
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, c, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, c := range crds {
			got, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, c.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			established := false
			for _, cond := range got.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					established = true
				}
			}
			if !established {
				return false, nil
			}
		}
		return true, nil
	})
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "bin", "kube-apiserver")); err != nil {
				return "", errors.New("bin/kube-apiserver is missing: run `make tools build`")
			}
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the Sluice checkout")
		}
		dir = parent
	}
}

func memTotal() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			return kib(v), nil
		}
	}
	return 0, errors.New("no MemTotal in /proc/meminfo")
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown"
}

// indent prefixes the stack's progress lines.
type indent struct{}

func (indent) Write(p []byte) (int, error) {
	os.Stdout.Write([]byte("   " + strings.ReplaceAll(strings.TrimRight(string(p), "\n"), "\n", "\n   ") + "\n"))
	return len(p), nil
}
