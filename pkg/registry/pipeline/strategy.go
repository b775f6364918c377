package pipeline

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/validation"
)

// Strategy is the create, update and delete strategy of pipelines: the main
// resource, which ignores status changes.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewStrategy returns the strategy of the main resource.
func NewStrategy(typer runtime.ObjectTyper) Strategy {
	return Strategy{typer, names.SimpleNameGenerator}
}

// NamespaceScoped is true: pipelines live in a namespace.
func (Strategy) NamespaceScoped() bool { return true }

// GetResetFields lists the fields the main resource never writes: status.
func (Strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"sluice.dev/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
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
	return validation.ValidatePipeline(obj.(*sluice.Pipeline))
}

// WarningsOnCreate returns no warnings.
func (Strategy) WarningsOnCreate(ctx context.Context, obj runtime.Object) []string { return nil }

// Canonicalize does nothing: pipelines have no alternative forms.
func (Strategy) Canonicalize(obj runtime.Object) {}

// AllowCreateOnUpdate is false: PUT of a missing pipeline is 404.
func (Strategy) AllowCreateOnUpdate() bool { return false }

// AllowUnconditionalUpdate is true: an update without resourceVersion is
// applied to the latest version, as for most built-in resources.
func (Strategy) AllowUnconditionalUpdate() bool { return true }

// ValidateUpdate validates an update.
func (Strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidatePipelineUpdate(obj.(*sluice.Pipeline), old.(*sluice.Pipeline))
}

// WarningsOnUpdate returns no warnings.
func (Strategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string { return nil }

// StatusStrategy is the update strategy of pipelines/status, which ignores
// everything but status.
type StatusStrategy struct {
	Strategy
}

// NewStatusStrategy returns the strategy of the status subresource.
func NewStatusStrategy(s Strategy) StatusStrategy { return StatusStrategy{s} }

// GetResetFields lists the fields the status subresource never writes:
// spec, and the metadata it copies from the stored object.
func (StatusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"sluice.dev/v1alpha1": fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "labels"),
			fieldpath.MakePathOrDie("metadata", "annotations"),
			fieldpath.MakePathOrDie("metadata", "finalizers"),
			fieldpath.MakePathOrDie("metadata", "ownerReferences"),
		),
	}
}

// PrepareForUpdate keeps everything but status from the stored object.
func (StatusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	p, oldP := obj.(*sluice.Pipeline), old.(*sluice.Pipeline)
	p.Spec = oldP.Spec
	p.Labels = oldP.Labels
	p.Annotations = oldP.Annotations
	p.Finalizers = oldP.Finalizers
	p.OwnerReferences = oldP.OwnerReferences
}

// ValidateUpdate validates a status update.
func (StatusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidatePipelineStatusUpdate(obj.(*sluice.Pipeline), old.(*sluice.Pipeline))
}

// WarningsOnUpdate returns no warnings.
func (StatusStrategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string {
	return nil
}

// GetAttrs returns the labels and selectable fields of a pipeline.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	p, ok := obj.(*sluice.Pipeline)
	if !ok {
		return nil, nil, fmt.Errorf("not a Pipeline: %T", obj)
	}
	return p.Labels, SelectableFields(p), nil
}

// SelectableFields are metadata.name and metadata.namespace.
func SelectableFields(p *sluice.Pipeline) fields.Set {
	return generic.ObjectMetaFieldsSet(&p.ObjectMeta, true)
}

// Match returns the predicate of a label and field selector on pipelines.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
