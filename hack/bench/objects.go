package main

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Labels of the benchmark's jobs.
const (
	// labelCohort splits the jobs into cohorts of 0.1% each, for the
	// selective label list.
	labelCohort = "bench.sluice.dev/cohort"
	cohorts     = 1000
	// annotationSent carries the time a watched object was sent, in Unix
	// nanoseconds, for the watch delivery latency.
	annotationSent = "bench.sluice.dev/sent"
)

// jobName is the name of the i-th job of a run.
func jobName(i int) string { return fmt.Sprintf("job-%07d", i) }

// newJob is a realistic PipelineJob of the given group: labels as a CI
// system sets them, params, a trigger and who started it. size "5KiB"
// carries a long commit message and more params, as a release job does;
// otherwise it encodes to about 1 KiB.
func newJob(gvr schema.GroupVersionResource, i int, size string) *unstructured.Unstructured {
	pipeline := fmt.Sprintf("service-%03d-release", i%100)
	params := []any{
		map[string]any{"name": "repo", "value": fmt.Sprintf("https://git.example.com/platform/service-%03d.git", i%100)},
		map[string]any{"name": "revision", "value": fmt.Sprintf("%040x", uint64(i)*2654435761)},
		map[string]any{"name": "image", "value": fmt.Sprintf("registry.example.com/platform/service-%03d", i%100)},
		map[string]any{"name": "environment", "value": []string{"dev", "staging", "production"}[i%3]},
	}
	detail := fmt.Sprintf("push to refs/heads/main by user-%04d", i%5000)
	annotations := map[string]any{
		"ci.example.com/pull-request": fmt.Sprintf("https://git.example.com/platform/service-%03d/pull/%d", i%100, i),
	}
	if size == "5KiB" {
		for k := range 8 {
			params = append(params, map[string]any{"name": fmt.Sprintf("flag_%d", k), "value": strings.Repeat(fmt.Sprintf("--feature-%d=enabled ", k), 12)})
		}
		detail += ": " + strings.Repeat("Canary analysis before promotion. ", 25)
		annotations["ci.example.com/commit-message"] = strings.Repeat("Refactor the release process so that canary analysis runs before promotion. ", 13)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.GroupVersion().String(),
		"kind":       "PipelineJob",
		"metadata": map[string]any{
			"name": jobName(i),
			"labels": map[string]any{
				"sluice.dev/pipeline":            pipeline,
				"app.kubernetes.io/name":         fmt.Sprintf("service-%03d", i%100),
				"app.kubernetes.io/part-of":      "platform",
				"team.example.com/owner":         fmt.Sprintf("team-%02d", i%20),
				labelCohort:                      fmt.Sprintf("c%04d", i%cohorts),
				"sluice.dev/controller-instance": "none", // no controller runs during the benchmark
			},
			"annotations": annotations,
		},
		"spec": map[string]any{
			"pipelineRef": map[string]any{"name": pipeline},
			"params":      params,
			"trigger":     map[string]any{"type": "Webhook", "detail": detail},
			// Sluice replaces this with the authenticated user; the CRD
			// stores what is sent. Either way it is stored.
			"startedBy": map[string]any{"username": "system:serviceaccount:ci:webhook-relay", "groups": []any{"system:serviceaccounts", "system:serviceaccounts:ci"}},
		},
	}}
}

// finishedStatus is the status a controller writes when a job ends: three
// steps of two actions with their times.
func finishedStatus(pipeline string, failed bool, now time.Time) map[string]any {
	ts := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339) }
	phase, condStatus, reason, msg := "Succeeded", "True", "Succeeded", "all 3 steps succeeded"
	if failed {
		phase, condStatus, reason, msg = "Failed", "False", "StepFailed", `step "build" failed: action "image" exited with code 1`
	}
	step := func(name string, i int, phase string, exit int64) map[string]any {
		return map[string]any{
			"name": name, "phase": phase, "podName": fmt.Sprintf("%s-%s-1", pipeline, name), "attempts": int64(1),
			"startTime": ts(time.Duration(i) * time.Minute), "completionTime": ts(time.Duration(i+1) * time.Minute),
			"actions": []any{
				map[string]any{"name": "clone", "exitCode": int64(0), "reason": "Completed", "startTime": ts(time.Duration(i) * time.Minute), "completionTime": ts(time.Duration(i)*time.Minute + 5*time.Second)},
				map[string]any{"name": "run", "exitCode": exit, "reason": map[bool]string{true: "Completed", false: "Error"}[exit == 0], "startTime": ts(time.Duration(i)*time.Minute + 5*time.Second), "completionTime": ts(time.Duration(i+1) * time.Minute)},
			},
		}
	}
	last := step("deploy", 2, "Succeeded", 0)
	build := step("build", 1, "Succeeded", 0)
	if failed {
		build = step("build", 1, "Failed", 1)
		last = map[string]any{"name": "deploy", "phase": "Skipped"}
	}
	return map[string]any{
		"phase":              phase,
		"observedGeneration": int64(1),
		"startTime":          ts(0),
		"completionTime":     ts(3 * time.Minute),
		"message":            msg,
		"conditions": []any{map[string]any{
			"type": "Succeeded", "status": condStatus, "reason": reason, "message": msg,
			"lastTransitionTime": ts(3 * time.Minute), "observedGeneration": int64(1),
		}},
		"steps": []any{step("test", 0, "Succeeded", 0), build, last},
	}
}
