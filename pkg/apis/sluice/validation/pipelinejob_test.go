package validation

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
)

func validJob() *sluice.PipelineJob {
	return &sluice.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{Name: "release-x7k2p", Namespace: "team-a"},
		Spec: sluice.PipelineJobSpec{
			PipelineRef: &sluice.PipelineReference{Name: "release"},
			Params:      []sluice.Param{{Name: "version", Value: "1.4.2"}, {Name: "env_name", Value: "prod"}},
			Trigger:     sluice.JobTrigger{Type: sluice.TriggerWebhook, Detail: "delivery 8c1f"},
			StartedBy:   &sluice.UserInfo{Username: "alice", Groups: []string{"team-a"}},
		},
	}
}

// inline replaces the job's pipelineRef with the pipeline of validPipeline.
func inline(j *sluice.PipelineJob) {
	j.Spec.PipelineRef = nil
	j.Spec.PipelineSpec = &validPipeline().Spec
}

func TestValidatePipelineJob(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(j *sluice.PipelineJob)
		want   []string
	}{
		{"job with pipelineRef", func(j *sluice.PipelineJob) {}, nil},
		{"job with inline pipeline", inline, nil},

		{"name not a DNS label", func(j *sluice.PipelineJob) { j.Name = "Release" }, []string{"metadata.name: " + invalid}},
		{"namespace missing", func(j *sluice.PipelineJob) { j.Namespace = "" }, []string{"metadata.namespace: " + required}},

		{"neither pipelineRef nor pipelineSpec", func(j *sluice.PipelineJob) { j.Spec.PipelineRef = nil }, []string{"spec.pipelineRef: " + required}},
		{"both pipelineRef and pipelineSpec", func(j *sluice.PipelineJob) { j.Spec.PipelineSpec = &validPipeline().Spec }, []string{"spec.pipelineSpec: " + forbidden}},
		{"pipelineRef without name", func(j *sluice.PipelineJob) { j.Spec.PipelineRef.Name = "" }, []string{"spec.pipelineRef.name: " + required}},
		{"pipelineRef with bad name", func(j *sluice.PipelineJob) { j.Spec.PipelineRef.Name = "a_b" }, []string{"spec.pipelineRef.name: " + invalid}},
		{"ttl", func(j *sluice.PipelineJob) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](0) }, nil},
		{"negative ttl", func(j *sluice.PipelineJob) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](-5) }, []string{"spec.ttlSecondsAfterFinished: " + invalid}},
		{"invalid inline pipeline", func(j *sluice.PipelineJob) {
			inline(j)
			j.Spec.PipelineSpec.Steps[1].Actions[0].Image = ""
		}, []string{"spec.pipelineSpec.steps[1].actions[0].image: " + required}},

		{"param name missing", func(j *sluice.PipelineJob) { j.Spec.Params[0].Name = "" }, []string{"spec.params[0].name: " + required}},
		{"param name not a C identifier", func(j *sluice.PipelineJob) { j.Spec.Params[0].Name = "a-b" }, []string{"spec.params[0].name: " + invalid}},
		{"param duplicated", func(j *sluice.PipelineJob) { j.Spec.Params[1].Name = "version" }, []string{"spec.params[1].name: " + duplicate}},
		{"inline: param with a default may be omitted", func(j *sluice.PipelineJob) {
			inline(j)
			j.Spec.Params = j.Spec.Params[:1]
		}, nil},
		{"inline: required param missing", func(j *sluice.PipelineJob) {
			inline(j)
			j.Spec.Params = j.Spec.Params[1:]
		}, []string{"spec.params: " + required}},
		{"inline: unknown param", func(j *sluice.PipelineJob) {
			inline(j)
			j.Spec.Params = append(j.Spec.Params, sluice.Param{Name: "colour", Value: "blue"})
		}, []string{"spec.params[2].name: " + notSupported}},
		{"pipelineRef: params are checked at start, not here", func(j *sluice.PipelineJob) {
			j.Spec.Params = []sluice.Param{{Name: "anything", Value: "x"}}
		}, nil},

		{"every trigger type", func(j *sluice.PipelineJob) { j.Spec.Trigger.Type = sluice.TriggerRerun }, nil},
		{"unknown trigger type", func(j *sluice.PipelineJob) { j.Spec.Trigger.Type = "Push" }, []string{"spec.trigger.type: " + notSupported}},
		{"trigger detail at the limit", func(j *sluice.PipelineJob) { j.Spec.Trigger.Detail = strings.Repeat("x", MaxTriggerDetail) }, nil},
		{"trigger detail too long", func(j *sluice.PipelineJob) { j.Spec.Trigger.Detail = strings.Repeat("x", MaxTriggerDetail+1) }, []string{"spec.trigger.detail: " + tooLong}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := validJob()
			c.mutate(j)
			got := ValidatePipelineJob(j)
			assert.Equal(t, c.want, nilIfEmpty(errs(got)), "%v", got)
		})
	}
}

func TestValidatePipelineJobUpdate(t *testing.T) {
	cases := []struct {
		name   string
		old    func(j *sluice.PipelineJob)
		mutate func(j *sluice.PipelineJob)
		want   []string
	}{
		{"no change", nil, func(j *sluice.PipelineJob) {}, nil},
		{"labels may change", nil, func(j *sluice.PipelineJob) { j.Labels = map[string]string{"team": "a"} }, nil},
		{"cancel", nil, func(j *sluice.PipelineJob) { j.Spec.Cancel = true }, nil},
		{"un-cancel", func(j *sluice.PipelineJob) { j.Spec.Cancel = true }, func(j *sluice.PipelineJob) { j.Spec.Cancel = false }, []string{"spec.cancel: " + forbidden}},
		{"pipelineRef changes", nil, func(j *sluice.PipelineJob) { j.Spec.PipelineRef.Name = "other" }, []string{"spec.pipelineRef: " + invalid}},
		{"pipelineSpec changes", inline, func(j *sluice.PipelineJob) {
			inline(j)
			j.Spec.PipelineSpec.Description = "edited"
		}, []string{"spec.pipelineSpec: " + invalid}},
		{"params change", nil, func(j *sluice.PipelineJob) { j.Spec.Params[0].Value = "2.0.0" }, []string{"spec.params: " + invalid}},
		{"trigger changes", nil, func(j *sluice.PipelineJob) { j.Spec.Trigger.Type = sluice.TriggerManual }, []string{"spec.trigger: " + invalid}},
		{"startedBy changes", nil, func(j *sluice.PipelineJob) { j.Spec.StartedBy = &sluice.UserInfo{Username: "mallory"} }, []string{"spec.startedBy: " + invalid}},
		{"namespace changes", nil, func(j *sluice.PipelineJob) { j.Namespace = "team-b" }, []string{"metadata.namespace: " + invalid}},
		{"ttl may change", nil, func(j *sluice.PipelineJob) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](60) }, nil},
		{"ttl may be unset", func(j *sluice.PipelineJob) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](60) },
			func(j *sluice.PipelineJob) { j.Spec.TTLSecondsAfterFinished = nil }, nil},
		{"negative ttl", nil, func(j *sluice.PipelineJob) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](-1) }, []string{"spec.ttlSecondsAfterFinished: " + invalid}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := validJob()
			old.ResourceVersion = "9"
			if c.old != nil {
				c.old(old)
			}
			j := old.DeepCopy()
			c.mutate(j)
			assert.Equal(t, c.want, nilIfEmpty(errs(ValidatePipelineJobUpdate(j, old))))
		})
	}
}

func TestValidatePipelineJobStatusUpdate(t *testing.T) {
	now := metav1.Now()
	snapshot := &validPipeline().Spec
	running := func(j *sluice.PipelineJob) {
		j.Status = sluice.PipelineJobStatus{
			Phase:        sluice.JobRunning,
			StartTime:    &now,
			PipelineSpec: snapshot.DeepCopy(),
			Conditions:   []metav1.Condition{{Type: "Succeeded", Status: metav1.ConditionUnknown, Reason: "Running", LastTransitionTime: now}},
			Steps: []sluice.StepStatus{
				{Name: "test", Phase: sluice.StepSucceeded, PodName: "release-x7k2p-test-1", Attempts: 1, StartTime: &now, CompletionTime: &now,
					Actions: []sluice.ActionStatus{{Name: "unit", ExitCode: ptr.To[int32](0), Reason: "Completed"}, {Name: "lint", ExitCode: ptr.To[int32](0)}}},
				{Name: "build", Phase: sluice.StepRunning, PodName: "release-x7k2p-build-1", Attempts: 1},
			},
		}
	}
	cases := []struct {
		name   string
		old    func(j *sluice.PipelineJob)
		mutate func(j *sluice.PipelineJob)
		want   []string
	}{
		{"pending to running with snapshot", nil, running, nil},
		{"running to failed", running, func(j *sluice.PipelineJob) {
			j.Status.Phase = sluice.JobFailed
			j.Status.Steps[1].Phase = sluice.StepFailed
			j.Status.Message = `step "build" action "compile" exited with code 2`
		}, nil},
		{"unknown phase", nil, func(j *sluice.PipelineJob) { j.Status.Phase = "Done" }, []string{"status.phase: " + notSupported}},
		{"finished job changes phase", func(j *sluice.PipelineJob) { running(j); j.Status.Phase = sluice.JobSucceeded },
			func(j *sluice.PipelineJob) { j.Status.Phase = sluice.JobRunning }, []string{"status.phase: " + forbidden}},
		{"finished job keeps its phase", func(j *sluice.PipelineJob) { running(j); j.Status.Phase = sluice.JobCancelled },
			func(j *sluice.PipelineJob) { j.Status.Message = "cancelled by alice" }, nil},
		{"bad condition", nil, func(j *sluice.PipelineJob) {
			j.Status.Conditions = []metav1.Condition{{Type: "Succeeded", Status: "Maybe", Reason: "X", LastTransitionTime: now}}
		}, []string{"status.conditions[0].status: " + notSupported}},
		{"negative observedGeneration", nil, func(j *sluice.PipelineJob) { j.Status.ObservedGeneration = -2 }, []string{"status.observedGeneration: " + invalid}},
		{"snapshot changes", running, func(j *sluice.PipelineJob) { j.Status.PipelineSpec.Description = "edited" }, []string{"status.pipelineSpec: " + forbidden}},
		{"snapshot removed", running, func(j *sluice.PipelineJob) { j.Status.PipelineSpec = nil }, []string{"status.pipelineSpec: " + forbidden}},
		{"invalid snapshot", nil, func(j *sluice.PipelineJob) {
			running(j)
			j.Status.PipelineSpec.Steps = nil
		}, []string{"status.pipelineSpec.steps: " + required}},
		{"step without name", running, func(j *sluice.PipelineJob) { j.Status.Steps[1].Name = "" }, []string{"status.steps[1].name: " + required}},
		{"step duplicated", running, func(j *sluice.PipelineJob) { j.Status.Steps[1].Name = "test" }, []string{"status.steps[1].name: " + duplicate}},
		{"step phase Skipped", running, func(j *sluice.PipelineJob) { j.Status.Steps[1].Phase = sluice.StepSkipped }, nil},
		{"step phase unknown", running, func(j *sluice.PipelineJob) { j.Status.Steps[1].Phase = "Paused" }, []string{"status.steps[1].phase: " + notSupported}},
		{"step attempts negative", running, func(j *sluice.PipelineJob) { j.Status.Steps[1].Attempts = -1 }, []string{"status.steps[1].attempts: " + invalid}},
		{"action duplicated", running, func(j *sluice.PipelineJob) { j.Status.Steps[0].Actions[1].Name = "unit" }, []string{"status.steps[0].actions[1].name: " + duplicate}},
		{"action with bad name", running, func(j *sluice.PipelineJob) { j.Status.Steps[0].Actions[1].Name = "Lint" }, []string{"status.steps[0].actions[1].name: " + invalid}},
		{"action logs", running, func(j *sluice.PipelineJob) {
			j.Status.Steps[0].Actions[0].Log = &sluice.ActionLog{State: sluice.LogArchived, Bytes: 120}
			j.Status.Steps[0].Actions[1].Log = &sluice.ActionLog{State: sluice.LogLost, Message: "pod deleted"}
		}, nil},
		{"action log with unknown state", running, func(j *sluice.PipelineJob) {
			j.Status.Steps[0].Actions[1].Log = &sluice.ActionLog{State: "Gone"}
		}, []string{"status.steps[0].actions[1].log.state: " + notSupported}},
		{"notifications", running, func(j *sluice.PipelineJob) {
			j.Status.Notifications = []sluice.NotificationStatus{
				{Event: sluice.NotifyStarted, URL: "https://a", State: sluice.NotificationDelivered, Attempts: 1, ResponseCode: 204},
				{Event: sluice.NotifyFailed, URL: "https://a", State: sluice.NotificationPending},
				{Event: sluice.NotifyStarted, URL: "https://b", State: sluice.NotificationFailed, Attempts: 5, Message: "connection refused"},
			}
		}, nil},
		{"notification with unknown event", running, func(j *sluice.PipelineJob) {
			j.Status.Notifications = []sluice.NotificationStatus{{Event: "Retried", URL: "https://a"}}
		}, []string{"status.notifications[0].event: " + notSupported}},
		{"notification without url", running, func(j *sluice.PipelineJob) {
			j.Status.Notifications = []sluice.NotificationStatus{{Event: sluice.NotifyFailed}}
		}, []string{"status.notifications[0].url: " + required}},
		{"notification with unknown state", running, func(j *sluice.PipelineJob) {
			j.Status.Notifications = []sluice.NotificationStatus{{Event: sluice.NotifyFailed, URL: "https://a", State: "Lost"}}
		}, []string{"status.notifications[0].state: " + notSupported}},
		{"notification with negative attempts", running, func(j *sluice.PipelineJob) {
			j.Status.Notifications = []sluice.NotificationStatus{{Event: sluice.NotifyFailed, URL: "https://a", Attempts: -1}}
		}, []string{"status.notifications[0].attempts: " + invalid}},
		{"notification duplicated", running, func(j *sluice.PipelineJob) {
			j.Status.Notifications = []sluice.NotificationStatus{{Event: sluice.NotifyFailed, URL: "https://a"}, {Event: sluice.NotifyFailed, URL: "https://a"}}
		}, []string{"status.notifications[1]: " + duplicate}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := validJob()
			old.ResourceVersion = "9"
			old.Status.Phase = sluice.JobPending
			if c.old != nil {
				c.old(old)
			}
			j := old.DeepCopy()
			c.mutate(j)
			got := ValidatePipelineJobStatusUpdate(j, old)
			assert.Equal(t, c.want, nilIfEmpty(errs(got)), "%v", got)
		})
	}
}
