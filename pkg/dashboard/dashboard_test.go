package dashboard

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluicefake "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/fake"
)

var update = flag.Bool("update", false, "write the golden files of the pages")

const (
	testAddr   = "127.0.0.1:8123"
	testOrigin = "http://127.0.0.1:8123"
	ns         = "shop"
)

// at is a fixed time of the test's objects.
func at(minute int) *metav1.Time {
	t := metav1.NewTime(time.Date(2026, 12, 3, 10, minute, 0, 0, time.UTC))
	return &t
}

func submitted(minute int) *metav1.MicroTime {
	t := metav1.NewMicroTime(time.Date(2026, 12, 3, 10, minute, 0, 0, time.UTC))
	return &t
}

// fixture is a server on fake clientsets, and what it was asked.
type fixture struct {
	t      *testing.T
	server *Server
	sluice *sluicefake.Clientset
	// logs is the output the fake log reader writes, and logErr what it
	// returns after.
	logs   string
	logErr error
}

func newFixture(t *testing.T, addr string, objects ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{t: t, sluice: sluicefake.NewSimpleClientset(objects...)}
	kube := kubefake.NewSimpleClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	s, err := NewServer(Config{Sluice: f.sluice, Kube: kube, Namespace: ns, Addr: addr,
		Logs: func(_ context.Context, _, _ string, _ bool, out io.Writer) error {
			if _, err := io.WriteString(out, f.logs); err != nil {
				return err
			}
			return f.logErr
		}})
	require.NoError(t, err)
	f.server = s
	return f
}

// request is a request to the dashboard as its own page makes it: the
// right Host and the cookie; a POST from its origin.
func (f *fixture) request(method, target string, form url.Values) *http.Request {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	r.Host = testAddr
	r.AddCookie(&http.Cookie{Name: f.server.cookieName, Value: f.server.token})
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", testOrigin)
	}
	return r
}

func (f *fixture) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.server.Handler().ServeHTTP(w, r)
	return w
}

// form is an action's form with its CSRF token.
func (f *fixture) form(path string, values ...string) url.Values {
	v := url.Values{csrfField: {f.server.csrfToken(path)}, "namespace": {ns}}
	for i := 0; i+1 < len(values); i += 2 {
		v.Set(values[i], values[i+1])
	}
	return v
}

var csrfValue = regexp.MustCompile(`name="csrf" value="[^"]*"`)

// golden compares a page with testdata/name.golden, its CSRF tokens (new
// each run) replaced.
func golden(t *testing.T, name, body string) {
	t.Helper()
	body = csrfValue.ReplaceAllString(body, `name="csrf" value="CSRF"`)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), body, "the page differs from %s; run go test -update to accept it", path)
}

func pipeline() *v1alpha1.Pipeline {
	return &v1alpha1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       v1alpha1.PipelineSpec{Description: "The shop's web front end", Environment: "staging"},
		Status: v1alpha1.PipelineStatus{Environments: []v1alpha1.EnvironmentStatus{
			{Name: "staging", Current: &v1alpha1.Release{Job: "web-b2", CompletionTime: at(20), StartedBy: "alice", Trigger: v1alpha1.TriggerManual,
				Params: []v1alpha1.Param{{Name: "version", Value: "1.4.2"}}}},
			{Name: "production", Current: &v1alpha1.Release{Job: "web-a1", CompletionTime: at(10), StartedBy: "carol", Trigger: v1alpha1.TriggerManual},
				Previous: &v1alpha1.Release{Job: "web-a0", CompletionTime: at(1), StartedBy: "carol"}},
		}},
	}
}

func job(name string, phase v1alpha1.JobPhase, minute int) *v1alpha1.PipelineJob {
	return &v1alpha1.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "1",
			Labels: map[string]string{v1alpha1.LabelPipeline: "web", v1alpha1.LabelEnvironment: "staging"}},
		Spec: v1alpha1.PipelineJobSpec{PipelineRef: &v1alpha1.PipelineReference{Name: "web"}, Environment: "staging",
			Trigger: v1alpha1.JobTrigger{Type: v1alpha1.TriggerManual}, StartedBy: &v1alpha1.UserInfo{Username: "alice"}},
		Status: v1alpha1.PipelineJobStatus{Phase: phase, SubmitTime: submitted(minute), StartTime: at(minute), CompletionTime: at(minute + 2)},
	}
}

// gatedJob waits for approval at approve-production, approved once of two.
func gatedJob() *v1alpha1.PipelineJob {
	j := job("web-x7k2p", v1alpha1.JobRunning, 30)
	j.Status.CompletionTime = nil
	exit0 := int32(0)
	j.Status.PipelineSpec = &v1alpha1.PipelineSpec{Steps: []v1alpha1.Step{
		{Name: "build", Retries: 1, Actions: []v1alpha1.Action{{Name: "compile"}}},
		{Name: "approve-production", Approval: &v1alpha1.ApprovalGate{Required: 2,
			Approvers: []v1alpha1.Approver{{Kind: v1alpha1.ApproverGroup, Name: "release-managers"}, {Kind: v1alpha1.ApproverUser, Name: "carol"}}}},
		{Name: "deploy", Actions: []v1alpha1.Action{{Name: "apply"}}},
	}}
	j.Status.Steps = []v1alpha1.StepStatus{
		{Name: "build", Phase: v1alpha1.StepSucceeded, Attempts: 2, StartTime: at(30), CompletionTime: at(32),
			Actions: []v1alpha1.ActionStatus{{Name: "compile", ExitCode: &exit0, StartTime: at(31), CompletionTime: at(32)}}},
		{Name: "approve-production", Phase: v1alpha1.StepWaitingForApproval, StartTime: at(32),
			Approvals: []v1alpha1.ApprovalDecision{{User: v1alpha1.UserInfo{Username: "carol"}, Decision: v1alpha1.Approve, Time: *at(35), Message: "staging <looks> good"}}},
	}
	return j
}

// TestToken: the printed URL's token is exchanged once for a cookie and a
// redirect without it; every other request needs the cookie.
func TestToken(t *testing.T) {
	f := newFixture(t, testAddr, pipeline())
	u, err := url.Parse(f.server.URL())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8123", u.Host)
	token := u.Query().Get("token")
	require.Len(t, token, 43, "32 random bytes, base64url")

	r := httptest.NewRequest(http.MethodGet, "/?namespace=shop&token="+url.QueryEscape(token), nil)
	r.Host = testAddr
	w := f.serve(r)
	require.Equal(t, http.StatusSeeOther, w.Code)
	require.Equal(t, "/?namespace=shop", w.Header().Get("Location"))
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	require.Equal(t, "sluice-dashboard-8123", c.Name, "a cookie per port: two dashboards at once do not log each other out")
	require.Equal(t, token, c.Value)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Equal(t, "/", c.Path)

	for name, r := range map[string]*http.Request{
		"a wrong token": func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/?token="+otherThan(token), nil)
		}(),
		"no cookie": httptest.NewRequest(http.MethodGet, "/", nil),
		"a wrong cookie": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(&http.Cookie{Name: f.server.cookieName, Value: otherThan(token)})
			return r
		}(),
		"a static file without cookie": httptest.NewRequest(http.MethodGet, "/static/dashboard.js", nil),
	} {
		t.Run(name, func(t *testing.T) {
			r.Host = testAddr
			w := f.serve(r)
			require.Equal(t, http.StatusForbidden, w.Code)
			require.Empty(t, w.Result().Cookies())
			require.Contains(t, w.Body.String(), "kubectl sluice dashboard printed")
		})
	}
	w = f.serve(f.request(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

// otherThan is token with its last character changed.
func otherThan(token string) string {
	last := "A"
	if strings.HasSuffix(token, last) {
		last = "B"
	}
	return token[:len(token)-1] + last
}

// TestHost: a Host other than the dashboard's own address is refused (DNS
// rebinding), with or without the cookie.
func TestHost(t *testing.T) {
	f := newFixture(t, testAddr, pipeline())
	for host, want := range map[string]int{
		"127.0.0.1:8123":    http.StatusOK,
		"localhost:8123":    http.StatusOK,
		"evil.example:8123": http.StatusMisdirectedRequest,
		"127.0.0.1:9999":    http.StatusMisdirectedRequest,
		"127.0.0.1":         http.StatusMisdirectedRequest,
		"":                  http.StatusMisdirectedRequest,
	} {
		t.Run(host, func(t *testing.T) {
			r := f.request(http.MethodGet, "/", nil)
			r.Host = host
			require.Equal(t, want, f.serve(r).Code)
			r = httptest.NewRequest(http.MethodGet, "/?token="+f.server.token, nil)
			r.Host = host
			if want == http.StatusOK {
				want = http.StatusSeeOther
			}
			w := f.serve(r)
			require.Equal(t, want, w.Code)
			if want != http.StatusSeeOther {
				require.Empty(t, w.Result().Cookies(), "a rebinding page must not get the cookie")
			}
		})
	}
}

// TestActionChecks: an action needs its own CSRF token and the
// dashboard's origin; each refusal is a 403 and the server is not asked.
func TestActionChecks(t *testing.T) {
	const path = "/jobs/web-x7k2p/cancel"
	for _, tc := range []struct {
		name string
		edit func(f *fixture, r *http.Request, form url.Values)
		want int
	}{
		{"the page's own form", func(*fixture, *http.Request, url.Values) {}, http.StatusSeeOther},
		{"no Origin but the Referer of a page", func(_ *fixture, r *http.Request, _ url.Values) {
			r.Header.Del("Origin")
			r.Header.Set("Referer", testOrigin+"/jobs/web-x7k2p")
		}, http.StatusSeeOther},
		{"from localhost", func(_ *fixture, r *http.Request, _ url.Values) {
			r.Host = "localhost:8123"
			r.Header.Set("Origin", "http://localhost:8123")
		}, http.StatusSeeOther},
		{"no CSRF token", func(_ *fixture, _ *http.Request, form url.Values) { form.Del(csrfField) }, http.StatusForbidden},
		{"a wrong CSRF token", func(_ *fixture, _ *http.Request, form url.Values) { form.Set(csrfField, "AAAA") }, http.StatusForbidden},
		{"the CSRF token of another action", func(f *fixture, _ *http.Request, form url.Values) {
			form.Set(csrfField, f.server.csrfToken("/jobs/web-x7k2p/rerun"))
		}, http.StatusForbidden},
		{"another Origin", func(_ *fixture, r *http.Request, _ url.Values) { r.Header.Set("Origin", "https://evil.example") }, http.StatusForbidden},
		{"Origin null", func(_ *fixture, r *http.Request, _ url.Values) { r.Header.Set("Origin", "null") }, http.StatusForbidden},
		{"no Origin nor Referer", func(_ *fixture, r *http.Request, _ url.Values) { r.Header.Del("Origin") }, http.StatusForbidden},
		{"another Referer", func(_ *fixture, r *http.Request, _ url.Values) {
			r.Header.Del("Origin")
			r.Header.Set("Referer", "http://127.0.0.1:81234/")
		}, http.StatusForbidden},
		{"no cookie", func(_ *fixture, r *http.Request, _ url.Values) { r.Header.Del("Cookie") }, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testAddr, gatedJob())
			f.sluice.PrependReactor("create", "pipelinejobs", func(a clienttesting.Action) (bool, runtime.Object, error) {
				return true, gatedJob(), nil
			})
			form := f.form(path)
			// The form is encoded when the request is made: edit it first.
			r := f.request(http.MethodPost, path, form)
			tc.edit(f, r, form)
			r.Body = io.NopCloser(strings.NewReader(form.Encode()))
			w := f.serve(r)
			require.Equal(t, tc.want, w.Code, w.Body.String())
			asked := 0
			for _, a := range f.sluice.Actions() {
				if a.GetSubresource() == "cancel" {
					asked++
				}
			}
			if tc.want == http.StatusForbidden {
				require.Zero(t, asked, "a refused action must not reach the server")
			} else {
				require.Equal(t, 1, asked)
			}
		})
	}
}

// TestGetChangesNothing: an action's path is POST only.
func TestGetChangesNothing(t *testing.T) {
	f := newFixture(t, testAddr, gatedJob())
	w := f.serve(f.request(http.MethodGet, "/jobs/web-x7k2p/cancel?"+f.form("/jobs/web-x7k2p/cancel").Encode(), nil))
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	for _, a := range f.sluice.Actions() {
		require.NotEqual(t, "create", a.GetVerb())
	}
}

// TestHeaders: every answer, a page, a file, an event stream or a
// refusal, carries the security headers.
func TestHeaders(t *testing.T) {
	f := newFixture(t, testAddr, pipeline(), gatedJob())
	f.logs = "done\n"
	for _, target := range []string{"/", "/jobs", "/jobs/web-x7k2p", "/static/dashboard.js", "/static/dashboard.css", "/jobs/web-x7k2p/log", "/nope"} {
		t.Run(target, func(t *testing.T) {
			w := f.serve(f.request(http.MethodGet, target, nil))
			h := w.Header()
			require.Equal(t, "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'", h.Get("Content-Security-Policy"))
			require.Equal(t, "DENY", h.Get("X-Frame-Options"))
			require.Equal(t, "same-origin", h.Get("Referrer-Policy"))
			require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
			require.Equal(t, "no-store", h.Get("Cache-Control"))
		})
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Host = "evil.example"
	require.Equal(t, "DENY", f.serve(r).Header().Get("X-Frame-Options"))
	// No inline script: the pages load the script from its file.
	body := f.serve(f.request(http.MethodGet, "/jobs/web-x7k2p", nil)).Body.String()
	require.Contains(t, body, `<script src="/static/dashboard.js" defer></script>`)
	require.NotRegexp(t, `<script>|<script [^>]*>[^<]`, body)
	require.NotContains(t, body, " on", "no inline event handlers")
}

// TestPages: the pages as golden HTML.
func TestPages(t *testing.T) {
	trigger := &v1alpha1.Trigger{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns, Labels: map[string]string{v1alpha1.LabelPipeline: "web"}},
		Status: v1alpha1.TriggerStatus{Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}},
			LastEvent: &v1alpha1.TriggerEvent{Time: *at(3), Detail: "schedule slot 2026-12-03T10:03:00Z", Job: "web-c3"}}}
	objects := []runtime.Object{pipeline(), trigger, gatedJob(),
		// In name order the oldest first: the page shows them newest first.
		job("web-a1", v1alpha1.JobSucceeded, 5), job("web-b2", v1alpha1.JobSucceeded, 15), job("web-c3", v1alpha1.JobFailed, 3)}
	f := newFixture(t, testAddr, objects...)
	f.logs = "==> build/compile (attempt 1)\ncompiling <main.go>\n"
	for name, target := range map[string]string{
		"pipelines":          "/",
		"jobs":               "/jobs?namespace=shop&phase=Succeeded",
		"job-waiting":        "/jobs/web-x7k2p",
		"job-finished":       "/jobs/web-b2?namespace=shop",
		"job-not-found":      "/jobs/nope",
		"bad-namespace":      "/?namespace=Not_A_Namespace",
		"jobs-unknown-phase": "/jobs?phase=Sleeping",
	} {
		t.Run(name, func(t *testing.T) {
			w := f.serve(f.request(http.MethodGet, target, nil))
			switch {
			case strings.Contains(name, "not-found"):
				require.Equal(t, http.StatusNotFound, w.Code)
			case strings.HasPrefix(name, "bad-") || strings.Contains(name, "unknown"):
				require.Equal(t, http.StatusBadRequest, w.Code)
			default:
				require.Equal(t, http.StatusOK, w.Code)
			}
			golden(t, name, w.Body.String())
		})
	}
}

// TestJobsPage: the filters are pushed to the server as selectors, a page
// at a time, and the next page's link carries the continue token.
func TestJobsPage(t *testing.T) {
	f := newFixture(t, testAddr)
	var asked metav1.ListOptions
	f.sluice.PrependReactor("list", "pipelinejobs", func(a clienttesting.Action) (bool, runtime.Object, error) {
		asked = a.(clienttesting.ListActionImpl).ListOptions
		j := job("web-a1", v1alpha1.JobFailed, 1)
		j.Labels[v1alpha1.LabelEnvironment], j.Labels[v1alpha1.LabelTrigger] = "production", "nightly"
		return true, &v1alpha1.PipelineJobList{ListMeta: metav1.ListMeta{Continue: "page-2"}, Items: []v1alpha1.PipelineJob{*j}}, nil
	})
	w := f.serve(f.request(http.MethodGet, "/jobs?namespace=shop&pipeline=web&environment=production&phase=Failed&trigger=nightly&continue=page-1", nil))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "sluice.dev/environment=production,sluice.dev/pipeline=web,sluice.dev/trigger=nightly", asked.LabelSelector)
	require.Equal(t, "status.phase=Failed", asked.FieldSelector)
	require.Equal(t, int64(jobsPageSize), asked.Limit)
	require.Equal(t, "page-1", asked.Continue)
	require.Contains(t, w.Body.String(), `<a rel="next" href="/jobs?continue=page-2&amp;environment=production&amp;namespace=shop&amp;phase=Failed&amp;pipeline=web&amp;trigger=nightly">Next page</a>`)
	require.Contains(t, w.Body.String(), "Jobs in the server's order (by name), 1 on this page.")
	require.Contains(t, w.Body.String(), `<a href="/jobs/web-a1?namespace=shop">web-a1</a>`)
}

// TestActions: each action calls its subresource with the form's values
// and sends the browser to the job.
func TestActions(t *testing.T) {
	for _, tc := range []struct {
		path, subresource, resource string
		form                        []string
		want                        runtime.Object
		location                    string
	}{
		{"/jobs/web-x7k2p/approve", "approval", "pipelinejobs", []string{"message", "lgtm"},
			&v1alpha1.ApprovalRequest{Decision: v1alpha1.Approve, Message: "lgtm"}, "/jobs/web-x7k2p?namespace=shop"},
		{"/jobs/web-x7k2p/reject", "approval", "pipelinejobs", []string{"message", "no changelog"},
			&v1alpha1.ApprovalRequest{Decision: v1alpha1.Reject, Message: "no changelog"}, "/jobs/web-x7k2p?namespace=shop"},
		{"/jobs/web-x7k2p/cancel", "cancel", "pipelinejobs", []string{"reason", "wrong image"},
			&v1alpha1.CancelRequest{Reason: "wrong image"}, "/jobs/web-x7k2p?namespace=shop"},
		{"/jobs/web-x7k2p/rerun", "rerun", "pipelinejobs", []string{"fromCurrentPipeline", "true"},
			&v1alpha1.RerunRequest{FromCurrentPipeline: true}, "/jobs/web-new?namespace=shop"},
		{"/pipelines/web/rollback", "rollback", "pipelines", []string{"environment", "production", "to", "web-a0"},
			&v1alpha1.RollbackRequest{Environment: "production", ToJob: "web-a0"}, "/jobs/web-new?namespace=shop"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			f := newFixture(t, testAddr, gatedJob())
			var got runtime.Object
			f.sluice.PrependReactor("create", tc.resource, func(a clienttesting.Action) (bool, runtime.Object, error) {
				require.Equal(t, tc.subresource, a.GetSubresource())
				require.Equal(t, ns, a.GetNamespace())
				got = a.(clienttesting.CreateAction).GetObject()
				j := gatedJob()
				if tc.subresource == "rerun" || tc.subresource == "rollback" {
					j.Name = "web-new"
				}
				return true, j, nil
			})
			w := f.serve(f.request(http.MethodPost, tc.path, f.form(tc.path, tc.form...)))
			require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
			require.Equal(t, tc.location, w.Header().Get("Location"))
			require.Equal(t, tc.want, got)
		})
	}
}

// TestActionRefused: the server's refusal is on the page, in the plugin's
// words, with the server's status code.
func TestActionRefused(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		form       []string
		err        error
		code       int
		want       string
	}{
		{"not an approver", "/jobs/web-x7k2p/approve", nil,
			apierrors.NewForbidden(v1alpha1.Resource("pipelinejobs/approval"), "web-x7k2p",
				errors.New(`user "heidi" is not an approver of step "approve-production", whose approvers are Group release-managers, User carol`)),
			http.StatusForbidden,
			`you cannot approve web-x7k2p: user &#34;heidi&#34; is not an approver of step &#34;approve-production&#34;, whose approvers are Group release-managers, User carol`},
		{"a finished job", "/jobs/web-x7k2p/cancel", nil,
			apierrors.NewConflict(v1alpha1.Resource("pipelinejobs"), "web-x7k2p", errors.New("the job has already finished as Succeeded")),
			http.StatusConflict, `you cannot cancel web-x7k2p: the job has already finished as Succeeded`},
		{"no release to go back to", "/pipelines/web/rollback", []string{"environment", "production"},
			apierrors.NewConflict(v1alpha1.Resource("pipelines"), "web", errors.New("nothing to roll back to: production has no release before web-a1")),
			http.StatusConflict, `you cannot roll back web: nothing to roll back to: production has no release before web-a1`},
		{"a rejection without a message", "/jobs/web-x7k2p/reject", nil, nil,
			http.StatusBadRequest, "a rejection needs a message"},
		{"the gate at another step", "/jobs/web-x7k2p/approve", []string{"step", "approve-staging"}, nil,
			http.StatusConflict, `you cannot approve web-x7k2p at step &#34;approve-staging&#34;: it waits at step &#34;approve-production&#34;`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testAddr, gatedJob())
			f.sluice.PrependReactor("create", "*", func(clienttesting.Action) (bool, runtime.Object, error) {
				if tc.err == nil {
					t.Error("the server was asked")
				}
				return true, nil, tc.err
			})
			w := f.serve(f.request(http.MethodPost, tc.path, f.form(tc.path, tc.form...)))
			require.Equal(t, tc.code, w.Code)
			require.Contains(t, w.Body.String(), `<p class="message" role="alert">`+tc.want)
			if tc.name == "not an approver" {
				golden(t, "refused-approve", w.Body.String())
			}
		})
	}
}

// event is one server-sent event; id is the last id the stream gave, as a
// browser keeps it.
type event struct{ name, data, id string }

// readEvents reads the events of a stream into a channel.
func readEvents(t *testing.T, body io.Reader) <-chan event {
	ch := make(chan event, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		var ev event
		var data []string
		var id string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				ev.data, ev.id = strings.Join(data, "\n"), id
				ch <- ev
				ev, data = event{}, nil
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return ch
}

func nextEvent(t *testing.T, ch <-chan event) event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.True(t, ok, "the stream ended")
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event in 10s")
	}
	return event{}
}

// live starts the dashboard on a real listener, for the event streams,
// and a client that sends the cookie.
func live(t *testing.T, objects ...runtime.Object) (*fixture, string, *http.Client) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := newFixture(t, l.Addr().String(), objects...)
	srv := httptest.NewUnstartedServer(f.server.Handler())
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return f, srv.URL, srv.Client()
}

func (f *fixture) get(t *testing.T, c *http.Client, u string) *http.Response {
	r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	r.AddCookie(&http.Cookie{Name: f.server.cookieName, Value: f.server.token})
	resp, err := c.Do(r)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestJobEvents: the job stream sends the timeline as it is, then again
// when the job changes, and ends when the job has ended.
func TestJobEvents(t *testing.T) {
	// The fake clientset numbers the versions of the objects it holds
	// from 2, and its watch from a version sends what is newer: the job's
	// own version says so, as a real server's would.
	stored := gatedJob()
	stored.ResourceVersion = "2"
	f, base, client := live(t, stored)
	watching := make(chan struct{})
	var once sync.Once
	f.sluice.PrependWatchReactor("pipelinejobs", func(clienttesting.Action) (bool, watch.Interface, error) {
		once.Do(func() { close(watching) })
		return false, nil, nil
	})
	resp := f.get(t, client, base+"/jobs/web-x7k2p/events?namespace=shop")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	events := readEvents(t, resp.Body)
	ev := nextEvent(t, events)
	require.Equal(t, "timeline", ev.name)
	require.Contains(t, ev.data, `Phase: <span class="phase phase-running">Running</span>`)
	require.Contains(t, ev.data, `action="/jobs/web-x7k2p/approve"`)

	select {
	case <-watching:
	case <-time.After(10 * time.Second):
		t.Fatal("the job is not watched")
	}
	j := gatedJob()
	j.ResourceVersion = "3"
	j.Status.Phase = v1alpha1.JobSucceeded
	j.Status.Steps[1].Phase = v1alpha1.StepSucceeded
	j.Status.CompletionTime = at(40)
	_, err := f.sluice.SluiceV1alpha1().PipelineJobs(ns).UpdateStatus(t.Context(), j, metav1.UpdateOptions{})
	require.NoError(t, err)

	ev = nextEvent(t, events)
	require.Equal(t, "timeline", ev.name)
	require.Contains(t, ev.data, `Phase: <span class="phase phase-succeeded">Succeeded</span>`)
	require.NotContains(t, ev.data, `action="/jobs/web-x7k2p/approve"`)
	require.Contains(t, ev.data, `action="/jobs/web-x7k2p/rerun"`)
	require.Equal(t, event{name: "end", data: "Succeeded"}, nextEvent(t, events))
}

// TestJobEventsFromShownVersion: a page that shows the job's version
// now is not sent it again (a redraw under the user's cursor); the next
// change is.
func TestJobEventsFromShownVersion(t *testing.T) {
	stored := gatedJob()
	stored.ResourceVersion = "2" // the fake clientset's first version
	f, base, client := live(t, stored)
	watching := f.watchedFrom("pipelinejobs")
	events := readEvents(t, f.get(t, client, base+"/jobs/web-x7k2p/events?namespace=shop&shown=2").Body)
	require.Equal(t, "2", started(t, watching))
	j := gatedJob()
	j.ResourceVersion, j.Status.Phase, j.Status.CompletionTime = "3", v1alpha1.JobFailed, at(40)
	_, err := f.sluice.SluiceV1alpha1().PipelineJobs(ns).UpdateStatus(t.Context(), j, metav1.UpdateOptions{})
	require.NoError(t, err)
	ev := nextEvent(t, events)
	require.Equal(t, "timeline", ev.name)
	require.Contains(t, ev.data, `Phase: <span class="phase phase-failed">Failed</span>`)
	require.Equal(t, event{name: "end", data: "Failed"}, nextEvent(t, events))
}

// TestLogEvents: the log stream sends a line per event, an empty line
// too, then the end; a log that cannot be read ends with the reason.
func TestLogEvents(t *testing.T) {
	f, base, client := live(t, gatedJob())
	f.logs = "==> build/compile (attempt 1)\ncompiling\n\nlast line without newline"
	events := readEvents(t, f.get(t, client, base+"/jobs/web-x7k2p/log?namespace=shop").Body)
	for _, want := range []event{{name: "line", data: "==> build/compile (attempt 1)"}, {name: "line", data: "compiling"}, {name: "line", data: ""},
		{name: "line", data: "last line without newline"}, {name: "end"}} {
		require.Equal(t, want, nextEvent(t, events))
	}

	f.logs, f.logErr = "", apierrors.NewForbidden(v1alpha1.Resource("pipelinejobs/log"), "web-x7k2p",
		fmt.Errorf(`User "edna" cannot get resource "pipelinejobs/log"`))
	events = readEvents(t, f.get(t, client, base+"/jobs/web-x7k2p/log?namespace=shop").Body)
	ev := nextEvent(t, events)
	require.Equal(t, "failure", ev.name)
	require.Contains(t, ev.data, `User "edna" cannot get resource "pipelinejobs/log"`)
}

// TestNewServer: the dashboard listens on 127.0.0.1 only.
func TestNewServer(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8123", ":8123", "[::]:8123", "192.168.1.2:8123", "127.0.0.1:"} {
		_, err := NewServer(Config{Sluice: sluicefake.NewSimpleClientset(), Logs: func(context.Context, string, string, bool, io.Writer) error { return nil }, Addr: addr})
		require.Error(t, err, addr)
	}
}

// TestNamespaces: ?namespace= switches the namespace, the switch lists
// those the user may list, and a namespace the user may not read shows
// the server's refusal with its 403.
func TestNamespaces(t *testing.T) {
	other := pipeline()
	other.Name, other.Namespace = "api", "default"
	f := newFixture(t, testAddr, pipeline(), other)
	w := f.serve(f.request(http.MethodGet, "/?namespace=default", nil))
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `<h2 id="pipeline-api">api</h2>`)
	require.NotContains(t, w.Body.String(), `<h2 id="pipeline-web">`)
	require.Contains(t, w.Body.String(), `<option value="default" selected>default</option>`)

	f.sluice.PrependReactor("list", "pipelines", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(v1alpha1.Resource("pipelines"), "",
			fmt.Errorf(`User "vera" cannot list resource "pipelines" in API group "sluice.dev" in the namespace %q`, a.GetNamespace()))
	})
	w = f.serve(f.request(http.MethodGet, "/?namespace=secret", nil))
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Contains(t, w.Body.String(), `listing the pipelines: pipelines.sluice.dev is forbidden: User &#34;vera&#34; cannot list resource &#34;pipelines&#34; in API group &#34;sluice.dev&#34; in the namespace &#34;secret&#34;`)
}

// watchedFrom records the version each watch of resource starts from.
func (f *fixture) watchedFrom(resource string) <-chan string {
	from := make(chan string, 10)
	f.sluice.PrependWatchReactor(resource, func(a clienttesting.Action) (bool, watch.Interface, error) {
		from <- a.(clienttesting.WatchAction).GetWatchRestrictions().ResourceVersion
		return false, nil, nil
	})
	return from
}

func started(t *testing.T, from <-chan string) string {
	t.Helper()
	select {
	case rv := <-from:
		return rv
	case <-time.After(10 * time.Second):
		t.Fatal("not watched")
	}
	return ""
}

// TestListEvents: the pipelines page's stream follows the jobs and the
// pipelines from the versions the page was read at: a new job's row, its
// changes and its deletion; a pipeline's environments when it releases;
// a pipeline added. Each event's id holds the versions reached.
func TestListEvents(t *testing.T) {
	stored := pipeline()
	stored.ResourceVersion = "2" // the fake clientset's first version
	f, base, client := live(t, stored)
	jobsFrom, pipelinesFrom := f.watchedFrom("pipelinejobs"), f.watchedFrom("pipelines")
	events := readEvents(t, f.get(t, client, base+"/events?namespace=shop&jobs=2&pipelines=2").Body)
	require.Equal(t, "2", started(t, jobsFrom))
	require.Equal(t, "2", started(t, pipelinesFrom))

	jobs := f.sluice.SluiceV1alpha1().PipelineJobs(ns)
	j := job("web-n3w", v1alpha1.JobRunning, 40)
	j.ResourceVersion, j.Status.CompletionTime = "3", nil
	_, err := jobs.Create(t.Context(), j, metav1.CreateOptions{})
	require.NoError(t, err)
	ev := nextEvent(t, events)
	require.Equal(t, "job-added", ev.name)
	require.Contains(t, ev.data, `<tr id="job-web-n3w" data-pipeline="web">`)
	require.Contains(t, ev.data, `<span class="phase phase-running">Running</span>`)
	require.Equal(t, "jobs=3&pipelines=2", ev.id)

	j.ResourceVersion, j.Status.Phase, j.Status.CompletionTime = "4", v1alpha1.JobSucceeded, at(42)
	_, err = jobs.UpdateStatus(t.Context(), j, metav1.UpdateOptions{})
	require.NoError(t, err)
	ev = nextEvent(t, events)
	require.Equal(t, "job-changed", ev.name)
	require.Contains(t, ev.data, `<span class="phase phase-succeeded">Succeeded</span>`)
	require.Equal(t, "jobs=4&pipelines=2", ev.id)

	pl := pipeline()
	pl.ResourceVersion = "5"
	pl.Status.Environments[0].Previous = pl.Status.Environments[0].Current
	pl.Status.Environments[0].Current = &v1alpha1.Release{Job: "web-n3w", CompletionTime: at(42), StartedBy: "alice"}
	_, err = f.sluice.SluiceV1alpha1().Pipelines(ns).UpdateStatus(t.Context(), pl, metav1.UpdateOptions{})
	require.NoError(t, err)
	ev = nextEvent(t, events)
	require.Equal(t, "environments", ev.name)
	require.True(t, strings.HasPrefix(ev.data, "\n"+`<div id="environments-web">`), ev.data)
	require.Contains(t, ev.data, `<td><a href="/jobs/web-n3w?namespace=shop">web-n3w</a> at 2026-12-03T10:42:00Z by alice</td>`)
	require.Contains(t, ev.data, `<form method="post" action="/pipelines/web/rollback">`)
	require.Equal(t, "jobs=4&pipelines=5", ev.id)

	require.NoError(t, jobs.Delete(t.Context(), "web-n3w", metav1.DeleteOptions{}))
	require.Equal(t, "job-deleted", nextEvent(t, events).name)

	other := pipeline()
	other.Name, other.ResourceVersion = "api", "7"
	_, err = f.sluice.SluiceV1alpha1().Pipelines(ns).Create(t.Context(), other, metav1.CreateOptions{})
	require.NoError(t, err)
	ev = nextEvent(t, events)
	require.Equal(t, event{name: "pipelines", data: "Pipeline api was added.", id: "jobs=4&pipelines=7"}, ev)
}

// TestListEventsResume: a browser that reconnects sends the last id it
// got, and the stream goes on from the versions it holds, not from the
// page's; the jobs page's stream follows only the jobs.
func TestListEventsResume(t *testing.T) {
	f, base, client := live(t)
	jobsFrom, pipelinesFrom := f.watchedFrom("pipelinejobs"), f.watchedFrom("pipelines")
	r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/events?namespace=shop&jobs=2&pipelines=2", nil)
	require.NoError(t, err)
	r.AddCookie(&http.Cookie{Name: f.server.cookieName, Value: f.server.token})
	r.Header.Set("Last-Event-ID", "jobs=41&pipelines=17")
	resp, err := client.Do(r)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "41", started(t, jobsFrom))
	require.Equal(t, "17", started(t, pipelinesFrom))

	resp2 := f.get(t, client, base+"/events?namespace=shop&jobs=9&pipeline=web&phase=Running")
	require.Equal(t, http.StatusOK, resp2.StatusCode)
	require.Equal(t, "9", started(t, jobsFrom))
	select {
	case rv := <-pipelinesFrom:
		t.Fatalf("the jobs page's stream watched the pipelines from %q", rv)
	default:
	}
}

// TestListEventsStale: a watch that cannot go on (its version is too
// old) says so, with the server's reason, and the stream ends.
func TestListEventsStale(t *testing.T) {
	f, base, client := live(t)
	f.sluice.PrependWatchReactor("pipelinejobs", func(clienttesting.Action) (bool, watch.Interface, error) {
		w := watch.NewFake()
		go w.Error(&apierrors.NewResourceExpired("too old resource version: 2 (40)").ErrStatus)
		return true, w, nil
	})
	events := readEvents(t, f.get(t, client, base+"/events?namespace=shop&jobs=2").Body)
	ev := nextEvent(t, events)
	require.Equal(t, "stale", ev.name)
	require.Contains(t, ev.data, "too old resource version")
	select {
	case _, open := <-events:
		require.False(t, open, "the stream goes on after a stale watch")
	case <-time.After(10 * time.Second):
		t.Fatal("the stream does not end after a stale watch")
	}
}

// TestListEventsBadRequest: a stream that names nothing to follow, or a
// filter that is not one, is a 400.
func TestListEventsBadRequest(t *testing.T) {
	f := newFixture(t, testAddr)
	for target, want := range map[string]string{
		"/events?namespace=shop":                     "nothing to follow",
		"/events?namespace=shop&jobs=2&phase=Broken": "phase Broken: expected Pending",
		"/events?namespace=Shop!&jobs=2":             "namespace",
	} {
		w := f.serve(f.request(http.MethodGet, target, nil))
		require.Equal(t, http.StatusBadRequest, w.Code, target)
		require.Contains(t, w.Body.String(), want, target)
	}
}
