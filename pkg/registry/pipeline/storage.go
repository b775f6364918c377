package pipeline

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/registry"
	"github.com/sluice-dev/sluice/pkg/registry/status"
	"github.com/sluice-dev/sluice/pkg/registry/table"
)

// REST is the storage of pipelines.
type REST struct {
	*genericregistry.Store
}

// NewREST returns the storage of pipelines and of their status subresource.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, *status.REST, error) {
	strategy := NewStrategy(scheme)
	store, statusREST, err := registry.NewStore(registry.Resource{
		Plural:         "pipelines",
		Singular:       "pipeline",
		NewFunc:        func() runtime.Object { return &sluice.Pipeline{} },
		NewListFunc:    func() runtime.Object { return &sluice.PipelineList{} },
		Strategy:       strategy,
		StatusStrategy: NewStatusStrategy(strategy),
		GetAttrs:       GetAttrs,
		TableConvertor: Table,
	}, optsGetter)
	if err != nil {
		return nil, nil, err
	}
	return &REST{store}, statusREST, nil
}

// ShortNames lets `kubectl get pl` work.
func (r *REST) ShortNames() []string { return []string{"pl"} }

// Categories puts pipelines in `kubectl get sluice`.
func (r *REST) Categories() []string { return []string{"sluice"} }

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
