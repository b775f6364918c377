package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluice-dev/sluice/pkg/testing/localstack"
)

// kubectlSluice runs `kubectl sluice args...` with kubeconfig, as a user
// types it: the pinned kubectl runs the plugin bin/kubectl-sluice.
func kubectlSluice(t *testing.T, kubeconfig string, args ...string) localstack.PluginResult {
	t.Helper()
	res, err := stack.KubectlSluice(testContext(t), kubeconfig, args...)
	require.NoError(t, err)
	return res
}

// TestPluginUsage: kubectl finds the plugin; a usage error exits 2 with
// one line and the hint, and kubectl passes the code on.
func TestPluginUsage(t *testing.T) {
	t.Parallel()
	res := kubectlSluice(t, stack.Kubeconfig, "run")
	require.Equal(t, 2, res.ExitCode, "%+v", res)
	require.Equal(t, "Error: expected PIPELINE, got 0 argument(s)\nSee 'kubectl sluice run --help' for usage.\n", res.Stderr)

	res = kubectlSluice(t, stack.Kubeconfig, "--help")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Contains(t, res.Stdout, "kubectl sluice [command]")
}
