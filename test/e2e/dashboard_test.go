package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/browser"
	"github.com/sluice-dev/sluice/pkg/testing/localstack"
	"github.com/sluice-dev/sluice/pkg/testing/testoutput"
)

// dashboard is a kubectl sluice dashboard the test started.
type dashboard struct {
	base string // http://127.0.0.1:PORT
	url  string // what it printed: base/?token=...
}

// startDashboard runs kubectl sluice dashboard --port 0 with kubeconfig in
// ns until the test ends, and reads the URL it prints.
func startDashboard(t *testing.T, kubeconfig, ns string) *dashboard {
	t.Helper()
	ctx, cancel := context.WithCancel(testContext(t))
	cmd := exec.CommandContext(ctx, filepath.Join(stack.BinDir(), "kubectl-sluice"), "--kubeconfig", kubeconfig, "-n", ns, "dashboard", "--port", "0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "the dashboard printed nothing")
	require.Equal(t, "Serving the Sluice dashboard of namespace "+ns+" at", lines.Text())
	require.True(t, lines.Scan())
	printed := lines.Text()
	require.Regexp(t, `^http://127\.0\.0\.1:[0-9]+/\?token=[A-Za-z0-9_-]{43}$`, printed)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return &dashboard{base: strings.TrimSuffix(strings.Split(printed, "?")[0], "/"), url: printed}
}

// tab is a browser tab the test drives.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// openTab opens a new tab of b.
func openTab(t *testing.T, b *browser.Browser, name string) *tab {
	ctx, cancel := chromedp.NewContext(b.Ctx)
	t.Cleanup(cancel)
	return &tab{t: t, name: name, ctx: ctx}
}

// do runs actions in the tab.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	require.NoError(tb.t, chromedp.Do(tb.ctx, actions...), "in the %s tab", tb.name)
}

// open navigates the tab to u and marks the page: notReloaded is true
// until the tab loads another page.
func (tb *tab) open(u string) *http.Response {
	tb.t.Helper()
	resp, err := chromedp.RunResponse(tb.ctx, chromedp.Navigate(u))
	require.NoError(tb.t, err, "in the %s tab: opening %s", tb.name, u)
	tb.do(chromedp.Evaluate[chromedp.Void](`window.sluiceTestMark = true`))
	return &http.Response{StatusCode: int(resp.Status)}
}

// notReloaded is a condition that the page is still the one open loaded.
const notReloaded = `window.sluiceTestMark === true`

// waitFor waits until the JavaScript condition holds in the tab (one
// that throws, on an element not there yet, does not). On failure it
// saves a screenshot and shows the page's text.
func (tb *tab) waitFor(what, condition string) {
	tb.t.Helper()
	guarded := `(() => { try { return ` + condition + `; } catch (e) { return false; } })()`
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](guarded,
		chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(2*time.Minute)))
	if err != nil {
		text, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		tb.screenshot("failed-" + tb.name)
		tb.t.Fatalf("in the %s tab, waiting for %s (%s): %v\nthe page:\n%s", tb.name, what, condition, err, text)
	}
}

// screenshot saves the page to the test's output directory.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	dir, err := testoutput.Dir(tb.t)
	require.NoError(tb.t, err)
	path := filepath.Join(dir, name+".png")
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	require.NoError(tb.t, err)
	require.NoError(tb.t, os.WriteFile(path, png, 0o644))
	tb.t.Logf("screenshot of the %s tab: %s", tb.name, path)
}

// js quotes s as a JavaScript string.
func js(s string) string { return fmt.Sprintf("%q", s) }

// TestDashboard drives kubectl sluice dashboard in Debian's Chromium, as
// users with their own kubeconfigs, on a release that waits at a gate:
//   - a request without the token is refused;
//   - a job started with kubectl sluice run appears on the pipelines page,
//     and later shows Succeeded, without a reload;
//   - a viewer's approval is refused with RBAC's reason, status 403;
//   - an approver approves from the page; the job page, open from before,
//     shows the gate's decision, the production step running to the end
//     and its log lines as they come, without a reload; the pipelines
//     page shows the new production release.
//
// Screenshots go to the test's output directory (TEST_OUTPUT_DIR).
func TestDashboard(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "dashboard")
	p := gatedPipeline("release", v1alpha1.ApprovalGate{
		Approvers: []v1alpha1.Approver{{Kind: v1alpha1.ApproverUser, Name: "carl"}},
	})
	p.Spec.Description = "Deploys the shop's web front end to staging, then, once approved, to production"
	p.Spec.Steps[0] = logStep("deploy-staging", "render-staging", "apply-staging", "KWOK_DURATION", "100ms")
	p.Spec.Steps[2] = logStep("deploy-production", "render-production", "apply-production", "KWOK_DURATION", "3s")
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	line := func(s int, text string) localstack.LogLine {
		return localstack.LogLine{Time: t0.Add(time.Duration(s) * time.Second), Text: text}
	}
	require.NoError(t, stack.SetContainerLogs(ctx, ns, map[string][]localstack.LogLine{
		"render-staging":    {line(0, "rendered 3 manifests for staging")},
		"apply-staging":     {line(1, "deployment.apps/web configured"), line(2, "staging: rollout complete, 2 of 2 replicas ready")},
		"render-production": {line(3, "rendered 3 manifests for production")},
		"apply-production":  {line(4, "deployment.apps/web configured"), line(5, "production: rollout complete, 6 of 6 replicas ready")},
	}))
	_, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)
	bindRole(t, ns, "vera", "sluice-view")
	bindRole(t, ns, "carl", "sluice-view")
	allow(t, ns, "carl", []string{"pipelinejobs/approval"})
	carl := startDashboard(t, userKubeconfig(t, "carl"), ns)
	vera := startDashboard(t, userKubeconfig(t, "vera"), ns)

	bctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	defer cancel()
	b, err := browser.Start(bctx, browser.Options{Logf: t.Logf})
	require.NoError(t, err)
	defer b.Close()

	stranger := openTab(t, b, "stranger")
	require.Equal(t, http.StatusForbidden, stranger.open(carl.base+"/").StatusCode, "a request without the token")
	stranger.waitFor("the refusal", `document.body.innerText.includes("Open the URL kubectl sluice dashboard printed")`)

	// The pipelines page, open before the job starts, once RBAC lets
	// carl read: the page is reloaded only until then.
	pipelines := openTab(t, b, "pipelines")
	eventually(t, time.Minute, "carl's pipelines page", func(context.Context) error {
		if code := pipelines.open(carl.url).StatusCode; code != http.StatusOK {
			return fmt.Errorf("status %d", code)
		}
		return nil
	})
	pipelines.waitFor("the pipeline", `document.getElementById("pipeline-release") !== null`)

	res := kubectlSluice(t, stack.Kubeconfig, "-n", ns, "run", "release")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	job, _ := createdJob(t, res.Stdout)
	row := `document.querySelector("#jobs-of-release #job-" + ` + js(job) + `)`
	pipelines.waitFor("the job started from the CLI, without a reload", notReloaded+` && `+row+` !== null`)

	jobPage := carl.base + "/jobs/" + job + "?namespace=" + ns
	following := openTab(t, b, "following")
	following.open(jobPage)
	following.waitFor("the gate, and staging's log, without a reload", notReloaded+
		` && document.getElementById("approve-message") !== null`+
		` && document.getElementById("log").textContent.includes("staging: rollout complete")`)
	require.Equal(t, v1alpha1.JobRunning, getJob(t, ns, job).Status.Phase)

	refused := openTab(t, b, "vera")
	refused.open(vera.url)
	refused.open(vera.base + "/jobs/" + job + "?namespace=" + ns)
	refused.do(chromedp.SendKeys(chromedp.ID("approve-message"), "looks fine to me"))
	resp, err := chromedp.RunResponse(refused.ctx, chromedp.Submit(chromedp.ID("approve-message")))
	require.NoError(t, err)
	require.EqualValues(t, http.StatusForbidden, resp.Status, "a viewer's approval")
	refused.waitFor("RBAC's reason", `document.querySelector(".message[role=alert]").textContent === `+js(fmt.Sprintf(
		`you cannot approve %s: User "vera" cannot create resource "pipelinejobs/approval" in API group "sluice.dev" in the namespace "%s"`, job, ns)))
	refused.screenshot("refused")

	approving := openTab(t, b, "approving")
	approving.open(jobPage)
	approving.do(chromedp.SendKeys(chromedp.ID("approve-message"), "ship it"))
	resp, err = chromedp.RunResponse(approving.ctx, chromedp.Submit(chromedp.ID("approve-message")))
	require.NoError(t, err)
	require.EqualValues(t, http.StatusOK, resp.Status, "carl's approval, then the job's page")

	// The job's page, open since before the approval: the decision, the
	// production step and its output arrive by themselves.
	following.waitFor("the approval, production's log and the end, without a reload", notReloaded+
		` && document.getElementById("timeline").textContent.includes("Approve by carl")`+
		` && document.getElementById("timeline").textContent.includes("deploy-production Succeeded")`+
		` && document.getElementById("timeline").textContent.includes("Phase: Succeeded")`+
		` && document.getElementById("log").textContent.includes("production: rollout complete, 6 of 6 replicas ready")`+
		` && document.getElementById("log-state").textContent === "The job has ended; this is all of its log."`)
	j := getJob(t, ns, job)
	require.Equal(t, v1alpha1.JobSucceeded, j.Status.Phase)
	require.Equal(t, "carl", j.Status.Steps[1].Approvals[0].User.Username)
	require.Equal(t, "ship it", j.Status.Steps[1].Approvals[0].Message)
	following.screenshot("job")

	pipelines.waitFor("the job Succeeded and production's new release, without a reload", notReloaded+
		` && `+row+`.textContent.includes("Succeeded")`+
		` && document.getElementById("environments-release").textContent.includes(`+js(job+" at ")+`)`)
	pipelines.screenshot("pipelines")
}
