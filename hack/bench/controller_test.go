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

// TestControllerBenchRuns runs the controller benchmark, shrunk to 20
// jobs, on a real stack, so that it does not rot outside make bench: every
// job succeeds, the controller's requests are counted by verb and
// resource, two Pods per job are created and every process's CPU is read.
// The rates are measured by make bench, never asserted.
func TestControllerBenchRuns(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	dir := testStacks(t, "bench-test-controller")
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	const jobs = 20
	res, err := measureController(ctx, root, dir, out, jobs, nil, false)
	require.NoError(t, err)
	res.Command = "test"
	assert.Equal(t, jobs, res.Succeeded)
	assert.Zero(t, res.Failed)
	assert.Positive(t, res.JobsPerMinute())
	count := func(verb, resource, subresource string) float64 {
		for _, c := range res.Requests {
			if c.Verb == verb && c.Resource == resource && c.Subresource == subresource {
				return c.Count
			}
		}
		return 0
	}
	assert.GreaterOrEqual(t, count("create", "pods", ""), float64(2*jobs), "two Pods per job, at least one create each")
	assert.GreaterOrEqual(t, count("update", "pipelinejobs", "status"), float64(jobs))
	assert.Equal(t, float64(4*jobs), count("create", "pipelinejobs", "log"), "each action's output archived once")
	assert.Equal(t, float64(2*jobs), res.PodsCreated, "kube-apiserver's count")
	requests, writes := res.RequestTotals()
	assert.InDelta(t, res.ClientRequests, requests, 0.5, "client-go counts the same requests")
	assert.Positive(t, writes)
	for _, p := range cpuOrder {
		assert.Positivef(t, res.CPUSeconds[p], "CPU of %s", p)
	}
	assert.Positive(t, res.Memory["sluice-controller"].RSS)

	require.NoError(t, writeControllerResults(res, out, false))
	md, err := os.ReadFile(filepath.Join(out, "controller.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| jobs/min, first create to last finished |")
	assert.Contains(t, string(md), "| create pods |")
	assert.NotContains(t, string(md), "NaN")
}

// TestParseMetrics reads the Prometheus text format as the controller and
// kube-apiserver serve it: labels with escapes, no labels, comments.
func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP x y
# TYPE sluice_controller_api_requests_total counter
sluice_controller_api_requests_total{code="201",group="",resource="pods",subresource="",verb="create"} 12
sluice_controller_api_requests_total{code="409",group="sluice.dev",resource="pipelinejobs",subresource="status",verb="update"} 3
odd{a="x\"y\\z,w}",b="n\nl"} 1.5e+03
plain 7
`))
	require.NoError(t, err)
	assert.Equal(t, 15.0, m.sum("sluice_controller_api_requests_total", nil))
	assert.Equal(t, 3.0, m.sum("sluice_controller_api_requests_total", map[string]string{"verb": "update"}))
	assert.Equal(t, 1500.0, m.sum("odd", map[string]string{"a": `x"y\z,w}`, "b": "n\nl"}))
	assert.Equal(t, 7.0, m.sum("plain", nil))
	before, err := parseMetrics(strings.NewReader(`sluice_controller_api_requests_total{code="201",group="",resource="pods",subresource="",verb="create"} 2
`))
	require.NoError(t, err)
	counts := requestCounts(before, m)
	require.Len(t, counts, 2)
	assert.Equal(t, RequestCount{Verb: "create", Resource: "pods", Count: 10}, counts[0])
	assert.Equal(t, RequestCount{Verb: "update", Group: "sluice.dev", Resource: "pipelinejobs", Subresource: "status", Count: 3, Failed: 3}, counts[1])
}
