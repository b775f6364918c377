package status

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// Object is an object of a resource with a status subresource.
type Object interface {
	runtime.Object
	metav1.Object
}

// UpdateStrategy is the update strategy of a status subresource whose
// objects are T: an update changes status and nothing else. Scope,
// canonical form and the rules for unconditional updates are the main
// resource's.
type UpdateStrategy[T Object] struct {
	rest.RESTUpdateStrategy
	keep     func(obj, old T)
	validate func(obj, old T) field.ErrorList
}

// NewUpdateStrategy returns the status strategy of the resource whose
// strategy is main. keep copies from old into obj what a status write may
// not change: the spec, and whatever part of the status the server records
// itself; validate is the resource's status update rule.
func NewUpdateStrategy[T Object](main rest.RESTUpdateStrategy, keep func(obj, old T), validate func(obj, old T) field.ErrorList) UpdateStrategy[T] {
	return UpdateStrategy[T]{RESTUpdateStrategy: main, keep: keep, validate: validate}
}

// GetResetFields lists the fields the status subresource never writes:
// spec, and the metadata PrepareForUpdate copies from the stored object.
func (UpdateStrategy[T]) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "labels"),
			fieldpath.MakePathOrDie("metadata", "annotations"),
			fieldpath.MakePathOrDie("metadata", "finalizers"),
			fieldpath.MakePathOrDie("metadata", "ownerReferences"),
		),
	}
}

// PrepareForUpdate keeps everything but status from the stored object.
func (s UpdateStrategy[T]) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	o, oldO := obj.(T), old.(T)
	s.keep(o, oldO)
	o.SetLabels(oldO.GetLabels())
	o.SetAnnotations(oldO.GetAnnotations())
	o.SetFinalizers(oldO.GetFinalizers())
	o.SetOwnerReferences(oldO.GetOwnerReferences())
}

// ValidateUpdate validates a status update with the resource's rule.
func (s UpdateStrategy[T]) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return s.validate(obj.(T), old.(T))
}

// WarningsOnUpdate returns no warnings.
func (UpdateStrategy[T]) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string {
	return nil
}
