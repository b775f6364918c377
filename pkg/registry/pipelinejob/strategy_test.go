package pipelinejob

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/storage"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/install"
)

func strategy() Strategy {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return NewStrategy(scheme)
}

func aliceCtx() context.Context {
	ctx := genericapirequest.WithNamespace(context.Background(), "team-a")
	return genericapirequest.WithUser(ctx, &user.DefaultInfo{Name: "alice", UID: "u-1", Groups: []string{"team-a", "system:authenticated"}})
}

func newJob() *sluice.PipelineJob {
	return &sluice.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{Name: "release-1", Namespace: "team-a", Labels: map[string]string{"team": "a"}},
		Spec: sluice.PipelineJobSpec{
			PipelineRef: &sluice.PipelineReference{Name: "release"},
			Trigger:     sluice.JobTrigger{Type: sluice.TriggerManual},
		},
	}
}

func TestPrepareForCreateSetsServerOwnedFields(t *testing.T) {
	j := newJob()
	j.Spec.StartedBy = &sluice.UserInfo{Username: "mallory"}
	j.Labels["sluice.dev/pipeline"] = "something-else"
	j.Status = sluice.PipelineJobStatus{Phase: sluice.JobSucceeded, Message: "forged"}

	j.Labels["sluice.dev/rerun-of"] = "forged"
	j.Spec.Environment = "production"

	before := time.Now()
	strategy().PrepareForCreate(aliceCtx(), j)

	assert.Equal(t, &sluice.UserInfo{Username: "alice", UID: "u-1", Groups: []string{"team-a", "system:authenticated"}}, j.Spec.StartedBy)
	assert.Equal(t, map[string]string{"team": "a", "sluice.dev/pipeline": "release", "sluice.dev/environment": "production"}, j.Labels,
		"only reruns and rollbacks carry sluice.dev/rerun-of")
	require.NotNil(t, j.Status.SubmitTime)
	assert.False(t, j.Status.SubmitTime.Time.Before(before.Truncate(time.Microsecond)), "the submit time is the server's, to the microsecond")
	assert.Equal(t, sluice.PipelineJobStatus{Phase: sluice.JobPending, SubmitTime: j.Status.SubmitTime}, j.Status)
	assert.Equal(t, int64(1), j.Generation)
	assert.Empty(t, strategy().Validate(aliceCtx(), j))
}

func TestPrepareForCreateInlinePipelineHasNoPipelineLabel(t *testing.T) {
	j := newJob()
	j.Labels = map[string]string{"sluice.dev/pipeline": "lie"}
	j.Spec.PipelineRef = nil
	j.Spec.PipelineSpec = &sluice.PipelineSpec{}
	strategy().PrepareForCreate(aliceCtx(), j)
	assert.NotContains(t, j.Labels, "sluice.dev/pipeline")
}

func TestPrepareForCreateWithoutUser(t *testing.T) {
	j := newJob()
	j.Spec.StartedBy = &sluice.UserInfo{Username: "mallory"}
	strategy().PrepareForCreate(context.Background(), j)
	assert.Nil(t, j.Spec.StartedBy, "a forged startedBy must never survive, even with no user in context")
}

func TestPrepareForUpdateKeepsServerOwnedFields(t *testing.T) {
	s := strategy()
	old := newJob()
	s.PrepareForCreate(aliceCtx(), old)
	old.Status = sluice.PipelineJobStatus{Phase: sluice.JobRunning, Message: "step 2/3"}

	j := old.DeepCopy()
	j.Spec.Cancel = true
	j.Spec.StartedBy = &sluice.UserInfo{Username: "mallory"}
	j.Labels["sluice.dev/pipeline"] = "other"
	j.Labels["sluice.dev/environment"] = "production"
	j.Status = sluice.PipelineJobStatus{Phase: sluice.JobSucceeded}
	bob := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: "bob"})
	s.PrepareForUpdate(bob, j, old)

	assert.Equal(t, old.Spec.StartedBy, j.Spec.StartedBy)
	assert.Equal(t, "release", j.Labels["sluice.dev/pipeline"])
	assert.NotContains(t, j.Labels, "sluice.dev/environment", "the job has no environment")
	assert.Equal(t, &sluice.UserInfo{Username: "bob"}, j.Status.CancelledBy, "setting spec.cancel records who did")
	j.Status.CancelledBy = nil
	assert.Equal(t, old.Status, j.Status, "the main resource ignores status")
	assert.True(t, j.Spec.Cancel)
	assert.Equal(t, int64(2), j.Generation, "a spec change bumps the generation")

	// Removing the label does not remove it either.
	j2 := old.DeepCopy()
	delete(j2.Labels, "sluice.dev/pipeline")
	s.PrepareForUpdate(aliceCtx(), j2, old)
	assert.Equal(t, "release", j2.Labels["sluice.dev/pipeline"])
	assert.Equal(t, int64(1), j2.Generation, "a metadata change keeps the generation")
}

func TestStatusStrategyIgnoresSpecAndMetadata(t *testing.T) {
	s := NewStatusStrategy(strategy())
	old := newJob()
	strategy().PrepareForCreate(aliceCtx(), old)
	old.ResourceVersion = "5"

	j := old.DeepCopy()
	j.Spec.Cancel = true
	j.Spec.PipelineRef.Name = "other"
	j.Labels["team"] = "b"
	j.Annotations = map[string]string{"x": "y"}
	j.Status = sluice.PipelineJobStatus{Phase: sluice.JobRunning, Message: "running"}
	s.PrepareForUpdate(aliceCtx(), j, old)

	assert.Equal(t, old.Spec, j.Spec)
	assert.Equal(t, old.Labels, j.Labels)
	assert.Equal(t, old.Annotations, j.Annotations)
	assert.Equal(t, sluice.PipelineJobStatus{Phase: sluice.JobRunning, Message: "running", SubmitTime: old.Status.SubmitTime}, j.Status)
	assert.Empty(t, s.ValidateUpdate(aliceCtx(), j, old))

	bad := j.DeepCopy()
	bad.Status.Phase = "Exploded"
	assert.NotEmpty(t, s.ValidateUpdate(aliceCtx(), bad, old))
}

func TestResetFields(t *testing.T) {
	main := strategy().GetResetFields()["sluice.dev/v1alpha1"]
	assert.Equal(t, ".status", main.String())
	status := NewStatusStrategy(strategy()).GetResetFields()["sluice.dev/v1alpha1"]
	assert.Contains(t, status.String(), ".spec")
	assert.NotContains(t, status.String(), ".status")
}

func TestSelectableFields(t *testing.T) {
	j := newJob()
	j.Status.Phase = sluice.JobFailed
	j.Spec.Trigger.Type = sluice.TriggerSchedule
	_, f, err := GetAttrs(j)
	assert.NoError(t, err)
	assert.Equal(t, fields.Set{
		"metadata.name":         "release-1",
		"metadata.namespace":    "team-a",
		"spec.pipelineRef.name": "release",
		"status.phase":          "Failed",
		"spec.trigger.type":     "Schedule",
		"spec.environment":      "",
	}, f)

	match := func(sel string) bool {
		pred := storage.SelectionPredicate{Label: labels.Everything(), Field: fields.ParseSelectorOrDie(sel), GetAttrs: GetAttrs}
		ok, err := pred.Matches(j)
		assert.NoError(t, err)
		return ok
	}
	assert.True(t, match("status.phase=Failed,spec.pipelineRef.name=release"))
	assert.False(t, match("status.phase=Succeeded"))
	assert.True(t, match("spec.trigger.type!=Manual"))

	j.Spec.PipelineRef = nil
	_, f, _ = GetAttrs(j)
	assert.Equal(t, "", f["spec.pipelineRef.name"])

	_, _, err = GetAttrs(&sluice.Pipeline{})
	assert.Error(t, err)
}

func TestStatusStrategyKeepsServerRecords(t *testing.T) {
	s := NewStatusStrategy(strategy())
	old := newJob()
	strategy().PrepareForCreate(aliceCtx(), old)
	carol := sluice.UserInfo{Username: "carol", Groups: []string{"release-managers"}}
	old.Status.Phase = sluice.JobRunning
	old.Status.CancelledBy, old.Status.CancelReason = &carol, "wrong branch"
	old.Status.Steps = []sluice.StepStatus{
		{Name: "build", Phase: sluice.StepSucceeded},
		{Name: "approve", Phase: sluice.StepWaitingForApproval, Approvals: []sluice.ApprovalDecision{{User: carol, Decision: sluice.Approve}}},
	}

	// A status writer (the controller, or an admin) sends its view, which
	// may lack or forge what the server recorded.
	j := old.DeepCopy()
	j.Status.SubmitTime = nil
	j.Status.CancelledBy = &sluice.UserInfo{Username: "mallory"}
	j.Status.CancelReason = ""
	j.Status.Steps[1].Phase = sluice.StepSucceeded
	j.Status.Steps[1].Approvals = []sluice.ApprovalDecision{{User: sluice.UserInfo{Username: "mallory"}, Decision: sluice.Approve}}
	s.PrepareForUpdate(aliceCtx(), j, old)

	assert.Equal(t, old.Status.SubmitTime, j.Status.SubmitTime)
	assert.Equal(t, &carol, j.Status.CancelledBy)
	assert.Equal(t, "wrong branch", j.Status.CancelReason)
	assert.Equal(t, old.Status.Steps[1].Approvals, j.Status.Steps[1].Approvals)
	assert.Equal(t, sluice.StepSucceeded, j.Status.Steps[1].Phase, "what the controller observes is its to write")
}

func TestStatusStrategyKeepsArchivedLogs(t *testing.T) {
	s := NewStatusStrategy(strategy())
	old := newJob()
	strategy().PrepareForCreate(aliceCtx(), old)
	archived := &sluice.ActionLog{State: sluice.LogArchived, Bytes: 42}
	old.Status.Phase = sluice.JobRunning
	old.Status.Steps = []sluice.StepStatus{
		{Name: "build", Phase: sluice.StepRunning, Attempts: 1, Actions: []sluice.ActionStatus{
			{Name: "compile", Log: archived}, {Name: "package"},
		}},
		{Name: "deploy", Phase: sluice.StepPending},
	}

	// The controller rewrites the actions from the Pod, without the log
	// state, and forges an archive of an action the server never stored.
	j := old.DeepCopy()
	j.Status.Steps[0].Actions = []sluice.ActionStatus{{Name: "compile"}, {Name: "package", Log: &sluice.ActionLog{State: sluice.LogArchived}}}
	s.PrepareForUpdate(aliceCtx(), j, old)
	assert.Equal(t, archived, j.Status.Steps[0].Actions[0].Log, "the server's record stays")
	assert.Nil(t, j.Status.Steps[0].Actions[1].Log, "only the server records an archive")

	// A failure to copy is the controller's to record.
	j = old.DeepCopy()
	failed := &sluice.ActionLog{State: sluice.LogArchiveFailed, Message: "connection refused"}
	j.Status.Steps[0].Actions[1].Log = failed
	s.PrepareForUpdate(aliceCtx(), j, old)
	assert.Equal(t, failed, j.Status.Steps[0].Actions[1].Log)

	// A new attempt starts with nothing archived.
	j = old.DeepCopy()
	j.Status.Steps[0].Attempts = 2
	s.PrepareForUpdate(aliceCtx(), j, old)
	assert.Nil(t, j.Status.Steps[0].Actions[0].Log, "the archive of attempt 1 is not attempt 2's")
}
