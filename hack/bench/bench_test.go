package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testStacks is an empty directory for a test's stacks, removed after it,
// under the checkout rather than t.TempDir(): PostgreSQL runs as the
// postgres user when the tests run as root, and must reach its directory.
func testStacks(t *testing.T, name string) string {
	root, err := repoRoot()
	require.NoError(t, err)
	dir := filepath.Join(root, ".local", name)
	require.NoError(t, os.RemoveAll(dir))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// TestBenchRunsEveryPhaseOnEverySystem runs the whole harness, shrunk to
// 1,000 objects and a few seconds per phase, on real stacks: make bench
// is not part of make test, so without this it would rot unnoticed. It
// checks that every system gets through every phase on the full stack (the
// API-only stack is the same with fewer processes), that pgbench ran, that
// CPU time was read, and that the report and chart are written; the
// numbers themselves are measured by make bench, never asserted.
func TestBenchRunsEveryPhaseOnEverySystem(t *testing.T) {
	stacks := testStacks(t, "bench-test")
	out := t.TempDir()
	cfg := config{
		scale: "test", objects: []int{1000}, systems: allSystems, stackModes: []string{stackFull},
		gets: 100, selectorLists: 3, watchers: 10, watchRate: 50, watchSeconds: 2,
		pgbenchSeconds: 2, memoryLimit: 16 << 30, stackDir: stacks, out: out,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := run(ctx, cfg)
	require.NoError(t, err)

	require.Len(t, res.Runs, len(allSystems))
	for _, r := range res.Runs {
		assert.Equal(t, stackFull, r.Stack)
		assert.Emptyf(t, r.Failure, "%s failed", r.System)
		assert.Equalf(t, 1000, r.Stored, "%s stored", r.System)
		require.NotNilf(t, r.Watch, "%s watch", r.System)
		assert.Equalf(t, r.Watch.Expected, r.Watch.Delivered, "%s: every watcher gets every event", r.System)
		require.NotNilf(t, r.PaginatedList, "%s paginated list", r.System)
		assert.Equalf(t, 1000, r.PaginatedList.Items, "%s paginated list", r.System)
		assert.Containsf(t, r.Memory, "kube-apiserver", "%s memory", r.System)
		cpu, ok := createCPU("")(r)
		assert.Truef(t, ok && cpu > 0, "%s: CPU per 1k creates read", r.System)
		_, ok = createCPU("kube-controller-manager")(r)
		assert.Truef(t, ok, "%s: the full stack's kube-controller-manager is among the processes read", r.System)
		if r.System == "crd-minimal" {
			assert.Nilf(t, r.FieldList, "the minimal CRDs have no selectable fields")
		} else {
			assert.NotNilf(t, r.FieldList, "%s field-selected list", r.System)
		}
	}
	require.Len(t, res.PGBench, 1)
	assert.Positive(t, res.PGBench[0].Insert.TPS)
	assert.Positive(t, res.PGBench[0].Select.TPS)
	plan, err := os.ReadFile(filepath.Join(out, "explain-list-1000.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(plan), "Execution Time")

	require.NoError(t, writeResults(res, out, false))
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "#### 1k objects, full stack")
	assert.Contains(t, string(md), "Sluice ÷ CRD (minimal schema)")
	assert.NotContains(t, string(md), "| failed |")
	for _, f := range []string{"bench-results.json", "chart.png"} {
		info, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err)
		assert.Positive(t, info.Size(), f)
	}
	assert.False(t, strings.Contains(string(md), "NaN"), "no NaN in the report")
}
