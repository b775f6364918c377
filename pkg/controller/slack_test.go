package controller

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// TestSlackNotification: a failed job posts a readable Slack message to the
// incoming webhook whose URL is in a Secret: the job, pipeline,
// environment, failing step, action and exit code, who started it and the
// command for its output. The URL, which carries a token, is never in the
// job's status, and the message is not signed as a webhook's is.
func TestSlackNotification(t *testing.T) {
	var mu sync.Mutex
	var messages []map[string]string
	var headers []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m map[string]string
		_ = json.Unmarshal(body, &m)
		mu.Lock()
		defer mu.Unlock()
		messages = append(messages, m)
		headers = append(headers, r.Header)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	incoming := srv.URL + "/services/T000/B000/XXXXSECRETTOKEN"

	h := newHarness(t)
	_, err := h.kube.CoreV1().Secrets(ns).Create(h.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "chat"},
		Data: map[string][]byte{"url": []byte(incoming + "\n")}}, metav1.CreateOptions{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	go h.notifier.Run(ctx, 1)

	p := testutil.Pipeline("p", steps("a")...)
	p.Spec.Environment = "staging"
	p.Spec.Notify = []v1alpha1.Notification{{Events: []v1alpha1.NotifyEvent{v1alpha1.NotifyFailed},
		Slack: &v1alpha1.SlackNotification{URLSecretRef: v1alpha1.SecretKeyRef{Name: "chat", Key: "url"}}}}
	h.createPipeline(p)
	j := jobOf("j", "p")
	j.Spec.Environment = "staging"
	h.createJob(j)
	h.sync("j")
	h.finishPod("j-a-1", 7)
	j = h.sync("j")
	require.Equal(t, v1alpha1.JobFailed, j.Status.Phase)
	require.Len(t, j.Status.Notifications, 1)
	require.Equal(t, "slack:chat/url", j.Status.Notifications[0].URL, "the Secret names the target, not its URL")

	h.eventually("the Slack message", func() bool { mu.Lock(); defer mu.Unlock(); return len(messages) == 1 })
	h.eventually("its delivery in status", func() bool {
		j = h.sync("j")
		return j.Status.Notifications[0].State == v1alpha1.NotificationDelivered
	})
	mu.Lock()
	defer mu.Unlock()
	text := messages[0]["text"]
	for _, want := range []string{"*team-a/j*", "pipeline *p*", "in *staging*", "failed", "step *a*", "action *run*", "exit code 7",
		"Started by alice.", "`kubectl get --raw '/apis/sluice.dev/v1alpha1/namespaces/team-a/pipelinejobs/j/log?step=a&action=run'`"} {
		require.Contains(t, text, want)
	}
	require.Empty(t, headers[0].Get(HeaderSignature), "Slack messages are not signed")
	status, err := json.Marshal(j.Status)
	require.NoError(t, err)
	require.NotContains(t, string(status), "XXXXSECRETTOKEN")
	require.NotContains(t, strings.Join(h.events(), "\n"), "XXXXSECRETTOKEN")
}

// TestSlackNotificationFailureHidesTheURL: a Slack webhook that cannot be
// reached fails with a message that does not quote its URL.
func TestSlackNotificationFailureHidesTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T000/B000/XXXXSECRETTOKEN"
	srv.Close() // nothing listens any more
	n := NewNotifier(nil, NotifierOptions{Egress: loopbackEgress(t)})
	h := newHarness(t)
	n.kube = h.kube
	_, err := h.kube.CoreV1().Secrets(ns).Create(h.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "chat"},
		Data: map[string][]byte{"url": []byte(url)}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = n.post(h.ctx, "slack:chat/url", &delivery{namespace: ns, secret: v1alpha1.SecretKeyRef{Name: "chat", Key: "url"}, slack: true, body: []byte("{}")})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "XXXXSECRETTOKEN")
	require.Contains(t, err.Error(), "Slack")
}
