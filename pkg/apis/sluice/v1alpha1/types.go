package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Pipeline is a reusable definition of ordered steps. Each step runs as one Pod
// whose actions run in order inside it. Start a run by creating a PipelineJob
// that refers to the Pipeline.
type Pipeline struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec defines the parameters, steps and policies of the pipeline.
	// +optional
	Spec PipelineSpec `json:"spec,omitempty"`
	// Status is the observed state of the pipeline, written by the controller.
	// +optional
	Status PipelineStatus `json:"status,omitempty"`
}

// PipelineSpec defines what a pipeline runs.
type PipelineSpec struct {
	// Description says what the pipeline is for.
	// +optional
	Description string `json:"description,omitempty"`

	// Params are the parameters a job may pass. A param without a default is
	// required when a job starts. Refer to a param as $(params.NAME) in an
	// action's image, command, args or env values.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Params []ParamSpec `json:"params,omitempty" patchStrategy:"merge" patchMergeKey:"name"`

	// Steps run strictly in order; each step is one Pod. Between 1 and 64.
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Steps []Step `json:"steps" patchStrategy:"merge" patchMergeKey:"name"`

	// Workspace configures the volume mounted at /workspace in every action.
	// Without it each step gets an emptyDir shared by the actions of that step.
	// +optional
	Workspace *WorkspaceSpec `json:"workspace,omitempty"`

	// Timeout bounds the whole job. When it passes, the running Pod is deleted
	// and the job fails with reason Timeout.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// ConcurrencyPolicy says what happens when a job starts while another job
	// of this pipeline is running: Allow (default) runs both, Forbid fails the
	// new job, Replace cancels the running one.
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// Notify lists webhooks called when a job of this pipeline changes phase.
	// +optional
	// +listType=atomic
	Notify []Notification `json:"notify,omitempty"`
}

// ParamSpec declares one parameter of a pipeline.
type ParamSpec struct {
	// Name is a C identifier, referred to as $(params.NAME).
	Name string `json:"name"`
	// Description says what the parameter means.
	// +optional
	Description string `json:"description,omitempty"`
	// Default is used when a job does not set the param. Without a default the
	// param is required.
	// +optional
	Default *string `json:"default,omitempty"`
}

// Step is one Pod of a pipeline. Its actions run in order inside that Pod:
// every action but the last as an init container, the last as the main
// container.
type Step struct {
	// Name is a DNS-1123 label, unique within the pipeline.
	Name string `json:"name"`

	// Actions run in order inside the step's Pod. Between 1 and 16.
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Actions []Action `json:"actions" patchStrategy:"merge" patchMergeKey:"name"`

	// Timeout bounds one attempt of the step. When it passes, the Pod is
	// deleted and the step fails with reason Timeout.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Retries is how many more attempts a failed step gets, each a new Pod,
	// with exponential backoff. Between 0 (default) and 10.
	// +optional
	Retries int32 `json:"retries,omitempty"`

	// PodTemplate sets Pod-level fields of the step's Pod.
	// +optional
	PodTemplate *PodTemplate `json:"podTemplate,omitempty"`
}

// Action is one container of a step's Pod.
type Action struct {
	// Name is a DNS-1123 label, unique within the step. It names the container.
	Name string `json:"name"`
	// Image is the container image to run.
	Image string `json:"image"`
	// Command is the entrypoint array. The image's ENTRYPOINT is used if empty.
	// +optional
	// +listType=atomic
	Command []string `json:"command,omitempty"`
	// Args are the arguments to the entrypoint. The image's CMD is used if empty.
	// +optional
	// +listType=atomic
	Args []string `json:"args,omitempty"`
	// Env sets environment variables in the container.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Env []corev1.EnvVar `json:"env,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	// EnvFrom populates environment variables from ConfigMaps or Secrets.
	// +optional
	// +listType=atomic
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`
	// WorkingDir is the container's working directory. Defaults to the
	// image's; /workspace is where the shared volume is mounted.
	// +optional
	WorkingDir string `json:"workingDir,omitempty"`
	// Resources are the compute resources the container needs.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// SecurityContext is the container's security context.
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`
}

// PodTemplate holds the Pod-level fields a step may set.
type PodTemplate struct {
	// ServiceAccountName is the service account the step's Pod runs as.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// NodeSelector must match a node's labels for the Pod to be scheduled there.
	// +optional
	// +mapType=atomic
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Tolerations let the Pod schedule onto tainted nodes.
	// +optional
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// Affinity holds the Pod's scheduling constraints.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// SecurityContext is the Pod's security context.
	// +optional
	SecurityContext *corev1.PodSecurityContext `json:"securityContext,omitempty"`
	// ImagePullSecrets name Secrets in the job's namespace used to pull images.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
}

// WorkspaceSpec configures the volume shared by the steps of a job.
type WorkspaceSpec struct {
	// VolumeClaimTemplate describes a PersistentVolumeClaim created once per
	// job, owned by the job, and mounted at /workspace in every action of
	// every step.
	VolumeClaimTemplate *corev1.PersistentVolumeClaimTemplate `json:"volumeClaimTemplate"`
}

// ConcurrencyPolicy says how jobs of the same pipeline may overlap.
// +enum
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
// +enum
type NotifyEvent string

const (
	NotifyStarted   NotifyEvent = "Started"
	NotifySucceeded NotifyEvent = "Succeeded"
	NotifyFailed    NotifyEvent = "Failed"
	NotifyCancelled NotifyEvent = "Cancelled"
)

// Notification sends a signed webhook when a job reaches one of the listed events.
type Notification struct {
	// The field is not called "on": YAML 1.1, which kubectl follows, reads
	// that key as the boolean true.

	// Events lists the events that trigger the webhook. Defaults to [Failed].
	// +optional
	// +listType=set
	Events []NotifyEvent `json:"events,omitempty"`
	// Webhook is where the notification is posted.
	Webhook *Webhook `json:"webhook"`
}

// Webhook is an HTTP endpoint that receives a JSON POST. The body is signed
// with HMAC-SHA256 using the referenced Secret's key, sent in the header
// X-Sluice-Signature as "sha256=<hex>".
type Webhook struct {
	// URL is an absolute http or https URL.
	URL string `json:"url"`
	// SecretRef names the Secret key, in the job's namespace, used to sign the payload.
	SecretRef *SecretKeyRef `json:"secretRef"`
}

// SecretKeyRef selects one key of a Secret in the same namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	Name string `json:"name"`
	// Key within the Secret.
	Key string `json:"key"`
}

// PipelineStatus is the observed state of a pipeline.
type PipelineStatus struct {
	// ObservedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastJob summarises the most recently started job of this pipeline.
	// +optional
	LastJob *JobSummary `json:"lastJob,omitempty"`
	// Conditions are the pipeline's current conditions.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// JobSummary is a short record of one job.
type JobSummary struct {
	// Name of the PipelineJob.
	Name string `json:"name"`
	// Phase of the job.
	// +optional
	Phase JobPhase `json:"phase,omitempty"`
	// StartTime is when the job started running.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the job finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PipelineList is a list of Pipelines.
type PipelineList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of Pipelines.
	Items []Pipeline `json:"items"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PipelineJob is one run of a pipeline. The controller runs its steps as Pods
// and reports progress in its status.
type PipelineJob struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to run and with which params.
	// +optional
	Spec PipelineJobSpec `json:"spec,omitempty"`
	// Status is the observed state of the job, written by the controller.
	// +optional
	Status PipelineJobStatus `json:"status,omitempty"`
}

// PipelineJobSpec says what a job runs. Only cancel may change after creation.
type PipelineJobSpec struct {
	// PipelineRef names a Pipeline in the job's namespace. Exactly one of
	// pipelineRef and pipelineSpec is set.
	// +optional
	PipelineRef *PipelineReference `json:"pipelineRef,omitempty"`
	// PipelineSpec is an inline pipeline. Exactly one of pipelineRef and
	// pipelineSpec is set.
	// +optional
	PipelineSpec *PipelineSpec `json:"pipelineSpec,omitempty"`

	// Params are the values passed to the pipeline's params.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Params []Param `json:"params,omitempty" patchStrategy:"merge" patchMergeKey:"name"`

	// Cancel requests cancellation: the running Pod is deleted, later steps
	// are skipped and the job ends Cancelled. Once true it cannot be unset.
	// +optional
	Cancel bool `json:"cancel,omitempty"`

	// Trigger records what started the job.
	// +optional
	Trigger Trigger `json:"trigger,omitempty"`

	// StartedBy is the authenticated user that created the job. The server
	// sets it on create from the request; whatever the client sends is
	// replaced, and it never changes afterwards.
	// +optional
	StartedBy *UserInfo `json:"startedBy,omitempty"`
}

// PipelineReference names a Pipeline in the same namespace.
type PipelineReference struct {
	// Name of the Pipeline.
	Name string `json:"name"`
}

// Param is a value passed to a pipeline param.
type Param struct {
	// Name of the pipeline param.
	Name string `json:"name"`
	// Value of the param.
	Value string `json:"value"`
}

// TriggerType says what kind of event started a job.
// +enum
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
	// +optional
	Type TriggerType `json:"type,omitempty"`
	// Detail is free text about the trigger: a schedule, an image digest, a
	// webhook delivery id or the job being re-run.
	// +optional
	Detail string `json:"detail,omitempty"`
}

// UserInfo identifies the user that made a request.
type UserInfo struct {
	// Username as authenticated by the cluster.
	Username string `json:"username"`
	// UID of the user, when the authenticator provides one.
	// +optional
	UID string `json:"uid,omitempty"`
	// Groups the user belongs to.
	// +optional
	// +listType=atomic
	Groups []string `json:"groups,omitempty"`
}

// JobPhase is the lifecycle phase of a job.
// +enum
type JobPhase string

const (
	JobPending   JobPhase = "Pending"
	JobRunning   JobPhase = "Running"
	JobSucceeded JobPhase = "Succeeded"
	JobFailed    JobPhase = "Failed"
	JobCancelled JobPhase = "Cancelled"
)

// StepPhase is the lifecycle phase of one step of a job.
// +enum
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
	// +optional
	Phase JobPhase `json:"phase,omitempty"`
	// Conditions hold the Succeeded condition: Unknown while the job runs,
	// True or False with a reason when it ends.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
	// ObservedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// StartTime is when the job started running.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the job ended.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Message says why the job is in its phase, e.g. which step and action failed.
	// +optional
	Message string `json:"message,omitempty"`
	// PipelineSpec is the pipeline as it was when the job started. Later edits
	// of the Pipeline never change a job that has started.
	// +optional
	PipelineSpec *PipelineSpec `json:"pipelineSpec,omitempty"`
	// Steps is the state of each step, in pipeline order.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Steps []StepStatus `json:"steps,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	// Notifications is the delivery state of each webhook notification of
	// the pipeline's spec.notify for this job.
	// +optional
	// +listType=map
	// +listMapKey=event
	// +listMapKey=url
	Notifications []NotificationStatus `json:"notifications,omitempty"`
}

// NotificationState is where the delivery of a notification stands.
// +enum
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
	Event NotifyEvent `json:"event"`
	// URL of the webhook.
	URL string `json:"url"`
	// State is Pending, Delivered or Failed.
	// +optional
	State NotificationState `json:"state,omitempty"`
	// Attempts is how many times delivery was tried.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// LastAttemptTime is when delivery was last tried.
	// +optional
	LastAttemptTime *metav1.Time `json:"lastAttemptTime,omitempty"`
	// ResponseCode is the HTTP status of the last attempt, 0 if there was none.
	// +optional
	ResponseCode int32 `json:"responseCode,omitempty"`
	// Message describes the last attempt's result.
	// +optional
	Message string `json:"message,omitempty"`
}

// StepStatus is the state of one step of a job.
type StepStatus struct {
	// Name of the step.
	Name string `json:"name"`
	// Phase is Pending, Running, Succeeded, Failed, Skipped or Cancelled.
	// +optional
	Phase StepPhase `json:"phase,omitempty"`
	// PodName is the Pod of the latest attempt.
	// +optional
	PodName string `json:"podName,omitempty"`
	// Attempts is how many Pods the step has started.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// StartTime is when the first attempt started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the step ended.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// NextAttemptTime is when the next attempt starts, while a step whose
	// attempt failed waits to retry.
	// +optional
	NextAttemptTime *metav1.Time `json:"nextAttemptTime,omitempty"`
	// Reason is a CamelCase word for why the step is in its phase, e.g. Timeout.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message says why the step is in its phase.
	// +optional
	Message string `json:"message,omitempty"`
	// Actions is the state of each action of the latest attempt.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Actions []ActionStatus `json:"actions,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
}

// ActionStatus is the state of one action (container) of a step's Pod.
type ActionStatus struct {
	// Name of the action.
	Name string `json:"name"`
	// ExitCode of the container, once it has terminated.
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty"`
	// Reason is the container's termination or waiting reason.
	// +optional
	Reason string `json:"reason,omitempty"`
	// StartTime is when the container started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the container terminated.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PipelineJobList is a list of PipelineJobs.
type PipelineJobList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of PipelineJobs.
	Items []PipelineJob `json:"items"`
}
