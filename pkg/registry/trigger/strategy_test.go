package trigger

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/install"
)

func nightly() *sluice.Trigger {
	return &sluice.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "team-a", Labels: map[string]string{"sluice.dev/pipeline": "forged"}},
		Spec: sluice.TriggerSpec{
			PipelineRef: sluice.PipelineReference{Name: "release"},
			Schedule:    &sluice.ScheduleSource{Cron: "0 3 * * *", TimeZone: "Europe/Berlin", CatchUp: ptr.To[int32](1)},
		},
		Status: sluice.TriggerStatus{SkippedSlots: 7},
	}
}

func TestStrategy(t *testing.T) {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	s := NewStrategy(scheme)
	ctx := context.Background()
	tr := nightly()
	s.PrepareForCreate(ctx, tr)
	assert.Equal(t, sluice.TriggerStatus{}, tr.Status, "a client does not write status")
	assert.Equal(t, int64(1), tr.Generation)
	assert.Equal(t, "release", tr.Labels["sluice.dev/pipeline"], "the server's label tells the truth")
	assert.Empty(t, s.Validate(ctx, tr))

	old := tr.DeepCopy()
	old.Status.SkippedSlots = 3
	tr.Spec.Suspend = true
	tr.Spec.PipelineRef.Name = "deploy"
	s.PrepareForUpdate(ctx, tr, old)
	assert.Equal(t, int64(3), tr.Status.SkippedSlots, "the stored status stays")
	assert.Equal(t, int64(2), tr.Generation)
	assert.Equal(t, "deploy", tr.Labels["sluice.dev/pipeline"])

	st := NewStatusStrategy(s)
	next := tr.DeepCopy()
	next.Spec.Suspend = false
	next.Status.SkippedSlots = 4
	st.PrepareForUpdate(ctx, next, tr)
	assert.True(t, next.Spec.Suspend, "a status write does not change the spec")
	assert.Equal(t, int64(4), next.Status.SkippedSlots)
}

func TestTable(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	tr := nightly()
	tr.CreationTimestamp = metav1.NewTime(now.Add(-48 * time.Hour))
	tr.Status.LastEvent = &sluice.TriggerEvent{Time: metav1.NewTime(now.Add(-9 * time.Hour)), Job: "nightly-1764730800"}
	next := metav1.NewTime(now.Add(15 * time.Hour))
	tr.Status.NextScheduleTime = &next
	tr.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}}
	row, err := Table.Row(tr, now)
	assert.NoError(t, err)
	assert.Equal(t, []any{"nightly", "release", "schedule 0 3 * * * Europe/Berlin", "9h ago", "nightly-1764730800", "in 15h", "True", "2d", "<pipeline's>", ""}, row)

	tr.Spec.Suspend = true
	row, _ = Table.Row(tr, now)
	assert.Equal(t, "-", row[5], "a suspended schedule has no next slot")
	assert.Equal(t, "Suspended", row[6])

	tr.Spec.Schedule = nil
	tr.Spec.Image = &sluice.ImageSource{Repository: "registry.example.com/web", Policy: sluice.ImagePolicy{Semver: ">=1.2.0 <2"}}
	assert.Equal(t, "image registry.example.com/web >=1.2.0 <2", SourceColumn(tr))
	tr.Spec.Image = nil
	tr.Spec.Webhook = &sluice.WebhookSource{Provider: sluice.WebhookGitHub}
	assert.Equal(t, "webhook GitHub", SourceColumn(tr))
}
