package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// These tests run the reading commands of kubectl sluice (list, describe,
// watch, status, trigger list) as a user types them, against jobs the
// stack's controllers ran or jobs whose status the test wrote.

// names are the first column of a table's rows, without its header.
func names(t *testing.T, table string) []string {
	t.Helper()
	rows := lines(table)
	require.NotEmpty(t, rows, "a table with its header")
	require.True(t, strings.HasPrefix(rows[0], "NAME "), "the header: %q", rows[0])
	var out []string
	for _, r := range rows[1:] {
		out = append(out, strings.Fields(r)[0])
	}
	return out
}

// TestCLIReadList: list with each selector returns the jobs it selects,
// newest first though the server lists them in name order, with the
// columns of kubectl get; -n is honoured.
func TestCLIReadList(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t, "cliread-list")
	c := sluiceAdmin(t).SluiceV1alpha1()
	for _, p := range []string{"web", "api"} {
		_, err := c.Pipelines(ns).Create(ctx, pipeline(p, "build"), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	// Created oldest first, in no order of their names; the controllers
	// leave them alone, and the test writes their phase.
	for _, s := range []struct {
		name, pipeline, env, trigger string
		phase                        v1alpha1.JobPhase
	}{
		{"web-c", "web", "staging", "", v1alpha1.JobSucceeded},
		{"web-a", "web", "production", "", v1alpha1.JobFailed},
		{"api-b", "api", "staging", "nightly", v1alpha1.JobSucceeded},
		{"web-d", "web", "staging", "nightly", v1alpha1.JobFailed},
		{"web-b", "web", "staging", "", v1alpha1.JobSucceeded},
	} {
		j := job(s.name, s.pipeline)
		j.Spec.Environment = s.env
		if s.trigger != "" {
			j.Spec.Trigger = v1alpha1.JobTrigger{Type: v1alpha1.TriggerSchedule, Name: s.trigger}
		}
		created, err := c.PipelineJobs(ns).Create(ctx, j, metav1.CreateOptions{})
		require.NoError(t, err)
		created.Status.Phase = s.phase
		_, err = c.PipelineJobs(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
		require.NoError(t, err)
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"web-b", "web-d", "api-b", "web-a", "web-c"}},
		{[]string{"web"}, []string{"web-b", "web-d", "web-a", "web-c"}},
		{[]string{"--env", "staging"}, []string{"web-b", "web-d", "api-b", "web-c"}},
		{[]string{"--phase", "Failed"}, []string{"web-d", "web-a"}},
		{[]string{"--trigger", "nightly"}, []string{"web-d", "api-b"}},
		{[]string{"web", "--env", "staging", "--phase", "Succeeded"}, []string{"web-b", "web-c"}},
		{[]string{"--limit", "2"}, []string{"web-b", "web-d"}},
	} {
		res := kubectlSluice(t, stack.Kubeconfig, append([]string{"-n", ns, "list"}, tc.args...)...)
		require.Equal(t, 0, res.ExitCode, "list %v: %+v", tc.args, res)
		require.Equal(t, tc.want, names(t, res.Stdout), "list %v:\n%s", tc.args, res.Stdout)
	}

	// The columns are the server's, those of kubectl get pipelinejobs.
	res := kubectlSluice(t, stack.Kubeconfig, "-n", ns, "list", "--limit", "1", "-o", "wide")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	header := strings.Fields(lines(res.Stdout)[0])
	want := strings.Fields(lines(kubectl(t, "-n", ns, "get", "pipelinejobs", "-o", "wide"))[0])
	require.Equal(t, want, header)
	require.Regexp(t, regexp.MustCompile(`^web-b\s+web\s+staging\s+Succeeded\s`), lines(res.Stdout)[1])

	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "list", "--trigger", "nightly", "-o", "name")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Equal(t, "pipelinejob.sluice.dev/web-d\npipelinejob.sluice.dev/api-b\n", res.Stdout)

	// Without -n, the kubeconfig's namespace (default) has none of them.
	res = kubectlSluice(t, stack.Kubeconfig, "list", "--trigger", "nightly", "-o", "name")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.NotContains(t, res.Stdout, "web-d")

	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "list", "--phase", "Done")
	require.Equal(t, 2, res.ExitCode, "%+v", res)
}

// TestCLIReadJobs: describe of finished jobs shows their steps and exit
// codes, watch of them exits with their result, status shows what was
// deployed where and the triggers, trigger list shows them; -n is
// honoured.
func TestCLIReadJobs(t *testing.T) {
	t.Parallel() // resumes once the package's serial tests, which stop controllers, are done
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "cliread-jobs")
	c := sluiceAdmin(t).SluiceV1alpha1()
	_, err := c.Pipelines(ns).Create(ctx, deployPipeline("web", "staging"), metav1.CreateOptions{})
	require.NoError(t, err)
	failing := deployPipeline("broken", "staging")
	failing.Spec.Steps[0] = runStep("deploy", "KWOK_DURATION", "100ms", "KWOK_EXIT_CODE", "3")
	_, err = c.Pipelines(ns).Create(ctx, failing, metav1.CreateOptions{})
	require.NoError(t, err)
	nightly := &v1alpha1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: v1alpha1.TriggerSpec{PipelineRef: v1alpha1.PipelineReference{Name: "web"}, Suspend: true,
			Params:   []v1alpha1.Param{param("version", "nightly")},
			Schedule: &v1alpha1.ScheduleSource{Cron: "0 3 * * *"}},
	}
	_, err = c.Triggers(ns).Create(ctx, nightly, metav1.CreateOptions{})
	require.NoError(t, err)

	var releases []string
	for _, version := range []string{"1.0.0", "1.1.0"} {
		j, err := c.Pipelines(ns).Run(ctx, "web", &v1alpha1.RunRequest{Params: []v1alpha1.Param{param("version", version)}}, metav1.CreateOptions{})
		require.NoError(t, err)
		waitJob(t, ns, j.Name, v1alpha1.JobSucceeded, 2*time.Minute)
		releases = append(releases, j.Name)
	}
	broken, err := c.Pipelines(ns).Run(ctx, "broken", &v1alpha1.RunRequest{Params: []v1alpha1.Param{param("version", "2")}}, metav1.CreateOptions{})
	require.NoError(t, err)
	waitJob(t, ns, broken.Name, v1alpha1.JobFailed, 2*time.Minute)

	res := kubectlSluice(t, stack.Kubeconfig, "-n", ns, "describe", releases[1])
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Contains(t, res.Stdout, "Phase:        Succeeded")
	require.Contains(t, res.Stdout, "Params:       version=1.1.0")
	require.Contains(t, res.Stdout, "Trigger:      Manual")
	require.Regexp(t, `└── deploy  Succeeded  \S+  attempt 1/1  pod `+releases[1]+`-deploy-1\n`, res.Stdout)
	require.Regexp(t, `\n    ├── prepare  exit 0`, res.Stdout)
	require.Regexp(t, `\n    └── run      exit 0`, res.Stdout)

	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "describe", broken.Name)
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Contains(t, res.Stdout, "Phase:        Failed")
	require.Regexp(t, `\n    └── run      exit 3`, res.Stdout)

	// watch of a running job prints a new tree per change (stdout is not a
	// terminal) until the job succeeds.
	slow := deployPipeline("slow", "staging")
	slow.Spec.Steps = []v1alpha1.Step{
		runStep("first", "KWOK_DURATION", "1s"),
		runStep("second", "KWOK_DURATION", "1s"),
	}
	_, err = c.Pipelines(ns).Create(ctx, slow, metav1.CreateOptions{})
	require.NoError(t, err)
	running, err := c.Pipelines(ns).Run(ctx, "slow", &v1alpha1.RunRequest{Params: []v1alpha1.Param{param("version", "1")}}, metav1.CreateOptions{})
	require.NoError(t, err)
	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "watch", running.Name)
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	trees := strings.Split(res.Stdout, "\n\nName: ")
	require.Greater(t, len(trees), 2, "a tree per change:\n%s", res.Stdout)
	require.NotContains(t, trees[0], "Phase:        Succeeded")
	require.Contains(t, trees[len(trees)-1], "Phase:        Succeeded")
	require.Regexp(t, `├── first  Succeeded .*\n(.*\n){2}└── second  Succeeded `, trees[len(trees)-1])

	// watch of a finished job prints its tree once and exits with its result.
	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "watch", releases[1])
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Equal(t, 1, strings.Count(res.Stdout, "Name: "), res.Stdout)
	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "watch", broken.Name)
	require.Equal(t, 1, res.ExitCode, "%+v", res)
	require.Contains(t, res.Stdout, "Phase:        Failed")

	// status: staging runs the second release, the first is before it.
	eventually(t, time.Minute, "the second release to be staging's current", func(ctx context.Context) error {
		p, err := c.Pipelines(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(p.Status.Environments) != 1 || p.Status.Environments[0].Current == nil || p.Status.Environments[0].Current.Job != releases[1] {
			return fmt.Errorf("environments: %+v", p.Status.Environments)
		}
		return nil
	})
	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "status", "web")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Regexp(t, `\n  staging\n    current:  `+releases[1]+`  deployed .*  Manual  version=1\.1\.0\n`, res.Stdout)
	require.Regexp(t, `\n    previous: `+releases[0]+`  deployed .*  Manual  version=1\.0\.0\n`, res.Stdout)
	require.Regexp(t, `\n      `+releases[1]+`\s+web\s+staging\s+Succeeded\s.*\n      `+releases[0]+`\s`, res.Stdout)
	require.Regexp(t, `\nTriggers:\n  NAME .*\n  nightly\s+web\s`, res.Stdout)

	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "trigger", "list")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Equal(t, []string{"nightly"}, names(t, res.Stdout))

	// Without -n, the kubeconfig's namespace does not have the job.
	res = kubectlSluice(t, stack.Kubeconfig, "describe", releases[1])
	require.Equal(t, 1, res.ExitCode, "%+v", res)
	require.Equal(t, `Error: pipelinejobs.sluice.dev "`+releases[1]+`" not found`+"\n", res.Stderr)
}
