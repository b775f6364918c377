package pipelinejob

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

// waitingJob is a job started by alice that waits at its gate (step 1),
// which two of release-managers or carol pass.
func waitingJob() *sluice.PipelineJob {
	j := newJob()
	j.Spec.StartedBy = &sluice.UserInfo{Username: "alice", Groups: []string{"release-managers"}}
	j.Status = sluice.PipelineJobStatus{
		Phase: sluice.JobRunning,
		PipelineSpec: &sluice.PipelineSpec{Steps: []sluice.Step{
			{Name: "staging"},
			{Name: "approve", Approval: &sluice.ApprovalGate{
				Approvers: []sluice.Approver{{Kind: sluice.ApproverGroup, Name: "release-managers"}, {Kind: sluice.ApproverUser, Name: "carol"}},
				Required:  2,
			}},
			{Name: "production"},
		}},
		Steps: []sluice.StepStatus{
			{Name: "staging", Phase: sluice.StepSucceeded},
			{Name: "approve", Phase: sluice.StepWaitingForApproval},
			{Name: "production", Phase: sluice.StepPending},
		},
	}
	return j
}

func TestCheckApprover(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	carol := &sluice.UserInfo{Username: "carol"}
	dave := &sluice.UserInfo{Username: "dave", Groups: []string{"system:authenticated", "release-managers"}}
	erin := &sluice.UserInfo{Username: "erin", Groups: []string{"developers"}}
	alice := &sluice.UserInfo{Username: "alice", Groups: []string{"release-managers"}}

	i, err := CheckApprover(waitingJob(), carol, now)
	require.NoError(t, err, "named as a user")
	assert.Equal(t, 1, i)
	_, err = CheckApprover(waitingJob(), dave, now)
	require.NoError(t, err, "a member of a named group")

	_, err = CheckApprover(waitingJob(), erin, now)
	assert.True(t, apierrors.IsForbidden(err), "not an approver: %v", err)
	assert.Contains(t, err.Error(), "Group release-managers, User carol")

	_, err = CheckApprover(waitingJob(), alice, now)
	assert.True(t, apierrors.IsForbidden(err), "the starter: %v", err)
	assert.Contains(t, err.Error(), "self-approval")
	self := waitingJob()
	self.Status.PipelineSpec.Steps[1].Approval.AllowSelfApproval = true
	_, err = CheckApprover(self, alice, now)
	assert.NoError(t, err, "the gate allows self-approval")

	decided := waitingJob()
	decided.Status.Steps[1].Approvals = []sluice.ApprovalDecision{{User: sluice.UserInfo{Username: "dave"}, Decision: sluice.Reject}}
	_, err = CheckApprover(decided, dave, now)
	assert.True(t, apierrors.IsConflict(err), "a second decision: %v", err)
	_, err = CheckApprover(decided, carol, now)
	assert.NoError(t, err, "another approver still may")

	notWaiting := waitingJob()
	notWaiting.Status.Steps[1].Phase = sluice.StepSucceeded
	_, err = CheckApprover(notWaiting, carol, now)
	assert.True(t, apierrors.IsConflict(err), "no gate waits: %v", err)
	finished := waitingJob()
	finished.Status.Phase = sluice.JobFailed
	_, err = CheckApprover(finished, carol, now)
	assert.True(t, apierrors.IsConflict(err), "a finished job: %v", err)
	pending := newJob()
	_, err = CheckApprover(pending, carol, now)
	assert.True(t, apierrors.IsConflict(err), "a job that has not started: %v", err)
	assert.Contains(t, err.Error(), "Pending")

	// A gate with a timeout takes decisions until it passes, even before
	// the controller has failed the job.
	timed := waitingJob()
	started := metav1.NewTime(now.Add(-time.Hour))
	timed.Status.Steps[1].StartTime = &started
	timed.Status.PipelineSpec.Steps[1].Approval.Timeout = &metav1.Duration{Duration: time.Hour + time.Second}
	_, err = CheckApprover(timed, carol, now)
	assert.NoError(t, err, "a second before the timeout")
	_, err = CheckApprover(timed, carol, now.Add(time.Second))
	assert.True(t, apierrors.IsConflict(err), "at the timeout: %v", err)
	assert.Contains(t, err.Error(), "timed out")
}

func TestRerunJob(t *testing.T) {
	old := newJob()
	old.GenerateName = "release-"
	old.Labels = map[string]string{"team": "a", "sluice.dev/pipeline": "release", "sluice.dev/environment": "production",
		"sluice.dev/rerun-of": "older", "sluice.dev/controller-instance": "canary"}
	old.Spec.Params = []sluice.Param{{Name: "version", Value: "v1"}}
	old.Spec.Environment = "production"
	old.Spec.StartedBy = &sluice.UserInfo{Username: "alice"}
	old.Spec.Cancel = true
	old.Status.PipelineSpec = &sluice.PipelineSpec{Steps: []sluice.Step{{Name: "deploy"}}}

	j := RerunJob(old, sluice.JobTrigger{Type: sluice.TriggerRerun, Detail: "rerun of release-1"}, false)
	assert.Equal(t, "release-", j.GenerateName)
	assert.Empty(t, j.Name)
	assert.Equal(t, "team-a", j.Namespace)
	assert.Equal(t, map[string]string{"team": "a", "sluice.dev/controller-instance": "canary", "sluice.dev/rerun-of": "release-1"}, j.Labels,
		"user labels are kept; the server sets its own again from the new spec")
	assert.Equal(t, sluice.PipelineJobSpec{
		PipelineRef:  &sluice.PipelineReference{Name: "release"},
		PipelineSpec: old.Status.PipelineSpec,
		Params:       old.Spec.Params,
		Environment:  "production",
		Trigger:      sluice.JobTrigger{Type: sluice.TriggerRerun, Detail: "rerun of release-1"},
	}, j.Spec, "neither cancel nor startedBy carry over")
	j.Spec.Params[0].Value = "changed"
	j.Spec.PipelineSpec.Steps[0].Name = "changed"
	assert.Equal(t, "v1", old.Spec.Params[0].Value, "the rerun shares nothing with the old job")
	assert.Equal(t, "deploy", old.Status.PipelineSpec.Steps[0].Name)

	current := RerunJob(old, sluice.JobTrigger{Type: sluice.TriggerRerun}, true)
	assert.Nil(t, current.Spec.PipelineSpec, "fromCurrentPipeline runs the Pipeline as it is now")

	named := newJob()
	assert.Equal(t, "release-1-", RerunJob(named, sluice.JobTrigger{}, false).GenerateName)
	assert.Nil(t, RerunJob(named, sluice.JobTrigger{}, false).Spec.PipelineSpec, "a job that never started runs what it would have run")
	inline := newJob()
	inline.Spec.PipelineRef = nil
	inline.Spec.PipelineSpec = &sluice.PipelineSpec{Steps: []sluice.Step{{Name: "x"}}}
	assert.Equal(t, inline.Spec.PipelineSpec, RerunJob(inline, sluice.JobTrigger{}, false).Spec.PipelineSpec)
}
