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

// RunREST serves pipelines/run: it creates a job of the pipeline on the
// caller's behalf. RBAC `create` on pipelines/run, which resourceNames can
// limit to named pipelines, is all the caller needs: it grants "may run
// this pipeline" without "may create any job", which with an inline
// pipelineSpec means "may run any container".
type RunREST struct {
	registry.JobAction
	pipelines *REST
	jobs      *pipelinejob.REST
	// triggers reads the Trigger a request says the job is for.
	triggers rest.Getter
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
	trigger := sluice.JobTrigger{Type: sluice.TriggerManual}
	if req.Trigger != nil {
		if err := r.checkTrigger(ctx, name, req); err != nil {
			return nil, err
		}
		trigger = *req.Trigger
	}
	env := req.Environment
	if env == "" {
		env = p.Spec.Environment
	}
	meta := metav1.ObjectMeta{Name: req.Name, Namespace: p.Namespace}
	if meta.Name == "" {
		meta.GenerateName = name + "-"
	}
	return r.jobs.CreateForAction(ctx, &sluice.PipelineJob{
		ObjectMeta: meta,
		Spec: sluice.PipelineJobSpec{
			PipelineRef: &sluice.PipelineReference{Name: name},
			Params:      req.Params,
			Environment: env,
			Trigger:     trigger,
		},
	}, options)
}

// checkTrigger refuses a request for a Trigger that does not exist or
// starts another pipeline: a job's spec.trigger names what really
// started it (and spec.startedBy who asked).
func (r *RunREST) checkTrigger(ctx context.Context, pipeline string, req *sluice.RunRequest) error {
	namePath := field.NewPath("trigger", "name")
	obj, err := r.triggers.Get(ctx, req.Trigger.Name, &metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return registry.AdmitRequest(ctx, "RunRequest", pipeline, req, field.ErrorList{field.NotFound(namePath, req.Trigger.Name)}, nil)
	case err != nil:
		return err
	}
	if tr := obj.(*sluice.Trigger); tr.Spec.PipelineRef.Name != pipeline {
		return registry.AdmitRequest(ctx, "RunRequest", pipeline, req, field.ErrorList{field.Invalid(namePath, req.Trigger.Name,
			fmt.Sprintf("trigger %q starts pipeline %q, not %q", tr.Name, tr.Spec.PipelineRef.Name, pipeline))}, nil)
	}
	return nil
}
