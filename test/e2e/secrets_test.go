package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/registry"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
	"github.com/sluice-dev/sluice/pkg/trigger/webhook"
)

// TestSecretsNeverLeak runs jobs and triggers that read Secrets of known
// values (a notification webhook's signing key, Slack incoming webhook
// URLs, a webhook trigger's key, a Slack signing secret, a registry's pull
// secret), through their successes and some of their failures, and then
// looks for those values in every process log of the stack, in every
// Event, in every Sluice object, and in the /metrics of every
// sluice-controller and sluice-apiserver.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "secrets")
	admin := sluiceAdmin(t).SluiceV1alpha1()
	secrets := map[string]string{
		"notification signing key":     "leak-canary-notify-hmac-5d1f",
		"Slack incoming webhook token": "leak-canary-slack-url-9b2e",
		"unreachable Slack URL token":  "leak-canary-slack-down-3c7a",
		"webhook trigger key":          "leak-canary-github-key-4e8b",
		"Slack signing secret":         "leak-canary-slack-signing-6a0c",
		"registry password":            "leak-canary-registry-pass-2f9d",
	}

	// Notifications of a failed job: a signed webhook that answers 503
	// first, a Slack URL that answers 503 first, and a Slack URL whose
	// host refuses connections, so that errors carrying URLs are made.
	hook := newWebhookReceiver(t, []byte(secrets["notification signing key"]))
	createSecret(t, ns, "alerts", "hmac", secrets["notification signing key"])
	var slackCalls atomic.Int32
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slackCalls.Add(1) == 1 {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(slack.Close)
	createSecret(t, ns, "chat", "url", slack.URL+"/services/T0/B0/"+secrets["Slack incoming webhook token"])
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	downURL := "http://" + closed.Addr().String() + "/services/T0/B1/" + secrets["unreachable Slack URL token"]
	require.NoError(t, closed.Close())
	createSecret(t, ns, "chat-down", "url", downURL)

	failing := testutil.Pipeline("alerting", runStep("build", "KWOK_DURATION", "100ms", "KWOK_EXIT_CODE", "3"))
	failing.Spec.Notify = []v1alpha1.Notification{
		{Events: []v1alpha1.NotifyEvent{v1alpha1.NotifyFailed},
			Webhook: &v1alpha1.Webhook{URL: hook.URL + "/alerts", SecretRef: &v1alpha1.SecretKeyRef{Name: "alerts", Key: "hmac"}}},
		{Events: []v1alpha1.NotifyEvent{v1alpha1.NotifyFailed},
			Slack: &v1alpha1.SlackNotification{URLSecretRef: v1alpha1.SecretKeyRef{Name: "chat", Key: "url"}}},
		{Events: []v1alpha1.NotifyEvent{v1alpha1.NotifyFailed},
			Slack: &v1alpha1.SlackNotification{URLSecretRef: v1alpha1.SecretKeyRef{Name: "chat-down", Key: "url"}}},
	}
	createPipelineAndJob(t, ns, failing, testutil.Job("alerting-1", "alerting"))
	waitJob(t, ns, "alerting-1", v1alpha1.JobFailed, 2*time.Minute)
	eventually(t, 2*time.Minute, "the notifications to be delivered or given up", func(ctx context.Context) error {
		j := getJob(t, ns, "alerting-1")
		var delivered, failed int
		for _, n := range j.Status.Notifications {
			switch n.State {
			case v1alpha1.NotificationDelivered:
				delivered++
			case v1alpha1.NotificationFailed:
				failed++
			}
		}
		if delivered != 2 || failed != 1 {
			return fmt.Errorf("notifications %+v", j.Status.Notifications)
		}
		return nil
	})

	// Triggers: a GitHub webhook, a Slack command, and a private registry.
	_, err = admin.Pipelines(ns).Create(ctx, deployPipeline("release", "staging"), metav1.CreateOptions{})
	require.NoError(t, err)
	createSecret(t, ns, "github", "token", secrets["webhook trigger key"])
	createSecret(t, ns, "slack", "signing-secret", secrets["Slack signing secret"])
	reg, err := registry.Start(ctx, registry.Options{Dir: t.TempDir(), Users: map[string]string{"puller": secrets["registry password"]}})
	require.NoError(t, err)
	t.Cleanup(reg.Stop)
	_, err = reg.PushImage(ctx, "team/web", "1.0.0", 1)
	require.NoError(t, err)
	_, err = kube(t).CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "pull"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: reg.DockerConfigJSON("puller", secrets["registry password"])},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	// The pull secret also holds the password as base64 of user:password.
	var dockerConfig struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	require.NoError(t, json.Unmarshal(reg.DockerConfigJSON("puller", secrets["registry password"]), &dockerConfig))
	for _, a := range dockerConfig.Auths {
		if a.Auth != "" {
			secrets["registry auth"] = a.Auth
		}
	}
	kubectlIn(t, fmt.Sprintf(`
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
---
apiVersion: sluice.dev/v1alpha1
kind: Trigger
metadata: {name: chatops}
spec:
  pipelineRef: {name: release}
  slack:
    signingSecretRef: {name: slack, key: signing-secret}
    allowedUsers: [U024BE7LH]
---
apiVersion: sluice.dev/v1alpha1
kind: Trigger
metadata: {name: image}
spec:
  pipelineRef: {name: release}
  params:
  - {name: version, value: "$(image.tag)"}
  image:
    repository: %s
    policy: {semver: ">=1.0.0"}
    interval: 10s
    pullSecretRef: {name: pull}
`, reg.Repository("team/web")), "-n", ns, "apply", "-f", "-")

	receiverURL := liveControllers()[0].ReceiverURL
	body := `{"ref":"refs/heads/main","after":"9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d","repository":{"full_name":"octo-org/web"},"sender":{"login":"alice"}}`
	header := http.Header{}
	header.Set(webhook.HeaderGitHubEvent, "push")
	header.Set(webhook.HeaderGitHubDelivery, "0b6c1d2e-cc78-11e3-81ab-4c9367dc0958")
	header.Set(webhook.HeaderGitHubSignature, webhook.SignGeneric([]byte(secrets["webhook trigger key"]), []byte(body), ""))
	got := postHookOnceKnown(t, receiverURL, ns, "web", body, header)
	require.Equal(t, http.StatusCreated, got.Code, got.Body)
	got = postHookOnceKnown(t, receiverURL, ns, "web", strings.Replace(body, "alice", "mallory", 1), header)
	require.Equal(t, http.StatusUnauthorized, got.Code, "a tampered body: %s", got.Body)

	form := url.Values{"command": {"/sluice"}, "text": {"run release version=2.1.0"}, "user_id": {"U024BE7LH"},
		"user_name": {"alice"}, "trigger_id": {"13345224609.738474920.8088930838d88f008e1"}}.Encode()
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	slackHeader := http.Header{}
	slackHeader.Set(webhook.HeaderSlackTimestamp, stamp)
	slackHeader.Set(webhook.HeaderSlackSignature, webhook.SignSlack([]byte(secrets["Slack signing secret"]), []byte(form), stamp))
	slackHeader.Set("Content-Type", "application/x-www-form-urlencoded")
	got = postHookOnceKnown(t, receiverURL, ns, "chatops", form, slackHeader)
	require.Equal(t, http.StatusOK, got.Code, got.Body)
	require.Contains(t, got.Body, "Started job")
	slackHeader.Set(webhook.HeaderSlackSignature, webhook.SignSlack([]byte("not-the-secret"), []byte(form), stamp))
	got = postHookOnceKnown(t, receiverURL, ns, "chatops", form, slackHeader)
	require.Equal(t, http.StatusUnauthorized, got.Code, "a bad signature: %s", got.Body)

	eventually(t, time.Minute, "the image trigger's read of the private registry", func(ctx context.Context) error {
		tr, err := admin.Triggers(ns).Get(ctx, "image", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if tr.Status.Image == nil || tr.Status.Image.Tag != "1.0.0" {
			return fmt.Errorf("status %+v", tr.Status)
		}
		return nil
	})
	// Every job has finished (the failing one, and the webhook's and the
	// Slack command's; an image trigger's first read is its baseline and
	// starts none), so that what they log and record is there to look at.
	eventually(t, 2*time.Minute, "the triggers' jobs to finish", func(ctx context.Context) error {
		list, err := admin.PipelineJobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(list.Items) != 3 {
			return fmt.Errorf("%d jobs", len(list.Items))
		}
		for _, j := range list.Items {
			if p := j.Status.Phase; p != v1alpha1.JobSucceeded && p != v1alpha1.JobFailed && p != v1alpha1.JobCancelled {
				return fmt.Errorf("job %s is %s", j.Name, j.Status.Phase)
			}
		}
		return nil
	})

	leaks := findSecrets(t, secrets)
	require.Empty(t, leaks, "secret values found outside their Secrets")
}

// findSecrets returns where each of the secrets' values appears: the
// stack's process logs, Events, Sluice objects, and /metrics.
func findSecrets(t *testing.T, secrets map[string]string) []string {
	t.Helper()
	ctx := testContext(t)
	var leaks []string
	look := func(where string, text []byte) {
		for what, value := range secrets {
			if strings.Contains(string(text), value) {
				leaks = append(leaks, fmt.Sprintf("%s: the %s", where, what))
			}
		}
	}
	// Every process's log: kube-apiserver, etcd, the controllers, kwok,
	// sluice-apiserver and sluice-controller replicas, PostgreSQL.
	logs := 0
	require.NoError(t, filepath.WalkDir(stack.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".log") {
			return err
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		logs++
		look("log "+path, text)
		return nil
	}))
	require.NotZero(t, logs, "process logs under %s", stack.Dir)

	events, err := kube(t).CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, events.Items)
	for _, e := range events.Items {
		text, err := json.Marshal(e)
		require.NoError(t, err)
		look("Event "+e.Namespace+"/"+e.Name, text)
	}

	admin := sluiceAdmin(t).SluiceV1alpha1()
	pipelines, err := admin.Pipelines(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	text, err := json.Marshal(pipelines)
	require.NoError(t, err)
	look("Pipelines", text)
	jobs, err := admin.PipelineJobs(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	text, err = json.Marshal(jobs)
	require.NoError(t, err)
	look("PipelineJobs", text)
	triggers, err := admin.Triggers(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	text, err = json.Marshal(triggers)
	require.NoError(t, err)
	look("Triggers", text)

	for _, c := range stack.Controllers {
		if c.Exited() {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.MetricsURL+"/metrics", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		text, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		look(c.Identity+" /metrics", text)
	}
	for _, srv := range stack.APIServers {
		client, err := stack.DirectClient(srv, "system:admin", "system:masters")
		require.NoError(t, err)
		text, err := client.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		require.NoError(t, err)
		look(srv.Name+" /metrics", text)
	}
	return leaks
}
