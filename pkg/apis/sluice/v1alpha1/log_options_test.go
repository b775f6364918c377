package v1alpha1_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/install"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// TestLogOptionsFromQuery: the query of pipelinejobs/log decodes into the
// options, through the scheme's parameter codec as the server decodes it,
// and encodes back as a client sends it.
func TestLogOptionsFromQuery(t *testing.T) {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codec := runtime.NewParameterCodec(scheme)

	query := url.Values{
		"step": {"build"}, "action": {"compile"}, "attempt": {"2"}, "follow": {"true"},
		"tailLines": {"10"}, "sinceSeconds": {"300"}, "timestamps": {"true"}, "limitBytes": {"4096"},
	}
	var opts sluice.PipelineJobLogOptions
	require.NoError(t, codec.DecodeParameters(query, v1alpha1.SchemeGroupVersion, &opts))
	assert.Equal(t, sluice.PipelineJobLogOptions{Step: "build", Action: "compile", Attempt: 2, Follow: true,
		TailLines: ptr.To[int64](10), SinceSeconds: ptr.To[int64](300), Timestamps: true, LimitBytes: ptr.To[int64](4096)}, opts)

	var empty sluice.PipelineJobLogOptions
	require.NoError(t, codec.DecodeParameters(url.Values{}, v1alpha1.SchemeGroupVersion, &empty))
	assert.Equal(t, sluice.PipelineJobLogOptions{}, empty)

	assert.Error(t, codec.DecodeParameters(url.Values{"attempt": {"two"}}, v1alpha1.SchemeGroupVersion, &opts), "a malformed number is refused")

	encoded, err := codec.EncodeParameters(&v1alpha1.PipelineJobLogOptions{Step: "build", TailLines: ptr.To[int64](5)}, v1alpha1.SchemeGroupVersion)
	require.NoError(t, err)
	assert.Equal(t, "build", encoded.Get("step"))
	assert.Equal(t, "5", encoded.Get("tailLines"))
}
