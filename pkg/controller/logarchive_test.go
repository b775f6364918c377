package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-base/metrics"
	metricstestutil "k8s.io/component-base/metrics/testutil"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// counter reads a counter metric.
func counter(t *testing.T, m metrics.CounterMetric) float64 {
	t.Helper()
	v, err := metricstestutil.GetCounterMetricValue(m)
	require.NoError(t, err)
	return v
}

// actionLog is the log state of action of step i.
func actionLog(t *testing.T, j *v1alpha1.PipelineJob, i int, action string) *v1alpha1.ActionLog {
	t.Helper()
	for _, a := range j.Status.Steps[i].Actions {
		if a.Name == action {
			return a.Log
		}
	}
	t.Fatalf("step %s has no action %s", j.Status.Steps[i].Name, action)
	return nil
}

// copiesOf is what the copies name, as "pod/action".
func copiesOf(copies []LogCopy) []string {
	var out []string
	for _, c := range copies {
		out = append(out, c.Pod+"/"+c.Action)
	}
	return out
}

// startActions plays the kubelet: the Pod runs, its first action has
// terminated with exit code 0 and its last one runs.
func (h *harness) startActions(name string) {
	h.t.Helper()
	p := h.pod(name)
	now := metav1.NewTime(h.clock.Now())
	p.Status.Phase = corev1.PodRunning
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: p.Spec.InitContainers[0].Name, State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}}}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: p.Spec.Containers[0].Name, State: corev1.ContainerState{
		Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
	h.updatePodStatus(p)
}

// TestStepWaitsForItsLogs: each action's output is copied as its container
// ends, while the Pod still runs; a step whose Pod has ended stays Running,
// with reason WaitingForLogs, until the server has recorded the output of
// every action Archived, and only then does the job move on. The step's
// completion time is still the Pod's end. Each output is copied once.
func TestStepWaitsForItsLogs(t *testing.T) {
	h := newHarness(t)
	h.holdLogs = true
	h.createPipeline(testutil.Pipeline("p", steps("a", "b")...))
	h.createJob(jobOf("j", "p"))
	h.sync("j")

	h.startActions("j-a-1")
	h.sync("j")
	require.Equal(t, 1, h.copyLogs(), "the first action's output, as soon as it ended")
	require.Equal(t, []string{"j-a-1/prepare"}, copiesOf(h.copier.made()))
	j := h.sync("j")
	require.Equal(t, v1alpha1.LogArchived, actionLog(t, j, 0, "prepare").State, "recorded by the server")
	require.Nil(t, actionLog(t, j, 0, "run"), "still running")
	require.Empty(t, j.Status.Steps[0].Reason)

	h.finishPod("j-a-1", 0)
	ended := h.clock.Now()
	h.clock.Step(5 * time.Second)
	j = h.sync("j")
	st := j.Status.Steps[0]
	require.Equal(t, v1alpha1.StepRunning, st.Phase)
	require.Equal(t, ReasonWaitingForLogs, st.Reason)
	require.Equal(t, `pod j-a-1 ended; waiting for the output of action "run" to be archived`, st.Message)
	require.EqualValues(t, 0, *st.Actions[1].ExitCode)
	require.Equal(t, "a=Running b=Pending", testutil.StepPhases(j))
	require.Equal(t, []string{"j-a-1"}, h.podNames(), "the next step waits")
	for range 3 {
		h.sync("j") // a busy controller asks again; nothing is copied twice
	}

	require.Equal(t, 1, h.copyLogs())
	j = h.sync("j")
	st = j.Status.Steps[0]
	require.Equal(t, "a=Succeeded b=Running", testutil.StepPhases(j))
	require.Empty(t, st.Reason)
	require.Empty(t, st.Message)
	require.True(t, st.CompletionTime.Time.Equal(ended), "the Pod's end, not the archive's")
	for _, a := range st.Actions {
		require.Equal(t, v1alpha1.LogArchived, a.Log.State, a.Name)
		require.Positive(t, a.Log.Bytes, a.Name)
	}
	require.Equal(t, []string{"j-a-1/prepare", "j-a-1/run"}, copiesOf(h.copier.made()), "each output once")
	require.Equal(t, LogCopy{Namespace: ns, Job: "j", Step: "a", Attempt: 1, Action: "run", Pod: "j-a-1"}, h.copier.made()[1])

	h.finishPod("j-b-1", 0)
	h.sync("j")
	require.Equal(t, 2, h.copyLogs())
	j = h.sync("j")
	require.Equal(t, v1alpha1.JobSucceeded, j.Status.Phase, "the job finishes once its last step's output is archived")
	require.Empty(t, h.c.copies.state, "nothing kept once archived")
}

// TestLogArchiveFailure: a copy that fails is counted, recorded in an Event
// that carries the error and nothing of the output, and in the action's
// log state through the job's status; the step keeps waiting, and the copy
// is retried with backoff until it succeeds.
func TestLogArchiveFailure(t *testing.T) {
	h := newHarness(t)
	h.holdLogs = true
	p := testutil.Pipeline("p", v1alpha1.Step{Name: "a", Actions: []v1alpha1.Action{{Name: "run", Image: "alpine:3.20"}}})
	h.createPipeline(p)
	h.createJob(jobOf("j", "p"))
	h.sync("j")
	h.finishPod("j-a-1", 0)
	h.sync("j")
	h.events()
	h.flushInformers()

	failures, woken := counter(t, logArchiveFailures), h.queue.added(ns+"/j")
	h.copier.failWith(errors.New(`storing the output in the archive: the server is currently unable to handle the request (post pipelinejobs.sluice.dev j)`))
	require.Equal(t, 1, h.copyLogs())
	require.Equal(t, failures+1, counter(t, logArchiveFailures))
	require.Equal(t, []string{`Warning LogArchiveFailed Step "a", attempt 1: archiving the output of action "run" failed, retrying: ` +
		`storing the output in the archive: the server is currently unable to handle the request (post pipelinejobs.sluice.dev j)`}, h.events())
	require.Equal(t, woken+1, h.queue.added(ns+"/j"), "the job is woken to record the failure")

	j := h.sync("j")
	log := actionLog(t, j, 0, "run")
	require.Equal(t, v1alpha1.LogArchiveFailed, log.State)
	require.Contains(t, log.Message, "the server is currently unable to handle the request")
	require.Equal(t, v1alpha1.StepRunning, j.Status.Steps[0].Phase, "still waiting")
	require.Equal(t, ReasonWaitingForLogs, j.Status.Steps[0].Reason)
	require.Equal(t, 0, h.copyLogs(), "the retry waits for its backoff")

	h.copier.failWith(nil)
	h.clock.Step(copyRetryBase)
	h.eventually("the retry is due", func() bool { return h.c.copies.queue.Len() == 1 })
	require.Equal(t, 1, h.copyLogs())
	j = h.sync("j")
	require.Equal(t, v1alpha1.LogArchived, actionLog(t, j, 0, "run").State, "the server's record replaces the failure")
	require.Equal(t, v1alpha1.JobSucceeded, j.Status.Phase)
	require.Equal(t, failures+1, counter(t, logArchiveFailures))
}

// TestLogLostWhenThePodIsGone: a Pod deleted (by someone else) while its
// step waits for its output leaves the output that was not archived Lost,
// with an Event and a metric, and the attempt settles from its actions'
// exit codes instead of waiting forever, or running again.
func TestLogLostWhenThePodIsGone(t *testing.T) {
	for _, c := range []struct {
		name     string
		exitCode int32
		phases   string
		message  string
	}{
		{"succeeded", 0, "a=Succeeded b=Running", ""},
		{"failed", 3, "a=Failed b=Skipped", `step "a" failed: action "run" exited with code 3`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.holdLogs = true
			h.createPipeline(testutil.Pipeline("p", steps("a", "b")...))
			h.createJob(jobOf("j", "p"))
			h.sync("j")
			h.startActions("j-a-1")
			h.sync("j")
			h.copyLogs() // prepare is archived
			h.finishPod("j-a-1", c.exitCode)
			h.sync("j")
			h.events()
			lost, failures := counter(t, logsLost), counter(t, logArchiveFailures)

			require.NoError(t, h.kube.CoreV1().Pods(ns).Delete(h.ctx, "j-a-1", metav1.DeleteOptions{}))
			h.syncPodCache()
			require.Equal(t, 1, h.copyLogs())
			require.Equal(t, failures, counter(t, logArchiveFailures), "a Pod that is gone is no failure to retry")
			j := h.sync("j")
			require.Equal(t, c.phases, testutil.StepPhases(j))
			require.Equal(t, c.message, j.Status.Message)
			require.Equal(t, v1alpha1.LogArchived, actionLog(t, j, 0, "prepare").State, "archived before the Pod went")
			log := actionLog(t, j, 0, "run")
			require.Equal(t, v1alpha1.LogLost, log.State)
			require.Equal(t, "pod j-a-1 was deleted before the output was archived", log.Message)
			require.Equal(t, lost+1, counter(t, logsLost))
			require.Contains(t, h.events(), `Warning LogLost Step "a", attempt 1: the output of action "run" was lost: pod j-a-1 was deleted before the output was archived`)
			require.True(t, h.podGone("j-a-1"), "the attempt does not run again")
		})
	}
}

// TestStopArchivesBeforeDeleting: cancellation, a step's timeout and the
// job's timeout copy the output of the running Pod's started actions (of
// the one still running, its output so far) before they delete the Pod,
// and only then settle the step and the job.
func TestStopArchivesBeforeDeleting(t *testing.T) {
	for _, c := range []struct {
		name    string
		stop    func(h *harness)
		phase   v1alpha1.JobPhase
		message string
	}{
		{"cancel", func(h *harness) { h.cancel("j", "bob", "wrong version") }, v1alpha1.JobCancelled, "cancelled by bob: wrong version"},
		{"step timeout", func(h *harness) { h.clock.Step(31 * time.Second) }, v1alpha1.JobFailed, `step "a" failed: attempt 1 timed out after 30s`},
		{"job timeout", func(h *harness) { h.clock.Step(61 * time.Second) }, v1alpha1.JobFailed, "the job exceeded its timeout of 1m0s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.holdLogs = true
			p := testutil.Pipeline("p", steps("a", "b")...)
			if c.name == "step timeout" {
				p.Spec.Steps[0].Timeout = &metav1.Duration{Duration: 30 * time.Second}
			} else if c.name == "job timeout" {
				p.Spec.Timeout = &metav1.Duration{Duration: time.Minute}
			}
			h.createPipeline(p)
			h.createJob(jobOf("j", "p"))
			h.sync("j")
			h.startActions("j-a-1")

			c.stop(h)
			j := h.sync("j")
			st := j.Status.Steps[0]
			require.False(t, h.podGone("j-a-1"), "not before its output is copied")
			require.Equal(t, v1alpha1.JobRunning, j.Status.Phase)
			require.Equal(t, v1alpha1.StepRunning, st.Phase)
			require.Equal(t, ReasonWaitingForLogs, st.Reason)
			require.Contains(t, st.Message, `waiting for the output of actions "prepare", "run" to be archived before pod j-a-1 is deleted`)

			require.Equal(t, 2, h.copyLogs())
			j = h.sync("j")
			require.True(t, h.podGone("j-a-1"))
			require.Equal(t, []string{"copy j-a-1/prepare", "copy j-a-1/run", "delete j-a-1"}, h.timeline.get(), "copy, then delete")
			require.Equal(t, c.phase, j.Status.Phase)
			require.Equal(t, c.message, j.Status.Message)
			require.Equal(t, v1alpha1.StepSkipped, j.Status.Steps[1].Phase)
			require.Equal(t, v1alpha1.LogArchived, actionLog(t, j, 0, "run").State, "what it wrote until then")
		})
	}
}

// TestRestartedControllerArchives: what a controller asked to copy but had
// not copied when it stopped, and what it failed to copy, a new controller
// copies again from the job's status and Pods; the failure stays in the
// status until the copy succeeds.
func TestRestartedControllerArchives(t *testing.T) {
	h := newHarness(t)
	h.holdLogs = true
	h.createPipeline(testutil.Pipeline("p", steps("a", "b")...))
	h.createJob(jobOf("j", "p"))
	h.sync("j")
	h.startActions("j-a-1")
	h.sync("j")
	h.copier.failWith(errors.New("archive unavailable"))
	require.Equal(t, 1, h.copyLogs())
	h.finishPod("j-a-1", 0)
	j := h.sync("j") // records the failure, and asks for "run": never copied
	require.Equal(t, v1alpha1.LogArchiveFailed, actionLog(t, j, 0, "prepare").State)
	require.Nil(t, actionLog(t, j, 0, "run"))

	restarted := newHarnessWith(t, h.kube, h.sluice)
	restarted.holdLogs = true
	writes := restarted.statusWrites()
	j = restarted.sync("j")
	require.Equal(t, writes, restarted.statusWrites(), "the failure stays recorded")
	require.Equal(t, ReasonWaitingForLogs, j.Status.Steps[0].Reason)
	require.Equal(t, 2, restarted.copyLogs())
	require.ElementsMatch(t, []string{"j-a-1/prepare", "j-a-1/run"}, copiesOf(restarted.copier.made()))
	j = restarted.sync("j")
	require.Equal(t, "a=Succeeded b=Running", testutil.StepPhases(j))
	require.Equal(t, v1alpha1.LogArchived, actionLog(t, j, 0, "prepare").State)
	require.Equal(t, v1alpha1.LogArchived, actionLog(t, j, 0, "run").State)
}

// TestRetryWaitsForTheFailedAttemptsLogs: a failed attempt is retried only
// once its output is archived, so the output of every attempt is kept.
func TestRetryWaitsForTheFailedAttemptsLogs(t *testing.T) {
	h := newHarness(t)
	h.holdLogs = true
	p := testutil.Pipeline("p", steps("flaky")...)
	p.Spec.Steps[0].Retries = 1
	h.createPipeline(p)
	h.createJob(jobOf("j", "p"))
	h.sync("j")
	h.finishPod("j-flaky-1", 3)
	h.clock.Step(time.Minute) // past the backoff
	j := h.sync("j")
	require.EqualValues(t, 1, j.Status.Steps[0].Attempts, "no retry before the output is archived")
	require.Nil(t, j.Status.Steps[0].NextAttemptTime)
	require.Equal(t, ReasonWaitingForLogs, j.Status.Steps[0].Reason)

	require.Equal(t, 2, h.copyLogs())
	j = h.sync("j")
	require.EqualValues(t, 2, j.Status.Steps[0].Attempts)
	require.Contains(t, strings.Join(h.events(), "\n"), `Warning StepRetrying Step "flaky": action "run" exited with code 3; attempt 2 of 2`)
	for _, a := range j.Status.Steps[0].Actions {
		require.Nil(t, a.Log, "the new attempt's actions have no output yet")
	}
	h.finishPod("j-flaky-2", 0)
	h.sync("j")
	require.Equal(t, 2, h.copyLogs())
	require.Equal(t, []string{"j-flaky-1/prepare", "j-flaky-1/run", "j-flaky-2/prepare", "j-flaky-2/run"}, copiesOf(h.copier.made()))
	require.Equal(t, int32(2), h.copier.made()[3].Attempt)
	require.Equal(t, v1alpha1.JobSucceeded, h.sync("j").Status.Phase)
}

// TestShortMessage: errors kept in status and Events are bounded, and cut
// on a character boundary.
func TestShortMessage(t *testing.T) {
	require.Equal(t, "short", shortMessage("short"))
	long := strings.Repeat("é", maxLogMessage)
	got := shortMessage(long)
	require.LessOrEqual(t, len(got), maxLogMessage)
	require.True(t, strings.HasSuffix(got, "…"))
	require.True(t, strings.HasPrefix(long, strings.TrimSuffix(got, "…")))
}
