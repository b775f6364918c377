package crd

import (
	"context"
	"encoding/json"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"

	sluicefuzzer "github.com/sluice-dev/sluice/pkg/apis/sluice/fuzzer"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/install"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

func structural(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) *structuralschema.Structural {
	t.Helper()
	var internal apiextensions.JSONSchemaProps
	require.NoError(t, apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &internal, nil))
	s, err := structuralschema.NewStructural(&internal)
	require.NoError(t, err)
	require.Empty(t, structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), s))
	return s
}

// TestCRDsAreValid: kube-apiserver's own validation accepts the CRDs, and
// their schemas are structural.
func TestCRDsAreValid(t *testing.T) {
	crds, err := CRDs(Group)
	require.NoError(t, err)
	require.Len(t, crds, 2)
	for _, crd := range crds {
		var internal apiextensions.CustomResourceDefinition
		require.NoError(t, apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(crd, &internal, nil))
		internal.Status.StoredVersions = []string{"v1alpha1"} // set by the server
		require.Empty(t, validation.ValidateCustomResourceDefinition(context.Background(), &internal), crd.Name)
		structural(t, crd)
	}
	require.Equal(t, "pipelinejobs.crd.sluice.dev", crds[1].Name)
	require.Len(t, crds[1].Spec.Versions[0].SelectableFields, 3)
}

// TestNothingIsPruned fills PipelineJobs and Pipelines with random values in
// every field and prunes them with the CRD schemas as kube-apiserver would
// on a write: nothing may be dropped, or the baseline would store less than
// Sluice does.
func TestNothingIsPruned(t *testing.T) {
	crds, err := CRDs(Group)
	require.NoError(t, err)
	scheme := runtime.NewScheme()
	install.Install(scheme)
	f := fuzzer.FuzzerFor(fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, sluicefuzzer.Funcs), rand.NewSource(rand.Int63()), serializer.NewCodecFactory(scheme)).
		NilChance(0.1).NumElements(1, 2)
	for _, tc := range []struct {
		crd *apiextensionsv1.CustomResourceDefinition
		new func() any
	}{
		{crds[0], func() any { return &v1alpha1.Pipeline{} }},
		{crds[1], func() any { return &v1alpha1.PipelineJob{} }},
	} {
		s := structural(t, tc.crd)
		for range 50 {
			obj := tc.new()
			f.Fill(obj)
			b, err := json.Marshal(obj)
			require.NoError(t, err)
			var before, after map[string]any
			require.NoError(t, json.Unmarshal(b, &before))
			require.NoError(t, json.Unmarshal(b, &after))
			pruned := pruning.PruneWithOptions(after, s, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
			require.Empty(t, pruned, "%s: fields the CRD schema does not know", tc.crd.Name)
			require.Equal(t, before, after)
		}
	}
}
