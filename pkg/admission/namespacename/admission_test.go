package namespacename

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

func TestAdmit(t *testing.T) {
	p := New()
	for _, op := range []admission.Operation{admission.Create, admission.Update, admission.Delete} {
		require.True(t, p.Handles(op), "%s", op)
	}
	require.False(t, p.Handles(admission.Connect), "a connect reads its object first, which cannot exist")
	attrs := func(ns string) admission.Attributes {
		return admission.NewAttributesRecord(nil, nil, sluice.Kind("Pipeline").WithVersion("v1alpha1"), ns, "p",
			sluice.Resource("pipelines").WithVersion("v1alpha1"), "", admission.Create, nil, false, nil)
	}
	for _, ns := range []string{"team-a", "", "default", "a1"} {
		require.NoError(t, p.Admit(context.Background(), attrs(ns), nil), "namespace %q", ns)
	}
	for _, ns := range []string{"%", ".", "..", "UPPER", "a b", "a.b", "-a", "a\x00b", "\xff", string(make([]byte, 64))} {
		err := p.Admit(context.Background(), attrs(ns), nil)
		require.True(t, apierrors.IsNotFound(err), "namespace %q: %v", ns, err)
		status := err.(apierrors.APIStatus).Status()
		require.EqualValues(t, http.StatusNotFound, status.Code)
		require.Equal(t, "namespaces", status.Details.Kind)
		require.Equal(t, ns, status.Details.Name)
	}
}
