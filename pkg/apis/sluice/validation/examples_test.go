package validation_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/install"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/validation"
)

// TestExamplesAreValid decodes artifacts/examples strictly (an unknown or
// misspelt field fails), defaults and validates them, and checks that the
// example job's params satisfy the example pipeline. The gated release is
// valid as well.
func TestExamplesAreValid(t *testing.T) {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDecoder(sluice.SchemeGroupVersion)

	decode := func(name string) runtime.Object {
		data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "artifacts", "examples", name))
		require.NoError(t, err)
		obj, _, err := decoder.Decode(data, nil, nil)
		require.NoError(t, err, name)
		return obj
	}

	p := decode("pipeline.yaml").(*sluice.Pipeline)
	require.Empty(t, validation.ValidatePipeline(p))
	require.Len(t, p.Spec.Steps, 3)

	j := decode("pipelinejob.yaml").(*sluice.PipelineJob)
	j.Name = j.GenerateName + "x1y2z" // what the server's name generator does
	require.Empty(t, validation.ValidatePipelineJob(j))
	require.Equal(t, p.Name, j.Spec.PipelineRef.Name)
	require.Empty(t, validation.ValidateParamValues(p.Spec.Params, j.Spec.Params, field.NewPath("spec", "params")))

	gated := decode("gated-release.yaml").(*sluice.Pipeline)
	require.Empty(t, validation.ValidatePipeline(gated))
	require.NotNil(t, gated.Spec.Steps[1].Approval, "the example's second step is its gate")
	require.Equal(t, int32(2), gated.Spec.Steps[1].Approval.Required)
}
