package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

// TestPluginCompletion: kubectl completes `kubectl sluice` through
// bin/kubectl_complete-sluice, and the plugin completes the names of
// pipelines in the namespace of -n.
func TestPluginCompletion(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "cli-complete")
	for _, name := range []string{"release", "rollout"} {
		_, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(testContext(t), deployPipeline(name, "staging"), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	res := kubectlSluice(t, stack.Kubeconfig, "__complete", "run", "-n", ns, "re")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Equal(t, []string{"release", ":4"}, strings.Fields(res.Stdout), "pipelines starting with re, and no file completion")

	res, err := stack.KubectlWithPlugins(testContext(t), stack.Kubeconfig, "__complete", "sluice", "-n", ns, "run", "rol")
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Contains(t, strings.Fields(res.Stdout), "rollout", "kubectl's completion of the plugin, through kubectl_complete-sluice: %+v", res)
}
