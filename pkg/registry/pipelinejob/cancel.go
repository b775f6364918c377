package pipelinejob

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/validation"
	"github.com/sluice-dev/sluice/pkg/registry"
)

// CancelREST serves pipelinejobs/cancel: it sets spec.cancel and records
// the caller and the reason in status, in one write.
type CancelREST struct {
	registry.JobAction
	jobs *REST
}

var _ rest.NamedCreater = &CancelREST{}

// New returns an empty CancelRequest.
func (r *CancelREST) New() runtime.Object { return &sluice.CancelRequest{} }

// Create cancels the named job. Cancelling a job that is already being
// cancelled changes nothing and answers with the job; cancelling a finished
// job is a conflict.
func (r *CancelREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req := obj.(*sluice.CancelRequest)
	if err := registry.AdmitRequest(ctx, "CancelRequest", name, req, validation.ValidateCancelRequest(req), createValidation); err != nil {
		return nil, err
	}
	by := userInfo(ctx)
	return r.jobs.updateForAction(ctx, name, options.DryRun, func(j *sluice.PipelineJob) error {
		if j.Status.Phase.Finished() {
			return apierrors.NewConflict(sluice.Resource("pipelinejobs"), name,
				fmt.Errorf("the job has already finished as %s", j.Status.Phase))
		}
		if !j.Spec.Cancel {
			j.Spec.Cancel = true
			j.Status.CancelledBy, j.Status.CancelReason = by, req.Reason
		}
		return nil
	})
}
