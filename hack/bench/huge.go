package main

// BENCH_SCALE=huge: ten million jobs, a count no CRD reaches on this
// machine. Creating them through the API would take most of a day, so they
// are bulk-loaded through the storage engine's own write path, and only
// then measured through kube-apiserver as the other scales are.

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/apiserver"
	"github.com/sluice-dev/sluice/pkg/registry/pipelinejob"
	"github.com/sluice-dev/sluice/pkg/storage/postgres"
	"github.com/sluice-dev/sluice/pkg/testing/localstack"
)

const (
	// hugeScale is the BENCH_SCALE of this mode.
	hugeScale = "huge"
	// hugePipelines is how many pipelines the jobs belong to: 100 services
	// with 10 pipelines each, about 10,000 jobs each at 10 million.
	hugePipelines = 1000
	// hugeCohortSize is how many jobs one cohort label value selects, at
	// any count: the selective list returns this many, 0.001% of 10
	// million. A list costs sluice-apiserver about 0.2 ms per item it
	// returns whatever the count stored, so a small cohort measures what
	// the count costs: finding the items.
	hugeCohortSize = 100
	// hugeHistoryPage is the page size of a pipeline's history, and
	// hugeHistoryPages how many of its pages are read, following continue.
	hugeHistoryPage  = 50
	hugeHistoryPages = 10
	// hugeFailedPage is the page size of the list of failed jobs.
	hugeFailedPage = 500
	// hugeLoadWorkers write concurrently, each through the Store.
	hugeLoadWorkers = 32
)

// hugePipelineKinds are a service's pipelines.
var hugePipelineKinds = [10]string{"build", "test", "lint", "release", "deploy", "nightly", "e2e", "security-scan", "docs", "canary"}

// HugeResults is huge-results.json.
type HugeResults struct {
	Date    string  `json:"date"`
	Command string  `json:"command"`
	Machine Machine `json:"machine"`
	Objects int     `json:"objects"`
	// Stored is how many jobs the database holds after the measurements.
	Stored int `json:"stored"`
	// Pipelines and CohortSize describe the jobs: spec.pipelineRef.name
	// spreads them over Pipelines pipelines, and each value of the cohort
	// label selects CohortSize of them.
	Pipelines  int `json:"pipelines"`
	CohortSize int `json:"cohortSize"`
	// Finished and Failed count the jobs loaded with a finished status,
	// and those of them that failed.
	Finished int `json:"finished"`
	Failed   int `json:"failed"`
	// ObjectBytes is the size of the value stored for a job of each kind
	// (hugeKind).
	ObjectBytes map[string]int `json:"objectBytes"`
	// Load is the bulk load through the Store; LoadCPUSeconds the CPU time
	// each process used during it.
	Load           Throughput         `json:"load"`
	LoadCPUSeconds map[string]float64 `json:"loadCpuSeconds"`
	// Through kube-apiserver, after the load.
	LabelList    Throughput `json:"labelList"`
	Gets         Throughput `json:"gets"`
	HistoryFirst Throughput `json:"historyFirstPage"`
	HistoryLater Throughput `json:"historyLaterPages"`
	FailedList   Throughput `json:"failedList"`
	// HistoryPlan says how PostgreSQL reads a history page: the indexes it
	// scans, from the plans written to explain-history-<objects>.txt.
	HistoryPlan string `json:"historyPlan"`
	// Memory of sluice-apiserver before the load, after it and after the
	// measurements; PostgreSQL's (PSS) after them.
	Memory map[string]Memory `json:"memory"`
	// DBBytes: the database, the current state (sluice.kv with its TOAST
	// and indexes), and the stack's directory on disk (PostgreSQL's data
	// directory with its WAL, etcd's, the logs).
	DBBytes map[string]int64 `json:"dbBytes"`
	Failure string           `json:"failure,omitempty"`
}

// runHuge loads cfg.objects[0] jobs through the Store into the PostgreSQL
// of an API-only stack whose sluice-apiserver runs, then measures through
// kube-apiserver, and writes huge-results.json and huge-results.md to
// cfg.out (and with updateDocs into docs/).
func runHuge(ctx context.Context, cfg config, updateDocs bool) error {
	if len(cfg.objects) != 1 {
		return fmt.Errorf("the huge scale loads one count of jobs, not %d", len(cfg.objects))
	}
	res, err := measureHuge(ctx, cfg)
	if res == nil {
		return err
	}
	if err != nil {
		res.Failure = err.Error()
	}
	if werr := writeHugeResults(res, cfg.out, updateDocs); werr != nil && err == nil {
		err = werr
	}
	return err
}

func measureHuge(ctx context.Context, cfg config) (*HugeResults, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	n := cfg.objects[0]
	mem, _ := memTotal()
	res := &HugeResults{
		Date:       time.Now().UTC().Format(time.RFC3339),
		Command:    "make bench BENCH_SCALE=huge",
		Machine:    Machine{Cores: runtime.NumCPU(), MemoryBytes: mem, CPU: cpuModel(), Kubernetes: "v1.36.3"},
		Objects:    n,
		Pipelines:  hugePipelines,
		CohortSize: hugeCohortSize,
		Memory:     map[string]Memory{},
		DBBytes:    map[string]int64{},
	}
	if n != 10_000_000 {
		res.Command += fmt.Sprintf(" BENCH_OBJECTS=%d", n)
	}
	stacks := cfg.stackDir
	if stacks == "" {
		stacks = filepath.Join(root, ".local", "bench")
	}
	dir := filepath.Join(stacks, fmt.Sprintf("stack-%d-huge", n))
	logf("== %d jobs, bulk-loaded: starting an API-only stack in %s", n, dir)
	// As runSystem's stacks: durable, with the same PostgreSQL settings.
	stack, err := localstack.Start(ctx, localstack.Options{
		Dir: dir, RepoRoot: root, APIOnly: true, Durable: true,
		PostgresSettings: map[string]string{"shared_buffers": "1GB", "max_wal_size": "4GB"},
		Log:              indent{},
	})
	if err != nil {
		return nil, err
	}
	defer release(ctx, cfg, stack, dir)
	res.Machine.Postgres, _ = serverVersion(ctx, stack.DatabaseURL)

	cfgREST := restclient.CopyConfig(stack.Config)
	cfgREST.QPS, cfgREST.Burst = -1, 0
	cfgREST.Timeout = 5 * time.Minute
	dyn, err := dynamic.NewForConfig(cfgREST)
	if err != nil {
		return res, err
	}
	kube, err := kubernetes.NewForConfig(cfgREST)
	if err != nil {
		return res, err
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}, metav1.CreateOptions{}); err != nil {
		return res, err
	}
	apiPid := stack.APIServers[0].Pid()
	if m, err := processMemory(apiPid); err == nil {
		res.Memory["sluice-apiserver before the load"] = m
	}

	loader, err := newHugeLoader(ctx, stack.DatabaseURL, n)
	if err != nil {
		return res, err
	}
	// The loader's templates are jobs created through the API.
	gvr := schema.GroupVersionResource{Group: v1alpha1.SchemeGroupVersion.Group, Version: "v1alpha1", Resource: "pipelinejobs"}
	if err := loader.createSamples(ctx, dyn.Resource(gvr).Namespace(benchNamespace)); err != nil {
		loader.close()
		return res, fmt.Errorf("creating the sample jobs through the API: %w", err)
	}
	procs := stackProcesses(stack)
	cpu := cpuSnapshot(procs)
	res.Load, err = loader.load(ctx)
	res.LoadCPUSeconds = cpuSince(procs, cpu)
	res.Finished, res.Failed = loader.finished, loader.failed
	loader.close()
	if err != nil {
		return res, fmt.Errorf("loading: %w", err)
	}
	if m, err := processMemory(apiPid); err == nil {
		res.Memory["sluice-apiserver after the load"] = m
	}
	// Planner statistics as autovacuum's analyze would soon have them; a
	// bulk load outruns its thresholds.
	if err := execSQL(ctx, stack.DatabaseURL, "ANALYZE sluice.kv"); err != nil {
		return res, err
	}

	guarded, cancel := guardMemory(ctx, "sluice", apiPid, cfg.memoryLimit)
	defer cancel()
	m := &hugeMeasure{jobs: dyn.Resource(gvr).Namespace(benchNamespace), objects: n, cfg: cfg, res: res}
	for _, p := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"label-selected list", m.labelList},
		{"gets", m.gets},
		{"history pages", m.history},
		{"failed jobs", m.failedList},
	} {
		logf("%d jobs: %s", n, p.name)
		if err := p.fn(guarded); err != nil {
			if cause := context.Cause(guarded); cause != nil {
				err = cause
			}
			return res, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	if err := explainHistory(ctx, stack.DatabaseURL, loader.prefix, n, cfg.out, res); err != nil {
		return res, err
	}
	if m, err := processMemory(apiPid); err == nil {
		res.Memory["sluice-apiserver after the measurements"] = m
	}
	if pid, err := stack.Postgres.PID(); err == nil {
		if m, err := treeMemory(pid); err == nil {
			res.Memory["postgres"] = m
		}
	}
	conn, err := pgx.Connect(ctx, stack.DatabaseURL)
	if err != nil {
		return res, err
	}
	defer conn.Close(context.Background())
	var db, kv int64
	if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database()), pg_total_relation_size('sluice.kv')").Scan(&db, &kv); err != nil {
		return res, err
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM sluice.kv WHERE key >= $1 AND key < $2", loader.prefix, loader.prefix[:len(loader.prefix)-1]+"0").Scan(&res.Stored); err != nil {
		return res, err
	}
	if res.Stored != n {
		return res, fmt.Errorf("%d jobs stored, want %d", res.Stored, n)
	}
	res.ObjectBytes = map[string]int{}
	for kind, name := range loader.sampleNames {
		var size int
		if err := conn.QueryRow(ctx, "SELECT octet_length(value) FROM sluice.kv WHERE key = $1", loader.prefix+name).Scan(&size); err != nil {
			return res, err
		}
		res.ObjectBytes[kind] = size
	}
	res.DBBytes["database"], res.DBBytes["kv"] = db, kv
	if size, err := dirSize(stack.Dir); err == nil {
		res.DBBytes["stackDir"] = size
	}
	logf("   database %.2f GiB (%.0f bytes per job), sluice.kv %.2f GiB (%.0f bytes per job)",
		float64(db)/(1<<30), float64(db)/float64(n), float64(kv)/(1<<30), float64(kv)/float64(n))
	return res, nil
}

// dirSize is the disk space the files under dir take, in bytes: what the
// stack needs, PostgreSQL's WAL included.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file that went meanwhile, or one not ours to read
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			} else {
				total += info.Size()
			}
		}
		return nil
	})
	return total, err
}

func execSQL(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// hugeLoader writes jobs through the Store sluice-apiserver builds for
// pipelinejobs: the same encoding, storage version, key, labels and
// selectable fields (pkg/apiserver's NewRESTOptionsGetter, which the
// server's own options use; the registry's own key function and
// attributes), so each row is what a create through the API stores.
type hugeLoader struct {
	backend *postgres.Backend
	store   storage.Interface
	keyFunc func(ctx context.Context, name string) (string, error)
	// prefix is the key prefix of the benchmark namespace's jobs.
	prefix  string
	objects int
	cohorts int
	// templates are the sample jobs created through the API, by kind
	// (hugeKind): the loader takes from them what the API adds to what a
	// client sends, the managed fields and who started the job.
	templates map[string]*sluice.PipelineJob
	// sampleNames are the names of the templates.
	sampleNames      map[string]string
	finished, failed int
}

func newHugeLoader(ctx context.Context, databaseURL string, n int) (*hugeLoader, error) {
	backend, err := postgres.New(ctx, postgres.Options{DatabaseURL: databaseURL, MaxConns: hugeLoadWorkers})
	if err != nil {
		return nil, err
	}
	getter := apiserver.NewRESTOptionsGetter(backend)
	// The registry's storage, as sluice-apiserver builds it; the loader
	// uses only its Store and key function, not its create path (which
	// would reset the status and record the loader as the user).
	jobs, err := pipelinejob.NewStorage(apiserver.Scheme, getter, nil, pipelinejob.Logs{})
	if err != nil {
		backend.Close()
		return nil, err
	}
	return &hugeLoader{
		backend: backend,
		store:   jobs.Jobs.Storage.Storage,
		keyFunc: jobs.Jobs.KeyFunc,
		prefix:  getter.KeyPrefix(sluice.Resource("pipelinejobs")) + benchNamespace + "/",
		objects: n,
		cohorts: max(1, n/hugeCohortSize),
	}, nil
}

func (l *hugeLoader) close() { l.backend.Close() }

// The kinds of job: pending as created, and finished, successfully or not.
const (
	hugePending   = "pending"
	hugeSucceeded = "succeeded"
	hugeFailed    = "failed"
)

// hugeKind is the kind of job i: a tenth finished, a tenth of those
// failed, spread over the pipelines and the key order by a hash of i.
func hugeKind(i int) string {
	h := ((uint64(i) * 0x9E3779B97F4A7C15) >> 40) % 100
	switch {
	case h == 0:
		return hugeFailed
	case h%10 == 0:
		return hugeSucceeded
	}
	return hugePending
}

// hugeSamples are the first job of each kind, created through the API.
func hugeSamples(n int) map[string]int {
	s := map[string]int{}
	for i := 0; len(s) < 3 && i < n; i++ {
		if _, ok := s[hugeKind(i)]; !ok {
			s[hugeKind(i)] = i
		}
	}
	return s
}

// hugeJob is job i as a client sends it: newJob's realistic job, in one of
// the 1,000 pipelines, with a cohort of hugeCohortSize jobs.
func (l *hugeLoader) hugeJob(i int) *unstructured.Unstructured {
	gvr := v1alpha1.SchemeGroupVersion.WithResource("pipelinejobs")
	u := newJob(gvr, i, "1KiB")
	p := i % hugePipelines
	pipeline := fmt.Sprintf("service-%03d-%s", p%100, hugePipelineKinds[p/100])
	u.Object["spec"].(map[string]any)["pipelineRef"] = map[string]any{"name": pipeline}
	lbls := u.GetLabels()
	lbls[v1alpha1.LabelPipeline] = pipeline
	lbls[labelCohort] = fmt.Sprintf("h%06d", i%l.cohorts)
	u.SetLabels(lbls)
	return u
}

// hugeStatus is the status the controller writes when job i finishes.
func hugeStatus(u *unstructured.Unstructured, kind string, now time.Time) map[string]any {
	return finishedStatus(u.GetName(), kind == hugeFailed, now)
}

// createSamples creates the first job of each kind through kube-apiserver,
// writes the status of the finished ones as the workload does, and keeps
// them, read back from the Store, as templates.
func (l *hugeLoader) createSamples(ctx context.Context, client dynamic.ResourceInterface) error {
	now := time.Now()
	l.templates, l.sampleNames = map[string]*sluice.PipelineJob{}, map[string]string{}
	for kind, i := range hugeSamples(l.objects) {
		u := l.hugeJob(i)
		created, err := client.Create(ctx, u, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if kind != hugePending {
			created.Object["status"] = hugeStatus(u, kind, now)
			if _, err := client.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		stored, err := l.get(ctx, u.GetName())
		if err != nil {
			return err
		}
		l.templates[kind], l.sampleNames[kind] = stored, u.GetName()
	}
	return nil
}

// get reads a job from the Store.
func (l *hugeLoader) get(ctx context.Context, name string) (*sluice.PipelineJob, error) {
	key, err := l.keyFunc(genericapirequest.WithNamespace(ctx, benchNamespace), name)
	if err != nil {
		return nil, err
	}
	j := &sluice.PipelineJob{}
	return j, l.store.Get(ctx, key, storage.GetOptions{}, j)
}

// build is job i as a create through the API, and for a finished job its
// status write, leave it: the client's object decoded, defaulted and
// converted, the registry's create strategy with the user who created the
// template (spec.startedBy, labels, generation, a Pending status with its
// submit time), the system fields (UID, creation time), the template's
// managed fields, and the finished status the status strategy keeps.
func (l *hugeLoader) build(ctx context.Context, i int, now time.Time) (*sluice.PipelineJob, string, error) {
	kind := hugeKind(i)
	tmpl := l.templates[kind]
	u := l.hugeJob(i)
	if kind != hugePending {
		u.Object["status"] = hugeStatus(u, kind, now)
	}
	var versioned v1alpha1.PipelineJob
	if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &versioned); err != nil {
		return nil, "", err
	}
	apiserver.Scheme.Default(&versioned)
	job := &sluice.PipelineJob{}
	if err := apiserver.Scheme.Convert(&versioned, job, nil); err != nil {
		return nil, "", err
	}
	status := job.Status
	job.Namespace = benchNamespace
	started := tmpl.Spec.StartedBy
	ctx = genericapirequest.WithUser(ctx, &user.DefaultInfo{Name: started.Username, UID: started.UID, Groups: started.Groups})
	pipelinejob.NewStrategy(apiserver.Scheme).PrepareForCreate(ctx, job)
	rest.FillObjectMetaSystemFields(job)
	job.ManagedFields = tmpl.ManagedFields
	if kind != hugePending {
		status.SubmitTime = job.Status.SubmitTime
		job.Status = status
	}
	return job, kind, nil
}

// load writes every job but the samples through the Store, from
// hugeLoadWorkers goroutines, and logs its progress every 30 seconds.
func (l *hugeLoader) load(ctx context.Context) (Throughput, error) {
	samples := map[int]bool{}
	for kind, i := range hugeSamples(l.objects) {
		samples[i] = true
		l.count(kind)
	}
	var done atomic.Int64
	var kinds [3]atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		start, t := time.Now(), time.NewTicker(30*time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d := done.Load()
				elapsed := time.Since(start)
				logf("   %d of %d jobs (%.0f/s), about %s left", d, l.objects, float64(d)/elapsed.Seconds(),
					(time.Duration(float64(elapsed) / float64(max(d, 1)) * float64(int64(l.objects)-d))).Round(time.Minute))
			}
		}
	}()
	now := time.Now()
	nsCtx := genericapirequest.WithNamespace(ctx, benchNamespace)
	t, err := parallel(ctx, hugeLoadWorkers, 0, l.objects, func(ctx context.Context, i int) error {
		if samples[i] {
			return nil
		}
		job, kind, err := l.build(ctx, i, now)
		if err != nil {
			return err
		}
		key, err := l.keyFunc(nsCtx, job.Name)
		if err != nil {
			return err
		}
		if err := l.store.Create(ctx, key, job, &sluice.PipelineJob{}, 0); err != nil {
			return err
		}
		done.Add(1)
		switch kind {
		case hugeFailed:
			kinds[0].Add(1)
		case hugeSucceeded:
			kinds[1].Add(1)
		}
		return nil
	})
	l.failed += int(kinds[0].Load())
	l.finished += int(kinds[0].Load() + kinds[1].Load())
	logf("   loaded %d jobs in %s: %.0f/s (p50 %.1f ms, p99 %.1f ms)", done.Load(), time.Duration(t.Seconds*float64(time.Second)).Round(time.Second),
		t.PerSec, t.Latency.P50, t.Latency.P99)
	return t, err
}

func (l *hugeLoader) count(kind string) {
	switch kind {
	case hugeFailed:
		l.failed++
		l.finished++
	case hugeSucceeded:
		l.finished++
	}
}

// hugeMeasure runs the measurements through kube-apiserver.
type hugeMeasure struct {
	jobs    dynamic.ResourceInterface
	objects int
	cfg     config
	res     *HugeResults
}

// labelList lists one cohort, hugeCohortSize jobs, at a time.
func (m *hugeMeasure) labelList(ctx context.Context) error {
	cohorts := max(1, m.objects/hugeCohortSize)
	want := m.objects / cohorts
	t, err := parallel(ctx, 1, 0, m.cfg.selectorLists, func(ctx context.Context, i int) error {
		cohort := (i * 7919) % cohorts
		list, err := m.jobs.List(ctx, metav1.ListOptions{LabelSelector: fmt.Sprintf("%s=h%06d", labelCohort, cohort)})
		if err != nil {
			return err
		}
		if len(list.Items) < want || len(list.Items) > want+1 {
			return fmt.Errorf("cohort h%06d: %d items, want %d", cohort, len(list.Items), want)
		}
		return nil
	})
	m.res.LabelList = t
	logf("   %d items each: p50 %.1f ms, p99 %.1f ms", want, t.Latency.P50, t.Latency.P99)
	return err
}

func (m *hugeMeasure) gets(ctx context.Context) error {
	t, err := parallel(ctx, 8, 0, m.cfg.gets, func(ctx context.Context, _ int) error {
		_, err := m.jobs.Get(ctx, jobName(rand.IntN(m.objects)), metav1.GetOptions{})
		return err
	})
	m.res.Gets = t
	logf("   p50 %.1f ms, p99 %.1f ms", t.Latency.P50, t.Latency.P99)
	return err
}

// hugeHistoryPipeline is the pipeline whose history the k-th history read
// pages through.
func hugeHistoryPipeline(k int) string {
	p := (k * 7919) % hugePipelines
	return fmt.Sprintf("service-%03d-%s", p%100, hugePipelineKinds[p/100])
}

// history pages through the history of one pipeline at a time: its first
// page of hugeHistoryPage jobs, then up to hugeHistoryPages-1 more
// through continue, with a field selector on spec.pipelineRef.name.
func (m *hugeMeasure) history(ctx context.Context) error {
	var first, later []time.Duration
	start := time.Now()
	for k := range m.cfg.selectorLists {
		pipeline := hugeHistoryPipeline(k)
		cont := ""
		for page := 0; page < hugeHistoryPages; page++ {
			t := time.Now()
			list, err := m.jobs.List(ctx, metav1.ListOptions{FieldSelector: "spec.pipelineRef.name=" + pipeline, Limit: hugeHistoryPage, Continue: cont})
			if err != nil {
				return fmt.Errorf("%s, page %d: %w", pipeline, page+1, err)
			}
			if page == 0 {
				first = append(first, time.Since(t))
			} else {
				later = append(later, time.Since(t))
			}
			for _, item := range list.Items {
				if got, _, _ := unstructured.NestedString(item.Object, "spec", "pipelineRef", "name"); got != pipeline {
					return fmt.Errorf("%s, page %d: %s is a job of %q", pipeline, page+1, item.GetName(), got)
				}
			}
			if cont = list.GetContinue(); cont == "" {
				break
			}
			if len(list.Items) != hugeHistoryPage {
				return fmt.Errorf("%s, page %d: %d items and more to come, want %d", pipeline, page+1, len(list.Items), hugeHistoryPage)
			}
		}
	}
	elapsed := time.Since(start).Seconds()
	m.res.HistoryFirst = Throughput{Clients: 1, Requests: len(first), Seconds: elapsed, Latency: summarise(first)}
	m.res.HistoryLater = Throughput{Clients: 1, Requests: len(later), Seconds: elapsed, Latency: summarise(later)}
	logf("   first page p50 %.1f ms, p99 %.1f ms; later pages (%d) p50 %.1f ms, p99 %.1f ms",
		m.res.HistoryFirst.Latency.P50, m.res.HistoryFirst.Latency.P99, len(later), m.res.HistoryLater.Latency.P50, m.res.HistoryLater.Latency.P99)
	return nil
}

// failedList lists the first page of the failed jobs.
func (m *hugeMeasure) failedList(ctx context.Context) error {
	want := min(hugeFailedPage, m.res.Failed)
	t, err := parallel(ctx, 1, 0, m.cfg.selectorLists, func(ctx context.Context, _ int) error {
		list, err := m.jobs.List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Failed", Limit: hugeFailedPage})
		if err != nil {
			return err
		}
		if len(list.Items) != want {
			return fmt.Errorf("%d failed jobs listed, want %d", len(list.Items), want)
		}
		return nil
	})
	m.res.FailedList = t
	logf("   %d items each: p50 %.1f ms, p99 %.1f ms", want, t.Latency.P50, t.Latency.P99)
	return err
}

// explainHistory writes the plans of a pipeline's first history page and
// of the page after it, as the Store runs them, with EXPLAIN (ANALYZE,
// BUFFERS) into out/explain-history-<objects>.txt, and records the
// indexes they scan.
func explainHistory(ctx context.Context, dsn, prefix string, n int, out string, res *HugeResults) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var rv int64
	if err := conn.QueryRow(ctx, "SELECT last_value FROM sluice.rv_seq").Scan(&rv); err != nil {
		return err
	}
	pipeline := hugeHistoryPipeline(0)
	pred := storage.SelectionPredicate{Label: labels.Everything(), Field: fields.OneTermEqualSelector("spec.pipelineRef.name", pipeline)}
	indexed := apiserver.IndexedFields(sluice.Resource("pipelinejobs"))
	var text strings.Builder
	after := ""
	for page := 1; page <= 2; page++ {
		st := postgres.PageStatement(prefix, after, rv, pred, indexed, hugeHistoryPage+1)
		rows, err := conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, SETTINGS) "+st.SQL, append([]any{pgx.QueryExecModeDescribeExec}, st.Args...)...)
		if err != nil {
			return fmt.Errorf("explaining the history page: %w", err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("explaining the history page: %w", err)
		}
		fmt.Fprintf(&text, "-- page %d of the history of %s (fieldSelector spec.pipelineRef.name, limit %d), %d jobs\n%s\n\n",
			page, pipeline, hugeHistoryPage, n, strings.Join(lines, "\n"))
		if page == 1 {
			res.HistoryPlan = planIndexes(lines)
			// The page after: from the 50th job of the pipeline on.
			keys, err := conn.Query(ctx, st.SQL, append([]any{pgx.QueryExecModeDescribeExec}, st.Args...)...)
			if err != nil {
				return err
			}
			var last string
			count := 0
			for keys.Next() {
				var compacted, rowRV int64
				var key string
				var value []byte
				if err := keys.Scan(&compacted, &key, &rowRV, &value); err != nil {
					keys.Close()
					return err
				}
				if count++; count <= hugeHistoryPage {
					last = key
				}
			}
			if err := keys.Err(); err != nil {
				return err
			}
			if count <= hugeHistoryPage {
				break // one page is the whole history
			}
			after = last
		}
	}
	file := filepath.Join(out, fmt.Sprintf("explain-history-%d.txt", n))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	logf("   history page plan: %s (%s)", res.HistoryPlan, file)
	return os.WriteFile(file, []byte(text.String()), 0o644)
}

// planIndexes names the index scans of a plan, in order.
func planIndexes(lines []string) string {
	var scans []string
	for _, l := range lines {
		l = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l), "->"))
		for _, kind := range []string{"Index Only Scan", "Index Scan Backward", "Index Scan", "Bitmap Index Scan", "Seq Scan"} {
			if strings.HasPrefix(l, kind) {
				name, _, _ := strings.Cut(l, "  (")
				scans = append(scans, name)
				break
			}
		}
	}
	if len(scans) == 0 {
		return "no scan found"
	}
	return strings.Join(scans, "; ")
}

// writeHugeResults writes huge-results.json and huge-results.md to out, and
// with updateDocs also docs/bench/huge-bench-results.json and the
// generated block bench:huge of docs/benchmarks.md.
func writeHugeResults(res *HugeResults, out string, updateDocs bool) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	md := hugeMarkdown(res)
	for name, b := range map[string][]byte{"huge-results.json": j, "huge-results.md": []byte(md)} {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("\n%s\nwritten to %s/{huge-results.json,huge-results.md}\n", md, out)
	if !updateDocs {
		return nil
	}
	if err := os.MkdirAll(filepath.Join("docs", "bench"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join("docs", "bench", "huge-bench-results.json"), j, 0o644); err != nil {
		return err
	}
	return replaceGenerated(filepath.Join("docs", "benchmarks.md"), "bench:huge", md+
		"\nRaw results: [bench/huge-bench-results.json](bench/huge-bench-results.json).\n")
}

// hugeMarkdown is the results table of the huge scale, with the goals of
// issue 17 beside the measurements.
func hugeMarkdown(res *HugeResults) string {
	var b strings.Builder
	n := res.Objects
	fmt.Fprintf(&b, "`%s`, %s, %d cores, %s, PostgreSQL %s: %s jobs (%s finished, %s of them failed) in %s pipelines, "+
		"bulk-loaded through the Store, then measured through kube-apiserver.\n\n",
		res.Command, res.Date[:10], res.Machine.Cores, res.Machine.CPU, res.Machine.Postgres,
		thousands(n), thousands(res.Finished), thousands(res.Failed), thousands(res.Pipelines))
	if res.Failure != "" {
		fmt.Fprintf(&b, "**The run failed:** %s\n\n", res.Failure)
	}
	goal := func(v, limit float64, ok bool) string {
		switch {
		case !ok:
			return "not measured"
		case v <= limit:
			return "met"
		}
		return "**not met**"
	}
	b.WriteString("| measurement | result | goal |\n|---|---:|---|\n")
	fmt.Fprintf(&b, "| bulk load through the Store, %d writers | %s jobs/s (%s; p50 %.1f ms, p99 %.1f ms per create) | |\n",
		hugeLoadWorkers, thousands(int(res.Load.PerSec)), time.Duration(res.Load.Seconds*float64(time.Second)).Round(time.Second), res.Load.Latency.P50, res.Load.Latency.P99)
	if cpu := res.LoadCPUSeconds; len(cpu) > 0 && res.Load.Requests > 0 {
		var parts []string
		for _, p := range []string{loadGenerator, "postgres", "sluice-apiserver", "kube-apiserver", "etcd"} {
			if s, ok := cpu[p]; ok {
				parts = append(parts, fmt.Sprintf("%s %.2f", p, s*1000/float64(res.Load.Requests)))
			}
		}
		fmt.Fprintf(&b, "| load CPU-seconds per 1,000 jobs | %s | |\n", strings.Join(parts, ", "))
	}
	lat := func(name string, t Throughput, p50Goal, p99Goal float64) {
		ok := t.Latency.Count > 0
		g := ""
		switch {
		case p50Goal > 0:
			g = fmt.Sprintf("p50 ≤ %.0f ms: %s", p50Goal, goal(t.Latency.P50, p50Goal, ok))
		case p99Goal > 0:
			g = fmt.Sprintf("p99 ≤ %.0f ms: %s", p99Goal, goal(t.Latency.P99, p99Goal, ok))
		}
		if !ok {
			fmt.Fprintf(&b, "| %s | – | %s |\n", name, g)
			return
		}
		fmt.Fprintf(&b, "| %s | p50 %.1f ms, p99 %.1f ms (%s requests) | %s |\n", name, t.Latency.P50, t.Latency.P99, thousands(t.Latency.Count), g)
	}
	lat(fmt.Sprintf("label-selected list, one cohort of %s jobs (labelSelector `%s`)", thousands(res.CohortSize), labelCohort), res.LabelList, 50, 0)
	lat("get of a random job", res.Gets, 0, 20)
	lat(fmt.Sprintf("history of one pipeline, first page (fieldSelector `spec.pipelineRef.name`, limit %d)", hugeHistoryPage), res.HistoryFirst, 0, 100)
	lat(fmt.Sprintf("history of one pipeline, pages 2–%d through continue", hugeHistoryPages), res.HistoryLater, 0, 100)
	lat(fmt.Sprintf("failed jobs, first page (fieldSelector `status.phase=Failed`, limit %d)", hugeFailedPage), res.FailedList, 0, 0)
	fmt.Fprintf(&b, "| PostgreSQL's plan of a history page | %s | an index range |\n", res.HistoryPlan)
	mib := func(k string) string {
		m, ok := res.Memory[k]
		if !ok {
			return "–"
		}
		return fmt.Sprintf("%.0f MiB", float64(m.RSS)/(1<<20))
	}
	fmt.Fprintf(&b, "| sluice-apiserver RSS: before the load, after it, after the measurements | %s, %s, %s | flat, ≤ 256 MiB |\n",
		mib("sluice-apiserver before the load"), mib("sluice-apiserver after the load"), mib("sluice-apiserver after the measurements"))
	fmt.Fprintf(&b, "| PostgreSQL (PSS of all its processes) | %s | |\n", mib("postgres"))
	if db, ok := res.DBBytes["database"]; ok && n > 0 {
		fmt.Fprintf(&b, "| database size | %.2f GiB, %s bytes per job | reported |\n", float64(db)/(1<<30), thousands(int(db)/n))
	}
	if kv, ok := res.DBBytes["kv"]; ok && n > 0 {
		fmt.Fprintf(&b, "| of which the current state (`sluice.kv`, TOAST and indexes) | %.2f GiB, %s bytes per job | |\n", float64(kv)/(1<<30), thousands(int(kv)/n))
	}
	if d, ok := res.DBBytes["stackDir"]; ok && n > 0 {
		fmt.Fprintf(&b, "| the stack's directory on disk (PostgreSQL's data directory with its WAL) | %.2f GiB | |\n", float64(d)/(1<<30))
	}
	if len(res.ObjectBytes) > 0 {
		fmt.Fprintf(&b, "| a job's stored value, pending / succeeded / failed | %s / %s / %s bytes | |\n",
			thousands(res.ObjectBytes[hugePending]), thousands(res.ObjectBytes[hugeSucceeded]), thousands(res.ObjectBytes[hugeFailed]))
	}
	return b.String()
}
