package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime"
)

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// SetDefaults_PipelineSpec defaults the concurrency policy to Allow and
// the Pods' retention to OnJobCompletion.
func SetDefaults_PipelineSpec(obj *PipelineSpec) {
	if obj.ConcurrencyPolicy == "" {
		obj.ConcurrencyPolicy = AllowConcurrent
	}
	if obj.PodRetention == "" {
		obj.PodRetention = PodRetentionOnJobCompletion
	}
}

// SetDefaults_ApprovalGate needs one approval when the gate does not say
// how many.
func SetDefaults_ApprovalGate(obj *ApprovalGate) {
	if obj.Required == 0 {
		obj.Required = 1
	}
}

// SetDefaults_Notification notifies on failure when no event is listed:
// alerting on failed jobs is why most people add a webhook.
func SetDefaults_Notification(obj *Notification) {
	if len(obj.Events) == 0 {
		obj.Events = []NotifyEvent{NotifyFailed}
	}
}

// SetDefaults_PipelineJobSpec records a job with no trigger as started by hand.
func SetDefaults_PipelineJobSpec(obj *PipelineJobSpec) {
	if obj.Trigger.Type == "" {
		obj.Trigger.Type = TriggerManual
	}
}

// SetDefaults_PipelineJobStatus starts every job in the Pending phase.
func SetDefaults_PipelineJobStatus(obj *PipelineJobStatus) {
	if obj.Phase == "" {
		obj.Phase = JobPending
	}
}

// SetDefaults_ScheduleSource runs the latest slot missed while no
// controller ran, as a CronJob does.
func SetDefaults_ScheduleSource(obj *ScheduleSource) {
	if obj.CatchUp == nil {
		one := int32(1)
		obj.CatchUp = &one
	}
}
