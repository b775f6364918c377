package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	testclock "k8s.io/utils/clock/testing"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluicefake "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/fake"
	sluiceinformers "github.com/sluice-dev/sluice/pkg/generated/informers/externalversions"
	"github.com/sluice-dev/sluice/pkg/trigger/jobname"
	triggermetrics "github.com/sluice-dev/sluice/pkg/trigger/metrics"
	"github.com/sluice-dev/sluice/pkg/trigger/webhook"
)

const (
	ns        = "team"
	secretKey = "s3cr3t-never-logged"
)

var now = time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)

// env is a Receiver on fake clientsets; runs records pipelines/run calls
// and jobs the jobs they created.
type env struct {
	t        *testing.T
	rcv      *Receiver
	server   *httptest.Server
	recorder *record.FakeRecorder
	sluice   *sluicefake.Clientset

	mu   sync.Mutex
	runs []*v1alpha1.RunRequest
	jobs map[string]*v1alpha1.PipelineJob
}

func newEnv(t *testing.T, opts Options, objects ...runtime.Object) *env {
	t.Helper()
	return newEnvWithReplies(t, opts, nil, objects...)
}

// newEnvWithReplies is newEnv whose receiver posts Slack results with
// replies, when not nil, following the jobs the fake clientset holds.
func newEnvWithReplies(t *testing.T, opts Options, replies *SlackReplyOptions, objects ...runtime.Object) *env {
	t.Helper()
	e := &env{t: t, jobs: map[string]*v1alpha1.PipelineJob{}, recorder: record.NewFakeRecorder(100)}
	var sluiceObjs, kubeObjs []runtime.Object
	for _, o := range objects {
		if _, ok := o.(*corev1.Secret); ok {
			kubeObjs = append(kubeObjs, o)
		} else {
			sluiceObjs = append(sluiceObjs, o)
		}
	}
	sluice := sluicefake.NewSimpleClientset(sluiceObjs...)
	sluice.PrependReactor("create", "pipelines", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "run" {
			return false, nil, nil
		}
		req := a.(clienttesting.CreateActionImpl).GetObject().(*v1alpha1.RunRequest)
		e.mu.Lock()
		defer e.mu.Unlock()
		e.runs = append(e.runs, req)
		if _, ok := e.jobs[req.Name]; ok {
			return true, nil, apierrors.NewAlreadyExists(v1alpha1.Resource("pipelinejobs"), req.Name)
		}
		job := &v1alpha1.PipelineJob{
			ObjectMeta: metav1.ObjectMeta{Namespace: a.GetNamespace(), Name: req.Name},
			Spec: v1alpha1.PipelineJobSpec{Params: req.Params, Environment: req.Environment, Trigger: *req.Trigger,
				PipelineRef: &v1alpha1.PipelineReference{Name: a.(clienttesting.CreateActionImpl).Name}},
		}
		e.jobs[req.Name] = job
		// Into the tracker too, for the informer of jobs.
		_ = e.sluice.Tracker().Add(job.DeepCopy())
		return true, job, nil
	})
	e.sluice = sluice
	if opts.Clock == nil {
		opts.Clock = testclock.NewFakePassiveClock(now)
	}
	factory := sluiceinformers.NewSharedInformerFactory(sluice, 0)
	if replies != nil {
		var err error
		opts.SlackReplies, err = NewSlackReplies(factory.Sluice().V1alpha1().PipelineJobs(), *replies)
		require.NoError(t, err)
	}
	rcv, err := New(factory.Sluice().V1alpha1().Triggers(), kubefake.NewSimpleClientset(kubeObjs...), sluice, e.recorder, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	for _, synced := range factory.WaitForCacheSync(ctx.Done()) {
		require.True(t, synced)
	}
	e.rcv = rcv
	e.server = httptest.NewServer(rcv.Handler())
	t.Cleanup(e.server.Close)
	return e
}

func testOptions() Options { o := DefaultOptions(); o.Clock = nil; return o }

func (e *env) runCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.runs)
}

// post sends body to the trigger's URL with headers (name, value, ...).
func (e *env) post(trigger, body string, headers ...string) (int, string) {
	e.t.Helper()
	return e.do(http.MethodPost, "/hooks/"+ns+"/"+trigger, body, headers...)
}

func (e *env) do(method, path, body string, headers ...string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.server.URL+path, strings.NewReader(body))
	require.NoError(e.t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, string(b)
}

func decodeAnswer(t *testing.T, body string) answer {
	t.Helper()
	var a answer
	require.NoError(t, json.Unmarshal([]byte(body), &a), body)
	return a
}

func secret(name string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"token": []byte(secretKey)}}
}

func webhookTrigger(name string, provider v1alpha1.WebhookProvider, mutate ...func(*v1alpha1.Trigger)) *v1alpha1.Trigger {
	tr := &v1alpha1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.TriggerSpec{
			PipelineRef: v1alpha1.PipelineReference{Name: "release"},
			Environment: "staging",
			Params:      []v1alpha1.Param{{Name: "revision", Value: "$(webhook.commit)"}},
			Webhook:     &v1alpha1.WebhookSource{Provider: provider, SecretRef: v1alpha1.SecretKeyRef{Name: "hook", Key: "token"}},
		},
	}
	for _, m := range mutate {
		m(tr)
	}
	return tr
}

const commit = "4f5e6d7c8b9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c"

func githubPush(ref string) string {
	return fmt.Sprintf(`{"ref":%q,"after":%q,"deleted":false,"repository":{"full_name":"octo-org/web"},"sender":{"login":"alice"},"body_marker":"BODY-NEVER-LOGGED"}`, ref, commit)
}

func githubHeaders(body, key, delivery string) []string {
	return []string{
		webhook.HeaderGitHubEvent, "push",
		webhook.HeaderGitHubDelivery, delivery,
		webhook.HeaderGitHubSignature, webhook.SignGeneric([]byte(key), []byte(body), ""),
	}
}

// TestGitHubPushStartsOneJob: a signed push starts the pipeline with the
// commit in its params, named after the delivery; the same delivery again
// is a duplicate that creates nothing.
func TestGitHubPushStartsOneJob(t *testing.T) {
	e := newEnv(t, testOptions(), webhookTrigger("web", v1alpha1.WebhookGitHub), secret("hook"))
	body := githubPush("refs/heads/main")
	code, resp := e.post("web", body, githubHeaders(body, secretKey, "d-1")...)
	require.Equal(t, http.StatusCreated, code, resp)
	want := jobname.ForEvent("web", "d-1")
	require.Equal(t, answer{Result: triggermetrics.Started, Job: want}, decodeAnswer(t, resp))
	job := e.jobs[want]
	require.NotNil(t, job)
	require.Equal(t, []v1alpha1.Param{{Name: "revision", Value: commit}}, job.Spec.Params)
	require.Equal(t, "staging", job.Spec.Environment)
	require.Equal(t, v1alpha1.JobTrigger{Type: v1alpha1.TriggerWebhook, Name: "web", Detail: "github push to main by alice (4f5e6d7)"}, job.Spec.Trigger)
	require.Equal(t, "release", job.Spec.PipelineRef.Name)
	require.Contains(t, <-e.recorder.Events, "Normal Fired started job "+want)

	code, resp = e.post("web", body, githubHeaders(body, secretKey, "d-1")...)
	require.Equal(t, http.StatusOK, code, resp)
	require.Equal(t, triggermetrics.Duplicate, decodeAnswer(t, resp).Result)
	require.Equal(t, want, decodeAnswer(t, resp).Job)
	require.Len(t, e.jobs, 1, "a redelivery creates nothing")

	code, resp = e.post("web", body, githubHeaders(body, secretKey, "d-2")...)
	require.Equal(t, http.StatusCreated, code, resp)
	require.Len(t, e.jobs, 2, "another delivery is another job")
}

// TestBadSignaturesCreateNothing: every request that fails its check is
// 401 and never reaches pipelines/run.
func TestBadSignaturesCreateNothing(t *testing.T) {
	e := newEnv(t, testOptions(),
		webhookTrigger("gh", v1alpha1.WebhookGitHub), webhookTrigger("gl", v1alpha1.WebhookGitLab),
		webhookTrigger("gen", v1alpha1.WebhookGeneric, func(tr *v1alpha1.Trigger) { tr.Spec.Params = nil }),
		slackTrigger(), secret("hook"), secret("slack"))
	body := githubPush("refs/heads/main")
	stale := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	fresh := strconv.FormatInt(now.Unix(), 10)
	generic := `{"x":1}`
	form := slackForm("run release")
	for _, tc := range []struct {
		name, trigger, body string
		headers             []string
		want                string
	}{
		{"tampered body", "gh", strings.Replace(body, "main", "mainx", 1), githubHeaders(body, secretKey, "d"), "does not match"},
		{"wrong key", "gh", body, githubHeaders(body, "other", "d"), "does not match"},
		{"no signature", "gh", body, []string{webhook.HeaderGitHubEvent, "push"}, "missing X-Hub-Signature-256"},
		{"wrong GitLab token", "gl", body, []string{webhook.HeaderGitLabEvent, "Push Hook", webhook.HeaderGitLabToken, "nope"}, "does not match"},
		{"Generic without timestamp", "gen", generic, []string{webhook.HeaderSluiceSignature, webhook.SignGeneric([]byte(secretKey), []byte(generic), "")}, "missing X-Sluice-Timestamp"},
		{"Generic stale timestamp", "gen", generic, []string{webhook.HeaderSluiceTimestamp, stale,
			webhook.HeaderSluiceSignature, webhook.SignGeneric([]byte(secretKey), []byte(generic), stale)}, "old"},
		{"Generic tampered", "gen", `{"x":2}`, []string{webhook.HeaderSluiceTimestamp, fresh,
			webhook.HeaderSluiceSignature, webhook.SignGeneric([]byte(secretKey), []byte(generic), fresh)}, "does not match"},
		{"Slack stale timestamp", "chat", form, []string{webhook.HeaderSlackTimestamp, stale,
			webhook.HeaderSlackSignature, webhook.SignSlack([]byte(secretKey), []byte(form), stale)}, "old"},
		{"Slack wrong key", "chat", form, []string{webhook.HeaderSlackTimestamp, fresh,
			webhook.HeaderSlackSignature, webhook.SignSlack([]byte("other"), []byte(form), fresh)}, "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, resp := e.post(tc.trigger, tc.body, tc.headers...)
			require.Equal(t, http.StatusUnauthorized, code, resp)
			a := decodeAnswer(t, resp)
			require.Equal(t, triggermetrics.Unauthorized, a.Result)
			require.Contains(t, a.Reason, tc.want)
			require.NotContains(t, resp, secretKey)
		})
	}
	require.Zero(t, e.runCount(), "nothing reaches pipelines/run")
}

// TestNotFoundSaysNothing: every path that names no trigger the receiver
// serves gets the very same 404 body.
func TestNotFoundSaysNothing(t *testing.T) {
	scheduled := &v1alpha1.Trigger{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly"},
		Spec: v1alpha1.TriggerSpec{PipelineRef: v1alpha1.PipelineReference{Name: "release"}, Schedule: &v1alpha1.ScheduleSource{Cron: "@daily"}}}
	elsewhere := webhookTrigger("web", v1alpha1.WebhookGitHub)
	elsewhere.Namespace = "other"
	elsewhereSecret := secret("hook")
	elsewhereSecret.Namespace = "other"
	e := newEnv(t, testOptions(), scheduled, elsewhere, elsewhereSecret)
	var bodies []string
	for _, path := range []string{"/hooks/team/missing", "/hooks/team/nightly", "/hooks/team/web", "/hooks/team", "/hooks/team/web/x", "/hooks//web"} {
		code, resp := e.do(http.MethodPost, path, "{}")
		require.Equal(t, http.StatusNotFound, code, path)
		bodies = append(bodies, resp)
	}
	for _, b := range bodies[1:] {
		require.Equal(t, bodies[0], b)
	}
	code, _ := e.do(http.MethodPost, "/hooks/other/web", "{}")
	require.Equal(t, http.StatusUnauthorized, code, "the trigger in its own namespace is found")
}

func TestMethodSizeAndRateLimit(t *testing.T) {
	opts := testOptions()
	opts.RateLimit, opts.Burst = 0.001, 3
	e := newEnv(t, opts, webhookTrigger("web", v1alpha1.WebhookGitHub), secret("hook"))
	code, _ := e.do(http.MethodGet, "/hooks/team/web", "")
	require.Equal(t, http.StatusMethodNotAllowed, code)

	big := `{"pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	code, resp := e.post("web", big, githubHeaders(big, secretKey, "d")...)
	require.Equal(t, http.StatusRequestEntityTooLarge, code, resp)

	body := githubPush("refs/heads/main")
	code, resp = e.post("web", body, githubHeaders(body, secretKey, "d")...)
	require.Equal(t, http.StatusCreated, code, resp)
	code, resp = e.post("web", body, githubHeaders(body, secretKey, "d")...)
	require.Equal(t, http.StatusOK, code, resp)
	code, resp = e.post("web", body, githubHeaders(body, secretKey, "d")...)
	require.Equal(t, http.StatusTooManyRequests, code, "the fourth request, over the burst of 3: %s", resp)
	require.Equal(t, triggermetrics.Limited, decodeAnswer(t, resp).Result)
	require.Equal(t, 2, e.runCount())
}

// TestIgnoredEvents: valid requests that start nothing say why, 202.
func TestIgnoredEvents(t *testing.T) {
	e := newEnv(t, testOptions(),
		webhookTrigger("web", v1alpha1.WebhookGitHub, func(tr *v1alpha1.Trigger) {
			tr.Spec.Webhook.Events = []v1alpha1.WebhookEvent{v1alpha1.WebhookPush}
			tr.Spec.Webhook.Filter = &v1alpha1.WebhookFilter{Branches: []string{"main"}}
		}),
		webhookTrigger("paused", v1alpha1.WebhookGitHub, func(tr *v1alpha1.Trigger) { tr.Spec.Suspend = true }),
		secret("hook"))
	push := func(ref string) (string, []string) { b := githubPush(ref); return b, githubHeaders(b, secretKey, "d") }
	for _, tc := range []struct {
		name, trigger, body string
		headers             []string
		reason              string
	}{
		{"another branch", "web", first(push("refs/heads/dev")), second(push("refs/heads/dev")), `branch "dev" matches none of`},
		{"a tag", "web", first(push("refs/tags/v1")), second(push("refs/tags/v1")), "tag events do not fire"},
		{"suspended", "paused", first(push("refs/heads/main")), second(push("refs/heads/main")), "suspended"},
		{"ping", "web", `{}`, []string{webhook.HeaderGitHubEvent, "ping", webhook.HeaderGitHubSignature, webhook.SignGeneric([]byte(secretKey), []byte(`{}`), "")}, "ping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, resp := e.post(tc.trigger, tc.body, tc.headers...)
			require.Equal(t, http.StatusAccepted, code, resp)
			a := decodeAnswer(t, resp)
			require.Equal(t, triggermetrics.Ignored, a.Result)
			require.Contains(t, a.Reason, tc.reason)
		})
	}
	require.Zero(t, e.runCount())
}

func first(a string, _ []string) string    { return a }
func second(_ string, b []string) []string { return b }

// TestGitLabAndGeneric: the other providers start jobs; a Generic body
// lookup that matches nothing is 400; a missing Secret is 503.
func TestGitLabAndGeneric(t *testing.T) {
	e := newEnv(t, testOptions(),
		webhookTrigger("gl", v1alpha1.WebhookGitLab),
		webhookTrigger("gen", v1alpha1.WebhookGeneric, func(tr *v1alpha1.Trigger) {
			tr.Spec.Params = []v1alpha1.Param{{Name: "version", Value: "$(webhook.body.release.version)"}}
		}),
		webhookTrigger("nosecret", v1alpha1.WebhookGitHub, func(tr *v1alpha1.Trigger) { tr.Spec.Webhook.SecretRef.Name = "gone" }),
		secret("hook"))

	gl := fmt.Sprintf(`{"object_kind":"push","ref":"refs/heads/main","after":%q,"checkout_sha":%q,"user_username":"bob","project":{"path_with_namespace":"g/web"}}`, commit, commit)
	code, resp := e.post("gl", gl, webhook.HeaderGitLabEvent, "Push Hook", webhook.HeaderGitLabToken, secretKey, webhook.HeaderGitLabEventUUID, "u-1")
	require.Equal(t, http.StatusCreated, code, resp)
	require.Equal(t, "gitlab push to main by bob (4f5e6d7)", e.jobs[jobname.ForEvent("gl", "u-1")].Spec.Trigger.Detail)

	ts := strconv.FormatInt(now.Unix(), 10)
	gen := `{"release":{"version":"1.4.2"}}`
	code, resp = e.post("gen", gen, webhook.HeaderSluiceTimestamp, ts, webhook.HeaderSluiceSignature, webhook.SignGeneric([]byte(secretKey), []byte(gen), ts))
	require.Equal(t, http.StatusCreated, code, resp)
	job := e.jobs[decodeAnswer(t, resp).Job]
	require.Equal(t, []v1alpha1.Param{{Name: "version", Value: "1.4.2"}}, job.Spec.Params)
	code, resp = e.post("gen", gen, webhook.HeaderSluiceTimestamp, ts, webhook.HeaderSluiceSignature, webhook.SignGeneric([]byte(secretKey), []byte(gen), ts))
	require.Equal(t, http.StatusOK, code, "the same signed request again, without a delivery id: %s", resp)

	other := `{"other":1}`
	code, resp = e.post("gen", other, webhook.HeaderSluiceTimestamp, ts, webhook.HeaderSluiceSignature, webhook.SignGeneric([]byte(secretKey), []byte(other), ts))
	require.Equal(t, http.StatusBadRequest, code, resp)
	require.Contains(t, decodeAnswer(t, resp).Reason, "webhook.body.release.version")

	body := githubPush("refs/heads/main")
	code, resp = e.post("nosecret", body, githubHeaders(body, secretKey, "d")...)
	require.Equal(t, http.StatusServiceUnavailable, code, resp)
	require.Equal(t, answer{Result: triggermetrics.Error, Reason: "trigger not ready"}, decodeAnswer(t, resp))
	require.Len(t, e.jobs, 2)
}

func slackTrigger() *v1alpha1.Trigger {
	return &v1alpha1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chat"},
		Spec: v1alpha1.TriggerSpec{
			PipelineRef: v1alpha1.PipelineReference{Name: "release"},
			Environment: "staging",
			Params:      []v1alpha1.Param{{Name: "by", Value: "$(slack.user)"}, {Name: "version", Value: "latest"}},
			Slack:       &v1alpha1.SlackSource{SigningSecretRef: v1alpha1.SecretKeyRef{Name: "slack", Key: "token"}, AllowedUsers: []string{"U1"}},
		},
	}
}

func slackForm(text string, user ...string) string {
	u := "U1"
	if len(user) > 0 {
		u = user[0]
	}
	return url.Values{"command": {"/sluice"}, "text": {text}, "user_id": {u}, "user_name": {"alice"}, "trigger_id": {"t-" + text}}.Encode()
}

func (e *env) slack(text string, user ...string) (int, slackAnswer) {
	e.t.Helper()
	form := slackForm(text, user...)
	ts := strconv.FormatInt(now.Unix(), 10)
	code, resp := e.post("chat", form, webhook.HeaderSlackTimestamp, ts, webhook.HeaderSlackSignature, webhook.SignSlack([]byte(secretKey), []byte(form), ts))
	var a slackAnswer
	require.NoError(e.t, json.Unmarshal([]byte(resp), &a), resp)
	return code, a
}

func TestSlackCommands(t *testing.T) {
	running := &v1alpha1.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "release-7", Labels: map[string]string{v1alpha1.LabelPipeline: "release"}},
		Status: v1alpha1.PipelineJobStatus{Phase: v1alpha1.JobRunning, Steps: []v1alpha1.StepStatus{
			{Name: "build", Phase: v1alpha1.StepSucceeded}, {Name: "deploy", Phase: v1alpha1.StepRunning}, {Name: "verify"}}},
	}
	otherPipeline := running.DeepCopy()
	otherPipeline.Name, otherPipeline.Labels[v1alpha1.LabelPipeline] = "secret-job", "other"
	e := newEnv(t, testOptions(), slackTrigger(), secret("slack"), running, otherPipeline)

	code, a := e.slack("run release env=prod version=1.2.3 extra=x")
	require.Equal(t, http.StatusOK, code)
	name := jobname.ForEvent("chat", "slack:t-run release env=prod version=1.2.3 extra=x")
	require.Equal(t, slackInChannel, a.ResponseType)
	require.Contains(t, a.Text, "Started job "+name+" of release in prod")
	require.Contains(t, a.Text, "kubectl get pipelinejob -n team "+name)
	job := e.jobs[name]
	require.Equal(t, []v1alpha1.Param{{Name: "by", Value: "U1"}, {Name: "version", Value: "1.2.3"}, {Name: "extra", Value: "x"}}, job.Spec.Params)
	require.Equal(t, "prod", job.Spec.Environment)
	require.Equal(t, v1alpha1.TriggerSlack, job.Spec.Trigger.Type)

	_, a = e.slack("run release env=prod version=1.2.3 extra=x")
	require.Equal(t, slackEphemeral, a.ResponseType)
	require.Contains(t, a.Text, "already")
	require.Len(t, e.jobs, 1)

	for _, tc := range []struct{ text, user, want string }{
		{"run release", "U2", "not allowed"},
		{"run other", "U1", "runs pipeline release only"},
		{"deploy now", "U1", "usage: run"},
		{"status release-7", "U1", "Job release-7 of release: Running, step deploy Running"},
		{"status secret-job", "U1", "There is no job secret-job of pipeline release"},
		{"status nope", "U1", "There is no job nope of pipeline release"},
	} {
		code, a := e.slack(tc.text, tc.user)
		require.Equal(t, http.StatusOK, code, tc.text)
		require.Equal(t, slackEphemeral, a.ResponseType, tc.text)
		require.Contains(t, a.Text, tc.want, tc.text)
	}
	require.Len(t, e.jobs, 1)
}

// TestReadyOnceSynced: /readyz fails until the trigger cache has synced.
func TestReadyOnceSynced(t *testing.T) {
	sluice := sluicefake.NewSimpleClientset()
	factory := sluiceinformers.NewSharedInformerFactory(sluice, 0)
	rcv, err := New(factory.Sluice().V1alpha1().Triggers(), kubefake.NewSimpleClientset(), sluice, record.NewFakeRecorder(1), DefaultOptions())
	require.NoError(t, err)
	srv := httptest.NewServer(rcv.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	resp, err = http.Get(srv.URL + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestLogsHoldNoSecretOrBody: at a high verbosity, the log of accepted,
// refused and failed requests names neither the key nor the body.
func TestLogsHoldNoSecretOrBody(t *testing.T) {
	var buf bytes.Buffer
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	require.NoError(t, fs.Set("v", "10"))
	require.NoError(t, fs.Set("logtostderr", "false"))
	klog.SetOutput(&buf)
	defer func() {
		klog.SetOutput(io.Discard)
		_ = fs.Set("v", "0")
		_ = fs.Set("logtostderr", "true")
	}()
	e := newEnv(t, testOptions(), webhookTrigger("web", v1alpha1.WebhookGitHub), secret("hook"),
		webhookTrigger("nosecret", v1alpha1.WebhookGitHub, func(tr *v1alpha1.Trigger) { tr.Spec.Webhook.SecretRef.Name = "gone" }))
	body := githubPush("refs/heads/main")
	code, _ := e.post("web", body, githubHeaders(body, secretKey, "d-log")...)
	require.Equal(t, http.StatusCreated, code)
	code, _ = e.post("web", body+" ", githubHeaders(body, secretKey, "d-log")...)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = e.post("nosecret", body, githubHeaders(body, secretKey, "d-log")...)
	require.Equal(t, http.StatusServiceUnavailable, code)
	klog.Flush()
	log := buf.String()
	require.Contains(t, log, "d-log", "the delivery is logged")
	require.NotContains(t, log, secretKey)
	require.NotContains(t, log, "BODY-NEVER-LOGGED")
	require.NotContains(t, log, webhook.SignGeneric([]byte(secretKey), []byte(body), "")[7:])
}
