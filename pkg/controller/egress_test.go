package controller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/egress"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// TestNotificationRefusedByEgress: a webhook notification to an address the
// egress policy refuses (here loopback, refused by default) fails at once,
// without retries: status.notifications says which address was refused and
// how to allow it, and quotes neither the URL's credentials nor its query.
// No request reaches the server.
func TestNotificationRefusedByEgress(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	hook := strings.Replace(srv.URL, "http://", "http://user:XXXXPASSWORD@", 1) + "/hook?token=XXXXTOKEN"

	h := newHarness(t)
	h.replaceNotifier(NotifierOptions{Clock: h.clock, Backoff: time.Millisecond, MaxAttempts: 3, Timeout: 5 * time.Second})
	_, err := h.kube.CoreV1().Secrets(ns).Create(h.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook"}, Data: map[string][]byte{"hmac": []byte("s3cret")}}, metav1.CreateOptions{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	go h.notifier.Run(ctx, 1)

	p := testutil.Pipeline("p", steps("a")...)
	p.Spec.Notify = []v1alpha1.Notification{{Events: []v1alpha1.NotifyEvent{v1alpha1.NotifyFailed},
		Webhook: &v1alpha1.Webhook{URL: hook, SecretRef: &v1alpha1.SecretKeyRef{Name: "hook", Key: "hmac"}}}}
	h.createPipeline(p)
	h.createJob(jobOf("j", "p"))
	h.sync("j")
	h.finishPod("j-a-1", 7)
	j := h.sync("j")
	require.Equal(t, v1alpha1.JobFailed, j.Status.Phase)

	h.eventually("the refusal in status", func() bool {
		j = h.sync("j")
		return j.Status.Notifications[0].State != v1alpha1.NotificationPending
	})
	n := j.Status.Notifications[0]
	require.Equal(t, v1alpha1.NotificationFailed, n.State)
	require.EqualValues(t, 1, n.Attempts, "a refusal is not retried")
	require.Zero(t, n.ResponseCode)
	require.Equal(t, "not sent: egress policy refuses 127.0.0.1 (loopback); allow it with --egress-allow-cidrs", n.Message)
	require.Zero(t, hits.Load(), "no request reached the server")

	// A later sync does not start it again.
	h.sync("j")
	h.clock.Step(time.Minute)
	j = h.sync("j")
	require.EqualValues(t, 1, j.Status.Notifications[0].Attempts)
	require.Zero(t, hits.Load())
}

// TestSlackNotificationRefusedByEgress: a Slack URL the policy refuses fails
// with the refusal alone, which quotes neither the URL nor its token.
func TestSlackNotificationRefusedByEgress(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	h := newHarness(t)
	n := h.replaceNotifier(NotifierOptions{})
	_, err := h.kube.CoreV1().Secrets(ns).Create(h.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "chat"},
		Data: map[string][]byte{"url": []byte(srv.URL + "/services/T000/B000/XXXXSECRETTOKEN")}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = n.post(h.ctx, "slack:chat/url", &delivery{namespace: ns, secret: v1alpha1.SecretKeyRef{Name: "chat", Key: "url"}, slack: true, body: []byte("{}")})
	var refused *egress.RefusedError
	require.ErrorAs(t, err, &refused)
	require.Equal(t, "egress policy refuses 127.0.0.1 (loopback); allow it with --egress-allow-cidrs", err.Error())
	require.Zero(t, hits.Load())
}
