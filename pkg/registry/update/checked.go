package update

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Checked wraps the new object of an update or patch of the object
// name of resource, so that two mistakes of a client that the generic
// registry and the patch handler answer with a 500 are the client's 4xx:
//
//   - A patch that cannot be applied for a reason the patch handler does
//     not classify (a strategic merge patch with an unknown $patch
//     directive, a list item without its merge key, an element order that
//     is no list; server-side apply of a field of the wrong type or of a
//     list with a key twice) is a 422 whose cause is the field "patch" and
//     whose message is the patch library's. Only the patch's content can
//     fail it there: the object it applies to was read from storage.
//   - An object whose metadata.resourceVersion is no unsigned integer is a
//     400, as such a resourceVersion is on a get or a list; the generic
//     registry would fail parsing it.
//
// The Update of every main resource and status subresource wraps what it
// is given with it.
func Checked(resource schema.GroupResource, name string, objInfo rest.UpdatedObjectInfo) rest.UpdatedObjectInfo {
	return checkedUpdate{UpdatedObjectInfo: objInfo, resource: resource, name: name}
}

type checkedUpdate struct {
	rest.UpdatedObjectInfo
	resource schema.GroupResource
	name     string
}

// UpdatedObject is the inner object, or the client's error.
func (c checkedUpdate) UpdatedObject(ctx context.Context, old runtime.Object) (runtime.Object, error) {
	obj, err := c.UpdatedObjectInfo.UpdatedObject(ctx, old)
	if err != nil {
		var status apierrors.APIStatus
		if info, ok := genericapirequest.RequestInfoFrom(ctx); ok && info.Verb == "patch" && !errors.As(err, &status) {
			return nil, c.unappliablePatch(err)
		}
		return nil, err
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if rv := accessor.GetResourceVersion(); rv != "" {
		if _, err := strconv.ParseUint(rv, 10, 64); err != nil {
			return nil, apierrors.NewBadRequest("invalid resource version: " + field.Invalid(field.NewPath("metadata", "resourceVersion"), rv,
				"must be a resourceVersion the server handed out, an unsigned integer").Error())
		}
	}
	return obj, nil
}

// unappliablePatch is the 422 of a patch that cannot be applied.
func (c checkedUpdate) unappliablePatch(err error) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusUnprocessableEntity,
		Reason:  metav1.StatusReasonInvalid,
		Message: fmt.Sprintf("the patch of %s %q cannot be applied: %v", c.resource, c.name, err),
		Details: &metav1.StatusDetails{
			Group: c.resource.Group,
			Kind:  c.resource.Resource,
			Name:  c.name,
			Causes: []metav1.StatusCause{{
				Type:    metav1.CauseTypeFieldValueInvalid,
				Field:   "patch",
				Message: err.Error(),
			}},
		},
	}}
}
