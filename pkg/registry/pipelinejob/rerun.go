package pipelinejob

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/registry"
)

// RerunREST serves pipelinejobs/rerun: a new job with the params and
// environment of a finished one, which runs the old job's snapshot of its
// pipeline unless asked to run the pipeline as it is now.
type RerunREST struct {
	registry.JobAction
	jobs *REST
}

var _ rest.NamedCreater = &RerunREST{}

// New returns an empty RerunRequest.
func (r *RerunREST) New() runtime.Object { return &sluice.RerunRequest{} }

// Create reruns the named job.
func (r *RerunREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*sluice.RerunRequest)
	if err := registry.AdmitRequest(ctx, "RerunRequest", name, req, nil, createValidation); err != nil {
		return nil, err
	}
	old, err := r.jobs.getJob(ctx, name)
	if err != nil {
		return nil, err
	}
	if !old.Status.Phase.Finished() {
		return nil, apierrors.NewConflict(sluice.Resource("pipelinejobs"), name, fmt.Errorf(
			"the job is %s; rerun it once it has finished, or cancel it first", phaseOrPending(old.Status.Phase)))
	}
	if req.FromCurrentPipeline && old.Spec.PipelineRef == nil {
		return nil, apierrors.NewInvalid(sluice.Kind("RerunRequest"), name, field.ErrorList{field.Invalid(
			field.NewPath("fromCurrentPipeline"), true, "the job runs an inline pipeline, so there is no current pipeline to run")})
	}
	job := RerunJob(old, sluice.JobTrigger{Type: sluice.TriggerRerun, Detail: "rerun of " + old.Name}, req.FromCurrentPipeline)
	return r.jobs.CreateForAction(ctx, job, options)
}

func phaseOrPending(p sluice.JobPhase) sluice.JobPhase {
	if p == "" {
		return sluice.JobPending
	}
	return p
}

// RerunJob is a new job that runs old again: the same params, environment
// and user labels, labelled sluice.dev/rerun-of. It runs the snapshot of
// the pipeline that old ran (its status.pipelineSpec), so nothing that
// changed in the Pipeline since then changes what runs, unless
// fromCurrentPipeline. A job that never started has no snapshot; its
// rerun runs what it would have run: its inline pipeline, or the Pipeline
// it names as it is now.
func RerunJob(old *sluice.PipelineJob, trigger sluice.JobTrigger, fromCurrentPipeline bool) *sluice.PipelineJob {
	job := &sluice.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: rerunName(old),
			Namespace:    old.Namespace,
			Labels:       map[string]string{},
		},
		Spec: sluice.PipelineJobSpec{
			PipelineRef: old.Spec.PipelineRef.DeepCopy(),
			Params:      slices.Clone(old.Spec.Params),
			Environment: old.Spec.Environment,
			Trigger:     trigger,
		},
	}
	for k, v := range old.Labels {
		// The server's labels are set again from the new job's spec.
		if !strings.HasPrefix(k, v1alpha1.GroupName+"/") || k == v1alpha1.LabelControllerInstance {
			job.Labels[k] = v
		}
	}
	job.Labels[v1alpha1.LabelRerunOf] = old.Name
	switch {
	case fromCurrentPipeline:
	case old.Status.PipelineSpec != nil:
		job.Spec.PipelineSpec = old.Status.PipelineSpec.DeepCopy()
	case old.Spec.PipelineSpec != nil:
		job.Spec.PipelineSpec = old.Spec.PipelineSpec.DeepCopy()
	}
	return job
}

// rerunName is the generateName of a rerun: the old job's own, or its name.
func rerunName(old *sluice.PipelineJob) string {
	if old.GenerateName != "" {
		return old.GenerateName
	}
	return old.Name + "-"
}
