package pipelinejob

import (
	"context"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
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
// authenticated user of the request, the sluice.dev/pipeline label, a
// Pending status and generation 1. Whatever the client sent for these is
// replaced.
func (Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	j := obj.(*sluice.PipelineJob)
	j.Status = sluice.PipelineJobStatus{Phase: sluice.JobPending}
	j.Generation = 1
	j.Spec.StartedBy = nil
	if u, ok := genericapirequest.UserFrom(ctx); ok {
		j.Spec.StartedBy = &sluice.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
	}
	setPipelineLabel(j, pipelineName(j))
}

// PrepareForUpdate keeps the stored status, startedBy and pipeline label,
// and bumps the generation when the spec changes.
func (Strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	j, oldJ := obj.(*sluice.PipelineJob), old.(*sluice.PipelineJob)
	j.Status = oldJ.Status
	j.Spec.StartedBy = oldJ.Spec.StartedBy
	setPipelineLabel(j, oldJ.Labels[v1alpha1.LabelPipeline])
	if !apiequality.Semantic.DeepEqual(j.Spec, oldJ.Spec) {
		j.Generation = oldJ.Generation + 1
	}
}

// pipelineName is the Pipeline a job runs, or "" for an inline pipeline.
func pipelineName(j *sluice.PipelineJob) string {
	if j.Spec.PipelineRef != nil {
		return j.Spec.PipelineRef.Name
	}
	return ""
}

// setPipelineLabel sets the sluice.dev/pipeline label to name, or removes it
// when name is empty: the label is the server's and always tells the truth.
func setPipelineLabel(j *sluice.PipelineJob, name string) {
	if name == "" {
		delete(j.Labels, v1alpha1.LabelPipeline)
		return
	}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	j.Labels[v1alpha1.LabelPipeline] = name
}

// Validate validates a new job.
func (Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidatePipelineJob(obj.(*sluice.PipelineJob))
}

// ValidateUpdate validates an update: only spec.cancel may change.
func (Strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidatePipelineJobUpdate(obj.(*sluice.PipelineJob), old.(*sluice.PipelineJob))
}

// StatusStrategy is the update strategy of pipelinejobs/status, which ignores
// everything but status.
type StatusStrategy = status.UpdateStrategy[*sluice.PipelineJob]

// NewStatusStrategy returns the strategy of the status subresource.
func NewStatusStrategy(s Strategy) StatusStrategy {
	return status.NewUpdateStrategy(s, func(j, old *sluice.PipelineJob) { j.Spec = old.Spec }, validation.ValidatePipelineJobStatusUpdate)
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
	}, &j.ObjectMeta, true)
}
