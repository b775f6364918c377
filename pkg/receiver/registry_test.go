package receiver

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/registry"
	"github.com/sluice-dev/sluice/pkg/trigger/imagepolicy"
	"github.com/sluice-dev/sluice/pkg/trigger/imagewatch"
	triggermetrics "github.com/sluice-dev/sluice/pkg/trigger/metrics"
)

// envelope is a registry notification of tag pushes to path, as
// docker-registry sends them (see pkg/trigger/webhook/testdata).
func envelope(path string, tags ...string) string {
	events := ""
	for i, tag := range tags {
		if i > 0 {
			events += ","
		}
		events += fmt.Sprintf(`{"id": "ev-%s", "action": "push", "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
			"repository": %q, "tag": %q, "digest": "sha256:00"}, "request": {"host": "registry.example.com"}}`, tag, path, tag)
	}
	return `{"events": [` + events + `]}`
}

// TestRegistryNotification: a notification with the right token prompts a
// read of the real registry, which fires what is new there once, whatever
// the notification says; everything else fires nothing.
func TestRegistryNotification(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, err := registry.Start(ctx, registry.Options{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(reg.Stop)
	repo := reg.Repository("team/web")
	d120, err := reg.PushImage(ctx, "team/web", "1.2.0", 1)
	require.NoError(t, err)

	image := func(name string, baseline bool, push bool) *v1alpha1.Trigger {
		tr := &v1alpha1.Trigger{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.TriggerSpec{
				PipelineRef: v1alpha1.PipelineReference{Name: "release"},
				Params:      []v1alpha1.Param{{Name: "image", Value: "$(image.repository)@$(image.digest)"}},
				Image:       &v1alpha1.ImageSource{Repository: repo, Policy: v1alpha1.ImagePolicy{Semver: ">=1.2.0 <2"}},
			},
		}
		if push {
			tr.Spec.Image.Push = &v1alpha1.ImagePush{Provider: v1alpha1.ImagePushRegistry, SecretRef: v1alpha1.SecretKeyRef{Name: "registry", Key: "token"}}
		}
		if baseline {
			tr.Status.Image = &v1alpha1.ImageObservation{Repository: repo, Tag: "1.2.0", Digest: d120}
		}
		return tr
	}
	token := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "registry"}, Data: map[string][]byte{"token": []byte(secretKey)}}
	e := newEnv(t, testOptions(), token, image("web", true, true), image("fresh", false, true), image("polled", true, false))
	bearer := []string{"Authorization", "Bearer " + secretKey}

	status, body := e.post("web", envelope("team/web", "1.3.0"))
	assert.Equal(t, http.StatusUnauthorized, status, body)
	status, body = e.post("web", envelope("team/web", "1.3.0"), "Authorization", "Bearer wrong")
	assert.Equal(t, http.StatusUnauthorized, status, body)
	assert.NotContains(t, body, secretKey)
	status, body = e.post("polled", envelope("team/web", "1.3.0"), bearer...)
	assert.Equal(t, http.StatusNotFound, status, "a trigger without push takes no notifications: %s", body)

	status, body = e.post("web", `{"events": [{"action": "push", "target": {"repository": "team/web", "digest": "sha256:aa"}}]}`, bearer...)
	assert.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, "no tag of team/web was pushed", decodeAnswer(t, body).Reason)
	status, body = e.post("web", envelope("team/api", "1.3.0"), bearer...)
	assert.Equal(t, http.StatusAccepted, status, body)
	status, body = e.post("web", envelope("team/web", "2.0.0"), bearer...)
	assert.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, "no tag pushed ([2.0.0]) matches the policy", decodeAnswer(t, body).Reason)
	status, body = e.post("web", "{not json", bearer...)
	assert.Equal(t, http.StatusBadRequest, status, body)

	// The notification names 1.3.0, but what is in the registry decides.
	status, body = e.post("web", envelope("team/web", "1.3.0"), bearer...)
	assert.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, "1.2.0@"+d120+" is the last seen", decodeAnswer(t, body).Reason, "nothing new was pushed yet")
	assert.Zero(t, e.runCount())

	d130, err := reg.PushImage(ctx, "team/web", "1.3.0", 2)
	require.NoError(t, err)
	status, body = e.post("web", envelope("team/web", "1.3.0"), bearer...)
	require.Equal(t, http.StatusCreated, status, body)
	want := imagewatch.JobName("web", repo, imagepolicy.Image{Tag: "1.3.0", Digest: d130})
	assert.Equal(t, answer{Result: triggermetrics.Started, Job: want}, decodeAnswer(t, body))
	job := e.jobs[want]
	require.NotNil(t, job)
	assert.Equal(t, []v1alpha1.Param{{Name: "image", Value: repo + "@" + d130}}, job.Spec.Params)
	assert.Equal(t, v1alpha1.TriggerImage, job.Spec.Trigger.Type)

	status, body = e.post("web", envelope("team/web", "1.3.0"), bearer...)
	assert.Equal(t, http.StatusOK, status, "a notification sent again starts nothing: %s", body)
	assert.Equal(t, triggermetrics.Duplicate, decodeAnswer(t, body).Result)

	status, body = e.post("fresh", envelope("team/web", "1.3.0"), bearer...)
	assert.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, "the trigger has no baseline yet: its first read records one", decodeAnswer(t, body).Reason)
	assert.Len(t, e.jobs, 1)
}
