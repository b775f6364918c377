package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/egress"
	"github.com/sluice-dev/sluice/pkg/testing/registry"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
	"github.com/sluice-dev/sluice/pkg/trigger/imagepolicy"
	"github.com/sluice-dev/sluice/pkg/trigger/imagewatch"
)

// startRegistry starts Debian's distribution registry for the test.
func startRegistry(t *testing.T, opts registry.Options) *registry.Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts.Dir = t.TempDir()
	r, err := registry.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("registry log:\n%s", r.Process.LogTail(3000))
		}
		r.Stop()
	})
	return r
}

// createImageTrigger creates trigger name following repository under the
// semver constraint, read every minute.
func (h *harness) createImageTrigger(name, repository, semver string, mutate func(*v1alpha1.ImageSource)) {
	h.t.Helper()
	tr := h.createTrigger(name, nil, v1alpha1.Param{Name: "image", Value: "$(image.repository)@$(image.digest)"})
	tr.Spec.Image = &v1alpha1.ImageSource{Repository: repository, Policy: v1alpha1.ImagePolicy{Semver: semver},
		Interval: &metav1.Duration{Duration: time.Minute}}
	if mutate != nil {
		mutate(tr.Spec.Image)
	}
	_, err := h.sluice.SluiceV1alpha1().Triggers(ns).Update(h.ctx, tr, metav1.UpdateOptions{})
	require.NoError(h.t, err)
	h.eventually("image trigger in cache", func() bool {
		c, err := h.c.triggers.Triggers(ns).Get(name)
		return err == nil && c.Spec.Image != nil
	})
}

func (h *harness) push(r *registry.Registry, tag string, seed int) string {
	h.t.Helper()
	digest, err := r.PushImage(h.ctx, "team/web", tag, seed)
	require.NoError(h.t, err)
	return digest
}

func readyOf(tr *v1alpha1.Trigger) string {
	c := ready(tr)
	return string(c.Status) + " " + c.Reason + ": " + c.Message
}

// TestImageTriggerFiresOnceForEachNewImage reads a real registry: the
// first read is a baseline, a newer tag inside the constraint fires one
// job with its digest, one outside fires nothing, a moved tag fires again,
// and a read is made only when due.
func TestImageTriggerFiresOnceForEachNewImage(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, registry.Options{})
	h := newTriggerHarness(t)
	h.createPipeline(testutil.Pipeline("p", steps("deploy")...))
	repo := reg.Repository("team/web")
	d120 := h.push(reg, "1.2.0", 1)
	h.createImageTrigger("web", repo, ">=1.2.0 <2", nil)

	tr := h.syncTrigger("web")
	assert.Equal(t, "True Polling: reading "+repo+" every 1m0s", readyOf(tr))
	require.NotNil(t, tr.Status.Image)
	assert.Equal(t, v1alpha1.ImageObservation{Repository: repo, Tag: "1.2.0", Digest: d120, Time: &metav1.Time{Time: h.clock.Now()}}, *tr.Status.Image)
	assert.Empty(t, h.runs(), "the first read is a baseline")
	assert.Contains(t, strings.Join(h.events(), "\n"), "Normal Baseline "+repo+":1.2.0 ("+d120+") recorded as the baseline")

	d130 := h.push(reg, "1.3.0", 2)
	h.clock.Step(30 * time.Second)
	tr = h.syncTrigger("web")
	assert.Equal(t, "1.2.0", tr.Status.Image.Tag, "no read before the interval has passed")
	assert.Empty(t, h.runs())

	h.clock.Step(30 * time.Second)
	tr = h.syncTrigger("web")
	job130 := imagewatch.JobName("web", repo, imagepolicy.Image{Tag: "1.3.0", Digest: d130})
	assert.Equal(t, []string{job130}, h.runs())
	assert.Equal(t, "1.3.0", tr.Status.Image.Tag)
	assert.Equal(t, d130, tr.Status.Image.Digest)
	require.NotNil(t, tr.Status.LastEvent)
	assert.Equal(t, job130, tr.Status.LastEvent.Job)
	assert.Equal(t, "image "+repo+":1.3.0 ("+d130[:19]+")", tr.Status.LastEvent.Detail)
	job, err := h.sluice.SluiceV1alpha1().PipelineJobs(ns).Get(h.ctx, job130, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []v1alpha1.Param{{Name: "image", Value: repo + "@" + d130}}, job.Spec.Params, "the job deploys exactly the digest seen")
	assert.Equal(t, v1alpha1.JobTrigger{Type: v1alpha1.TriggerImage, Name: "web", Detail: tr.Status.LastEvent.Detail}, job.Spec.Trigger)

	h.push(reg, "2.0.0", 3)
	h.clock.Step(time.Minute)
	tr = h.syncTrigger("web")
	assert.Equal(t, []string{job130}, h.runs(), "2.0.0 is outside the constraint")
	assert.Equal(t, "1.3.0", tr.Status.Image.Tag)

	moved := h.push(reg, "1.3.0", 4)
	h.clock.Step(time.Minute)
	tr = h.syncTrigger("web")
	require.Len(t, h.runs(), 2, "a tag moved to new content fires again")
	assert.Equal(t, imagewatch.JobName("web", repo, imagepolicy.Image{Tag: "1.3.0", Digest: moved}), h.runs()[1])
	assert.Equal(t, moved, tr.Status.Image.Digest)
}

// TestImageTriggerRecordsWhatTheReceiverFired: a job the receiver started
// on a registry notification makes the loop read at once, before the
// interval, and record that image, so the next poll does not take it for
// new; the job is not started twice.
func TestImageTriggerRecordsWhatTheReceiverFired(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, registry.Options{})
	h := newTriggerHarness(t)
	h.createPipeline(testutil.Pipeline("p", steps("deploy")...))
	repo := reg.Repository("team/web")
	h.push(reg, "1.2.0", 1)
	h.createImageTrigger("web", repo, ">=1.2.0 <2", nil)
	h.syncTrigger("web")

	d131 := h.push(reg, "1.3.1", 2)
	name := imagewatch.JobName("web", repo, imagepolicy.Image{Tag: "1.3.1", Digest: d131})
	j := jobOf(name, "p")
	j.Labels = map[string]string{v1alpha1.LabelTrigger: "web"}
	j.Spec.Trigger = v1alpha1.JobTrigger{Type: v1alpha1.TriggerImage, Name: "web", Detail: "image " + repo + ":1.3.1"}
	j.CreationTimestamp = metav1.NewTime(h.clock.Now())
	h.createJob(j)
	h.eventually("the informer notes the job", func() bool { _, ok := h.c.lastTriggered.get(ns + "/web"); return ok })

	tr := h.syncTrigger("web")
	assert.Equal(t, "1.3.1", tr.Status.Image.Tag, "read at once")
	assert.Equal(t, name, tr.Status.LastEvent.Job)
	assert.Equal(t, []string{name}, h.runs(), "the one run request was answered AlreadyExists")
	assert.NotContains(t, strings.Join(h.events(), "\n"), "Fired", "the loop started nothing")
}

// TestImageTriggerSuspended reads nothing while suspended, and on resume
// fires once for the newest image.
func TestImageTriggerSuspended(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, registry.Options{})
	h := newTriggerHarness(t)
	h.createPipeline(testutil.Pipeline("p", steps("deploy")...))
	repo := reg.Repository("team/web")
	h.push(reg, "1.2.0", 1)
	h.createImageTrigger("web", repo, ">=1", nil)
	h.syncTrigger("web")

	setSuspend := func(suspend bool) {
		tr, err := h.sluice.SluiceV1alpha1().Triggers(ns).Get(h.ctx, "web", metav1.GetOptions{})
		require.NoError(t, err)
		tr.Spec.Suspend = suspend
		tr.Generation++
		_, err = h.sluice.SluiceV1alpha1().Triggers(ns).Update(h.ctx, tr, metav1.UpdateOptions{})
		require.NoError(t, err)
		h.waitTriggerCache("web")
	}
	setSuspend(true)
	h.push(reg, "1.3.0", 2)
	d140 := h.push(reg, "1.4.0", 3)
	h.clock.Step(time.Hour)
	tr := h.syncTrigger("web")
	assert.Equal(t, "True Suspended: suspended: the registry is not read", readyOf(tr))
	assert.Equal(t, "1.2.0", tr.Status.Image.Tag)
	assert.Empty(t, h.runs())

	setSuspend(false)
	tr = h.syncTrigger("web")
	assert.Equal(t, []string{imagewatch.JobName("web", repo, imagepolicy.Image{Tag: "1.4.0", Digest: d140})}, h.runs(), "one job, for the newest")
	assert.Equal(t, "True Polling: reading "+repo+" every 1m0s", readyOf(tr))
}

// TestImageTriggerNotReady says why a trigger cannot read its registry,
// and recovers when the pull Secret appears.
func TestImageTriggerNotReady(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, registry.Options{Users: map[string]string{"ci": "pull-pass"}})
	h := newTriggerHarness(t)
	repo := reg.Repository("team/web")
	h.push(reg, "1.2.0", 1)
	h.createImageTrigger("web", repo, ">=1", func(s *v1alpha1.ImageSource) {
		s.PullSecretRef = &corev1.LocalObjectReference{Name: "pull"}
	})
	assert.Equal(t, `False PipelineNotFound: pipeline "p" not found`, readyOf(h.syncTrigger("web")))
	h.createPipeline(testutil.Pipeline("p", steps("deploy")...))
	h.eventually("pipeline in cache", func() bool { _, err := h.c.pipelines.Pipelines(ns).Get("p"); return err == nil })
	assert.Equal(t, `False SecretNotFound: pull secret "pull" not found`, readyOf(h.syncTrigger("web")))

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: ns}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: reg.DockerConfigJSON("ci", "wrong")}}
	_, err := h.kube.CoreV1().Secrets(ns).Create(h.ctx, secret, metav1.CreateOptions{})
	require.NoError(t, err)
	tr := h.syncTrigger("web")
	assert.Equal(t, "RegistryUnauthorized", ready(tr).Reason, ready(tr).Message)
	assert.Nil(t, tr.Status.Image)

	secret.Data[corev1.DockerConfigJsonKey] = reg.DockerConfigJSON("ci", "pull-pass")
	_, err = h.kube.CoreV1().Secrets(ns).Update(h.ctx, secret, metav1.UpdateOptions{})
	require.NoError(t, err)
	tr = h.syncTrigger("web")
	assert.Equal(t, "True Polling: reading "+repo+" every 1m0s", readyOf(tr))
	assert.Equal(t, "1.2.0", tr.Status.Image.Tag)
	assert.NotContains(t, strings.Join(h.events(), "\n"), "pull-pass")
}

// TestImageTriggerEgressRefused: a registry at an address the egress policy
// refuses is not read, and the trigger says why.
func TestImageTriggerEgressRefused(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t, registry.Options{})
	h := newTriggerHarness(t)
	h.c.images.Transport = egress.Default().Transport()
	h.createPipeline(testutil.Pipeline("p", steps("deploy")...))
	h.eventually("pipeline in cache", func() bool { _, err := h.c.pipelines.Pipelines(ns).Get("p"); return err == nil })
	h.push(reg, "1.2.0", 1)
	h.createImageTrigger("web", reg.Repository("team/web"), ">=1", nil)
	tr := h.syncTrigger("web")
	assert.Equal(t, "RegistryUnreachable", ready(tr).Reason)
	assert.Contains(t, ready(tr).Message, "egress policy refuses 127.0.0.1 (loopback)")
	assert.Nil(t, tr.Status.Image)
}
