package v1alpha1_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	. "github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// TestConvertJobTrigger: a trigger's name and detail arrive as sent. A
// round trip cannot see it: the generated conversions copy the struct's
// memory, so fields in another order are swapped one way and back.
func TestConvertJobTrigger(t *testing.T) {
	sent := JobTrigger{Type: TriggerSchedule, Name: "nightly", Detail: "schedule @daily slot 2026-12-03T00:00:00Z"}
	want := sluice.JobTrigger{Type: sluice.TriggerSchedule, Name: "nightly", Detail: "schedule @daily slot 2026-12-03T00:00:00Z"}

	var run sluice.RunRequest
	require.NoError(t, scheme().Convert(&RunRequest{Trigger: &sent}, &run, nil))
	require.NotNil(t, run.Trigger)
	assert.Equal(t, want, *run.Trigger)

	var job sluice.PipelineJob
	require.NoError(t, scheme().Convert(&PipelineJob{Spec: PipelineJobSpec{Trigger: sent}}, &job, nil))
	assert.Equal(t, want, job.Spec.Trigger)
}
