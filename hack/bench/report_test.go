package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestSummariseQuantiles(t *testing.T) {
	ds := make([]time.Duration, 0, 100)
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := summarise(ds)
	assert.Equal(t, Latency{Count: 100, P50: 51, P99: 100, Max: 100}, got)
	assert.Equal(t, time.Duration(100)*time.Millisecond, ds[0], "summarise must not reorder its input")
	assert.Equal(t, Latency{}, summarise(nil))
}

func TestParallelRunsEveryIndexOnce(t *testing.T) {
	seen := make([]int, 1000)
	tp, err := parallel(context.Background(), 8, 0, len(seen), func(_ context.Context, i int) error {
		seen[i]++ // each index is handed to exactly one goroutine
		return nil
	})
	require.NoError(t, err)
	for i, n := range seen {
		require.Equalf(t, 1, n, "index %d", i)
	}
	assert.Equal(t, 1000, tp.Requests)
	assert.Equal(t, 0, tp.Errors)
	assert.Equal(t, 8, tp.Clients)
	assert.Positive(t, tp.PerSec)
}

func TestParallelStopsASystemThatKeepsFailing(t *testing.T) {
	boom := errors.New("etcdserver: mvcc: database space exceeded")
	tp, err := parallel(context.Background(), 4, 0, 100_000, func(_ context.Context, i int) error {
		if i >= 500 {
			return boom
		}
		return nil
	})
	require.ErrorIs(t, err, errTooManyFailures)
	assert.Less(t, tp.Requests, 100_000, "the batch must stop early, not run every request against a failed system")
	assert.Equal(t, boom.Error(), tp.FirstError)
}

func TestParallelToleratesRareFailures(t *testing.T) {
	tp, err := parallel(context.Background(), 4, 0, 10_000, func(_ context.Context, i int) error {
		if i%1000 == 0 { // 0.1%
			return errors.New("transient")
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 10, tp.Errors)
	assert.Equal(t, "transient", tp.FirstError)
}

func TestReplaceGenerated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	require.NoError(t, os.WriteFile(path, []byte("# B\n\n<!-- BEGIN bench:large -->\nNot run yet.\n<!-- END bench:large -->\n\n## After\n"), 0o644))

	require.NoError(t, replaceGenerated(path, "bench:large", "table 1\n"))
	require.NoError(t, replaceGenerated(path, "bench:large", "table 2\n"))
	require.NoError(t, replaceGenerated(path, "bench:small", "small\n"))

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "# B\n\n<!-- BEGIN bench:large -->\ntable 2\n<!-- END bench:large -->\n\n## After\n"+
		"\n<!-- BEGIN bench:small -->\nsmall\n<!-- END bench:small -->\n", string(b))
}

// A baseline that hits its ceiling is reported as such: its numbers say
// "failed", the reason is printed, and larger counts say they were not
// attempted.
func TestMarkdownRecordsACeiling(t *testing.T) {
	full := func(system string, n int, perSec float64) *Run {
		return &Run{
			System: system, Objects: n, Stored: n,
			ObjectBytes: map[string]int{"1KiB": 961, "5KiB": 4988, "1KiB+status": 2226},
			Creates:     []Create{{Size: "1KiB", Throughput: Throughput{Clients: 16, PerSec: perSec}}},
			LabelList:   &Throughput{Requests: 20, Latency: Latency{P50: 10}},
			Memory:      map[string]Memory{"sluice-apiserver": {RSS: 100 << 20}, "kube-apiserver": {RSS: 300 << 20}},
		}
	}
	crdAtLimit := &Run{System: "crd", Objects: 1000, Stored: 477, Ceiling: true,
		Failure: "creates: the crd server's RSS reached 18.1 GiB, over the limit of 18.0 GiB (3/4 of the machine)"}
	res := &Results{
		Date: "2026-11-22T00:00:00Z", Command: "make bench BENCH_SCALE=large", Scale: "large",
		Machine: Machine{Cores: 2, MemoryBytes: 24 << 30, CPU: "test"},
		Objects: []int{100, 1000, 10_000},
		Runs: []*Run{
			full("sluice", 100, 900), full("crd", 100, 600),
			full("sluice", 1000, 880), crdAtLimit,
			full("sluice", 10_000, 870), {System: "crd", Objects: 10_000, Failure: "not attempted: failed at 1000 objects"},
		},
		PGBench: []*PGBench{{Objects: 100, Insert: PGBenchResult{TPS: 9000}, Select: PGBenchResult{LatencyMs: 1.5}}},
	}
	md := markdown(res)

	assert.Contains(t, md, "| creates/s, 16 clients | 900/s | 600/s | 1.50 | higher |")
	assert.Contains(t, md, "| creates/s, 16 clients | 880/s | failed | – | higher |")
	assert.Contains(t, md, "**CRD (full schema) failed** with 477 of 1,000 jobs stored: creates: the crd server's RSS reached 18.1 GiB")
	assert.Contains(t, md, "**CRD (full schema) failed**: not attempted: failed at 1000 objects")
	assert.Contains(t, md, "of which Sluice's creates reach 10%; the label-selected list in 1.50 ms (10.0 ms through")
	for _, heading := range []string{"#### 100 objects", "#### 1k objects", "#### 10k objects"} {
		assert.Contains(t, md, heading)
	}
	assert.Equal(t, 3, strings.Count(md, "| metric | Sluice | CRD (full schema) | Sluice ÷ CRD (full schema) | better |"))

	png, err := chartPNG(res)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(png), "\x89PNG"), "chart is a PNG")
}

// Both baselines on both stacks: a column per CRD, a ratio against each,
// the CPU rows per 1,000 creates and per listed item, and "–" (not
// "failed") where a row does not apply.
func TestMarkdownComparesEveryBaselineOnEveryStack(t *testing.T) {
	run := func(system, stack string, perSec float64, cpu map[string]float64) *Run {
		return &Run{
			System: system, Stack: stack, Objects: 1000, Stored: 1000,
			ObjectBytes: map[string]int{"1KiB": 961},
			Creates: []Create{{Size: "1KiB", Throughput: Throughput{Clients: 16, Requests: 500, PerSec: perSec},
				CPUSeconds: cpu}},
			PaginatedList: &PaginatedList{Items: 1000, CPUSeconds: cpu},
			Watch:         &WatchResult{Watchers: 100, Delivered: 1000, CPUSeconds: cpu},
		}
	}
	res := &Results{
		Date: "2026-12-03T00:00:00Z", Command: "make bench", Scale: "small", Stacks: []string{stackAPI, stackFull},
		Machine: Machine{Cores: 2, MemoryBytes: 24 << 30, CPU: "test"},
		Objects: []int{1000},
		Runs: []*Run{
			run("sluice", stackAPI, 800, map[string]float64{"kube-apiserver": 0.5, "sluice-apiserver": 0.25, "postgres": 0.25}),
			run("crd", stackAPI, 400, map[string]float64{"kube-apiserver": 1, "etcd": 0.5}),
			run("crd-minimal", stackAPI, 500, map[string]float64{"kube-apiserver": 0.75, "etcd": 0.5}),
			// Every stack runs every process: the ones a system's requests
			// do not go through use a little CPU meanwhile.
			run("sluice", stackFull, 600, map[string]float64{"kube-apiserver": 0.5, "kube-controller-manager": 0.5, "sluice-apiserver": 0.25, "etcd": 0.005}),
			run("crd", stackFull, 300, map[string]float64{"kube-apiserver": 1, "kube-controller-manager": 0.25, "etcd": 0.25, "sluice-apiserver": 0.005, "postgres": 0.0025}),
			run("crd-minimal", stackFull, 400, map[string]float64{"kube-apiserver": 1, "kube-controller-manager": 0.25, "etcd": 0.25, "sluice-apiserver": 0.005}),
		},
	}
	md := markdown(res)
	assert.Contains(t, md, "#### 1k objects, API-only stack")
	assert.Contains(t, md, "#### 1k objects, full stack")
	assert.Contains(t, md, "| metric | Sluice | CRD (full schema) | CRD (minimal schema) | Sluice ÷ CRD (full schema) | Sluice ÷ CRD (minimal schema) | better |")
	assert.Contains(t, md, "| creates/s, 16 clients | 800/s | 400/s | 500/s | 2.00 | 1.60 | higher |")
	assert.Contains(t, md, "| creates/s, 16 clients | 600/s | 300/s | 400/s | 2.00 | 1.50 | higher |")
	// 1 s of CPU for 500 creates is 2 s per 1,000.
	assert.Contains(t, md, "| CPU per 1k creates (16 clients), all processes³ | 2.00 s | 3.00 s | 2.50 s | 0.67 | 0.80 | lower |")
	// A process only one system's requests go through has no ratio: not
	// sluice-apiserver's idle CPU in the CRDs' stacks, nor etcd's in Sluice's.
	assert.Equal(t, 2, strings.Count(md, "| … sluice-apiserver | 0.50 s | – | – | – | – | lower |"), md)
	assert.Contains(t, md, "| … etcd | – | 1.00 s | 1.00 s | – | – | lower |")
	assert.Contains(t, md, "| … etcd | – | 0.50 s | 0.50 s | – | – | lower |")
	assert.Contains(t, md, "| … kube-controller-manager | 1.00 s | 0.50 s | 0.50 s | 2.00 | 2.00 | lower |")
	// sluice-apiserver's 0.25 s against kube-apiserver's 1 s and 0.75 s, for 1,000 items.
	assert.Contains(t, md, "| paginated list, CPU per item, the server holding the objects¹ | 0.25 ms | 1.00 ms | 0.75 ms | 0.25 | 0.33 | lower |")
	// 1 s of CPU while 1,000 events reached the watchers: 1 ms each.
	assert.Contains(t, md, "| watch, CPU per delivered event, all processes³ | 1000 µs | 1500 µs | 1250 µs | 0.67 | 0.80 | lower |")
	assert.Contains(t, md, "| … sluice-apiserver | 250 µs | – | – | – | – | lower |")
	assert.NotContains(t, md, "failed")
	png, err := chartPNG(res)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(png), "\x89PNG"), "chart is a PNG")
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 477098: "477,098", 1000000: "1,000,000"} {
		assert.Equal(t, want, thousands(n))
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{2000: "2k", 100_000: "100k", 1_000_000: "1M", 1500: "1500", 2_500_000: "2500k"} {
		assert.Equal(t, want, count(n), "count(%d)", n)
	}
}

func TestLongRunningWatches(t *testing.T) {
	metrics := `# HELP apiserver_longrunning_requests [STABLE] Gauge of all active long-running apiserver requests
apiserver_longrunning_requests{component="apiserver",group="sluice.dev",resource="pipelinejobs",scope="cluster",subresource="",verb="WATCH",version="v1alpha1"} 2
apiserver_longrunning_requests{component="apiserver",group="sluice.dev",resource="pipelinejobs",scope="namespace",subresource="",verb="WATCH",version="v1alpha1"} 1
apiserver_longrunning_requests{component="apiserver",group="sluice.dev",resource="pipelinejobs",scope="namespace",subresource="log",verb="CONNECT",version="v1alpha1"} 4
apiserver_longrunning_requests{component="apiserver",group="sluice.dev",resource="pipelines",scope="cluster",subresource="",verb="WATCH",version="v1alpha1"} 2
apiserver_longrunning_requests{component="apiserver",group="crd.sluice.dev",resource="pipelinejobs",scope="cluster",subresource="",verb="WATCH",version="v1alpha1"} 5
`
	m, err := parseMetrics(strings.NewReader(metrics))
	require.NoError(t, err)
	assert.Equal(t, 3, longRunningWatches(m, schema.GroupVersionResource{Group: "sluice.dev", Version: "v1alpha1", Resource: "pipelinejobs"}))
	assert.Equal(t, 5, longRunningWatches(m, schema.GroupVersionResource{Group: "crd.sluice.dev", Version: "v1alpha1", Resource: "pipelinejobs"}))
	assert.Equal(t, 0, longRunningWatches(m, schema.GroupVersionResource{Group: "crdmin.sluice.dev", Version: "v1alpha1", Resource: "pipelinejobs"}))
}
