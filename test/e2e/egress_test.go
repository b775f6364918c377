package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// TestNotificationToMetadataRefused (issue 16, SSRF): a webhook notification
// to the cloud metadata address is refused by the controller's egress
// policy, which the local stack keeps at its default for link-local
// addresses: status.notifications says so at the first attempt and how to
// allow it.
func TestNotificationToMetadataRefused(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "egress")
	_, err := kube(t).CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook"},
		StringData: map[string]string{"hmac": "k"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	const metadata = "http://169.254.169.254/latest/meta-data/"
	p := testutil.Pipeline("release", runStep("build", "KWOK_DURATION", "100ms"))
	p.Spec.Notify = []v1alpha1.Notification{{Events: []v1alpha1.NotifyEvent{v1alpha1.NotifySucceeded},
		Webhook: &v1alpha1.Webhook{URL: metadata, SecretRef: &v1alpha1.SecretKeyRef{Name: "hook", Key: "hmac"}}}}
	createPipelineAndJob(t, ns, p, testutil.Job("release-1", "release"))
	waitJob(t, ns, "release-1", v1alpha1.JobSucceeded, 2*time.Minute)

	var n v1alpha1.NotificationStatus
	eventually(t, time.Minute, "the refusal in the job's status", func(context.Context) error {
		j := getJob(t, ns, "release-1")
		if len(j.Status.Notifications) != 1 || j.Status.Notifications[0].State == v1alpha1.NotificationPending {
			return fmt.Errorf("notifications %+v", j.Status.Notifications)
		}
		n = j.Status.Notifications[0]
		return nil
	})
	require.Equal(t, v1alpha1.NotificationFailed, n.State)
	require.Equal(t, metadata, n.URL)
	require.EqualValues(t, 1, n.Attempts, "not retried")
	require.Equal(t, "not sent: egress policy refuses 169.254.169.254 (link-local); allow it with --egress-allow-cidrs", n.Message)
}
