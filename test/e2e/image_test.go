package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/registry"
	"github.com/sluice-dev/sluice/pkg/trigger/imagepolicy"
	"github.com/sluice-dev/sluice/pkg/trigger/imagewatch"
)

// TestImageTrigger is scenario 2, on Debian's distribution registry: under
// ">=1.2.0 <2", pushing 1.3.0 then 2.0.0 fires exactly one job, for 1.3.0,
// with the digest pushed in its params. It holds for a trigger the
// registry notifies (read every hour, so only the notification can fire it
// within the test) and for one that only polls (every 10s). A 1.3.1 pushed
// after 2.0.0 fires the notified trigger again: the registry notifies in
// order, so 2.0.0's notification was taken, and fired nothing.
func TestImageTrigger(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "image")
	const token = "registry-notify-token"
	createSecret(t, ns, "registry", "token", token)
	p := deployPipeline("release", "staging")
	p.Spec.Params = append(p.Spec.Params, v1alpha1.ParamSpec{Name: "image"})
	_, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)

	reg, err := registry.Start(ctx, registry.Options{Dir: t.TempDir(), Notify: []registry.Endpoint{{
		Name:    "sluice",
		URL:     liveControllers()[0].ReceiverURL + "/hooks/" + ns + "/pushed",
		Headers: http.Header{"Authorization": {"Bearer " + token}},
	}}})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("registry log:\n%s", reg.Process.LogTail(4000))
		}
		reg.Stop()
	})
	repo := reg.Repository("team/web")
	push := func(tag string, seed int) string {
		digest, err := reg.PushImage(ctx, "team/web", tag, seed)
		require.NoError(t, err)
		return digest
	}
	push("1.2.0", 1)

	kubectlIn(t, fmt.Sprintf(`
apiVersion: sluice.dev/v1alpha1
kind: Trigger
metadata: {name: pushed}
spec:
  pipelineRef: {name: release}
  params:
  - {name: image, value: "$(image.repository)@$(image.digest)"}
  - {name: version, value: "$(image.tag)"}
  image:
    repository: %[1]s
    policy: {semver: ">=1.2.0 <2"}
    interval: 1h
    push:
      provider: Registry
      secretRef: {name: registry, key: token}
---
apiVersion: sluice.dev/v1alpha1
kind: Trigger
metadata: {name: polled}
spec:
  pipelineRef: {name: release}
  params:
  - {name: image, value: "$(image.repository)@$(image.digest)"}
  - {name: version, value: "$(image.tag)"}
  image:
    repository: %[1]s
    policy: {semver: ">=1.2.0 <2"}
    interval: 10s
`, repo), "-n", ns, "apply", "-f", "-")

	observed := func(trigger string, after time.Time) *v1alpha1.Trigger {
		var tr *v1alpha1.Trigger
		eventually(t, time.Minute, trigger+"'s read of the registry", func(ctx context.Context) error {
			var err error
			if tr, err = sluiceAdmin(t).SluiceV1alpha1().Triggers(ns).Get(ctx, trigger, metav1.GetOptions{}); err != nil {
				return err
			}
			img := tr.Status.Image
			if img == nil || img.Time == nil || img.Time.Time.Before(after.Truncate(time.Second)) {
				return fmt.Errorf("status %+v", tr.Status)
			}
			return nil
		})
		return tr
	}
	for _, name := range []string{"pushed", "polled"} {
		tr := observed(name, time.Time{})
		require.Equal(t, "1.2.0", tr.Status.Image.Tag, "the baseline")
		ready := meta.FindStatusCondition(tr.Status.Conditions, "Ready")
		require.NotNil(t, ready)
		require.Equal(t, "Polling", ready.Reason, ready.Message)
	}
	require.Empty(t, triggerJobs(t, ns, "pushed"), "a baseline fires nothing")
	require.Empty(t, triggerJobs(t, ns, "polled"))

	d130 := push("1.3.0", 2)
	job130 := func(trigger string) string {
		return imagewatch.JobName(trigger, repo, imagepolicy.Image{Tag: "1.3.0", Digest: d130})
	}
	waitJobs := func(trigger string, want ...string) {
		eventually(t, time.Minute, trigger+"'s jobs", func(context.Context) error {
			got := triggerJobs(t, ns, trigger)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				return fmt.Errorf("jobs %v, want %v", got, want)
			}
			return nil
		})
	}
	waitJobs("pushed", job130("pushed"))
	push("2.0.0", 3)
	pushed2 := time.Now()

	waitJobs("polled", job130("polled"))
	// Status times are in whole seconds: a read stamped a second after
	// the push ended began after it.
	observed("polled", pushed2.Add(time.Second))
	require.Equal(t, []string{job130("polled")}, triggerJobs(t, ns, "polled"), "2.0.0 fired nothing")

	for _, trigger := range []string{"pushed", "polled"} {
		job := getJob(t, ns, job130(trigger))
		require.ElementsMatch(t, []v1alpha1.Param{param("image", repo+"@"+d130), param("version", "1.3.0")}, job.Spec.Params)
		require.Equal(t, v1alpha1.TriggerImage, job.Spec.Trigger.Type)
		require.Equal(t, trigger, job.Labels[v1alpha1.LabelTrigger])
	}

	d131 := push("1.3.1", 4)
	waitJobs("pushed", job130("pushed"), imagewatch.JobName("pushed", repo, imagepolicy.Image{Tag: "1.3.1", Digest: d131}))
	eventually(t, time.Minute, "the leader to record the notified image", func(ctx context.Context) error {
		tr, err := sluiceAdmin(t).SluiceV1alpha1().Triggers(ns).Get(ctx, "pushed", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if tr.Status.Image == nil || tr.Status.Image.Tag != "1.3.1" || tr.Status.LastEvent == nil {
			return fmt.Errorf("status %+v", tr.Status)
		}
		return nil
	})
}
