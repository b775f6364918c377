package imagewatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/trigger/imagepolicy"
)

const repo = "registry.example.com/team/web"

func trigger(last *v1alpha1.ImageObservation) *v1alpha1.Trigger {
	return &v1alpha1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: v1alpha1.TriggerSpec{
			PipelineRef: v1alpha1.PipelineReference{Name: "release"},
			Params: []v1alpha1.Param{
				{Name: "image", Value: "$(image.repository)@$(image.digest)"},
				{Name: "version", Value: "$(image.tag)"},
			},
			Image: &v1alpha1.ImageSource{Repository: repo, Policy: v1alpha1.ImagePolicy{Semver: ">=1.2.0 <2"}},
		},
		Status: v1alpha1.TriggerStatus{Image: last},
	}
}

func seen(tag, digest string) *v1alpha1.ImageObservation {
	return &v1alpha1.ImageObservation{Repository: repo, Tag: tag, Digest: digest, Time: &metav1.Time{Time: time.Unix(1, 0)}}
}

func found(tag, digest string) Observation {
	return Observation{Image: imagepolicy.Image{Tag: tag, Digest: digest}, Found: true}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	other := seen("1.2.0", "sha256:a")
	other.Repository = "registry.example.com/team/api"
	tests := []struct {
		name     string
		last     *v1alpha1.ImageObservation
		obs      Observation
		fire     bool
		baseline bool
		record   string // tag@digest written to status
	}{
		{"first read is a baseline", nil, found("1.2.0", "sha256:a"), false, true, "1.2.0@sha256:a"},
		{"first read of an empty repository is a baseline", nil, Observation{}, false, true, "@"},
		{"the first tag after an empty baseline fires", seen("", ""), found("1.3.0", "sha256:b"), true, false, "1.3.0@sha256:b"},
		{"the same image fires nothing", seen("1.2.0", "sha256:a"), found("1.2.0", "sha256:a"), false, false, "1.2.0@sha256:a"},
		{"a newer tag fires", seen("1.2.0", "sha256:a"), found("1.3.0", "sha256:b"), true, false, "1.3.0@sha256:b"},
		{"a moved tag fires", seen("1.2.0", "sha256:a"), found("1.2.0", "sha256:c"), true, false, "1.2.0@sha256:c"},
		{"an older tag fires nothing and keeps the newer", seen("1.3.0", "sha256:b"), found("1.2.0", "sha256:a"), false, false, "1.3.0@sha256:b"},
		{"a deleted tag keeps the baseline", seen("1.3.0", "sha256:b"), Observation{}, false, false, "1.3.0@sha256:b"},
		{"another repository is a new baseline", other, found("1.2.0", "sha256:a"), false, true, "1.2.0@sha256:a"},
		{"a tag the policy no longer selects is a new baseline", seen("0.9.0", "sha256:z"), found("1.2.0", "sha256:a"), false, true, "1.2.0@sha256:a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := trigger(tt.last)
			plan, err := Decide(tr, tt.obs, now)
			require.NoError(t, err)
			assert.Equal(t, tt.fire, plan.Run != nil, plan.Reason)
			assert.Equal(t, tt.baseline, plan.Baseline, plan.Reason)
			assert.Equal(t, tt.record, plan.Record.Tag+"@"+plan.Record.Digest)
			assert.Equal(t, repo, plan.Record.Repository)
			assert.Equal(t, now, plan.Record.Time.Time, "every read records its time")
			assert.NotEmpty(t, plan.Reason)
		})
	}
}

func TestDecideRun(t *testing.T) {
	tr := trigger(seen("1.2.0", "sha256:a"))
	digest := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	plan, err := Decide(tr, found("1.3.0", digest), time.Now())
	require.NoError(t, err)
	require.NotNil(t, plan.Run)
	assert.Equal(t, JobName("web", repo, imagepolicy.Image{Tag: "1.3.0", Digest: digest}), plan.Run.Name)
	assert.Equal(t, []v1alpha1.Param{{Name: "image", Value: repo + "@" + digest}, {Name: "version", Value: "1.3.0"}}, plan.Run.Params)
	assert.Equal(t, &v1alpha1.JobTrigger{Type: v1alpha1.TriggerImage, Name: "web", Detail: "image " + repo + ":1.3.0 (sha256:0123456789ab)"}, plan.Run.Trigger)

	again, err := Decide(tr, found("1.3.0", digest), time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, plan.Run.Name, again.Run.Name, "a second read of the same image names the same job")
	moved, err := Decide(trigger(seen("1.3.0", digest)), found("1.3.0", "sha256:ff"), time.Now())
	require.NoError(t, err)
	assert.NotEqual(t, plan.Run.Name, moved.Run.Name, "a tag moved to new content is a new job")
}

func obsImage(tag, digest string) imagepolicy.Image {
	return imagepolicy.Image{Tag: tag, Digest: digest}
}
