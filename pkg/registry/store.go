package registry

import (
	"fmt"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/registry/status"
)

// MainStrategy is what the main resource's storage needs of its strategy.
type MainStrategy interface {
	rest.RESTCreateStrategy
	rest.RESTUpdateStrategy
	rest.RESTDeleteStrategy
	rest.ResetFieldsStrategy
}

// Resource describes one resource of the group to NewStore.
type Resource struct {
	Plural, Singular string
	NewFunc          func() runtime.Object
	NewListFunc      func() runtime.Object
	Strategy         MainStrategy
	StatusStrategy   status.Strategy
	// GetAttrs returns an object's labels and selectable fields.
	GetAttrs       storage.AttrFunc
	TableConvertor rest.TableConvertor
}

// NewStore returns the generic registry Store of a resource, and the
// storage of its status subresource, which shares it.
func NewStore(r Resource, optsGetter generic.RESTOptionsGetter) (*genericregistry.Store, *status.REST, error) {
	store := &genericregistry.Store{
		NewFunc:     r.NewFunc,
		NewListFunc: r.NewListFunc,
		PredicateFunc: func(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
			return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: r.GetAttrs}
		},
		DefaultQualifiedResource:  sluice.Resource(r.Plural),
		SingularQualifiedResource: sluice.Resource(r.Singular),

		CreateStrategy:      r.Strategy,
		UpdateStrategy:      r.Strategy,
		DeleteStrategy:      r.Strategy,
		ResetFieldsStrategy: r.Strategy,

		TableConvertor: r.TableConvertor,
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: r.GetAttrs}); err != nil {
		return nil, nil, err
	}
	return store, status.NewREST(store, r.StatusStrategy), nil
}

// Attrs returns the AttrFunc of a resource whose objects are T and whose
// selectable fields are selectable.
func Attrs[T status.Object](selectable func(T) fields.Set) storage.AttrFunc {
	return func(obj runtime.Object) (labels.Set, fields.Set, error) {
		o, ok := obj.(T)
		if !ok {
			var want T
			return nil, nil, fmt.Errorf("not a %T: %T", want, obj)
		}
		return o.GetLabels(), selectable(o), nil
	}
}
