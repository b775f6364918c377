package pipelinejob

import (
	"context"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/validation"
	"github.com/sluice-dev/sluice/pkg/registry"
	"github.com/sluice-dev/sluice/pkg/registry/status"
)

// Strategy is the create, update and delete strategy of pipelinejobs: the
// main resource, which ignores status changes.
type Strategy struct {
	registry.Strategy
}

// NewStrategy returns the strategy of the main resource.
func NewStrategy(typer runtime.ObjectTyper) Strategy {
	return Strategy{registry.NewStrategy(typer)}
}

// PrepareForCreate sets what the server owns: spec.startedBy from the
// authenticated user of the request, the sluice.dev/pipeline,
// sluice.dev/environment and sluice.dev/rerun-of labels, a Pending status with the submit time, and
// generation 1. Whatever the client sent for these is replaced.
func (Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	j := obj.(*sluice.PipelineJob)
	submitted := metav1.NewMicroTime(time.Now())
	j.Status = sluice.PipelineJobStatus{Phase: sluice.JobPending, SubmitTime: &submitted}
	j.Generation = 1
	j.Spec.StartedBy = userInfo(ctx)
	setLabel(j, v1alpha1.LabelPipeline, pipelineName(j))
	setLabel(j, v1alpha1.LabelEnvironment, j.Spec.Environment)
	setLabel(j, v1alpha1.LabelTrigger, j.Spec.Trigger.Name)
	// Only the server's reruns and rollbacks (RerunStrategy) say what they rerun.
	setLabel(j, v1alpha1.LabelRerunOf, "")
}

// PrepareForUpdate keeps the stored status, startedBy and the server's
// labels, and bumps the generation when the spec changes. Setting
// spec.cancel records the user in status.cancelledBy.
func (Strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	j, oldJ := obj.(*sluice.PipelineJob), old.(*sluice.PipelineJob)
	j.Status = oldJ.Status
	j.Spec.StartedBy = oldJ.Spec.StartedBy
	keepServerLabels(j, oldJ)
	if j.Spec.Cancel && !oldJ.Spec.Cancel {
		j.Status.CancelledBy = userInfo(ctx)
	}
	bumpGeneration(j, oldJ)
}

// keepServerLabels keeps the labels the server set on create, which say
// what the immutable spec says.
func keepServerLabels(j, old *sluice.PipelineJob) {
	for _, l := range []string{v1alpha1.LabelPipeline, v1alpha1.LabelEnvironment, v1alpha1.LabelTrigger, v1alpha1.LabelRerunOf} {
		setLabel(j, l, old.Labels[l])
	}
}

func bumpGeneration(j, old *sluice.PipelineJob) {
	if !apiequality.Semantic.DeepEqual(j.Spec, old.Spec) {
		j.Generation = old.Generation + 1
	}
}

// userInfo is the authenticated user of the request, as the server records
// it in a job.
func userInfo(ctx context.Context) *sluice.UserInfo {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil
	}
	return &sluice.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
}

// pipelineName is the Pipeline a job belongs to, or "" for an inline pipeline.
func pipelineName(j *sluice.PipelineJob) string {
	if j.Spec.PipelineRef != nil {
		return j.Spec.PipelineRef.Name
	}
	return ""
}

// setLabel sets a label of the server's to value, or removes it when value
// is empty: such a label always tells the truth.
func setLabel(j *sluice.PipelineJob, label, value string) {
	if value == "" {
		delete(j.Labels, label)
		return
	}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	j.Labels[label] = value
}

// Validate validates a new job.
func (Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	j := obj.(*sluice.PipelineJob)
	return append(validation.ValidatePipelineJob(j), registry.ValidateNewResourceVersion(j)...)
}

// RerunStrategy creates the jobs of pipelinejobs/rerun and pipelines/rollback:
// a job of a pipeline that runs a snapshot of it. Only the server builds
// such jobs, so only these handlers use this strategy; the
// sluice.dev/rerun-of label they set is kept.
type RerunStrategy struct {
	Strategy
}

// PrepareForCreate prepares the job as any other, and keeps its
// sluice.dev/rerun-of label.
func (s RerunStrategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	j := obj.(*sluice.PipelineJob)
	rerunOf := j.Labels[v1alpha1.LabelRerunOf]
	s.Strategy.PrepareForCreate(ctx, obj)
	setLabel(j, v1alpha1.LabelRerunOf, rerunOf)
}

// Validate allows a job to carry both its pipelineRef and the snapshot it runs.
func (RerunStrategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateRerunJob(obj.(*sluice.PipelineJob))
}

// ActionStrategy updates a job for pipelinejobs/cancel and
// pipelinejobs/approval. Their handlers build the new object from the
// stored one and change only what the action records, in spec.cancel and
// the server's parts of status, so nothing is reset here.
type ActionStrategy struct {
	Strategy
}

// PrepareForUpdate bumps the generation when the spec changed.
func (ActionStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	bumpGeneration(obj.(*sluice.PipelineJob), old.(*sluice.PipelineJob))
}

// ValidateUpdate validates an update: only spec.cancel may change.
func (Strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidatePipelineJobUpdate(obj.(*sluice.PipelineJob), old.(*sluice.PipelineJob))
}

// StatusStrategy is the update strategy of pipelinejobs/status, which ignores
// everything but status.
type StatusStrategy = status.UpdateStrategy[*sluice.PipelineJob]

// NewStatusStrategy returns the strategy of the status subresource. A
// status write changes what the controller observes, never what the
// server recorded: the submit time, who cancelled and why, the decisions
// at approval gates, and which actions' output it archived.
func NewStatusStrategy(s Strategy) StatusStrategy {
	return status.NewUpdateStrategy(s, func(j, old *sluice.PipelineJob) {
		j.Spec = old.Spec
		keepServerRecords(&j.Status, &old.Status)
	}, validation.ValidatePipelineJobStatusUpdate)
}

// keepServerRecords copies the parts of a job's status that the server
// records from old into s.
func keepServerRecords(s, old *sluice.PipelineJobStatus) {
	s.SubmitTime, s.CancelledBy, s.CancelReason = old.SubmitTime, old.CancelledBy, old.CancelReason
	approvals := make(map[string][]sluice.ApprovalDecision, len(old.Steps))
	for _, st := range old.Steps {
		approvals[st.Name] = st.Approvals
	}
	for i := range s.Steps {
		s.Steps[i].Approvals = approvals[s.Steps[i].Name]
	}
	keepArchivedLogs(s, old)
}

// keepArchivedLogs keeps the Archived log states the server recorded for
// the actions of each step's latest attempt, and drops an Archived state
// that only the writer claims: the server records it when it stores the
// output (pipelinejobs/log), and a status write may only record a failure
// to copy it, or its loss.
func keepArchivedLogs(s, old *sluice.PipelineJobStatus) {
	type key struct {
		step    string
		attempt int32
		action  string
	}
	recorded := map[key]*sluice.ActionLog{}
	for _, st := range old.Steps {
		for _, a := range st.Actions {
			if a.Log != nil && a.Log.State == sluice.LogArchived {
				recorded[key{st.Name, st.Attempts, a.Name}] = a.Log
			}
		}
	}
	for i := range s.Steps {
		st := &s.Steps[i]
		for k := range st.Actions {
			a := &st.Actions[k]
			if log, ok := recorded[key{st.Name, st.Attempts, a.Name}]; ok {
				a.Log = log
			} else if a.Log != nil && a.Log.State == sluice.LogArchived {
				a.Log = nil
			}
		}
	}
}

// GetAttrs returns the labels and selectable fields of a job.
var GetAttrs = registry.Attrs(SelectableFields)

// SelectableFields are the fields listed in v1alpha1.PipelineJobSelectableFields.
// A job with an inline pipeline has an empty spec.pipelineRef.name.
func SelectableFields(j *sluice.PipelineJob) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set{
		"spec.pipelineRef.name": pipelineName(j),
		"status.phase":          string(j.Status.Phase),
		"spec.trigger.type":     string(j.Spec.Trigger.Type),
		"spec.environment":      j.Spec.Environment,
	}, &j.ObjectMeta, true)
}
