package sluice

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Pipeline is a reusable definition of ordered steps. Each step runs as one Pod
// whose actions run in order inside it. Start a run by creating a PipelineJob
// that refers to the Pipeline.
type Pipeline struct {
	metav1.TypeMeta
	// Standard object metadata.
	metav1.ObjectMeta

	// Spec defines the parameters, steps and policies of the pipeline.
	Spec PipelineSpec
	// Status is the observed state of the pipeline, written by the controller.
	Status PipelineStatus
}

// PipelineSpec defines what a pipeline runs.
type PipelineSpec struct {
	// Description says what the pipeline is for.
	Description string

	// Params are the parameters a job may pass. A param without a default is
	// required when a job starts. Refer to a param as $(params.NAME) in an
	// action's image, command, args or env values.
	Params []ParamSpec

	// Steps run strictly in order; each step is one Pod. Between 1 and 64.
	Steps []Step

	// Workspace configures the volume mounted at /workspace in every action.
	// Without it each step gets an emptyDir shared by the actions of that step.
	Workspace *WorkspaceSpec

	// Timeout bounds the whole job. When it passes, the running Pod is deleted
	// and the job fails with reason Timeout.
	Timeout *metav1.Duration

	// ConcurrencyPolicy says what happens when a job starts while another job
	// of this pipeline is running: Allow (default) runs both, Forbid fails the
	// new job, Replace cancels the running one.
	ConcurrencyPolicy ConcurrencyPolicy

	// Notify lists webhooks called when a job of this pipeline changes phase.
	Notify []Notification
}

// ParamSpec declares one parameter of a pipeline.
type ParamSpec struct {
	// Name is a C identifier, referred to as $(params.NAME).
	Name string
	// Description says what the parameter means.
	Description string
	// Default is used when a job does not set the param. Without a default the
	// param is required.
	Default *string
}

// Step is one Pod of a pipeline. Its actions run in order inside that Pod:
// every action but the last as an init container, the last as the main
// container.
type Step struct {
	// Name is a DNS-1123 label, unique within the pipeline.
	Name string

	// Actions run in order inside the step's Pod. Between 1 and 16.
	Actions []Action

	// Timeout bounds one attempt of the step. When it passes, the Pod is
	// deleted and the step fails with reason Timeout.
	Timeout *metav1.Duration

	// Retries is how many more attempts a failed step gets, each a new Pod,
	// with exponential backoff. Between 0 (default) and 10.
	Retries int32

	// PodTemplate sets Pod-level fields of the step's Pod.
	PodTemplate *PodTemplate
}

// Action is one container of a step's Pod.
type Action struct {
	// Name is a DNS-1123 label, unique within the step. It names the container.
	Name string
	// Image is the container image to run.
	Image string
	// Command is the entrypoint array. The image's ENTRYPOINT is used if empty.
	Command []string
	// Args are the arguments to the entrypoint. The image's CMD is used if empty.
	Args []string
	// Env sets environment variables in the container.
	Env []corev1.EnvVar
	// EnvFrom populates environment variables from ConfigMaps or Secrets.
	EnvFrom []corev1.EnvFromSource
	// WorkingDir is the container's working directory. Defaults to the
	// image's; /workspace is where the shared volume is mounted.
	WorkingDir string
	// Resources are the compute resources the container needs.
	Resources corev1.ResourceRequirements
	// SecurityContext is the container's security context.
	SecurityContext *corev1.SecurityContext
}

// PodTemplate holds the Pod-level fields a step may set.
type PodTemplate struct {
	// ServiceAccountName is the service account the step's Pod runs as.
	ServiceAccountName string
	// NodeSelector must match a node's labels for the Pod to be scheduled there.
	NodeSelector map[string]string
	// Tolerations let the Pod schedule onto tainted nodes.
	Tolerations []corev1.Toleration
	// Affinity holds the Pod's scheduling constraints.
	Affinity *corev1.Affinity
	// SecurityContext is the Pod's security context.
	SecurityContext *corev1.PodSecurityContext
	// ImagePullSecrets name Secrets in the job's namespace used to pull images.
	ImagePullSecrets []corev1.LocalObjectReference
}

// WorkspaceSpec configures the volume shared by the steps of a job.
type WorkspaceSpec struct {
	// VolumeClaimTemplate describes a PersistentVolumeClaim created once per
	// job, owned by the job, and mounted at /workspace in every action of
	// every step.
	VolumeClaimTemplate *corev1.PersistentVolumeClaimTemplate
}

// ConcurrencyPolicy says how jobs of the same pipeline may overlap.
type ConcurrencyPolicy string

const (
	// AllowConcurrent runs jobs of the same pipeline side by side.
	AllowConcurrent ConcurrencyPolicy = "Allow"
	// ForbidConcurrent fails a new job while another job of the pipeline runs.
	ForbidConcurrent ConcurrencyPolicy = "Forbid"
	// ReplaceConcurrent cancels the running jobs of the pipeline and runs the new one.
	ReplaceConcurrent ConcurrencyPolicy = "Replace"
)

// NotifyEvent is a job phase change that can trigger a notification.
type NotifyEvent string

const (
	NotifyStarted   NotifyEvent = "Started"
	NotifySucceeded NotifyEvent = "Succeeded"
	NotifyFailed    NotifyEvent = "Failed"
	NotifyCancelled NotifyEvent = "Cancelled"
)

// Notification sends a signed webhook when a job reaches one of the listed events.
type Notification struct {
	// Events lists the events that trigger the webhook. Defaults to [Failed].
	Events []NotifyEvent
	// Webhook is where the notification is posted.
	Webhook *Webhook
}

// Webhook is an HTTP endpoint that receives a JSON POST. The body is signed
// with HMAC-SHA256 using the referenced Secret's key, sent in the header
// X-Sluice-Signature as "sha256=<hex>".
type Webhook struct {
	// URL is an absolute http or https URL.
	URL string
	// SecretRef names the Secret key, in the job's namespace, used to sign the payload.
	SecretRef *SecretKeyRef
}

// SecretKeyRef selects one key of a Secret in the same namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	Name string
	// Key within the Secret.
	Key string
}

// PipelineStatus is the observed state of a pipeline.
type PipelineStatus struct {
	// ObservedGeneration is the generation the controller last acted on.
	ObservedGeneration int64
	// LastJob summarises the most recently started job of this pipeline.
	LastJob *JobSummary
	// Conditions are the pipeline's current conditions.
	Conditions []metav1.Condition
}

// JobSummary is a short record of one job.
type JobSummary struct {
	// Name of the PipelineJob.
	Name string
	// Phase of the job.
	Phase JobPhase
	// StartTime is when the job started running.
	StartTime *metav1.Time
	// CompletionTime is when the job finished.
	CompletionTime *metav1.Time
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PipelineList is a list of Pipelines.
type PipelineList struct {
	metav1.TypeMeta
	// Standard list metadata.
	metav1.ListMeta
	// Items is the list of Pipelines.
	Items []Pipeline
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PipelineJob is one run of a pipeline. The controller runs its steps as Pods
// and reports progress in its status.
type PipelineJob struct {
	metav1.TypeMeta
	// Standard object metadata.
	metav1.ObjectMeta

	// Spec says what to run and with which params.
	Spec PipelineJobSpec
	// Status is the observed state of the job, written by the controller.
	Status PipelineJobStatus
}

// PipelineJobSpec says what a job runs. Only cancel may change after creation.
type PipelineJobSpec struct {
	// PipelineRef names a Pipeline in the job's namespace. Exactly one of
	// pipelineRef and pipelineSpec is set.
	PipelineRef *PipelineReference
	// PipelineSpec is an inline pipeline. Exactly one of pipelineRef and
	// pipelineSpec is set.
	PipelineSpec *PipelineSpec

	// Params are the values passed to the pipeline's params.
	Params []Param

	// Cancel requests cancellation: the running Pod is deleted, later steps
	// are skipped and the job ends Cancelled. Once true it cannot be unset.
	Cancel bool

	// Trigger records what started the job.
	Trigger Trigger

	// StartedBy is the authenticated user that created the job. The server
	// sets it on create from the request; whatever the client sends is
	// replaced, and it never changes afterwards.
	StartedBy *UserInfo
}

// PipelineReference names a Pipeline in the same namespace.
type PipelineReference struct {
	// Name of the Pipeline.
	Name string
}

// Param is a value passed to a pipeline param.
type Param struct {
	// Name of the pipeline param.
	Name string
	// Value of the param.
	Value string
}

// TriggerType says what kind of event started a job.
type TriggerType string

const (
	TriggerManual   TriggerType = "Manual"
	TriggerSchedule TriggerType = "Schedule"
	TriggerImage    TriggerType = "Image"
	TriggerWebhook  TriggerType = "Webhook"
	TriggerRerun    TriggerType = "Rerun"
)

// Trigger records what started a job.
type Trigger struct {
	// Type is Manual (default), Schedule, Image, Webhook or Rerun.
	Type TriggerType
	// Detail is free text about the trigger: a schedule, an image digest, a
	// webhook delivery id or the job being re-run.
	Detail string
}

// UserInfo identifies the user that made a request.
type UserInfo struct {
	// Username as authenticated by the cluster.
	Username string
	// UID of the user, when the authenticator provides one.
	UID string
	// Groups the user belongs to.
	Groups []string
}

// JobPhase is the lifecycle phase of a job.
type JobPhase string

const (
	JobPending   JobPhase = "Pending"
	JobRunning   JobPhase = "Running"
	JobSucceeded JobPhase = "Succeeded"
	JobFailed    JobPhase = "Failed"
	JobCancelled JobPhase = "Cancelled"
)

// StepPhase is the lifecycle phase of one step of a job.
type StepPhase string

const (
	StepPending   StepPhase = "Pending"
	StepRunning   StepPhase = "Running"
	StepSucceeded StepPhase = "Succeeded"
	StepFailed    StepPhase = "Failed"
	StepSkipped   StepPhase = "Skipped"
	StepCancelled StepPhase = "Cancelled"
)

// PipelineJobStatus is the observed state of a job.
type PipelineJobStatus struct {
	// Phase is Pending, Running, Succeeded, Failed or Cancelled.
	Phase JobPhase
	// Conditions hold the Succeeded condition: Unknown while the job runs,
	// True or False with a reason when it ends.
	Conditions []metav1.Condition
	// ObservedGeneration is the generation the controller last acted on.
	ObservedGeneration int64
	// StartTime is when the job started running.
	StartTime *metav1.Time
	// CompletionTime is when the job ended.
	CompletionTime *metav1.Time
	// Message says why the job is in its phase, e.g. which step and action failed.
	Message string
	// PipelineSpec is the pipeline as it was when the job started. Later edits
	// of the Pipeline never change a job that has started.
	PipelineSpec *PipelineSpec
	// Steps is the state of each step, in pipeline order.
	Steps []StepStatus
	// Notifications is the delivery state of each webhook notification of
	// the pipeline's spec.notify for this job.
	Notifications []NotificationStatus
}

// NotificationState is where the delivery of a notification stands.
type NotificationState string

const (
	// NotificationPending is being delivered, or waits for a retry.
	NotificationPending NotificationState = "Pending"
	// NotificationDelivered was answered with a 2xx status.
	NotificationDelivered NotificationState = "Delivered"
	// NotificationFailed ran out of attempts.
	NotificationFailed NotificationState = "Failed"
)

// NotificationStatus is the delivery of one webhook notification.
type NotificationStatus struct {
	// Event is the job event that triggered the notification.
	Event NotifyEvent
	// URL of the webhook.
	URL string
	// State is Pending, Delivered or Failed.
	State NotificationState
	// Attempts is how many times delivery was tried.
	Attempts int32
	// LastAttemptTime is when delivery was last tried.
	LastAttemptTime *metav1.Time
	// ResponseCode is the HTTP status of the last attempt, 0 if there was none.
	ResponseCode int32
	// Message describes the last attempt's result.
	Message string
}

// StepStatus is the state of one step of a job.
type StepStatus struct {
	// Name of the step.
	Name string
	// Phase is Pending, Running, Succeeded, Failed, Skipped or Cancelled.
	Phase StepPhase
	// PodName is the Pod of the latest attempt.
	PodName string
	// Attempts is how many Pods the step has started.
	Attempts int32
	// StartTime is when the first attempt started.
	StartTime *metav1.Time
	// CompletionTime is when the step ended.
	CompletionTime *metav1.Time
	// NextAttemptTime is when the next attempt starts, while a step whose
	// attempt failed waits to retry.
	NextAttemptTime *metav1.Time
	// Reason is a CamelCase word for why the step is in its phase, e.g. Timeout.
	Reason string
	// Message says why the step is in its phase.
	Message string
	// Actions is the state of each action of the latest attempt.
	Actions []ActionStatus
}

// ActionStatus is the state of one action (container) of a step's Pod.
type ActionStatus struct {
	// Name of the action.
	Name string
	// ExitCode of the container, once it has terminated.
	ExitCode *int32
	// Reason is the container's termination or waiting reason.
	Reason string
	// StartTime is when the container started.
	StartTime *metav1.Time
	// CompletionTime is when the container terminated.
	CompletionTime *metav1.Time
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PipelineJobList is a list of PipelineJobs.
type PipelineJobList struct {
	metav1.TypeMeta
	// Standard list metadata.
	metav1.ListMeta
	// Items is the list of PipelineJobs.
	Items []PipelineJob
}
