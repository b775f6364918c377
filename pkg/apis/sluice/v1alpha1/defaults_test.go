package v1alpha1_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/install"
	. "github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	install.Install(s)
	return s
}

func TestDefaultsPipeline(t *testing.T) {
	p := &Pipeline{Spec: PipelineSpec{
		Notify: []Notification{{}, {Events: []NotifyEvent{NotifyStarted}}},
	}}
	scheme().Default(p)
	assert.Equal(t, AllowConcurrent, p.Spec.ConcurrencyPolicy)
	assert.Equal(t, []NotifyEvent{NotifyFailed}, p.Spec.Notify[0].Events, "no events means failures")
	assert.Equal(t, []NotifyEvent{NotifyStarted}, p.Spec.Notify[1].Events, "listed events are kept")

	p = &Pipeline{Spec: PipelineSpec{ConcurrencyPolicy: ReplaceConcurrent}}
	scheme().Default(p)
	assert.Equal(t, ReplaceConcurrent, p.Spec.ConcurrencyPolicy)
}

func TestDefaultsPipelineJob(t *testing.T) {
	j := &PipelineJob{Spec: PipelineJobSpec{PipelineSpec: &PipelineSpec{Notify: []Notification{{}}}}}
	scheme().Default(j)
	assert.Equal(t, TriggerManual, j.Spec.Trigger.Type)
	assert.Equal(t, JobPending, j.Status.Phase)
	assert.Equal(t, AllowConcurrent, j.Spec.PipelineSpec.ConcurrencyPolicy, "an inline pipeline is defaulted like a Pipeline")
	assert.Equal(t, []NotifyEvent{NotifyFailed}, j.Spec.PipelineSpec.Notify[0].Events)

	j = &PipelineJob{
		Spec:   PipelineJobSpec{Trigger: JobTrigger{Type: TriggerImage}},
		Status: PipelineJobStatus{Phase: JobRunning, PipelineSpec: &PipelineSpec{}},
	}
	scheme().Default(j)
	assert.Equal(t, TriggerImage, j.Spec.Trigger.Type)
	assert.Equal(t, JobRunning, j.Status.Phase)
	assert.Equal(t, AllowConcurrent, j.Status.PipelineSpec.ConcurrencyPolicy)
}

func TestDefaultsList(t *testing.T) {
	l := &PipelineJobList{Items: []PipelineJob{{}, {}}}
	scheme().Default(l)
	for _, j := range l.Items {
		assert.Equal(t, TriggerManual, j.Spec.Trigger.Type)
	}
}

func TestFieldLabelConversion(t *testing.T) {
	s := scheme()
	for _, f := range PipelineJobSelectableFields {
		label, value, err := s.ConvertFieldLabel(SchemeGroupVersion.WithKind("PipelineJob"), f, "x")
		require.NoError(t, err, f)
		assert.Equal(t, f, label)
		assert.Equal(t, "x", value)
	}
	_, _, err := s.ConvertFieldLabel(SchemeGroupVersion.WithKind("PipelineJob"), "spec.cancel", "true")
	assert.ErrorContains(t, err, "field label not supported: spec.cancel")

	_, _, err = s.ConvertFieldLabel(SchemeGroupVersion.WithKind("Pipeline"), "metadata.name", "x")
	assert.NoError(t, err)
	_, _, err = s.ConvertFieldLabel(SchemeGroupVersion.WithKind("Pipeline"), "status.phase", "x")
	assert.Error(t, err, "pipelines have no status.phase")
}
