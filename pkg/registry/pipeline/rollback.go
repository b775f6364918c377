package pipeline

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/validation"
	"github.com/sluice-dev/sluice/pkg/registry"
	"github.com/sluice-dev/sluice/pkg/registry/pipelinejob"
)

// RollbackREST serves pipelines/rollback: it runs an earlier release of an
// environment again, the job's params and its snapshot of the pipeline,
// so what was deployed then is deployed again and nothing is rebuilt.
type RollbackREST struct {
	registry.JobAction
	pipelines *REST
	jobs      *pipelinejob.REST
}

var _ rest.NamedCreater = &RollbackREST{}

// New returns an empty RollbackRequest.
func (r *RollbackREST) New() runtime.Object { return &sluice.RollbackRequest{} }

// Create rolls the environment back to req.ToJob, or to the release before
// the current one. It is a 409 when there is nothing to go back to, and a
// 422 naming toJob when that job is not a release of the environment.
func (r *RollbackREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*sluice.RollbackRequest)
	if err := registry.AdmitRequest(ctx, "RollbackRequest", name, req, validation.ValidateRollbackRequest(req), createValidation); err != nil {
		return nil, err
	}
	p, err := r.pipelines.getPipeline(ctx, name)
	if err != nil {
		return nil, err
	}
	invalid := func(path, value, msg string) error {
		return registry.AdmitRequest(ctx, "RollbackRequest", name, req, field.ErrorList{field.Invalid(field.NewPath(path), value, msg)}, nil)
	}
	env := req.Environment
	if env == "" {
		env = p.Spec.Environment
	}
	if env == "" {
		return nil, registry.AdmitRequest(ctx, "RollbackRequest", name, req, field.ErrorList{
			field.Required(field.NewPath("environment"), "the pipeline has no default environment")}, nil)
	}
	conflict := func(format string, args ...any) error {
		return apierrors.NewConflict(sluice.Resource("pipelines"), name, fmt.Errorf(format, args...))
	}
	explicit := req.ToJob != ""
	var current *sluice.Release
	for _, e := range p.Status.Environments {
		if e.Name == env {
			current = e.Current
			if req.ToJob == "" && e.Previous != nil {
				req.ToJob = e.Previous.Job
			}
		}
	}
	switch {
	case req.ToJob == "" && current == nil:
		return nil, conflict("nothing to roll back to: environment %q has no release of this pipeline", env)
	case req.ToJob == "":
		return nil, conflict("nothing to roll back to: %s is the only release of environment %q; name an earlier job in toJob", current.Job, env)
	case current != nil && req.ToJob == current.Job:
		return nil, invalid("toJob", req.ToJob, fmt.Sprintf("is the current release of environment %q; rerun it with pipelinejobs/rerun", env))
	}
	target, err := r.jobs.Get(ctx, req.ToJob, &metav1.GetOptions{})
	if apierrors.IsNotFound(err) && explicit {
		return nil, registry.AdmitRequest(ctx, "RollbackRequest", name, req, field.ErrorList{field.NotFound(field.NewPath("toJob"), req.ToJob)}, nil)
	}
	if apierrors.IsNotFound(err) {
		return nil, conflict("cannot roll back environment %q to %s: the job no longer exists", env, req.ToJob)
	}
	if err != nil {
		return nil, err
	}
	old := target.(*sluice.PipelineJob)
	switch {
	case old.Spec.PipelineRef == nil || old.Spec.PipelineRef.Name != name:
		return nil, invalid("toJob", req.ToJob, fmt.Sprintf("is not a job of pipeline %q", name))
	case old.Spec.Environment != env:
		return nil, invalid("toJob", req.ToJob, fmt.Sprintf("deployed to environment %q, not %q", old.Spec.Environment, env))
	case old.Status.Phase != sluice.JobSucceeded:
		return nil, invalid("toJob", req.ToJob, fmt.Sprintf("did not succeed (it is %s), so it is not a release", old.Status.Phase))
	}
	from := "nothing"
	if current != nil {
		from = current.Job
	}
	job := pipelinejob.RerunJob(old, sluice.JobTrigger{
		Type:   sluice.TriggerRollback,
		Detail: fmt.Sprintf("rollback of %s from %s to %s", env, from, old.Name),
	}, false)
	return r.jobs.CreateForAction(ctx, job, options)
}
