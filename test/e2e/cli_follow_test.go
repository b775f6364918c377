package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// These tests run the real `kubectl sluice run -f` and `kubectl sluice
// logs` against the stack, as a user types them.

// createdJob is the job the first line of `run`'s output names:
// "pipelinejob.sluice.dev/<name> created".
func createdJob(t *testing.T, stdout string) (job, rest string) {
	t.Helper()
	first, rest, _ := strings.Cut(stdout, "\n")
	name, ok := strings.CutPrefix(first, "pipelinejob.sluice.dev/")
	require.True(t, ok, "first line %q", first)
	name, ok = strings.CutSuffix(name, " created")
	require.True(t, ok, "first line %q", first)
	return name, rest
}

// TestCLIFollowSucceeds: `run -f` of a job of three steps prints every
// action's output once, in order, with a line per step on stderr, and
// exits 0 when the job succeeds. Once its Pods are gone, `logs` reads the
// same output from the archive, whole or one action's tail, and `logs -f`
// of the ended job prints it once and ends.
func TestCLIFollowSucceeds(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ns := namespace(t, "cli-follow")
	p, logs := threeSteps("web")
	require.NoError(t, stack.SetContainerLogs(testContext(t), ns, logs))
	createPipelineAndJob(t, ns, p)

	res := kubectlSluice(t, stack.Kubeconfig, "-n", ns, "run", "web", "-f")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	job, out := createdJob(t, res.Stdout)
	want := fullLog(p, logs)
	require.Equal(t, want, out, "every action's output, once, in order")
	for _, line := range []string{
		"--> step build Running", "--> step build Succeeded in ",
		"--> step test Running", "--> step test Succeeded in ",
		"--> step deploy Running", "--> step deploy Succeeded in ",
		"--> job " + job + " Succeeded",
	} {
		require.Contains(t, res.Stderr, line)
	}
	require.Equal(t, v1alpha1.JobSucceeded, getJob(t, ns, job).Status.Phase)

	eventually(t, time.Minute, "the Pods of "+job+" to go", func(context.Context) error {
		if pods := jobPods(t, ns, job); len(pods) > 0 {
			return fmt.Errorf("pods %v", pods)
		}
		return nil
	})
	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "logs", job)
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Equal(t, want, res.Stdout, "from the archive")
	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "logs", job, "--step", "build", "--action", "compile", "--attempt", "1", "--tail", "1")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Equal(t, "wrote bin/web (14 MiB)\n", res.Stdout)
	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "logs", job, "-f")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Equal(t, want, res.Stdout, "following an ended job")

	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "logs", job, "--step", "nope")
	require.Equal(t, 1, res.ExitCode, "%+v", res)
	require.Equal(t, 1, strings.Count(res.Stderr, "\n"), "one line: %q", res.Stderr)
	require.Contains(t, res.Stderr, `Error: reading the output of `+job+`: `)
	require.Contains(t, res.Stderr, `step: Not found: "nope"`)
}

// TestCLIFollowFails: `run -f` of a job whose test step fails prints the
// output up to the failure, and the step after it skipped, and exits 1 with one line naming the step, the
// action's exit code and the command that shows its output.
func TestCLIFollowFails(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ns := namespace(t, "cli-follow-fails")
	p, logs := threeSteps("web")
	p.Spec.Steps[1] = logStep("test", "fetch", "unit", "KWOK_DURATION", "200ms", "KWOK_EXIT_CODE", "2")
	require.NoError(t, stack.SetContainerLogs(testContext(t), ns, logs))
	createPipelineAndJob(t, ns, p)

	res := kubectlSluice(t, stack.Kubeconfig, "-n", ns, "run", "web", "-f")
	require.Equal(t, 1, res.ExitCode, "%+v", res)
	job, out := createdJob(t, res.Stdout)
	want := "==> build/checkout (attempt 1)\n" + logText(logs["checkout"]) +
		"==> build/compile (attempt 1)\n" + logText(logs["compile"]) +
		"==> test/fetch (attempt 1)\n" + logText(logs["fetch"]) +
		"==> test/unit (attempt 1)\n" + logText(logs["unit"]) +
		"==> deploy (skipped)\n"
	require.Equal(t, want, out)
	lines := strings.Split(strings.TrimSuffix(res.Stderr, "\n"), "\n")
	require.Equal(t, fmt.Sprintf(`--> job %s failed: step test: action "unit" exited with code 2; see kubectl sluice logs %s --step test -n %s`, job, job, ns),
		lines[len(lines)-1], "%s", res.Stderr)
	require.Contains(t, res.Stderr, "--> step test Failed in ")
	require.Contains(t, res.Stderr, "--> step deploy Skipped")
}
