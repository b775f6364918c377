package pipeline

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/validation"
	"github.com/sluice-dev/sluice/pkg/registry"
	"github.com/sluice-dev/sluice/pkg/registry/pipelinejob"
)

// RunREST serves pipelines/run: it creates a job of the pipeline on the
// caller's behalf. RBAC `create` on pipelines/run, which resourceNames can
// limit to named pipelines, is all the caller needs: it grants "may run
// this pipeline" without "may create any job", which with an inline
// pipelineSpec means "may run any container".
type RunREST struct {
	registry.JobAction
	pipelines *REST
	jobs      *pipelinejob.REST
}

var _ rest.NamedCreater = &RunREST{}

// New returns an empty RunRequest.
func (r *RunREST) New() runtime.Object { return &sluice.RunRequest{} }

// Create starts a job of the named pipeline. Its params are checked against
// the pipeline now, so a missing or unknown param is a 422 naming it
// rather than a job that fails at start.
func (r *RunREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*sluice.RunRequest)
	if err := registry.AdmitRequest(ctx, "RunRequest", name, req, validation.ValidateRunRequest(req), createValidation); err != nil {
		return nil, err
	}
	p, err := r.pipelines.getPipeline(ctx, name)
	if err != nil {
		return nil, err
	}
	if errs := validation.ValidateParamValues(p.Spec.Params, req.Params, field.NewPath("params")); len(errs) > 0 {
		return nil, registry.AdmitRequest(ctx, "RunRequest", name, req, errs, nil)
	}
	env := req.Environment
	if env == "" {
		env = p.Spec.Environment
	}
	return r.jobs.CreateForAction(ctx, &sluice.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-", Namespace: p.Namespace},
		Spec: sluice.PipelineJobSpec{
			PipelineRef: &sluice.PipelineReference{Name: name},
			Params:      req.Params,
			Environment: env,
			Trigger:     sluice.JobTrigger{Type: sluice.TriggerManual},
		},
	}, options)
}
