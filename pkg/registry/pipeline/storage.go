package pipeline

import (
	"context"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/registry"
	"github.com/sluice-dev/sluice/pkg/registry/pipelinejob"
	"github.com/sluice-dev/sluice/pkg/registry/status"
	"github.com/sluice-dev/sluice/pkg/registry/table"
	"github.com/sluice-dev/sluice/pkg/registry/update"
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

// NewRunREST returns the storage of pipelines/run, which creates jobs in
// jobs; triggers reads the Triggers that requests name.
func NewRunREST(pipelines *REST, jobs *pipelinejob.REST, triggers rest.Getter) *RunREST {
	return &RunREST{pipelines: pipelines, jobs: jobs, triggers: triggers}
}

// NewRollbackREST returns the storage of pipelines/rollback, which creates
// jobs in jobs.
func NewRollbackREST(pipelines *REST, jobs *pipelinejob.REST) *RollbackREST {
	return &RollbackREST{pipelines: pipelines, jobs: jobs}
}

// Update updates a pipeline, or creates one for server-side apply; a
// client's bad patch or resourceVersion is its 4xx (update.Checked).
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.Store.Update(ctx, name, update.Checked(r.DefaultQualifiedResource, name, objInfo), createValidation, updateValidation, forceAllowCreate, options)
}

// getPipeline reads a pipeline.
func (r *REST) getPipeline(ctx context.Context, name string) (*sluice.Pipeline, error) {
	obj, err := r.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*sluice.Pipeline), nil
}

// ShortNames lets `kubectl get pl` work.
func (r *REST) ShortNames() []string { return []string{"pl"} }

// Categories puts pipelines in `kubectl get sluice`.
func (r *REST) Categories() []string { return []string{"sluice"} }

// Table prints pipelines: NAME, STEPS, LAST-JOB, LAST-PHASE, AGE, and with
// -o wide what each environment runs, and the description.
var Table = table.Convertor{
	Columns: []metav1.TableColumnDefinition{
		table.NameColumn,
		{Name: "Steps", Type: "integer", Description: "Number of steps."},
		{Name: "Last-Job", Type: "string", Description: "The most recently started job."},
		{Name: "Last-Phase", Type: "string", Description: "Phase of the most recently started job."},
		{Name: "Deployed", Type: "string", Priority: 1, Description: "The current release of each environment: environment=job."},
		{Name: "Description", Type: "string", Priority: 1, Description: "What the pipeline is for."},
		table.AgeColumn,
	},
	Row: func(obj runtime.Object, now time.Time) ([]any, error) {
		p := obj.(*sluice.Pipeline)
		lastJob, lastPhase := "<none>", "<none>"
		if p.Status.LastJob != nil {
			lastJob, lastPhase = p.Status.LastJob.Name, string(p.Status.LastJob.Phase)
		}
		return []any{p.Name, int64(len(p.Spec.Steps)), lastJob, lastPhase, DeployedColumn(p), p.Spec.Description,
			table.Age(p.CreationTimestamp, now)}, nil
	},
}

// DeployedColumn is "env=job,..." of the environments that have a current
// release, or "<none>".
func DeployedColumn(p *sluice.Pipeline) string {
	var parts []string
	for _, e := range p.Status.Environments {
		if e.Current != nil {
			parts = append(parts, e.Name+"="+e.Current.Job)
		}
	}
	if len(parts) == 0 {
		return "<none>"
	}
	return strings.Join(parts, ",")
}
