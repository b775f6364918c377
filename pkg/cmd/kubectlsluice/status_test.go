package kubectlsluice

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// tableOf is a server's table of jobs, as newestJobs returns it.
func tableOf(jobs ...*v1alpha1.PipelineJob) jobTable {
	t := jobTable{Table: &metav1.Table{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"}, ColumnDefinitions: jobColumns}}
	for _, j := range jobs {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{j.Name, string(j.Status.Phase), "5m", string(j.Spec.Trigger.Type)}, Object: runtime.RawExtension{Object: j}})
		t.jobs = append(t.jobs, j)
	}
	return t
}

// TestStatusGolden: the text of status for a pipeline with a rolled back
// production, a staging with one release, and a trigger.
func TestStatusGolden(t *testing.T) {
	p := &v1alpha1.Pipeline{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a"},
		Spec:       v1alpha1.PipelineSpec{Description: "Builds and deploys the web front end", Environment: "staging"},
		Status: v1alpha1.PipelineStatus{
			LastJob: &v1alpha1.JobSummary{Name: "web-m2b8c", Phase: v1alpha1.JobRunning, StartTime: at(-2 * time.Minute)},
			Environments: []v1alpha1.EnvironmentStatus{
				{Name: "staging", Current: &v1alpha1.Release{Job: "web-q9v4z", Params: []v1alpha1.Param{{Name: "version", Value: "1.5.0"}},
					CompletionTime: at(-time.Hour), StartedBy: "system:serviceaccount:sluice-system:sluice-controller", Trigger: v1alpha1.TriggerImage}},
				{Name: "production",
					Current: &v1alpha1.Release{Job: "web-r0llb", Params: []v1alpha1.Param{{Name: "version", Value: "1.4.1"}},
						CompletionTime: at(-10 * time.Minute), StartedBy: "carol", Trigger: v1alpha1.TriggerRollback},
					Previous: &v1alpha1.Release{Job: "web-x7k2p", Params: []v1alpha1.Param{{Name: "version", Value: "1.4.2"}},
						CompletionTime: at(-2 * time.Hour), StartedBy: "alice", Trigger: v1alpha1.TriggerManual}},
			},
		},
	}
	job := func(name string, phase v1alpha1.JobPhase, trigger v1alpha1.TriggerType) *v1alpha1.PipelineJob {
		return &v1alpha1.PipelineJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
			Spec: v1alpha1.PipelineJobSpec{Trigger: v1alpha1.JobTrigger{Type: trigger}}, Status: v1alpha1.PipelineJobStatus{Phase: phase}}
	}
	envs := []environmentJobs{
		{name: "production", jobs: tableOf(job("web-r0llb", v1alpha1.JobSucceeded, v1alpha1.TriggerRollback), job("web-x7k2p", v1alpha1.JobSucceeded, v1alpha1.TriggerManual))},
		{name: "staging", jobs: tableOf(job("web-m2b8c", v1alpha1.JobRunning, v1alpha1.TriggerImage), job("web-q9v4z", v1alpha1.JobSucceeded, v1alpha1.TriggerImage))},
	}
	triggers := &metav1.Table{
		TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"},
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string"}, {Name: "Source", Type: "string"}, {Name: "Last-Fired", Type: "string"}, {Name: "Ready", Type: "string"},
		},
		Rows: []metav1.TableRow{{Cells: []any{"web-image", "image registry.example.com/team/web", "2m ago", "True"}}},
	}
	var out bytes.Buffer
	require.NoError(t, describeStatus(&out, p, envs, triggers, goldenNow))
	golden(t, "status", out.Bytes())

	// A pipeline whose jobs name no environment, and that no trigger starts.
	out.Reset()
	p = &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: "lint", Namespace: "team-a"}}
	require.NoError(t, describeStatus(&out, p, nil, &metav1.Table{}, goldenNow))
	golden(t, "status-no-environments", out.Bytes())
}
