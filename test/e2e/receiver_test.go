package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/receiver"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
	"github.com/sluice-dev/sluice/pkg/trigger/webhook"
)

// hookResponse is an answer of the trigger receiver.
type hookResponse struct {
	Code int
	Body string
}

// postHook posts body to a trigger's URL on one controller replica.
func postHook(ctx context.Context, c string, ns, trigger, body string, header http.Header) (hookResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c+receiver.PathPrefix+ns+"/"+trigger, strings.NewReader(body))
	if err != nil {
		return hookResponse{}, err
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return hookResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return hookResponse{Code: resp.StatusCode, Body: string(b)}, err
}

// postHookOnceKnown posts until the replica's Trigger cache knows the
// trigger (its first answers are 404), and returns the first other answer.
func postHookOnceKnown(t *testing.T, c, ns, trigger, body string, header http.Header) hookResponse {
	t.Helper()
	var got hookResponse
	eventually(t, 30*time.Second, "the receiver to know trigger "+trigger, func(ctx context.Context) error {
		var err error
		if got, err = postHook(ctx, c, ns, trigger, body, header); err != nil {
			return err
		}
		if got.Code == http.StatusNotFound {
			return fmt.Errorf("404: %s", got.Body)
		}
		return nil
	})
	return got
}

func triggerJobs(t *testing.T, ns, trigger string) []string {
	t.Helper()
	list, err := sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns).List(testContext(t), metav1.ListOptions{LabelSelector: v1alpha1.LabelTrigger + "=" + trigger})
	require.NoError(t, err)
	var names []string
	for _, j := range list.Items {
		names = append(names, j.Name)
	}
	return names
}

func createSecret(t *testing.T, ns, name, key, value string) {
	t.Helper()
	_, err := kube(t).CoreV1().Secrets(ns).Create(testContext(t), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: map[string]string{key: value}}, metav1.CreateOptions{})
	require.NoError(t, err)
}

// TestReceiverGitHubPush is scenario 3: a signed GitHub push fires a job
// with the commit in its params; the same delivery again, to the other
// replica, creates nothing; a tampered body gets 401 and creates nothing.
func TestReceiverGitHubPush(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 2)
	ctx := testContext(t)
	ns := namespace(t, "receiver-gh")
	_, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(ctx, deployPipeline("release", "staging"), metav1.CreateOptions{})
	require.NoError(t, err)
	const key = "gh-webhook-key"
	createSecret(t, ns, "github", "token", key)
	kubectlIn(t, `
apiVersion: sluice.dev/v1alpha1
kind: Trigger
metadata: {name: web}
spec:
  pipelineRef: {name: release}
  params:
  - {name: version, value: "$(webhook.commit)"}
  webhook:
    provider: GitHub
    secretRef: {name: github, key: token}
    events: [push]
    filter: {branches: [main]}
`, "-n", ns, "apply", "-f", "-")

	const commit = "9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"
	body := fmt.Sprintf(`{"ref":"refs/heads/main","after":%q,"repository":{"full_name":"octo-org/web"},"sender":{"login":"alice"}}`, commit)
	header := http.Header{}
	header.Set(webhook.HeaderGitHubEvent, "push")
	header.Set(webhook.HeaderGitHubDelivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	header.Set(webhook.HeaderGitHubSignature, webhook.SignGeneric([]byte(key), []byte(body), ""))
	replicas := liveControllers()
	first, second := replicas[0].ReceiverURL, replicas[1].ReceiverURL

	got := postHookOnceKnown(t, first, ns, "web", body, header)
	require.Equal(t, http.StatusCreated, got.Code, got.Body)
	var answer struct{ Result, Job string }
	require.NoError(t, json.Unmarshal([]byte(got.Body), &answer))
	require.Equal(t, "started", answer.Result)
	job := getJob(t, ns, answer.Job)
	require.Equal(t, []v1alpha1.Param{param("version", commit)}, job.Spec.Params)
	require.Equal(t, v1alpha1.JobTrigger{Type: v1alpha1.TriggerWebhook, Name: "web", Detail: "github push to main by alice (9c1d2e3)"}, job.Spec.Trigger)
	require.Equal(t, "web", job.Labels[v1alpha1.LabelTrigger])

	got = postHookOnceKnown(t, second, ns, "web", body, header)
	require.Equal(t, http.StatusOK, got.Code, "the same delivery to the other replica: %s", got.Body)
	require.Contains(t, got.Body, `"duplicate"`)

	tampered := strings.Replace(body, "alice", "mallory", 1)
	got = postHookOnceKnown(t, first, ns, "web", tampered, header)
	require.Equal(t, http.StatusUnauthorized, got.Code, got.Body)

	other := header.Clone()
	other.Set(webhook.HeaderGitHubDelivery, "another-delivery")
	dev := strings.Replace(body, "refs/heads/main", "refs/heads/dev", 1)
	other.Set(webhook.HeaderGitHubSignature, webhook.SignGeneric([]byte(key), []byte(dev), ""))
	got = postHookOnceKnown(t, first, ns, "web", dev, other)
	require.Equal(t, http.StatusAccepted, got.Code, "a push to a branch the filter leaves out: %s", got.Body)

	require.Equal(t, []string{answer.Job}, triggerJobs(t, ns, "web"), "one job for all of that")
	eventually(t, 30*time.Second, "the Fired Event on the trigger", func(ctx context.Context) error {
		events, err := kube(t).CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web,reason=" + receiver.ReasonFired})
		if err != nil {
			return err
		}
		if len(events.Items) == 0 {
			return fmt.Errorf("no Fired Event yet")
		}
		return nil
	})
	// The leader's trigger loop records the job as the trigger's last
	// event, and says the trigger is ready.
	eventually(t, time.Minute, "the trigger's status", func(ctx context.Context) error {
		tr, err := sluiceAdmin(t).SluiceV1alpha1().Triggers(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		ready := meta.FindStatusCondition(tr.Status.Conditions, "Ready")
		if tr.Status.LastEvent == nil || tr.Status.LastEvent.Job != answer.Job || ready == nil || ready.Reason != "Listening" {
			return fmt.Errorf("status %+v", tr.Status)
		}
		return nil
	})
	row := lines(kubectl(t, "-n", ns, "get", "trigger", "web"))[1]
	require.Contains(t, row, answer.Job, "LAST-JOB")
	require.Contains(t, row, "True", "READY")
}

// TestReceiverSlackCommand is scenario 4: a signed Slack command runs the
// pipeline and answers with the job, then posts the job's result to the
// command's response_url, a server of the test's standing in for Slack;
// a replayed old timestamp gets 401.
func TestReceiverSlackCommand(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "receiver-slack")
	_, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(ctx, deployPipeline("release", "staging"), metav1.CreateOptions{})
	require.NoError(t, err)
	const signingSecret = "slack-signing-secret"
	createSecret(t, ns, "slack", "signing-secret", signingSecret)
	kubectlIn(t, `
apiVersion: sluice.dev/v1alpha1
kind: Trigger
metadata: {name: chatops}
spec:
  pipelineRef: {name: release}
  slack:
    signingSecretRef: {name: slack, key: signing-secret}
    allowedUsers: [U024BE7LH]
`, "-n", ns, "apply", "-f", "-")

	const responseToken = "response-url-token"
	var mu sync.Mutex
	var replies []string
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			ResponseType string `json:"response_type"`
			Text         string `json:"text"`
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &m) != nil || m.ResponseType != "in_channel" || r.URL.Path != "/commands/T0/1/"+responseToken {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		mu.Lock()
		replies = append(replies, m.Text)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(slack.Close)

	form := url.Values{"command": {"/sluice"}, "text": {"run release env=prod version=2.1.0"}, "user_id": {"U024BE7LH"},
		"user_name": {"alice"}, "trigger_id": {"13345224609.738474920.8088930838d88f008e0"},
		"response_url": {slack.URL + "/commands/T0/1/" + responseToken}}.Encode()
	signed := func(ts time.Time) http.Header {
		h := http.Header{}
		stamp := strconv.FormatInt(ts.Unix(), 10)
		h.Set(webhook.HeaderSlackTimestamp, stamp)
		h.Set(webhook.HeaderSlackSignature, webhook.SignSlack([]byte(signingSecret), []byte(form), stamp))
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		return h
	}
	c := liveControllers()[0].ReceiverURL
	got := postHookOnceKnown(t, c, ns, "chatops", form, signed(time.Now()))
	require.Equal(t, http.StatusOK, got.Code, got.Body)
	var answer struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	require.NoError(t, json.Unmarshal([]byte(got.Body), &answer))
	require.Equal(t, "in_channel", answer.ResponseType)
	jobs := triggerJobs(t, ns, "chatops")
	require.Len(t, jobs, 1)
	require.Contains(t, answer.Text, "Started job "+jobs[0]+" of release in prod")
	require.Contains(t, answer.Text, "kubectl get pipelinejob -n "+ns+" "+jobs[0])
	require.Contains(t, answer.Text, "Its result will follow here")
	job := getJob(t, ns, jobs[0])
	require.Equal(t, "prod", job.Spec.Environment)
	require.Equal(t, []v1alpha1.Param{param("version", "2.1.0")}, job.Spec.Params)
	require.Equal(t, v1alpha1.TriggerSlack, job.Spec.Trigger.Type)

	got = postHookOnceKnown(t, c, ns, "chatops", form, signed(time.Now().Add(-10*time.Minute)))
	require.Equal(t, http.StatusUnauthorized, got.Code, "a replay with its old timestamp: %s", got.Body)
	require.Len(t, triggerJobs(t, ns, "chatops"), 1)

	status := url.Values{"command": {"/sluice"}, "text": {"status " + jobs[0]}, "user_id": {"U024BE7LH"}, "trigger_id": {"t2"}}.Encode()
	form = status
	got = postHookOnceKnown(t, c, ns, "chatops", form, signed(time.Now()))
	require.Equal(t, http.StatusOK, got.Code, got.Body)
	require.Contains(t, got.Body, "Job "+jobs[0]+" of release")

	// The job ends; the replica that took the command posts its result.
	waitJob(t, ns, jobs[0], v1alpha1.JobSucceeded, 2*time.Minute)
	eventually(t, time.Minute, "the job's result at the response_url", func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if len(replies) == 0 {
			return errors.New("no message yet")
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, replies, 1)
	require.Contains(t, replies[0], "Job `"+jobs[0]+"` of release in prod succeeded in ")
	require.Contains(t, replies[0], "(for <@U024BE7LH>)")
	require.Contains(t, replies[0], "kubectl get --raw '/apis/sluice.dev/v1alpha1/namespaces/"+ns+"/pipelinejobs/"+jobs[0]+"/log'")
	for _, ctrl := range liveControllers() {
		log, err := os.ReadFile(ctrl.LogFile)
		require.NoError(t, err)
		require.NotContains(t, string(log), responseToken, "the response_url is never logged")
	}
}

// TestNotificationStartsAPipeline: a pipeline's webhook notification,
// pointed at a Generic trigger of another pipeline with the same key,
// starts that pipeline: the controller signs each attempt with its time,
// as the receiver requires, and the trigger's param reads the notified
// job's name from the body.
func TestNotificationStartsAPipeline(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "chain")
	createSecret(t, ns, "chain", "key", "a key both sides share")
	kubectlIn(t, `
apiVersion: sluice.dev/v1alpha1
kind: Trigger
metadata: {name: after-build}
spec:
  pipelineRef: {name: release}
  params:
  - {name: version, value: "$(webhook.body.job.name)"}
  webhook:
    provider: Generic
    secretRef: {name: chain, key: key}
`, "-n", ns, "apply", "-f", "-")
	_, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(ctx, deployPipeline("release", "staging"), metav1.CreateOptions{})
	require.NoError(t, err)
	build := testutil.Pipeline("build", runStep("compile", "KWOK_DURATION", "100ms"))
	build.Spec.Notify = []v1alpha1.Notification{{Events: []v1alpha1.NotifyEvent{v1alpha1.NotifySucceeded}, Webhook: &v1alpha1.Webhook{
		URL: liveControllers()[0].ReceiverURL + "/hooks/" + ns + "/after-build", SecretRef: &v1alpha1.SecretKeyRef{Name: "chain", Key: "key"}}}}
	_, err = sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(ctx, build, metav1.CreateOptions{})
	require.NoError(t, err)

	// The trigger is Ready once the controller has seen its Secret; a
	// notification before then would be refused and retried.
	eventually(t, time.Minute, "the trigger to be Ready", func(ctx context.Context) error {
		tr, err := sluiceAdmin(t).SluiceV1alpha1().Triggers(ns).Get(ctx, "after-build", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c := meta.FindStatusCondition(tr.Status.Conditions, "Ready"); c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("conditions %+v", tr.Status.Conditions)
		}
		return nil
	})
	job, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Run(ctx, "build", &v1alpha1.RunRequest{}, metav1.CreateOptions{})
	require.NoError(t, err)
	waitJob(t, ns, job.Name, v1alpha1.JobSucceeded, 2*time.Minute)
	var started []string
	eventually(t, 2*time.Minute, "the notification to start release", func(context.Context) error {
		if started = triggerJobs(t, ns, "after-build"); len(started) == 0 {
			return fmt.Errorf("no job yet; build's notifications: %+v", getJob(t, ns, job.Name).Status.Notifications)
		}
		return nil
	})
	require.Len(t, started, 1)
	released := getJob(t, ns, started[0])
	require.Equal(t, []v1alpha1.Param{param("version", job.Name)}, released.Spec.Params)
	n := getJob(t, ns, job.Name).Status.Notifications
	require.Len(t, n, 1)
	require.Equal(t, v1alpha1.NotificationDelivered, n[0].State, "%+v", n[0])
	require.EqualValues(t, http.StatusCreated, n[0].ResponseCode)
}
