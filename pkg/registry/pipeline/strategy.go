package pipeline

import (
	"context"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/validation"
	"github.com/sluice-dev/sluice/pkg/registry"
	"github.com/sluice-dev/sluice/pkg/registry/status"
)

// Strategy is the create, update and delete strategy of pipelines: the main
// resource, which ignores status changes.
type Strategy struct {
	registry.Strategy
}

// NewStrategy returns the strategy of the main resource.
func NewStrategy(typer runtime.ObjectTyper) Strategy {
	return Strategy{registry.NewStrategy(typer)}
}

// PrepareForCreate drops any status the client sent and starts the generation at 1.
func (Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	p := obj.(*sluice.Pipeline)
	p.Status = sluice.PipelineStatus{}
	p.Generation = 1
}

// PrepareForUpdate keeps the stored status and bumps the generation when the spec changes.
func (Strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	p, oldP := obj.(*sluice.Pipeline), old.(*sluice.Pipeline)
	p.Status = oldP.Status
	if !apiequality.Semantic.DeepEqual(p.Spec, oldP.Spec) {
		p.Generation = oldP.Generation + 1
	}
}

// Validate validates a new pipeline.
func (Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	p := obj.(*sluice.Pipeline)
	return append(validation.ValidatePipeline(p), registry.ValidateNewResourceVersion(p)...)
}

// ValidateUpdate validates an update.
func (Strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidatePipelineUpdate(obj.(*sluice.Pipeline), old.(*sluice.Pipeline))
}

// StatusStrategy is the update strategy of pipelines/status, which ignores
// everything but status.
type StatusStrategy = status.UpdateStrategy[*sluice.Pipeline]

// NewStatusStrategy returns the strategy of the status subresource.
func NewStatusStrategy(s Strategy) StatusStrategy {
	return status.NewUpdateStrategy(s, func(p, old *sluice.Pipeline) { p.Spec = old.Spec }, validation.ValidatePipelineStatusUpdate)
}

// GetAttrs returns the labels and selectable fields of a pipeline.
var GetAttrs = registry.Attrs(SelectableFields)

// SelectableFields are metadata.name and metadata.namespace.
func SelectableFields(p *sluice.Pipeline) fields.Set {
	return generic.ObjectMetaFieldsSet(&p.ObjectMeta, true)
}
