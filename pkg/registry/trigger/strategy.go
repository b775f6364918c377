package trigger

import (
	"context"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/validation"
	"github.com/sluice-dev/sluice/pkg/registry"
	"github.com/sluice-dev/sluice/pkg/registry/status"
)

// Strategy is the create, update and delete strategy of triggers: the
// main resource, which ignores status changes.
type Strategy struct {
	registry.Strategy
}

// NewStrategy returns the strategy of the main resource.
func NewStrategy(typer runtime.ObjectTyper) Strategy {
	return Strategy{registry.NewStrategy(typer)}
}

// PrepareForCreate drops any status the client sent, starts the generation
// at 1 and labels the trigger with its pipeline.
func (Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	tr := obj.(*sluice.Trigger)
	tr.Status = sluice.TriggerStatus{}
	tr.Generation = 1
	labelPipeline(tr)
}

// PrepareForUpdate keeps the stored status, bumps the generation when the
// spec changes and keeps the pipeline label true.
func (Strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	tr, oldTr := obj.(*sluice.Trigger), old.(*sluice.Trigger)
	tr.Status = oldTr.Status
	if !apiequality.Semantic.DeepEqual(tr.Spec, oldTr.Spec) {
		tr.Generation = oldTr.Generation + 1
	}
	labelPipeline(tr)
}

// labelPipeline sets sluice.dev/pipeline to the pipeline the trigger
// starts, so `kubectl get triggers -l sluice.dev/pipeline=web` lists what
// feeds a pipeline.
func labelPipeline(tr *sluice.Trigger) {
	if tr.Spec.PipelineRef.Name == "" {
		delete(tr.Labels, v1alpha1.LabelPipeline)
		return
	}
	if tr.Labels == nil {
		tr.Labels = map[string]string{}
	}
	tr.Labels[v1alpha1.LabelPipeline] = tr.Spec.PipelineRef.Name
}

// Validate validates a new trigger.
func (Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	tr := obj.(*sluice.Trigger)
	return append(validation.ValidateTrigger(tr), registry.ValidateNewResourceVersion(tr)...)
}

// ValidateUpdate validates an update.
func (Strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateTriggerUpdate(obj.(*sluice.Trigger), old.(*sluice.Trigger))
}

// StatusStrategy is the update strategy of triggers/status, which ignores
// everything but status.
type StatusStrategy = status.UpdateStrategy[*sluice.Trigger]

// NewStatusStrategy returns the strategy of the status subresource.
func NewStatusStrategy(s Strategy) StatusStrategy {
	return status.NewUpdateStrategy(s, func(tr, old *sluice.Trigger) { tr.Spec = old.Spec }, validation.ValidateTriggerStatusUpdate)
}

// GetAttrs returns the labels and selectable fields of a trigger.
var GetAttrs = registry.Attrs(SelectableFields)

// SelectableFields are metadata.name and metadata.namespace.
func SelectableFields(tr *sluice.Trigger) fields.Set {
	return generic.ObjectMetaFieldsSet(&tr.ObjectMeta, true)
}
