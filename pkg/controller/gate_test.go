package controller

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

const hookURL = "https://chat.example.com/hook"

// gatedPipeline creates pipeline "release": build, the approval gate
// "approve" of required approvals (timing out after gateTimeout unless 0),
// then deploy; it notifies a webhook when a job waits for approval.
func gatedPipeline(h *harness, required int32, gateTimeout time.Duration) {
	p := testutil.Pipeline("release", steps("build")[0], gate("approve", required), steps("deploy")[0])
	if gateTimeout > 0 {
		p.Spec.Steps[1].Approval.Timeout = &metav1.Duration{Duration: gateTimeout}
	}
	p.Spec.Notify = []v1alpha1.Notification{{Events: []v1alpha1.NotifyEvent{v1alpha1.NotifyWaitingForApproval},
		Webhook: &v1alpha1.Webhook{URL: hookURL, SecretRef: &v1alpha1.SecretKeyRef{Name: "hook", Key: "hmac"}}}}
	h.createPipeline(p)
}

// toGate runs job j of the gated pipeline up to its gate.
func toGate(h *harness, j *v1alpha1.PipelineJob) *v1alpha1.PipelineJob {
	h.t.Helper()
	h.createJob(j)
	h.sync(j.Name)
	h.finishPod(j.Name+"-build-1", 0)
	return h.sync(j.Name)
}

// eventsWith are the recorded Events that start with prefix.
func eventsWith(events []string, prefix string) []string {
	var out []string
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// TestApprovalGatePasses: a job that reaches a gate waits there, running
// no Pod, says so in its status, an Event and a notification, and records
// an Event per decision. Two distinct approvals pass a gate that requires
// two, in the order they were recorded, and the job moves on.
func TestApprovalGatePasses(t *testing.T) {
	h := newHarness(t)
	gatedPipeline(h, 2, 0)
	j := toGate(h, h.inEnv("j", "release", "production", 0))
	reached := h.clock.Now()

	require.Equal(t, v1alpha1.JobRunning, j.Status.Phase)
	require.Equal(t, "build=Succeeded approve=WaitingForApproval deploy=Pending", testutil.StepPhases(j))
	st := j.Status.Steps[1]
	require.True(t, st.StartTime.Time.Equal(reached))
	require.Nil(t, st.CompletionTime)
	require.Zero(t, st.Attempts, "a gate runs no Pod")
	require.Empty(t, st.PodName)
	require.Equal(t, "needs 2 approvals", st.Message)
	require.Equal(t, `waiting for approval of step "approve": needs 2 approvals`, j.Status.Message)
	require.Equal(t, []string{"j-build-1"}, h.podNames())
	require.Equal(t, []v1alpha1.NotificationStatus{{Event: v1alpha1.NotifyWaitingForApproval, URL: hookURL, State: v1alpha1.NotificationPending}},
		j.Status.Notifications)
	events := h.events()
	require.Contains(t, events, `Normal ApprovalRequested Step "approve" needs 2 approvals from Group release-managers, User carol`)

	pl := payload(j, v1alpha1.NotifyWaitingForApproval)
	require.Equal(t, "approve", pl.Step)
	require.Equal(t, int32(2), pl.Required)
	require.Equal(t, j.Status.PipelineSpec.Steps[1].Approval.Approvers, pl.Approvers)
	require.Equal(t, "production", pl.Environment)
	require.Equal(t, "release", pl.Pipeline)
	require.Equal(t, j.Status.Message, pl.Message)

	h.clock.Step(time.Minute)
	h.decide("j", "alice", v1alpha1.Approve, "")
	j = h.sync("j")
	require.Equal(t, v1alpha1.StepWaitingForApproval, j.Status.Steps[1].Phase, "one of two approvals")
	require.Equal(t, "approved by alice; needs 1 more approval", j.Status.Steps[1].Message)
	require.Equal(t, `waiting for approval of step "approve": approved by alice; needs 1 more approval`, j.Status.Message)
	require.Equal(t, []string{`Normal Approved Step "approve" approved by alice (1 of 2)`}, eventsWith(h.events(), "Normal Approved"))
	writes := h.statusWrites()
	h.sync("j")
	require.Equal(t, writes, h.statusWrites())
	require.Empty(t, h.events(), "a decision is recorded once")

	h.clock.Step(time.Minute)
	approved := h.clock.Now()
	h.decide("j", "bob", v1alpha1.Approve, "ship it")
	h.clock.Step(time.Minute)
	h.decide("j", "dave", v1alpha1.Reject, "too late") // after the gate passed
	j = h.sync("j")
	require.Equal(t, "build=Succeeded approve=Succeeded deploy=Running", testutil.StepPhases(j))
	st = j.Status.Steps[1]
	require.True(t, st.CompletionTime.Time.Equal(approved), "the gate passed when bob approved")
	require.Equal(t, "approved by alice, bob", st.Message)
	require.Empty(t, j.Status.Message)
	require.ElementsMatch(t, []string{"j-build-1", "j-deploy-1"}, h.podNames())
	events = h.events()
	require.Equal(t, []string{`Normal Approved Step "approve" approved by bob (2 of 2): ship it`}, eventsWith(events, "Normal Approved"))
	require.Contains(t, events, `Normal StepSucceeded Step "approve" succeeded`)
	require.Empty(t, eventsWith(events, "Warning Rejected"), "a decision after the gate passed decides nothing")

	h.finishPod("j-deploy-1", 0)
	require.Equal(t, v1alpha1.JobSucceeded, h.sync("j").Status.Phase)
}

// TestApprovalGateRejected: a rejection before enough approvals fails the
// gate and the job with reason Rejected and the rejecter's message; every
// decision the sync sees gets its Event.
func TestApprovalGateRejected(t *testing.T) {
	for _, c := range []struct{ message, want string }{
		{"not today", "rejected by carol: not today"},
		{"", "rejected by carol"},
	} {
		t.Run(c.want, func(t *testing.T) {
			h := newHarness(t)
			gatedPipeline(h, 2, 0)
			toGate(h, jobOf("j", "release"))
			h.events()
			h.decide("j", "alice", v1alpha1.Approve, "")
			h.clock.Step(time.Minute)
			h.decide("j", "carol", v1alpha1.Reject, c.message)
			h.clock.Step(time.Minute)
			j := h.sync("j")

			require.Equal(t, v1alpha1.JobFailed, j.Status.Phase)
			require.Equal(t, "build=Succeeded approve=Failed deploy=Skipped", testutil.StepPhases(j))
			cond := meta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded)
			require.Equal(t, ReasonRejected, cond.Reason)
			require.Equal(t, c.want, cond.Message)
			require.Equal(t, c.want, j.Status.Message)
			st := j.Status.Steps[1]
			require.Equal(t, ReasonRejected, st.Reason)
			require.Equal(t, c.want, st.Message)
			require.True(t, st.CompletionTime.Time.Equal(h.clock.Now().Add(-time.Minute)), "when carol rejected")
			require.Equal(t, 1, h.podCreates(), "no Pod for the skipped step")
			events := h.events()
			require.Contains(t, events, `Normal Approved Step "approve" approved by alice (1 of 2)`)
			require.Contains(t, events, `Warning Rejected Step "approve" `+c.want)
			require.Contains(t, events, `Warning Failed `+c.want)
		})
	}
}

// TestApprovalGateTimeout: a gate not passed within its timeout fails the
// job with reason ApprovalTimeout. The controller wakes at the deadline; a
// decision counts by when the server recorded it, not when the controller
// saw it.
func TestApprovalGateTimeout(t *testing.T) {
	t.Run("nobody decides in time", func(t *testing.T) {
		h := newHarness(t)
		gatedPipeline(h, 2, time.Hour)
		toGate(h, jobOf("j", "release"))
		key := ns + "/j"
		require.Equal(t, time.Hour+time.Second, h.queue.lastDelay(key), "woken at the deadline, rounded up")
		h.decide("j", "alice", v1alpha1.Approve, "")
		h.sync("j")
		h.clock.Step(time.Hour)
		require.Equal(t, v1alpha1.StepWaitingForApproval, h.sync("j").Status.Steps[1].Phase)
		require.Equal(t, time.Second, h.queue.lastDelay(key))
		h.clock.Step(time.Second)
		h.decide("j", "bob", v1alpha1.Approve, "") // recorded after the deadline
		j := h.sync("j")

		require.Equal(t, v1alpha1.JobFailed, j.Status.Phase)
		require.Equal(t, "build=Succeeded approve=Failed deploy=Skipped", testutil.StepPhases(j))
		want := "not approved within 1h0m0s (approved by alice; needs 1 more approval)"
		require.Equal(t, ReasonApprovalTimeout, meta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded).Reason)
		require.Equal(t, want, j.Status.Message)
		require.Equal(t, ReasonApprovalTimeout, j.Status.Steps[1].Reason)
		require.Equal(t, want, j.Status.Steps[1].Message)
		require.Empty(t, eventsWith(h.events(), `Normal Approved Step "approve" approved by bob`))
	})
	t.Run("approved in time, seen late", func(t *testing.T) {
		h := newHarness(t)
		gatedPipeline(h, 1, time.Hour)
		toGate(h, jobOf("j", "release"))
		h.clock.Step(time.Hour)
		h.decide("j", "alice", v1alpha1.Approve, "")
		h.clock.Step(time.Hour)
		j := h.sync("j")
		require.Equal(t, "build=Succeeded approve=Succeeded deploy=Running", testutil.StepPhases(j))
	})
}

// TestApprovalGateCancelledOrTimedOut: cancelling the job, or the job's
// own timeout, ends a gate that waits; there is no Pod to delete.
func TestApprovalGateCancelledOrTimedOut(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		h := newHarness(t)
		gatedPipeline(h, 1, 0)
		toGate(h, jobOf("j", "release"))
		h.cancel("j", "bob", "wrong version")
		j := h.sync("j")
		require.Equal(t, v1alpha1.JobCancelled, j.Status.Phase)
		require.Equal(t, "build=Succeeded approve=Cancelled deploy=Skipped", testutil.StepPhases(j))
		require.Equal(t, "cancelled by bob: wrong version", j.Status.Message)
		require.NotNil(t, j.Status.Steps[1].CompletionTime)
	})
	t.Run("job timeout", func(t *testing.T) {
		h := newHarness(t)
		p := testutil.Pipeline("release", steps("build")[0], gate("approve", 1), steps("deploy")[0])
		p.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Minute}
		h.createPipeline(p)
		toGate(h, jobOf("j", "release"))
		h.clock.Step(10*time.Minute + time.Second)
		j := h.sync("j")
		require.Equal(t, v1alpha1.JobFailed, j.Status.Phase)
		require.Equal(t, "build=Succeeded approve=Failed deploy=Skipped", testutil.StepPhases(j))
		require.Equal(t, ReasonTimeout, meta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded).Reason)
	})
}
