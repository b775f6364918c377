package sluicectl

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// TestEnvironments: the default environment and those the status names,
// once each, in order.
func TestEnvironments(t *testing.T) {
	p := &v1alpha1.Pipeline{Spec: v1alpha1.PipelineSpec{Environment: "staging"},
		Status: v1alpha1.PipelineStatus{Environments: []v1alpha1.EnvironmentStatus{{Name: "staging"}, {Name: "production"}}}}
	require.Equal(t, []string{"production", "staging"}, Environments(p))
}
