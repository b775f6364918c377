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
	// systems are measured in this order: "sluice", "crd" or both.
	systems []string
	// keep leaves each stack running after its measurements until the run
	// is interrupted, to look into it.
	keep bool
	// pgbenchSeconds is how long each pgbench script runs.
	pgbenchSeconds int
	// stacks is the directory the stacks live in, one subdirectory per
	// object count; .local/bench under the checkout when empty.
	stacks string
	out    string
}

// scales are the object counts of BENCH_SCALE.
var scales = map[string][]int{
	"small":  {2_000, 10_000},
	"medium": {10_000, 100_000},
	"large":  {10_000, 100_000, 1_000_000},
}

func main() {
	var (
		scale      = flag.String("scale", envOr("BENCH_SCALE", "small"), "small, medium or large (BENCH_SCALE)")
		objects    = flag.String("objects", os.Getenv("BENCH_OBJECTS"), "comma-separated object counts, instead of the scale's (BENCH_OBJECTS)")
		out        = flag.String("out", ".local/bench", "directory for bench-results.json, results.md and chart.png")
		updateDocs = flag.Bool("update-docs", false, "also write the results into docs/benchmarks.md and docs/bench/")
		watchRate  = flag.Int("watch-rate", 500, "writes per second during the watch latency measurement")
		render     = flag.String("render", "", "render the table and chart of an earlier bench-results.json instead of running")
		systems    = flag.String("systems", "sluice,crd", "comma-separated systems to measure: sluice, crd")
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
		if sys != "sluice" && sys != "crd" {
			fatalf("-systems: %q is not sluice or crd", sys)
		}
		cfg.systems = append(cfg.systems, sys)
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
		fatalf("-scale: %q is not small, medium or large", *scale)
	}
	mem, err := memTotal()
	if err != nil {
		fatalf("%v", err)
	}
	cfg.memoryLimit = mem * 3 / 4

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := benchController(ctx, *out); err != nil {
		fatalf("controller: %v", err)
	}
	if *controllerOnly {
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
	Runs    []*Run  `json:"runs"`
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
				failed[r.System] = fmt.Sprintf("failed at %d objects", n)
			}
		}
	}
	return res, nil
}

// postgresVersion is the server's version, read from the first stack.
var postgresVersion string

// runScale starts a fresh stack, measures Sluice and then the CRDs on it,
// and stops it. Sluice goes first so that kube-apiserver does not yet hold
// the CRD objects while Sluice is measured through it.
func runScale(ctx context.Context, root string, cfg config, n int, failed map[string]string) (runs []*Run, pg *PGBench, err error) {
	// A directory of its own per stack: client-go caches TLS transports by
	// the paths of their certificate files, so a new CA at an old path
	// would meet a transport that trusts the old one.
	stacks := cfg.stacks
	if stacks == "" {
		stacks = filepath.Join(root, ".local", "bench")
	}
	dir := filepath.Join(stacks, fmt.Sprintf("stack-%d", n))
	logf("== %d objects: starting the stack in %s", n, dir)
	stack, err := localstack.Start(ctx, localstack.Options{
		Dir: dir, RepoRoot: root, APIOnly: true, Durable: true,
		EtcdQuotaBytes:   8 << 30, // etcd's suggested maximum, so the CRDs get every chance
		PostgresSettings: map[string]string{"shared_buffers": "1GB", "max_wal_size": "4GB"},
		Log:              indent{},
	})
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if cfg.keep {
			logf("keeping the stack until interrupted: PostgreSQL at %s, kubeconfig %s", stack.DatabaseURL, stack.Kubeconfig)
			<-ctx.Done()
		}
		stack.Stop()
		_ = os.RemoveAll(dir)
	}()

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
	if err := installCRDs(ctx, cfgREST); err != nil {
		return nil, nil, fmt.Errorf("installing the CRDs: %w", err)
	}

	for _, system := range cfg.systems {
		if why := failed[system]; why != "" {
			runs = append(runs, &Run{System: system, Objects: n, Failure: "not attempted: " + why})
			continue
		}
		gvr := schema.GroupVersionResource{Group: v1alpha1.SchemeGroupVersion.Group, Version: "v1alpha1", Resource: "pipelinejobs"}
		server := stack.APIServers[0].Process
		if system == "crd" {
			gvr.Group = crd.Group
			server = stack.ControlPlane.APIServer
		}
		w := &workload{system: system, gvr: gvr, client: dyn, restCfg: cfgREST, httpClient: httpClient, objects: n, cfg: cfg, log: logf}
		if system == "sluice" && len(cfg.profile) > 0 {
			w.profiler = newProfiler(stack.DirectConfig(stack.APIServers[0], "admin", "system:masters"), filepath.Join(cfg.out, "profiles"))
		}
		guarded, cancel := guardMemory(ctx, system, server.Pid(), cfg.memoryLimit)
		r := w.run(guarded)
		cancel()
		if ctx.Err() != nil {
			return append(runs, r), pg, ctx.Err()
		}
		r.Memory, r.DBBytes = sampleStack(ctx, stack)
		runs = append(runs, r)
		if system == "sluice" && r.Stored > 0 {
			// PostgreSQL alone, with nothing else using it.
			if err := stack.APIServers[0].Stop(30 * time.Second); err != nil {
				return runs, pg, fmt.Errorf("stopping sluice-apiserver: %w", err)
			}
			if pg, err = runPGBench(ctx, stack.Postgres.BinDir(), stack.DatabaseURL, stack.Dir, cfg.out, n, cfg.pgbenchSeconds); err != nil {
				return runs, pg, err
			}
		}
	}
	return runs, pg, nil
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

func installCRDs(ctx context.Context, cfg *rest.Config) error {
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	crds, err := crd.CRDs(crd.Group)
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
