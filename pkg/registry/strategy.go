package registry

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// Strategy is what the main-resource strategies of the group share. Each
// resource's strategy embeds it and adds how its objects are prepared and
// validated.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewStrategy returns the shared part of a strategy, with the usual name
// generator for generateName.
func NewStrategy(typer runtime.ObjectTyper) Strategy {
	return Strategy{typer, names.SimpleNameGenerator}
}

// NamespaceScoped is true: every resource of the group lives in a namespace.
func (Strategy) NamespaceScoped() bool { return true }

// GetResetFields lists the fields the main resource never writes: status,
// which is the status subresource's.
func (Strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// WarningsOnCreate returns no warnings.
func (Strategy) WarningsOnCreate(ctx context.Context, obj runtime.Object) []string { return nil }

// Canonicalize does nothing: no object of the group has alternative forms.
func (Strategy) Canonicalize(obj runtime.Object) {}

// AllowCreateOnUpdate is false: PUT of a missing object is 404.
func (Strategy) AllowCreateOnUpdate() bool { return false }

// AllowUnconditionalUpdate is true: an update without resourceVersion is
// applied to the latest version, as for most built-in resources.
func (Strategy) AllowUnconditionalUpdate() bool { return true }

// WarningsOnUpdate returns no warnings.
func (Strategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string { return nil }

// ValidateNewResourceVersion refuses a new object that carries a
// resourceVersion: a create has no version to check it against, and one
// that sends it most likely copied an object it read. "0" means none, as
// with etcd. Without this, the storage's "resourceVersion should not be
// set on objects to be created" reached the client as a 500 (as it does
// from kube-apiserver), and a resourceVersion that is no number was
// silently dropped.
func ValidateNewResourceVersion(obj metav1.Object) field.ErrorList {
	if rv := obj.GetResourceVersion(); rv != "" && rv != "0" {
		return field.ErrorList{field.Invalid(field.NewPath("metadata", "resourceVersion"), rv, "must not be set on create")}
	}
	return nil
}
