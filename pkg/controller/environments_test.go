package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// deploy runs job j of a one-step pipeline to success, and returns it.
func deploy(h *harness, j *v1alpha1.PipelineJob) *v1alpha1.PipelineJob {
	h.t.Helper()
	h.createJob(j)
	h.sync(j.Name)
	h.clock.Step(time.Minute)
	h.finishPod(j.Name+"-deploy-1", 0)
	done := h.sync(j.Name)
	require.Equal(h.t, v1alpha1.JobSucceeded, done.Status.Phase)
	return done
}

func version(v string) v1alpha1.Param { return v1alpha1.Param{Name: "version", Value: v} }

// release is the Release the controller records for a job that succeeded.
func release(j *v1alpha1.PipelineJob) *v1alpha1.Release {
	return &v1alpha1.Release{Job: j.Name, Params: j.Spec.Params, CompletionTime: j.Status.CompletionTime,
		StartedBy: j.Spec.StartedBy.Username, Trigger: j.Spec.Trigger.Type}
}

// TestEnvironments: a job of a pipeline that succeeds in an environment
// becomes the pipeline's current release there, and the release it
// replaces the previous one. Jobs that fail, or have no environment,
// change nothing, and neither does seeing a release again.
func TestEnvironments(t *testing.T) {
	h := newHarness(t)
	p := testutil.Pipeline("release", steps("deploy")...)
	p.Spec.Params = []v1alpha1.ParamSpec{{Name: "version"}}
	h.createPipeline(p)

	v1 := deploy(h, h.inEnv("v1", "release", "production", 0, version("1")))
	require.Equal(t, []v1alpha1.EnvironmentStatus{{Name: "production", Current: release(v1)}}, h.pipeline("release").Status.Environments)
	require.Equal(t, &v1alpha1.Release{Job: "v1", Params: []v1alpha1.Param{version("1")}, CompletionTime: v1.Status.CompletionTime,
		StartedBy: "alice", Trigger: v1alpha1.TriggerManual}, release(v1))

	v2 := deploy(h, h.inEnv("v2", "release", "production", time.Second, version("2")))
	require.Equal(t, []v1alpha1.EnvironmentStatus{{Name: "production", Current: release(v2), Previous: release(v1)}},
		h.pipeline("release").Status.Environments)

	writes := h.pipelineStatusWrites()
	h.sync("v2")
	h.sync("v1")
	require.Equal(t, writes, h.pipelineStatusWrites(), "a release seen again changes nothing")

	s1 := deploy(h, h.inEnv("s1", "release", "staging", 2*time.Second, version("3")))
	deploy(h, jobOf("none", "release", version("3")))
	h.createJob(h.inEnv("broken", "release", "production", 3*time.Second, version("4")))
	h.sync("broken")
	h.finishPod("broken-deploy-1", 1)
	require.Equal(t, v1alpha1.JobFailed, h.sync("broken").Status.Phase)
	require.Equal(t, []v1alpha1.EnvironmentStatus{
		{Name: "production", Current: release(v2), Previous: release(v1)},
		{Name: "staging", Current: release(s1)},
	}, h.pipeline("release").Status.Environments)

	// A rollback runs a snapshot, and is a release of its pipeline too.
	rollback := h.inEnv("rollback", "release", "production", 4*time.Second, version("1"))
	rollback.Spec.PipelineSpec = v1.Status.PipelineSpec
	rollback.Spec.Trigger = v1alpha1.JobTrigger{Type: v1alpha1.TriggerRollback, Detail: "rollback of production from v2 to v1"}
	rollback.Labels = map[string]string{v1alpha1.LabelRerunOf: "v1"}
	rb := deploy(h, rollback)
	require.Equal(t, v1alpha1.TriggerRollback, release(rb).Trigger)
	require.Equal(t, []v1alpha1.EnvironmentStatus{
		{Name: "production", Current: release(rb), Previous: release(v2)},
		{Name: "staging", Current: release(s1)},
	}, h.pipeline("release").Status.Environments)
}

// TestEnvironmentsSeenLate: a job that succeeded but was not recorded (its
// controller stopped right after writing the job) is recorded when the job
// is next synced, as a restarted controller syncs every job. A completion
// older than the current release never replaces it: it becomes the
// previous release if it is newer than that one, and otherwise changes
// nothing.
func TestEnvironmentsSeenLate(t *testing.T) {
	h := newHarness(t)
	h.createPipeline(testutil.Pipeline("release", steps("deploy")...))
	v1 := deploy(h, h.inEnv("v1", "release", "production", 0))
	h.clock.Step(time.Hour)
	v3 := deploy(h, h.inEnv("v3", "release", "production", time.Second))

	succeeded := func(name string, completed time.Time) *v1alpha1.PipelineJob {
		j := h.inEnv(name, "release", "production", 0)
		j.Status.Phase = v1alpha1.JobSucceeded
		at := metav1.NewTime(completed)
		j.Status.StartTime, j.Status.CompletionTime = &at, &at
		return j
	}
	h.createJob(succeeded("v2", v1.Status.CompletionTime.Add(time.Minute)))
	restarted := newHarnessWith(t, h.kube, h.sluice)
	restarted.sync("v2")
	v2 := restarted.job("v2")
	require.Equal(t, []v1alpha1.EnvironmentStatus{{Name: "production", Current: release(v3), Previous: release(v2)}},
		h.pipeline("release").Status.Environments, "older than the current release: the previous one")

	writes := h.pipelineStatusWrites()
	restarted.createJob(succeeded("v0", v1.Status.CompletionTime.Add(-time.Minute)))
	restarted.sync("v0")
	require.Equal(t, []v1alpha1.EnvironmentStatus{{Name: "production", Current: release(v3), Previous: release(v2)}},
		h.pipeline("release").Status.Environments, "older than both: nothing")
	require.Equal(t, writes, h.pipelineStatusWrites())

	restarted.createJob(succeeded("v4", v3.Status.CompletionTime.Add(time.Minute)))
	v4 := restarted.sync("v4")
	require.Equal(t, []v1alpha1.EnvironmentStatus{{Name: "production", Current: release(v4), Previous: release(v3)}},
		h.pipeline("release").Status.Environments, "newer than the current release")
}
