package status

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/sluice-dev/sluice/pkg/registry/update"
)

// Strategy is what a status subresource needs of its strategy: how an
// update is prepared and validated (spec changes are dropped) and which
// fields it resets.
type Strategy interface {
	rest.RESTUpdateStrategy
	rest.ResetFieldsStrategy
}

// REST is the storage of a status subresource.
type REST struct {
	store *genericregistry.Store
}

// NewREST serves the status of the resource stored by store: a copy of the
// store that updates with strategy. The copy shares the resource's storage.
func NewREST(store *genericregistry.Store, strategy Strategy) *REST {
	status := *store
	status.UpdateStrategy = strategy
	status.ResetFieldsStrategy = strategy
	return &REST{&status}
}

// New returns an empty object of the resource.
func (r *REST) New() runtime.Object { return r.store.New() }

// Destroy cleans up; the main resource owns the storage.
func (r *REST) Destroy() {}

// Get retrieves the object for the status subresource.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update changes the status of an object; spec changes are ignored. A
// client's bad patch or resourceVersion is its 4xx, as on the resource
// (update.Checked).
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Status updates never create.
	return r.store.Update(ctx, name, update.Checked(r.store.DefaultQualifiedResource, name, objInfo), createValidation, updateValidation, false, options)
}

// GetResetFields lists what the status subresource ignores.
func (r *REST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable prints the status subresource like the resource.
func (r *REST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}
