package pipeline

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/registry/table"
)

// REST is the storage of pipelines.
type REST struct {
	*genericregistry.Store
}

// StatusREST is the storage of pipelines/status.
type StatusREST struct {
	store *genericregistry.Store
}

// NewREST returns the storage of pipelines and of their status subresource.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, *StatusREST, error) {
	strategy := NewStrategy(scheme)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &sluice.Pipeline{} },
		NewListFunc:               func() runtime.Object { return &sluice.PipelineList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  sluice.Resource("pipelines"),
		SingularQualifiedResource: sluice.Resource("pipeline"),

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: Table,
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, nil, err
	}
	statusStore := *store
	status := NewStatusStrategy(strategy)
	statusStore.UpdateStrategy = status
	statusStore.ResetFieldsStrategy = status
	return &REST{store}, &StatusREST{&statusStore}, nil
}

// ShortNames lets `kubectl get pl` work.
func (r *REST) ShortNames() []string { return []string{"pl"} }

// Categories puts pipelines in `kubectl get sluice`.
func (r *REST) Categories() []string { return []string{"sluice"} }

// New returns an empty Pipeline.
func (r *StatusREST) New() runtime.Object { return &sluice.Pipeline{} }

// Destroy cleans up; the main resource owns the storage.
func (r *StatusREST) Destroy() {}

// Get retrieves the object for the status subresource.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update changes the status of a pipeline; spec changes are ignored.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Status updates never create.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields lists what the status subresource ignores.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable prints the status subresource like the resource.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

// Table prints pipelines: NAME, STEPS, LAST-JOB, LAST-PHASE, AGE.
var Table = table.Convertor{
	Columns: []metav1.TableColumnDefinition{
		table.NameColumn,
		{Name: "Steps", Type: "integer", Description: "Number of steps."},
		{Name: "Last-Job", Type: "string", Description: "The most recently started job."},
		{Name: "Last-Phase", Type: "string", Description: "Phase of the most recently started job."},
		{Name: "Description", Type: "string", Priority: 1, Description: "What the pipeline is for."},
		table.AgeColumn,
	},
	Row: func(obj runtime.Object, now time.Time) ([]any, error) {
		p := obj.(*sluice.Pipeline)
		lastJob, lastPhase := "<none>", "<none>"
		if p.Status.LastJob != nil {
			lastJob, lastPhase = p.Status.LastJob.Name, string(p.Status.LastJob.Phase)
		}
		return []any{p.Name, int64(len(p.Spec.Steps)), lastJob, lastPhase, p.Spec.Description, table.Age(p.CreationTimestamp, now)}, nil
	},
}
