package kubectlsluice

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files of the text output")

// goldenNow is the time the golden files are written at.
var goldenNow = time.Date(2026, 12, 3, 10, 30, 0, 0, time.UTC)

// at is goldenNow moved by d, as an API time.
func at(d time.Duration) *metav1.Time {
	t := metav1.NewTime(goldenNow.Add(d))
	return &t
}

func exit(code int32) *int32 { return &code }

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to write it")
	require.Equal(t, string(want), string(got), "differs from %s; go test -update rewrites it", path)
}

func job(name string) *v1alpha1.PipelineJob {
	return &v1alpha1.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", CreationTimestamp: *at(-10 * time.Minute)},
		Spec: v1alpha1.PipelineJobSpec{
			PipelineRef: &v1alpha1.PipelineReference{Name: "release"},
			Environment: "production",
			Params:      []v1alpha1.Param{{Name: "version", Value: "1.4.2"}, {Name: "image", Value: "registry.example.com/web:1.4.2"}},
			Trigger:     v1alpha1.JobTrigger{Type: v1alpha1.TriggerManual},
			StartedBy:   &v1alpha1.UserInfo{Username: "alice", Groups: []string{"developers", "system:authenticated"}},
		},
	}
}

// buildAndTest is a pipeline of a build step with two actions and a test
// step with retries.
func buildAndTest() *v1alpha1.PipelineSpec {
	return &v1alpha1.PipelineSpec{Steps: []v1alpha1.Step{
		{Name: "build", Actions: []v1alpha1.Action{{Name: "fetch", Image: "alpine"}, {Name: "compile", Image: "golang"}}},
		{Name: "test", Retries: 2, Actions: []v1alpha1.Action{{Name: "unit", Image: "golang"}}},
	}}
}

func succeededJob() *v1alpha1.PipelineJob {
	j := job("release-x7k2p")
	j.Status = v1alpha1.PipelineJobStatus{
		Phase:          v1alpha1.JobSucceeded,
		Conditions:     []metav1.Condition{{Type: "Succeeded", Status: metav1.ConditionTrue, Reason: "Succeeded"}},
		StartTime:      at(-10 * time.Minute),
		CompletionTime: at(-8 * time.Minute),
		PipelineSpec:   buildAndTest(),
		Steps: []v1alpha1.StepStatus{
			{Name: "build", Phase: v1alpha1.StepSucceeded, PodName: "release-x7k2p-build-1", Attempts: 1,
				StartTime: at(-10 * time.Minute), CompletionTime: at(-9 * time.Minute),
				Actions: []v1alpha1.ActionStatus{
					{Name: "fetch", ExitCode: exit(0), Reason: "Completed", StartTime: at(-10 * time.Minute), CompletionTime: at(-10*time.Minute + 3*time.Second),
						Log: &v1alpha1.ActionLog{State: v1alpha1.LogArchived, Bytes: 120}},
					{Name: "compile", ExitCode: exit(0), Reason: "Completed", StartTime: at(-10*time.Minute + 4*time.Second), CompletionTime: at(-9 * time.Minute),
						Log: &v1alpha1.ActionLog{State: v1alpha1.LogArchived, Bytes: 4096}},
				}},
			{Name: "test", Phase: v1alpha1.StepSucceeded, PodName: "release-x7k2p-test-1", Attempts: 1,
				StartTime: at(-9 * time.Minute), CompletionTime: at(-8 * time.Minute),
				Actions: []v1alpha1.ActionStatus{
					{Name: "unit", ExitCode: exit(0), Reason: "Completed", StartTime: at(-9 * time.Minute), CompletionTime: at(-8 * time.Minute)},
				}},
		},
		Notifications: []v1alpha1.NotificationStatus{
			{Event: v1alpha1.NotifySucceeded, URL: "https://hooks.example.com/ci", State: v1alpha1.NotificationDelivered, Attempts: 1, LastAttemptTime: at(-8 * time.Minute), ResponseCode: 200},
		},
	}
	return j
}

func failedWithRetriesJob() *v1alpha1.PipelineJob {
	j := job("release-q9v4z")
	j.Status = v1alpha1.PipelineJobStatus{
		Phase:          v1alpha1.JobFailed,
		Conditions:     []metav1.Condition{{Type: "Succeeded", Status: metav1.ConditionFalse, Reason: "StepFailed"}},
		Message:        `step "test" failed: action "unit" exited with 1`,
		StartTime:      at(-10 * time.Minute),
		CompletionTime: at(-5 * time.Minute),
		PipelineSpec:   buildAndTest(),
		Steps: []v1alpha1.StepStatus{
			{Name: "build", Phase: v1alpha1.StepSucceeded, PodName: "release-q9v4z-build-1", Attempts: 1,
				StartTime: at(-10 * time.Minute), CompletionTime: at(-9 * time.Minute),
				Actions: []v1alpha1.ActionStatus{
					{Name: "fetch", ExitCode: exit(0), StartTime: at(-10 * time.Minute), CompletionTime: at(-10*time.Minute + 3*time.Second)},
					{Name: "compile", ExitCode: exit(0), StartTime: at(-10*time.Minute + 4*time.Second), CompletionTime: at(-9 * time.Minute)},
				}},
			{Name: "test", Phase: v1alpha1.StepFailed, Reason: "StepFailed", Message: `action "unit" exited with 1`,
				PodName: "release-q9v4z-test-3", Attempts: 3,
				StartTime: at(-9 * time.Minute), CompletionTime: at(-5 * time.Minute),
				Actions: []v1alpha1.ActionStatus{
					{Name: "unit", ExitCode: exit(1), Reason: "Error", StartTime: at(-6 * time.Minute), CompletionTime: at(-5 * time.Minute),
						Log: &v1alpha1.ActionLog{State: v1alpha1.LogLost, Message: "the Pod was deleted before its output was archived"}},
				}},
		},
		Notifications: []v1alpha1.NotificationStatus{
			{Event: v1alpha1.NotifyFailed, URL: "https://hooks.example.com/ci", State: v1alpha1.NotificationFailed, Attempts: 5, LastAttemptTime: at(-1 * time.Minute), ResponseCode: 503, Message: "503 Service Unavailable"},
			{Event: v1alpha1.NotifyFailed, URL: "slack:slack-webhook/url", State: v1alpha1.NotificationDelivered, Attempts: 1, LastAttemptTime: at(-5 * time.Minute), ResponseCode: 200},
		},
	}
	return j
}

func waitingForApprovalJob() *v1alpha1.PipelineJob {
	j := job("release-m2b8c")
	spec := buildAndTest()
	spec.Steps = append(spec.Steps,
		v1alpha1.Step{Name: "approve-production", Approval: &v1alpha1.ApprovalGate{
			Approvers: []v1alpha1.Approver{{Kind: v1alpha1.ApproverGroup, Name: "release-managers"}, {Kind: v1alpha1.ApproverUser, Name: "carol"}},
			Required:  2, Timeout: &metav1.Duration{Duration: 24 * time.Hour},
		}},
		v1alpha1.Step{Name: "deploy", Actions: []v1alpha1.Action{{Name: "apply", Image: "kubectl"}}},
	)
	j.Status = v1alpha1.PipelineJobStatus{
		Phase:        v1alpha1.JobRunning,
		Conditions:   []metav1.Condition{{Type: "Succeeded", Status: metav1.ConditionUnknown, Reason: "Running"}},
		StartTime:    at(-10 * time.Minute),
		PipelineSpec: spec,
		Steps: []v1alpha1.StepStatus{
			{Name: "build", Phase: v1alpha1.StepSucceeded, PodName: "release-m2b8c-build-1", Attempts: 1,
				StartTime: at(-10 * time.Minute), CompletionTime: at(-9 * time.Minute),
				Actions: []v1alpha1.ActionStatus{
					{Name: "fetch", ExitCode: exit(0), StartTime: at(-10 * time.Minute), CompletionTime: at(-10*time.Minute + 3*time.Second)},
					{Name: "compile", ExitCode: exit(0), StartTime: at(-10*time.Minute + 4*time.Second), CompletionTime: at(-9 * time.Minute)},
				}},
			{Name: "test", Phase: v1alpha1.StepSucceeded, PodName: "release-m2b8c-test-2", Attempts: 2,
				StartTime: at(-9 * time.Minute), CompletionTime: at(-7 * time.Minute),
				Actions: []v1alpha1.ActionStatus{
					{Name: "unit", ExitCode: exit(0), StartTime: at(-8 * time.Minute), CompletionTime: at(-7 * time.Minute)},
				}},
			{Name: "approve-production", Phase: v1alpha1.StepWaitingForApproval, StartTime: at(-7 * time.Minute),
				Approvals: []v1alpha1.ApprovalDecision{
					{User: v1alpha1.UserInfo{Username: "carol"}, Decision: v1alpha1.Approve, Time: *at(-3 * time.Minute), Message: "staging looks good"},
				}},
			{Name: "deploy", Phase: v1alpha1.StepPending},
		},
		Notifications: []v1alpha1.NotificationStatus{
			{Event: v1alpha1.NotifyWaitingForApproval, URL: "slack:slack-webhook/url", State: v1alpha1.NotificationPending, Attempts: 1, LastAttemptTime: at(-7 * time.Minute), Message: "connection refused"},
		},
	}
	return j
}

func imageTriggeredJob() *v1alpha1.PipelineJob {
	j := job("web-image-3f9a1c")
	j.Spec.PipelineRef.Name = "web"
	j.Spec.Environment = "staging"
	j.Spec.Params = []v1alpha1.Param{{Name: "image", Value: "registry.example.com/team/web:1.5.0@sha256:3f9a1c"}}
	j.Spec.Trigger = v1alpha1.JobTrigger{Type: v1alpha1.TriggerImage, Name: "web-image", Detail: "registry.example.com/team/web:1.5.0@sha256:3f9a1c"}
	j.Spec.StartedBy = &v1alpha1.UserInfo{Username: "system:serviceaccount:sluice-system:sluice-controller"}
	j.Status = v1alpha1.PipelineJobStatus{
		Phase:      v1alpha1.JobRunning,
		Conditions: []metav1.Condition{{Type: "Succeeded", Status: metav1.ConditionUnknown, Reason: "Running"}},
		StartTime:  at(-90 * time.Second),
		PipelineSpec: &v1alpha1.PipelineSpec{Steps: []v1alpha1.Step{
			{Name: "deploy", Retries: 1, Actions: []v1alpha1.Action{{Name: "pull", Image: "crane"}, {Name: "rollout", Image: "kubectl"}}},
			{Name: "smoke", Actions: []v1alpha1.Action{{Name: "curl", Image: "curl"}}},
		}},
		Steps: []v1alpha1.StepStatus{
			{Name: "deploy", Phase: v1alpha1.StepRunning, PodName: "web-image-3f9a1c-deploy-2", Attempts: 2,
				StartTime: at(-90 * time.Second), Message: "attempt 1 failed: action \"rollout\" exited with 2",
				Actions: []v1alpha1.ActionStatus{
					{Name: "pull", ExitCode: exit(0), StartTime: at(-30 * time.Second), CompletionTime: at(-25 * time.Second)},
					{Name: "rollout", StartTime: at(-25 * time.Second)},
				}},
		},
	}
	return j
}

// TestDescribeGolden: the text of describe for a succeeded job, one that
// failed after retries, one waiting at a gate, and one an image started.
func TestDescribeGolden(t *testing.T) {
	for name, j := range map[string]*v1alpha1.PipelineJob{
		"describe-succeeded":            succeededJob(),
		"describe-failed-with-retries":  failedWithRetriesJob(),
		"describe-waiting-for-approval": waitingForApprovalJob(),
		"describe-image-triggered":      imageTriggeredJob(),
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, describeJob(&out, j, goldenNow))
			golden(t, name, out.Bytes())
		})
	}
}
