package update

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

func TestChecked(t *testing.T) {
	old := &sluice.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", ResourceVersion: "7"}}
	withRV := func(rv string) runtime.Object {
		p := old.DeepCopy()
		p.ResourceVersion = rv
		return p
	}
	patchFailure := errors.New("unknown patch type: bogus in map: map[$patch:bogus]")
	conflict := apierrors.NewConflict(sluice.Resource("pipelines"), "p", errors.New("stale"))
	for _, tc := range []struct {
		name    string
		verb    string
		obj     runtime.Object
		err     error
		code    int32  // 0: no error
		message string // in the error
	}{
		{name: "a patch that applies", verb: "patch", obj: withRV("7")},
		{name: "an update without a resourceVersion", verb: "update", obj: withRV("")},
		{name: "a patch the library cannot apply is the client's 422", verb: "patch", err: patchFailure, code: http.StatusUnprocessableEntity,
			message: `the patch of pipelines.sluice.dev "p" cannot be applied: unknown patch type: bogus in map: map[$patch:bogus]`},
		{name: "a patch's Status error is kept", verb: "patch", err: conflict, code: http.StatusConflict, message: "stale"},
		{name: "an update's other errors are kept", verb: "update", err: patchFailure, message: "unknown patch type"},
		{name: "a resourceVersion that is no number", verb: "update", obj: withRV("abc"), code: http.StatusBadRequest,
			message: `invalid resource version: metadata.resourceVersion: Invalid value: "abc": must be a resourceVersion the server handed out, an unsigned integer`},
		{name: "a negative resourceVersion in a patch", verb: "patch", obj: withRV("-1"), code: http.StatusBadRequest, message: `"-1"`},
		{name: "a resourceVersion past 64 bits", verb: "update", obj: withRV("99999999999999999999"), code: http.StatusBadRequest, message: "99999999999999999999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := genericapirequest.WithRequestInfo(context.Background(), &genericapirequest.RequestInfo{Verb: tc.verb})
			inner := rest.DefaultUpdatedObjectInfo(nil, func(context.Context, runtime.Object, runtime.Object) (runtime.Object, error) {
				return tc.obj, tc.err
			})
			got, err := Checked(sluice.Resource("pipelines"), "p", inner).UpdatedObject(ctx, old)
			if tc.message == "" {
				require.NoError(t, err)
				require.Equal(t, tc.obj, got)
				return
			}
			require.ErrorContains(t, err, tc.message)
			var status apierrors.APIStatus
			if tc.code == 0 {
				require.False(t, errors.As(err, &status), "not a Status: %v", err)
				return
			}
			require.True(t, errors.As(err, &status), "a Status: %v", err)
			require.Equal(t, tc.code, status.Status().Code)
			if tc.code == http.StatusUnprocessableEntity {
				require.Equal(t, []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueInvalid, Field: "patch", Message: patchFailure.Error()}},
					status.Status().Details.Causes)
			}
		})
	}
}
