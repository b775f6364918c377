package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// TestSlackAlert (issue 13, scenario 5): a failing job posts a
// Slack-format message to the incoming webhook whose URL is in a Secret,
// here a server of the test's on 127.0.0.1.
func TestSlackAlert(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "slack")
	var mu sync.Mutex
	var texts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Text string `json:"text"`
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &m) != nil || r.URL.Path != "/services/T0/B0/token" {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		mu.Lock()
		texts = append(texts, m.Text)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	_, err := kube(t).CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "chat"},
		StringData: map[string]string{"url": srv.URL + "/services/T0/B0/token"}}, metav1.CreateOptions{})
	require.NoError(t, err)

	p := testutil.Pipeline("release", runStep("build", "KWOK_DURATION", "100ms", "KWOK_EXIT_CODE", "3"))
	p.Spec.Notify = []v1alpha1.Notification{{Events: []v1alpha1.NotifyEvent{v1alpha1.NotifyFailed},
		Slack: &v1alpha1.SlackNotification{URLSecretRef: v1alpha1.SecretKeyRef{Name: "chat", Key: "url"}}}}
	createPipelineAndJob(t, ns, p, testutil.Job("release-1", "release"))
	waitJob(t, ns, "release-1", v1alpha1.JobFailed, 2*time.Minute)

	eventually(t, time.Minute, "the Slack message", func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if len(texts) != 1 {
			return fmt.Errorf("%d messages", len(texts))
		}
		return nil
	})
	mu.Lock()
	text := texts[0]
	mu.Unlock()
	for _, want := range []string{"*" + ns + "/release-1*", "pipeline *release*", "failed", "step *build*", "action *run*", "exit code 3",
		"/pipelinejobs/release-1/log?step=build&action=run"} {
		require.Contains(t, text, want)
	}
	eventually(t, time.Minute, "the delivery in the job's status", func(ctx context.Context) error {
		j := getJob(t, ns, "release-1")
		if n := j.Status.Notifications; len(n) != 1 || n[0].State != v1alpha1.NotificationDelivered || n[0].URL != "slack:chat/url" {
			return fmt.Errorf("notifications %+v", n)
		}
		return nil
	})
}
