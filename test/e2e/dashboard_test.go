package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// dashboard is a kubectl sluice dashboard the test started, and a
// browser that opened the URL it printed.
type dashboard struct {
	base    string // http://127.0.0.1:PORT
	browser *http.Client
}

// startDashboard runs kubectl sluice dashboard --port 0 with kubeconfig in
// ns until the test ends, reads the URL it prints and opens it.
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

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	d := &dashboard{base: strings.TrimSuffix(strings.Split(printed, "?")[0], "/"), browser: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	resp, err := d.browser.Get(printed)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, d.base+"/", resp.Request.URL.String(), "the token is dropped from the address")
	return d
}

// get fetches a page; the status and the body.
func (d *dashboard) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := d.browser.Get(d.base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// post submits the form of path found on page, as the browser does.
func (d *dashboard) post(t *testing.T, page, path string, form url.Values) (int, string) {
	t.Helper()
	m := regexp.MustCompile(`<form method="post" action="` + regexp.QuoteMeta(path) + `">\s*<input type="hidden" name="csrf" value="([^"]+)">`).FindStringSubmatch(page)
	require.NotNil(t, m, "the page has no form for %s", path)
	form.Set("csrf", m[1])
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, d.base+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", d.base)
	resp, err := d.browser.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestDashboard: the real plugin serves the dashboard with a user's
// kubeconfig. A request without the token is refused; the pipelines page
// shows the pipeline and its job; a viewer's approval from the page is
// refused with the server's reason (RBAC), and an approver's passes the
// gate and the job goes on to succeed.
func TestDashboard(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "dashboard")
	_, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(ctx, gatedPipeline("release", v1alpha1.ApprovalGate{
		Approvers: []v1alpha1.Approver{{Kind: v1alpha1.ApproverUser, Name: "carl"}},
	}), metav1.CreateOptions{})
	require.NoError(t, err)
	job, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Run(ctx, "release", &v1alpha1.RunRequest{}, metav1.CreateOptions{})
	require.NoError(t, err)
	bindRole(t, ns, "vera", "sluice-view")
	bindRole(t, ns, "carl", "sluice-view")
	allow(t, ns, "carl", []string{"pipelinejobs/approval"})
	waitGate(t, ns, job.Name, 1)

	vera := startDashboard(t, userKubeconfig(t, "vera"), ns)
	resp, err := http.Get(vera.base + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a request without the token")

	var page string
	eventually(t, time.Minute, "the pipelines page once RBAC lets vera read", func(context.Context) error {
		var code int
		code, page = vera.get(t, "/")
		if code != http.StatusOK || !strings.Contains(page, job.Name) {
			return fmt.Errorf("%d: %s", code, page)
		}
		return nil
	})
	require.Contains(t, page, `<h2 id="pipeline-release">release</h2>`)
	require.Contains(t, page, `<a href="/jobs/`+job.Name+`?namespace=`+ns+`">`+job.Name+`</a>`)

	code, page := vera.get(t, "/jobs/"+job.Name+"?namespace="+ns)
	require.Equal(t, http.StatusOK, code, page)
	require.Contains(t, page, `<h3>approve-production <span class="phase phase-waitingforapproval">WaitingForApproval</span></h3>`)
	approve := "/jobs/" + job.Name + "/approve"
	code, refused := vera.post(t, page, approve, url.Values{"namespace": {ns}})
	require.Equal(t, http.StatusForbidden, code, refused)
	require.Contains(t, refused, fmt.Sprintf(`<p class="message" role="alert">you cannot approve %s: User &#34;vera&#34; cannot create resource &#34;pipelinejobs/approval&#34; in API group &#34;sluice.dev&#34; in the namespace &#34;%s&#34;</p>`, job.Name, ns))

	carl := startDashboard(t, userKubeconfig(t, "carl"), ns)
	// The job's event stream, open while carl approves: it sees the job
	// move on to Succeeded, fed by a watch through kube-apiserver.
	events := carl.events(t, "/jobs/"+job.Name+"/events?namespace="+ns)
	eventually(t, time.Minute, "carl's approval from the page once RBAC lets him", func(context.Context) error {
		code, page := carl.get(t, "/jobs/"+job.Name+"?namespace="+ns)
		if code != http.StatusOK {
			return fmt.Errorf("%d: %s", code, page)
		}
		code, answer := carl.post(t, page, approve, url.Values{"namespace": {ns}, "message": {"from the dashboard"}})
		if code != http.StatusOK { // the redirect to the job's page, followed
			return fmt.Errorf("%d: %s", code, answer)
		}
		return nil
	})
	j := waitJob(t, ns, job.Name, v1alpha1.JobSucceeded, 2*time.Minute)
	require.Equal(t, "carl", j.Status.Steps[1].Approvals[0].User.Username)
	require.Equal(t, "from the dashboard", j.Status.Steps[1].Approvals[0].Message)
	ended := false
	for ev := range events {
		if ev.name == "end" {
			require.Equal(t, "Succeeded", ev.data)
			ended = true
			break
		}
		require.Equal(t, "timeline", ev.name)
	}
	require.True(t, ended, "the job's event stream ended before the job")

	// The log stream of the finished job: its output, then the end.
	var last dashboardEvent
	for ev := range carl.events(t, "/jobs/"+job.Name+"/log?namespace="+ns) {
		last = ev
	}
	require.Equal(t, dashboardEvent{"end", ""}, last)
}

// dashboardEvent is a server-sent event of the dashboard.
type dashboardEvent struct{ name, data string }

// events reads the event stream at path until it ends or the test does.
func (d *dashboard) events(t *testing.T, path string) <-chan dashboardEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), 3*time.Minute)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Jar: d.browser.Jar}).Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ch := make(chan dashboardEvent)
	t.Cleanup(cancel)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev dashboardEvent
		var data []string
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "":
				ev.data = strings.Join(data, "\n")
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				}
				ev, data = dashboardEvent{}, nil
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return ch
}
