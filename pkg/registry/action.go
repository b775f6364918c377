package registry

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// JobAction is embedded by the storage of every action subresource (run,
// cancel, rerun, rollback, approval). Each is a POST of a small request
// kind, authorised as `create` on <resource>/<subresource>, that answers
// with the PipelineJob it created or changed, as OpenShift's
// buildconfigs/instantiate answers with a Build.
type JobAction struct{}

// Destroy does nothing: an action shares the storage of its resource.
func (JobAction) Destroy() {}

// ProducesObject tells discovery and OpenAPI that the answer is a PipelineJob.
func (JobAction) ProducesObject(verb string) any { return &v1alpha1.PipelineJob{} }

// ProducesMIMETypes adds no media types to the group's.
func (JobAction) ProducesMIMETypes(verb string) []string { return nil }

// AdmitRequest rejects an invalid request with a 422 whose causes name its
// fields, then runs admission on it, as the generic registry does for a
// created object.
func AdmitRequest(ctx context.Context, kind, name string, req runtime.Object, errs field.ErrorList, createValidation rest.ValidateObjectFunc) error {
	if len(errs) > 0 {
		return apierrors.NewInvalid(sluice.Kind(kind), name, errs)
	}
	if createValidation != nil {
		return createValidation(ctx, req.DeepCopyObject())
	}
	return nil
}
