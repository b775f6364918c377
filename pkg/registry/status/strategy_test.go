package status_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/registry/pipeline"
	"github.com/sluice-dev/sluice/pkg/registry/status"
)

// TestUpdateStrategyChangesOnlyStatus: spec and every piece of metadata
// the main resource owns come from the stored object; status and the rest
// come from the request; validation is the resource's rule.
func TestUpdateStrategyChangesOnlyStatus(t *testing.T) {
	var validated bool
	s := status.NewUpdateStrategy(pipeline.NewStrategy(nil),
		func(p, old *sluice.Pipeline) { p.Spec = old.Spec },
		func(p, old *sluice.Pipeline) field.ErrorList {
			validated = true
			return field.ErrorList{field.Invalid(field.NewPath("status"), p.Status.ObservedGeneration, "checked")}
		})

	old := &sluice.Pipeline{
		ObjectMeta: metav1.ObjectMeta{
			Name: "p", Labels: map[string]string{"l": "1"}, Annotations: map[string]string{"a": "1"},
			Finalizers:      []string{"f"},
			OwnerReferences: []metav1.OwnerReference{{Name: "owner", UID: "u1"}},
		},
		Spec: sluice.PipelineSpec{Description: "stored"},
	}
	p := old.DeepCopy()
	p.Spec.Description = "sent"
	p.Labels, p.Annotations, p.Finalizers, p.OwnerReferences = nil, map[string]string{"a": "2"}, nil, nil
	p.ResourceVersion = "7"
	p.Status.ObservedGeneration = 3

	s.PrepareForUpdate(context.Background(), p, old)
	assert.Equal(t, old.Spec, p.Spec)
	assert.Equal(t, old.Labels, p.Labels)
	assert.Equal(t, old.Annotations, p.Annotations)
	assert.Equal(t, old.Finalizers, p.Finalizers)
	assert.Equal(t, old.OwnerReferences, p.OwnerReferences)
	assert.Equal(t, int64(3), p.Status.ObservedGeneration)
	assert.Equal(t, "7", p.ResourceVersion)

	assert.Len(t, s.ValidateUpdate(context.Background(), p, old), 1)
	assert.True(t, validated)
	assert.Nil(t, s.WarningsOnUpdate(context.Background(), p, old))

	reset := s.GetResetFields()["sluice.dev/v1alpha1"].String()
	for _, f := range []string{".spec", ".metadata.labels", ".metadata.annotations", ".metadata.finalizers", ".metadata.ownerReferences"} {
		assert.Contains(t, reset, f)
	}
	assert.NotContains(t, reset, ".status")

	// The rest is the main resource's.
	assert.True(t, s.NamespaceScoped())
	assert.False(t, s.AllowCreateOnUpdate())
	assert.True(t, s.AllowUnconditionalUpdate())
}
