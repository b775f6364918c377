package pipeline

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/install"
)

func strategy() Strategy {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return NewStrategy(scheme)
}

func newPipeline() *sluice.Pipeline {
	return &sluice.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "release", Namespace: "team-a", ResourceVersion: "3"},
		Spec: sluice.PipelineSpec{
			Steps:             []sluice.Step{{Name: "build", Actions: []sluice.Action{{Name: "go", Image: "golang"}}}},
			ConcurrencyPolicy: sluice.AllowConcurrent,
			PodRetention:      sluice.PodRetentionOnJobCompletion,
		},
	}
}

func TestCreateDropsStatus(t *testing.T) {
	p := newPipeline()
	p.ResourceVersion = ""
	p.Status.ObservedGeneration = 7
	strategy().PrepareForCreate(context.Background(), p)
	assert.Equal(t, sluice.PipelineStatus{}, p.Status)
	assert.Equal(t, int64(1), p.Generation)
	assert.Empty(t, strategy().Validate(context.Background(), p))

	p.ResourceVersion = "3"
	errs := strategy().Validate(context.Background(), p)
	if assert.Len(t, errs, 1, "a new pipeline with a resourceVersion") {
		assert.Equal(t, "metadata.resourceVersion", errs[0].Field)
	}
}

func TestUpdateIgnoresStatusAndBumpsGeneration(t *testing.T) {
	old := newPipeline()
	old.Generation = 1
	old.Status.LastJob = &sluice.JobSummary{Name: "release-1", Phase: sluice.JobRunning}

	p := old.DeepCopy()
	p.Status = sluice.PipelineStatus{}
	p.Spec.Description = "new"
	strategy().PrepareForUpdate(context.Background(), p, old)
	assert.Equal(t, old.Status, p.Status)
	assert.Equal(t, int64(2), p.Generation)

	p = old.DeepCopy()
	p.Labels = map[string]string{"a": "b"}
	strategy().PrepareForUpdate(context.Background(), p, old)
	assert.Equal(t, int64(1), p.Generation)

	p = old.DeepCopy()
	p.Spec.Steps = nil
	assert.NotEmpty(t, strategy().ValidateUpdate(context.Background(), p, old))
}

func TestStatusUpdateIgnoresSpec(t *testing.T) {
	s := NewStatusStrategy(strategy())
	old := newPipeline()
	p := old.DeepCopy()
	p.Spec.Steps = nil
	p.Labels = map[string]string{"a": "b"}
	p.Status.ObservedGeneration = 1
	s.PrepareForUpdate(context.Background(), p, old)
	assert.Equal(t, old.Spec, p.Spec)
	assert.Nil(t, p.Labels)
	assert.Equal(t, int64(1), p.Status.ObservedGeneration)
	assert.Empty(t, s.ValidateUpdate(context.Background(), p, old))
}

func TestSelectableFields(t *testing.T) {
	_, f, err := GetAttrs(newPipeline())
	assert.NoError(t, err)
	assert.Equal(t, fields.Set{"metadata.name": "release", "metadata.namespace": "team-a"}, f)
}
