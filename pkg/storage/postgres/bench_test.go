package postgres

// Storage benchmarks, side by side with the upstream etcd3 store on the real
// etcd from bin/. Each benchmark runs once per store, as a sub-benchmark
// named store=postgres or store=etcd3, so that one `go test -bench` run
// compares them:
//
//	go test ./pkg/storage/postgres -run '^$' -bench . -count 6 | tee new.txt
//	benchstat -col /store new.txt
//
// PostgreSQL runs durable (fsync and synchronous commit on) for benchmarks,
// as in production; etcd runs with its defaults. hack/bench-storage.sh runs
// everything and writes docs/benchmarks.md's storage section.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/kubernetes"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	examplev1 "k8s.io/apiserver/pkg/apis/example/v1"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/etcd3"
	storagetesting "k8s.io/apiserver/pkg/storage/testing"
	identitytransformer "k8s.io/apiserver/pkg/storage/value/encrypt/identity"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/sluice-dev/sluice/pkg/testing/controlplane"
	pgtest "github.com/sluice-dev/sluice/pkg/testing/postgres"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

var (
	benchObjects = flag.Int("bench-objects", 100000, "objects stored for the list benchmarks")
	benchScale   = flag.String("bench-upstream-scale", "small", "dataset of the upstream list benchmark: small (30k pods) or large (the upstream 150k)")
)

// benchServer is one durable PostgreSQL server shared by the benchmarks of
// a run; each benchmark gets its own database on it.
var benchServer struct {
	once   sync.Once
	server *pgtest.Server
	err    error
}

func benchDatabase(b *testing.B) string {
	benchServer.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		benchServer.server, benchServer.err = pgtest.Start(ctx, pgtest.Options{Durable: true, Settings: map[string]string{
			"shared_buffers": "512MB", "max_wal_size": "4GB", "checkpoint_timeout": "15min",
		}})
	})
	if benchServer.err != nil {
		b.Fatal(benchServer.err)
	}
	name := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	must(b, pgExec(benchServer.server.DSN("postgres"), "CREATE DATABASE "+name))
	return benchServer.server.DSN(name)
}

func pgExec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// stopBenchServer is called by TestMain once everything has run.
func stopBenchServer() {
	if benchServer.server != nil {
		_ = benchServer.server.Remove()
	}
}

func must(b *testing.B, err error) {
	if err != nil {
		b.Helper()
		b.Fatal(err)
	}
}

// benchStores are the two stores a benchmark compares.
var benchStores = []string{"postgres", "etcd3"}

// newBenchStore returns a fresh, empty store of example Pods of the given kind.
func newBenchStore(b *testing.B, kind string) storage.Interface {
	klog.SetLogger(logr.Discard())
	codec := codecs.LegacyCodec(examplev1.SchemeGroupVersion)
	switch kind {
	case "postgres":
		backend, err := New(context.Background(), Options{DatabaseURL: benchDatabase(b), Migrate: true, MaxConns: 40})
		must(b, err)
		b.Cleanup(backend.Close)
		s, err := backend.NewStore(StoreConfig{
			Codec: codec, NewFunc: func() runtime.Object { return &example.Pod{} }, NewListFunc: func() runtime.Object { return &example.PodList{} },
			ResourcePrefix: "/pods/", GroupResource: schema.GroupResource{Resource: "pods"},
			AttrFunc: podAttrs, IndexedFields: []string{"spec.nodeName", "metadata.namespace"},
		})
		must(b, err)
		return s
	default:
		client := startBenchEtcd(b)
		versioner := storage.APIObjectVersioner{}
		compactor := etcd3.NewCompactor(client.Client, 0, clock.RealClock{}, nil)
		b.Cleanup(compactor.Stop)
		s, err := etcd3.New(client, compactor, codec, func() runtime.Object { return &example.Pod{} }, func() runtime.Object { return &example.PodList{} },
			"", "/pods/", schema.GroupResource{Resource: "pods"}, identitytransformer.NewEncryptCheckTransformer(), etcd3.NewDefaultLeaseManagerConfig(),
			etcd3.NewDefaultDecoder(codec, versioner), versioner)
		must(b, err)
		return s
	}
}

// startBenchEtcd starts a fresh etcd from bin/ for one benchmark, so that
// its revisions start at 1 as the upstream benchmarks assume.
func startBenchEtcd(b *testing.B) *kubernetes.Client {
	bin, err := controlplane.Binary("etcd")
	must(b, err)
	dir := b.TempDir()
	client, peer := freeURL(b), freeURL(b)
	p, err := controlplane.StartProcess(dir, "etcd", bin, []string{
		"--data-dir=" + filepath.Join(dir, "data"), "--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer, "--initial-cluster=default=" + peer,
		"--quota-backend-bytes=8589934592", "--log-level=warn",
	})
	must(b, err)
	b.Cleanup(func() { _ = p.Stop(10 * time.Second) })
	// A quiet client: its warnings would land in the benchmark output.
	c, err := kubernetes.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	must(b, err)
	b.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must(b, p.WaitFor(ctx, "etcd", func(ctx context.Context) error {
		_, err := c.Client.Get(ctx, "health")
		return err
	}))
	return c
}

func freeURL(b *testing.B) string {
	port, err := testutil.FreePort()
	must(b, err)
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// jobLikePod is about 1 KiB encoded, like a PipelineJob with labels and status.
func jobLikePod(ns, name string, i int) *example.Pod {
	return &example.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			"sluice.dev/pipeline": fmt.Sprintf("pipeline-%d", i%1000), "team": fmt.Sprintf("team-%d", i%20),
		}, Annotations: map[string]string{"sluice.dev/trigger": strings.Repeat("x", 600)}},
		Spec:   example.PodSpec{NodeName: fmt.Sprintf("node-%d", i%100), ServiceAccountName: "ci-runner"},
		Status: example.PodStatus{Phase: "Succeeded", Message: "step 3/3 deploy: completed"},
	}
}

// load creates n objects with 16 concurrent writers.
func load(b *testing.B, s storage.Interface, n int) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				name := fmt.Sprintf("job-%07d", i)
				if err := s.Create(ctx, "/pods/ns/"+name, jobLikePod("ns", name, i), &example.Pod{}, 0); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkCreate: concurrent creates of 1 KiB objects.
func BenchmarkCreate(b *testing.B) {
	for _, kind := range benchStores {
		b.Run("store="+kind, func(b *testing.B) {
			s := newBenchStore(b, kind)
			var n atomic.Int64
			b.SetParallelism(8) // 16 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(n.Add(1))
					name := fmt.Sprintf("job-%d", i)
					if err := s.Create(context.Background(), "/pods/ns/"+name, jobLikePod("ns", name, i), &example.Pod{}, 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
		})
	}
}

// BenchmarkGet: concurrent gets of random existing objects.
func BenchmarkGet(b *testing.B) {
	for _, kind := range benchStores {
		b.Run("store="+kind, func(b *testing.B) {
			s := newBenchStore(b, kind)
			load(b, s, 1000)
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := fmt.Sprintf("/pods/ns/job-%07d", n.Add(7919)%1000)
					if err := s.Get(context.Background(), key, storage.GetOptions{}, &example.Pod{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGuaranteedUpdate: concurrent status updates of distinct objects.
func BenchmarkGuaranteedUpdate(b *testing.B) {
	for _, kind := range benchStores {
		b.Run("store="+kind, func(b *testing.B) {
			s := newBenchStore(b, kind)
			load(b, s, 1000)
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					key := fmt.Sprintf("/pods/ns/job-%07d", i%1000)
					err := s.GuaranteedUpdate(context.Background(), key, &example.Pod{}, false, nil, storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
						p := obj.(*example.Pod)
						p.Status.Message = "update " + strconv.FormatInt(i, 10)
						return p, nil
					}), nil)
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

// BenchmarkListLabelSelector: a list whose label selector matches 0.1% of
// -bench-objects objects (100 of 100k).
func BenchmarkListLabelSelector(b *testing.B) {
	for _, kind := range benchStores {
		b.Run(fmt.Sprintf("store=%s/objects=%d", kind, *benchObjects), func(b *testing.B) {
			s := newBenchStore(b, kind)
			load(b, s, *benchObjects)
			want := *benchObjects / 1000
			pred := storage.SelectionPredicate{Label: labels.SelectorFromSet(labels.Set{"sluice.dev/pipeline": "pipeline-7"}), Field: fields.Everything(), GetAttrs: podAttrs}
			b.ResetTimer()
			for range b.N {
				list := &example.PodList{}
				if err := s.GetList(context.Background(), "/pods/", storage.ListOptions{Recursive: true, Predicate: pred}, list); err != nil {
					b.Fatal(err)
				}
				if len(list.Items) != want {
					b.Fatalf("got %d items, want %d", len(list.Items), want)
				}
			}
		})
	}
}

// BenchmarkWatchFanOut: each op is one write delivered to 100 watchers; it
// ends when the last watcher has the event.
func BenchmarkWatchFanOut(b *testing.B) {
	const watchers = 100
	for _, kind := range benchStores {
		b.Run("store="+kind, func(b *testing.B) {
			s := newBenchStore(b, kind)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan struct{}, watchers*16)
			for range watchers {
				w, err := s.Watch(ctx, "/pods/", storage.ListOptions{ResourceVersion: "1", Recursive: true, Predicate: storage.Everything})
				must(b, err)
				go func() {
					for ev := range w.ResultChan() {
						if ev.Type == watch.Added {
							got <- struct{}{}
						}
					}
				}()
			}
			b.ResetTimer()
			for i := range b.N {
				name := fmt.Sprintf("job-%d", i)
				must(b, s.Create(ctx, "/pods/ns/"+name, jobLikePod("ns", name, i), &example.Pod{}, 0))
				for range watchers {
					<-got
				}
			}
		})
	}
}

// The upstream benchmarks of k8s.io/apiserver/pkg/storage/testing, on both stores.

func BenchmarkUpstreamStoreListCreate(b *testing.B) {
	for _, kind := range benchStores {
		for _, match := range []metav1.ResourceVersionMatch{metav1.ResourceVersionMatchNotOlderThan, metav1.ResourceVersionMatchExact} {
			b.Run(fmt.Sprintf("store=%s/RV=%s", kind, match), func(b *testing.B) {
				storagetesting.RunBenchmarkStoreListCreate(context.Background(), b, newBenchStore(b, kind), match)
			})
		}
	}
}

func BenchmarkUpstreamStoreList(b *testing.B) {
	dims := struct{ namespaces, podsPerNamespace, nodes int }{50, 600, 1000}
	if *benchScale == "large" {
		dims = struct{ namespaces, podsPerNamespace, nodes int }{50, 3000, 5000}
	}
	data := storagetesting.PrepareBenchchmarkData(dims.namespaces, dims.podsPerNamespace, dims.nodes)
	for _, kind := range benchStores {
		b.Run(fmt.Sprintf("store=%s/Pods=%d", kind, len(data.Pods)), func(b *testing.B) {
			s := newBenchStore(b, kind)
			// Sequential creates, so that revisions are 2..N+1 as the
			// benchmark's resourceVersion arithmetic assumes.
			for _, pod := range data.Pods {
				must(b, s.Create(context.Background(), computeKey(pod), pod, &example.Pod{}, 0))
			}
			storagetesting.RunBenchmarkStoreList(context.Background(), b, s, data, false)
		})
	}
}

func BenchmarkUpstreamStoreStats(b *testing.B) {
	data := storagetesting.PrepareBenchchmarkData(50, 600, 1000)
	for _, kind := range benchStores {
		b.Run("store="+kind, func(b *testing.B) {
			s := newBenchStore(b, kind)
			for _, pod := range data.Pods {
				must(b, s.Create(context.Background(), computeKey(pod), pod, &example.Pod{}, 0))
			}
			storagetesting.RunBenchmarkStoreStats(context.Background(), b, s)
		})
	}
}

func computeKey(p *example.Pod) string { return fmt.Sprintf("/pods/%s/%s", p.Namespace, p.Name) }

// BenchmarkPGBenchInsert is the physical limit: pgbench inserting rows of the
// same size and shape as a create (the row in sluice.kv and the one in
// sluice.events, labels in a GIN-indexed jsonb) with 16 clients, on the
// same server, in the same run. One op is one second of pgbench.
func BenchmarkPGBenchInsert(b *testing.B) {
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		bin, ferr := pgtest.FindBinDir()
		must(b, ferr)
		pgbench = filepath.Join(bin, "pgbench")
	}
	dsn := benchDatabase(b)
	backend, err := New(context.Background(), Options{DatabaseURL: dsn, Migrate: true})
	must(b, err)
	backend.Close()
	script := filepath.Join(b.TempDir(), "insert.sql")
	must(b, os.WriteFile(script, []byte(pgbenchInsert), 0o644))
	var total float64
	for range b.N {
		out, err := exec.Command(pgbench, "--no-vacuum", "--client=16", "--jobs=2", "--time=1", "--file="+script, dsn).CombinedOutput()
		if err != nil {
			b.Fatalf("pgbench: %v\n%s", err, out)
		}
		total += parseTPS(b, string(out))
	}
	b.ReportMetric(total/float64(b.N), "inserts/s")
}

// pgbenchInsert does what createSQL does, minus the apiserver: a 1 KiB row
// in kv and in events, with a revision from the sequence.
const pgbenchInsert = `
\set n random(1, 1000000000)
WITH ins AS (
  INSERT INTO sluice.kv (key, rv, create_rv, value, labels)
  SELECT '/pods/ns/pgbench-' || :n || '-' || random(), r, r, decode(repeat('ab', 1024), 'hex'),
         jsonb_build_object('sluice.dev/pipeline', 'pipeline-' || (:n % 1000), 'team', 'team-' || (:n % 20))
  FROM sluice.next_rv() AS r
  RETURNING key, rv, value
)
INSERT INTO sluice.events (rv, key, type, value, create_rv) SELECT rv, key, 1, value, rv FROM ins;
`

func parseTPS(b *testing.B, out string) float64 {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "tps = ") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[2], 64)
			must(b, err)
			return v
		}
	}
	b.Fatalf("no tps in pgbench output:\n%s", out)
	return 0
}
