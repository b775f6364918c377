package pipelinejob

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

func steps(phases ...sluice.StepPhase) []sluice.StepStatus {
	names := []string{"test", "build", "deploy"}
	var out []sluice.StepStatus
	for i, p := range phases {
		out = append(out, sluice.StepStatus{Name: names[i], Phase: p})
	}
	return out
}

func TestStepColumn(t *testing.T) {
	threeSteps := &sluice.PipelineSpec{Steps: make([]sluice.Step, 3)}
	for _, tc := range []struct {
		name   string
		inline *sluice.PipelineSpec // spec.pipelineSpec
		snap   *sluice.PipelineSpec // status.pipelineSpec
		steps  []sluice.StepStatus
		want   string
	}{
		{name: "a referenced pipeline not started yet", want: "-"},
		{name: "an inline pipeline not started yet", inline: threeSteps, want: "0/3"},
		{name: "started, no step ran", snap: threeSteps, steps: steps(sluice.StepPending, sluice.StepPending, sluice.StepPending), want: "0/3"},
		{name: "the running step", snap: threeSteps, steps: steps(sluice.StepSucceeded, sluice.StepRunning, sluice.StepPending), want: "2/3 build"},
		{name: "the step that failed", snap: threeSteps, steps: steps(sluice.StepSucceeded, sluice.StepFailed, sluice.StepSkipped), want: "2/3 build"},
		{name: "the step that was cancelled", snap: threeSteps, steps: steps(sluice.StepCancelled, sluice.StepSkipped, sluice.StepSkipped), want: "1/3 test"},
		{name: "the last step that ran", snap: threeSteps, steps: steps(sluice.StepSucceeded, sluice.StepSucceeded, sluice.StepSucceeded), want: "3/3 deploy"},
		{name: "the total from the statuses without a snapshot", steps: steps(sluice.StepSucceeded, sluice.StepRunning), want: "2/2 build"},
		{name: "the snapshot wins over the inline spec", inline: &sluice.PipelineSpec{Steps: make([]sluice.Step, 1)}, snap: threeSteps,
			steps: steps(sluice.StepRunning), want: "1/3 test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := newJob()
			j.Spec.PipelineSpec = tc.inline
			j.Status.PipelineSpec = tc.snap
			j.Status.Steps = tc.steps
			assert.Equal(t, tc.want, StepColumn(j))
		})
	}
}

func TestStepColumnOfWaitingJobs(t *testing.T) {
	j := waitingJob()
	assert.Equal(t, "2/3 approve (waiting for approval 0/2)", StepColumn(j))
	j.Status.Steps[1].Approvals = []sluice.ApprovalDecision{{Decision: sluice.Approve}, {Decision: sluice.Reject}}
	assert.Equal(t, "2/3 approve (waiting for approval 1/2)", StepColumn(j), "only approvals count")

	queued := newJob()
	queued.Status.Phase = sluice.JobPending
	queued.Status.Conditions = []metav1.Condition{{Type: "Succeeded", Status: metav1.ConditionUnknown, Reason: "Queued"}}
	assert.Equal(t, "queued", StepColumn(queued))
	queued.Status.Phase = sluice.JobCancelled
	assert.Equal(t, "-", StepColumn(queued), "a job that left its queue is not queued")
}

func TestDuration(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) *metav1.Time { tm := metav1.NewTime(now.Add(-ago)); return &tm }

	j := newJob()
	assert.Equal(t, "-", Duration(j, now), "not started")

	j.Status.StartTime = at(94 * time.Second)
	assert.Equal(t, "94s", Duration(j, now), "running: until now")

	j.Status.StartTime, j.Status.CompletionTime = at(time.Hour), at(50*time.Minute)
	assert.Equal(t, "10m", Duration(j, now), "finished: until completion, whatever now is")
	assert.Equal(t, "10m", Duration(j, now.Add(24*time.Hour)))
}

func TestTableRow(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	start := metav1.NewTime(now.Add(-94 * time.Second))
	j := newJob()
	j.CreationTimestamp = metav1.NewTime(now.Add(-2 * time.Minute))
	j.Spec.StartedBy = &sluice.UserInfo{Username: "alice"}
	j.Spec.Trigger.Detail = "first release"
	j.Status = sluice.PipelineJobStatus{
		Phase:        sluice.JobRunning,
		StartTime:    &start,
		PipelineSpec: &sluice.PipelineSpec{Steps: make([]sluice.Step, 3)},
		Steps:        steps(sluice.StepSucceeded, sluice.StepRunning, sluice.StepPending),
		Message:      "running build",
	}

	cells, err := Table.Row(j, now)
	require.NoError(t, err)
	require.Len(t, Table.Columns, len(cells))
	header := make([]string, len(Table.Columns))
	for i, c := range Table.Columns {
		header[i] = c.Name
	}
	assert.Equal(t, []string{"Name", "Pipeline", "Environment", "Phase", "Step", "Started-By", "Duration", "Age", "Trigger", "Message"}, header)
	assert.Equal(t, []any{"release-1", "release", "<none>", "Running", "2/3 build", "alice", "94s", "2m", "Manual: first release", "running build"}, cells)

	inline := newJob()
	inline.Spec.PipelineRef = nil
	inline.Spec.PipelineSpec = &sluice.PipelineSpec{Steps: make([]sluice.Step, 2)}
	cells, err = Table.Row(inline, now)
	require.NoError(t, err)
	assert.Equal(t, []any{"release-1", "<inline>", "<none>", "", "0/2", "<unknown>", "-", "<unknown>", "Manual", ""}, cells)
}

// pipelineGetter serves one pipeline and records the names asked for.
type pipelineGetter struct {
	pipeline *sluice.Pipeline
	asked    []string
}

func (g *pipelineGetter) Get(_ context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	g.asked = append(g.asked, name)
	if name != g.pipeline.Name {
		return nil, apierrors.NewNotFound(sluice.Resource("pipelines"), name)
	}
	return g.pipeline, nil
}

// TestDefaultEnvironment: a new job of a pipeline gets its environment; a
// pipelineRef no Pipeline can have is not looked up (a "/" or ".." in it
// failed the create with "Name parameter invalid" before validation could
// name spec.pipelineRef.name).
func TestDefaultEnvironment(t *testing.T) {
	getter := &pipelineGetter{pipeline: &sluice.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: "release"}, Spec: sluice.PipelineSpec{Environment: "prod"}}}
	r := &REST{pipelines: getter}
	job := func(pipeline string) *sluice.PipelineJob {
		return &sluice.PipelineJob{Spec: sluice.PipelineJobSpec{PipelineRef: &sluice.PipelineReference{Name: pipeline}}}
	}
	j := job("release")
	require.NoError(t, r.defaultEnvironment(context.Background(), j))
	assert.Equal(t, "prod", j.Spec.Environment)
	for _, name := range []string{"gone", "a/b", "..", "UPPER", "", "a\x00b"} {
		j := job(name)
		require.NoError(t, r.defaultEnvironment(context.Background(), j), "pipeline %q", name)
		assert.Empty(t, j.Spec.Environment)
	}
	assert.Equal(t, []string{"release", "gone"}, getter.asked)
}
