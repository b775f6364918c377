package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

func TestTableRow(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	p := &sluice.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
		Spec:       sluice.PipelineSpec{Description: "the web service", Steps: make([]sluice.Step, 3)},
		Status: sluice.PipelineStatus{
			LastJob: &sluice.JobSummary{Name: "web-3", Phase: sluice.JobRunning},
			Environments: []sluice.EnvironmentStatus{
				{Name: "production", Current: &sluice.Release{Job: "web-2"}, Previous: &sluice.Release{Job: "web-1"}},
				{Name: "qa"}, // known, nothing deployed yet
				{Name: "staging", Current: &sluice.Release{Job: "web-3"}},
			},
		},
	}
	cells, err := Table.Row(p, now)
	require.NoError(t, err)
	require.Len(t, Table.Columns, len(cells))
	assert.Equal(t, []any{"web", int64(3), "web-3", "Running", "production=web-2,staging=web-3", "the web service", "60m"}, cells)

	p.Status = sluice.PipelineStatus{}
	cells, err = Table.Row(p, now)
	require.NoError(t, err)
	assert.Equal(t, []any{"web", int64(3), "<none>", "<none>", "<none>", "the web service", "60m"}, cells)
}
