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

	// Environment is the environment of this pipeline's jobs that do not
	// name one (spec.environment of the job). A DNS-1123 label.
	Environment string

	// ConcurrencyPolicy says what happens when a job starts while another job
	// of this pipeline and environment is running: Allow (default) runs both,
	// Forbid fails the new job, Replace cancels the running one, Queue makes
	// the new job wait until the jobs before it have finished, first in,
	// first out.
	ConcurrencyPolicy ConcurrencyPolicy

	// Notify lists webhooks called when a job of this pipeline changes phase.
	Notify []Notification

	// PodRetention says when the controller deletes a step's Pod, always
	// after its actions' output is archived.
	PodRetention PodRetention

	// History says how long the pipeline's finished jobs are kept; nil
	// keeps every job.
	History *HistoryPolicy
}

// PodRetention says when a step's Pod is deleted.
type PodRetention string

const (
	PodRetentionOnStepCompletion PodRetention = "OnStepCompletion"
	PodRetentionOnJobCompletion  PodRetention = "OnJobCompletion"
	PodRetentionNever            PodRetention = "Never"
)

// HistoryPolicy bounds how many finished jobs of a pipeline are kept, and
// for how long.
type HistoryPolicy struct {
	// SuccessfulJobsLimit keeps the newest so many Succeeded jobs.
	SuccessfulJobsLimit *int32
	// FailedJobsLimit keeps the newest so many Failed or Cancelled jobs.
	FailedJobsLimit *int32
	// TTLSecondsAfterFinished is the default of the jobs' own.
	TTLSecondsAfterFinished *int32
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

// Step is one Pod of a pipeline, or an approval gate. A step's actions run
// in order inside its Pod: every action but the last as an init container,
// the last as the main container. A step with an approval runs no Pod: it
// waits until enough approvers approve, and fails the job when one rejects.
type Step struct {
	// Name is a DNS-1123 label, unique within the pipeline.
	Name string

	// Actions run in order inside the step's Pod. Between 1 and 16. Exactly
	// one of actions and approval is set.
	Actions []Action

	// Approval makes the step a gate that people decide through the
	// pipelinejobs/approval subresource. Exactly one of actions and approval
	// is set; a gate has no timeout, retries or podTemplate of its own.
	Approval *ApprovalGate

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

// ApprovalGate says who may pass a gate, and how many of them must.
type ApprovalGate struct {
	// Approvers are the users and groups whose members may decide the gate.
	// Between 1 and 32.
	Approvers []Approver
	// Required is how many distinct approvers must approve. Between 1 and 32;
	// defaults to 1.
	Required int32
	// Timeout bounds the wait. When it passes without enough approvals, the
	// job fails with reason ApprovalTimeout. Without it the gate waits as
	// long as the job's own timeout allows.
	Timeout *metav1.Duration
	// AllowSelfApproval lets the user who started the job approve it. By
	// default they cannot, whatever groups they are in.
	AllowSelfApproval bool
}

// ApproverKind says whether an approver is a user or a group.
type ApproverKind string

const (
	// ApproverUser is one user, by the name the cluster authenticates.
	ApproverUser ApproverKind = "User"
	// ApproverGroup is every member of a group of the authenticated identity.
	ApproverGroup ApproverKind = "Group"
)

// Approver names a user or a group that may decide a gate.
type Approver struct {
	// Kind is User or Group.
	Kind ApproverKind
	// Name of the user or group, as the cluster's authenticator reports it.
	Name string
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

// ConcurrencyPolicy says how jobs of the same pipeline and environment may
// overlap.
type ConcurrencyPolicy string

const (
	// AllowConcurrent runs jobs of the same pipeline side by side.
	AllowConcurrent ConcurrencyPolicy = "Allow"
	// ForbidConcurrent fails a new job while another job of the pipeline
	// and environment runs.
	ForbidConcurrent ConcurrencyPolicy = "Forbid"
	// ReplaceConcurrent cancels the running jobs of the pipeline and
	// environment and runs the new one.
	ReplaceConcurrent ConcurrencyPolicy = "Replace"
	// QueueConcurrent makes a new job wait, with reason Queued, until every
	// job of the pipeline and environment submitted before it has finished.
	QueueConcurrent ConcurrencyPolicy = "Queue"
)

// NotifyEvent is a job phase change that can trigger a notification.
type NotifyEvent string

const (
	NotifyStarted   NotifyEvent = "Started"
	NotifySucceeded NotifyEvent = "Succeeded"
	NotifyFailed    NotifyEvent = "Failed"
	NotifyCancelled NotifyEvent = "Cancelled"
	// NotifyWaitingForApproval is sent when a job reaches an approval gate.
	NotifyWaitingForApproval NotifyEvent = "WaitingForApproval"
)

// Notification sends a signed webhook when a job reaches one of the listed events.
type Notification struct {
	// Events lists the events that trigger the webhook. Defaults to [Failed].
	Events []NotifyEvent
	// Webhook is where the notification is posted.
	Webhook *Webhook
	// Slack posts a message through an incoming webhook.
	Slack *SlackNotification
}

// SlackNotification is a Slack incoming webhook whose URL is in a Secret.
type SlackNotification struct {
	// URLSecretRef is the key of the Secret that holds the URL.
	URLSecretRef SecretKeyRef
}

// Webhook is an HTTP endpoint that receives a JSON POST. The body is signed
// with HMAC-SHA256 using the referenced Secret's key over
// "<X-Sluice-Timestamp>.<body>", sent in the header X-Sluice-Signature as
// "sha256=<hex>"; X-Sluice-Timestamp is the Unix time of the attempt.
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
	// Environments says what each environment runs: its current release,
	// the last job of this pipeline that succeeded there, and the release
	// before it, which pipelines/rollback goes back to.
	Environments []EnvironmentStatus
	// Conditions are the pipeline's current conditions.
	Conditions []metav1.Condition
}

// EnvironmentStatus is what one environment runs.
type EnvironmentStatus struct {
	// Name of the environment.
	Name string
	// Current is the release the environment runs: the job of this pipeline
	// that succeeded there last.
	Current *Release
	// Previous is the release before the current one.
	Previous *Release
}

// Release is a job that succeeded in an environment, and what it deployed.
type Release struct {
	// Job is the name of the PipelineJob.
	Job string
	// Params are the job's params, which name what was deployed.
	Params []Param
	// CompletionTime is when the job succeeded.
	CompletionTime *metav1.Time
	// StartedBy is the user that started the job.
	StartedBy string
	// Trigger is what started the job: Manual, Rerun, Rollback, ...
	Trigger TriggerType
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
	// PipelineRef names a Pipeline in the job's namespace. A job sets
	// exactly one of pipelineRef and pipelineSpec, except a job created by
	// pipelinejobs/rerun or pipelines/rollback, which has both: the
	// pipeline it belongs to, and the snapshot of it that it runs.
	PipelineRef *PipelineReference
	// PipelineSpec is an inline pipeline (see pipelineRef).
	PipelineSpec *PipelineSpec

	// Environment is where the job deploys, a DNS-1123 label. It defaults
	// to the pipeline's spec.environment when the job is created. The
	// server labels the job sluice.dev/environment with it; concurrency
	// policies and the pipeline's status.environments are per environment.
	Environment string

	// Params are the values passed to the pipeline's params.
	Params []Param

	// Cancel requests cancellation: the running Pod is deleted, later steps
	// are skipped and the job ends Cancelled. Once true it cannot be unset.
	Cancel bool

	// Trigger records what started the job.
	Trigger JobTrigger

	// StartedBy is the authenticated user that created the job. The server
	// sets it on create from the request; whatever the client sends is
	// replaced, and it never changes afterwards.
	StartedBy *UserInfo

	// TTLSecondsAfterFinished deletes the job so many seconds after it
	// ends; it defaults to the pipeline's history.ttlSecondsAfterFinished.
	TTLSecondsAfterFinished *int32
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
	TriggerRollback TriggerType = "Rollback"
	TriggerSlack    TriggerType = "Slack"
)

// JobTrigger records what started a job.
type JobTrigger struct {
	// Type is Manual (default), Schedule, Image, Webhook, Rerun or Rollback.
	Type TriggerType
	// Name is the Trigger that started the job. The fields are in the
	// order of v1alpha1's, which conversion relies on.
	Name string
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
	// StepWaitingForApproval is an approval gate that has not been decided.
	StepWaitingForApproval StepPhase = "WaitingForApproval"
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
	// SubmitTime is when the server stored the job, to the microsecond. It
	// orders the jobs a Queue concurrency policy holds.
	SubmitTime *metav1.MicroTime
	// CancelledBy is the user that asked to cancel the job, through
	// pipelinejobs/cancel or by setting spec.cancel. The server records it.
	CancelledBy *UserInfo
	// CancelReason is the reason given with the cancellation.
	CancelReason string
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
	// Phase is Pending, Running, WaitingForApproval, Succeeded, Failed,
	// Skipped or Cancelled.
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
	// Approvals are the decisions on an approval gate, in the order they
	// were made. The server records them through pipelinejobs/approval.
	Approvals []ApprovalDecision
}

// Decision is an approver's answer at a gate.
type Decision string

const (
	// Approve counts towards the approvals the gate requires.
	Approve Decision = "Approve"
	// Reject fails the job at once.
	Reject Decision = "Reject"
)

// ApprovalDecision is one approver's decision on a gate.
type ApprovalDecision struct {
	// User that decided, as the cluster authenticated them.
	User UserInfo
	// Decision is Approve or Reject.
	Decision Decision
	// Time is when the server recorded the decision.
	Time metav1.Time
	// Message is what the approver said.
	Message string
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
	// Log says whether the action's output is archived.
	Log *ActionLog
}

// LogState is where an action's output stands.
type LogState string

const (
	LogArchived      LogState = "Archived"
	LogArchiveFailed LogState = "Failed"
	LogLost          LogState = "Lost"
)

// ActionLog is the archive state of an action's output.
type ActionLog struct {
	// State is Archived, Failed or Lost.
	State LogState
	// Bytes is the size of the archived output.
	Bytes int64
	// TruncatedBytes were dropped from its start to keep the limit.
	TruncatedBytes int64
	// Message says what went wrong, for Failed and Lost.
	Message string
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

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RunRequest is the body of pipelines/run: it starts a job of the pipeline.
// The job is created by the server on the caller's behalf, so the caller
// needs RBAC create on pipelines/run (which resourceNames can scope to
// named pipelines) and nothing on pipelinejobs.
type RunRequest struct {
	metav1.TypeMeta
	// Params are the values of the pipeline's params.
	Params []Param
	// Environment of the job; defaults to the pipeline's.
	Environment string
	// Name of the job; the server makes one up when empty.
	Name string
	// Trigger says which Trigger's event the job is for.
	Trigger *JobTrigger
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// CancelRequest is the body of pipelinejobs/cancel. The server records the
// caller in status.cancelledBy.
type CancelRequest struct {
	metav1.TypeMeta
	// Reason says why, for the job's status and message.
	Reason string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RerunRequest is the body of pipelinejobs/rerun: it starts a new job with
// the params and environment of a finished one, labelled
// sluice.dev/rerun-of.
type RerunRequest struct {
	metav1.TypeMeta
	// FromCurrentPipeline runs the pipeline as it is now. By default the new
	// job runs the snapshot in the old job's status.pipelineSpec, exactly
	// what ran before.
	FromCurrentPipeline bool
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RollbackRequest is the body of pipelines/rollback: it reruns an earlier
// release of an environment, with its params and its snapshot of the
// pipeline, so nothing is rebuilt.
type RollbackRequest struct {
	metav1.TypeMeta
	// Environment to roll back; defaults to the pipeline's.
	Environment string
	// ToJob names the succeeded job of this pipeline and environment to go
	// back to. By default it is the release before the current one
	// (status.environments[].previous).
	ToJob string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApprovalRequest is the body of pipelinejobs/approval: a decision on the
// job's current approval gate.
type ApprovalRequest struct {
	metav1.TypeMeta
	// Decision is Approve or Reject.
	Decision Decision
	// Message is recorded with the decision.
	Message string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Trigger starts jobs of a pipeline when an event happens: a schedule's
// time comes, a container image is pushed, a Git host calls a webhook, or
// someone runs a Slack command. Each job it starts has a name derived from
// the event, so an event seen twice starts one job.
type Trigger struct {
	metav1.TypeMeta
	// Standard object metadata.
	metav1.ObjectMeta

	// Spec says what to start, and on which event.
	Spec TriggerSpec
	// Status is what the trigger has seen and done, written by the
	// controller.
	Status TriggerStatus
}

// TriggerSpec is a pipeline, its params and environment, and exactly one
// source of events.
type TriggerSpec struct {
	// PipelineRef names the Pipeline whose jobs the trigger starts, in the
	// trigger's namespace.
	PipelineRef PipelineReference
	// Environment of the jobs; defaults to the pipeline's.
	Environment string
	// Params are the values of the pipeline's params. A value may refer to
	// what the source saw: $(image.repository), $(image.tag),
	// $(image.digest); $(schedule.time); $(webhook.ref), $(webhook.branch),
	// $(webhook.tag), $(webhook.commit), $(webhook.repository),
	// $(webhook.sender), $(webhook.body.<jsonpath>) into the request's body;
	// $(slack.user), $(slack.text). A reference the source does not fill
	// is rejected.
	Params []Param
	// Suspend stops the trigger from starting jobs; events that come
	// meanwhile are dropped, and a schedule's slots are skipped.
	Suspend bool

	// Schedule starts a job at the times of a cron schedule.
	Schedule *ScheduleSource
	// Image starts a job when a container image repository gets a new tag
	// that the policy selects, or a followed tag a new digest.
	Image *ImageSource
	// Webhook starts a job when a Git host or another system calls the
	// trigger's URL with a signed event.
	Webhook *WebhookSource
	// Slack starts a job from a Slack slash command.
	Slack *SlackSource
}

// ScheduleSource is a cron schedule.
type ScheduleSource struct {
	// Cron is a schedule in cron syntax (minute hour day-of-month month
	// day-of-week), or a descriptor such as @hourly or @every 30s.
	Cron string
	// TimeZone is an IANA time zone name, such as Europe/Berlin, in which
	// the schedule is read. UTC when empty.
	TimeZone string
	// StartingDeadlineSeconds is how late a slot may still start a job;
	// a slot missed by more is skipped. Unset: any delay.
	StartingDeadlineSeconds *int64
	// CatchUp is how many slots missed while no controller ran are run,
	// oldest first, each as its own job; older ones are skipped and
	// counted in status. 1 (default) runs the latest missed slot only; 0
	// runs none of them.
	CatchUp *int32
}

// ImageSource follows a container image repository.
type ImageSource struct {
	// Repository is the image repository, without tag or digest:
	// registry.example.com/team/web.
	Repository string
	// Policy selects the tags that start jobs.
	Policy ImagePolicy
	// Interval is how often the registry is polled, at least 10s; 5m when
	// unset. A registry that notifies the trigger's URL of pushes starts
	// jobs at once; polling finds what a lost notification missed.
	Interval *metav1.Duration
	// PullSecretRef names a Secret of type kubernetes.io/dockerconfigjson
	// in the trigger's namespace, for a private registry.
	PullSecretRef *corev1.LocalObjectReference
	// Push accepts a registry's notifications of pushes at the trigger's
	// URL, /hooks/<namespace>/<trigger>, so a new image starts its job at
	// once. A notification only prompts a read of the registry: what
	// fires is decided, and its digest resolved, as a poll does.
	Push *ImagePush
}

// ImagePushProvider is the format of a registry's push notifications.
type ImagePushProvider string

const (
	// ImagePushRegistry: the CNCF distribution registry's notification
	// envelope (application/vnd.docker.distribution.events.v1+json),
	// with the token in an Authorization: Bearer header the registry's
	// endpoint configuration sets.
	ImagePushRegistry ImagePushProvider = "Registry"
)

// ImagePush says how a registry notifies the trigger of pushes.
type ImagePush struct {
	// Provider is the notification format: Registry.
	Provider ImagePushProvider
	// SecretRef is the key of a Secret in the trigger's namespace that
	// holds the bearer token notifications carry.
	SecretRef SecretKeyRef
}

// ImagePolicy selects tags: exactly one of semver and pattern.
type ImagePolicy struct {
	// Semver is a version constraint, such as ">=1.2.0 <2": the highest
	// version of the tags that satisfy it is followed.
	Semver string
	// Pattern is a regular expression a tag must match, such as
	// "^main-[0-9a-f]{7}$".
	Pattern string
}

// WebhookProvider is who calls a webhook, which says how calls are signed
// and what they carry.
type WebhookProvider string

const (
	// WebhookGitHub: X-Hub-Signature-256, push and tag events.
	WebhookGitHub WebhookProvider = "GitHub"
	// WebhookGitLab: X-Gitlab-Token, push and tag events.
	WebhookGitLab WebhookProvider = "GitLab"
	// WebhookGeneric: X-Sluice-Signature with a timestamp, any JSON body.
	WebhookGeneric WebhookProvider = "Generic"
)

// WebhookEvent is a kind of Git event.
type WebhookEvent string

const (
	WebhookPush WebhookEvent = "push"
	WebhookTag  WebhookEvent = "tag"
)

// WebhookSource accepts signed calls of the trigger's URL.
type WebhookSource struct {
	// Provider is GitHub, GitLab or Generic.
	Provider WebhookProvider
	// SecretRef is the key of a Secret in the trigger's namespace that
	// holds the webhook's secret.
	SecretRef SecretKeyRef
	// Events are the Git events that start jobs: push, tag. Both when
	// empty. Not for Generic.
	Events []WebhookEvent
	// Filter selects branches and tags.
	Filter *WebhookFilter
}

// WebhookFilter selects the branches and tags of events by glob (path.Match).
type WebhookFilter struct {
	// Branches a push must be to, such as main or release/*; any when empty.
	Branches []string
	// Tags a tag event must be of, such as v*; any when empty.
	Tags []string
}

// SlackSource accepts the Slack slash command /sluice.
type SlackSource struct {
	// SigningSecretRef is the key of a Secret in the trigger's namespace
	// that holds the Slack app's signing secret.
	SigningSecretRef SecretKeyRef
	// AllowedUsers are the Slack user IDs that may run commands; nobody
	// when empty.
	AllowedUsers []string
}

// TriggerStatus is what a trigger has seen and done.
type TriggerStatus struct {
	// ObservedGeneration is the generation the controller last acted on.
	ObservedGeneration int64
	// Conditions hold Ready: True while the trigger can work, False with a
	// reason (PipelineNotFound, SecretNotFound, RegistryUnreachable,
	// InvalidSchedule, ...) when it cannot.
	Conditions []metav1.Condition
	// LastEvent is the last event that started a job.
	LastEvent *TriggerEvent
	// LastScheduleTime is the last schedule slot handled, fired or skipped.
	LastScheduleTime *metav1.Time
	// NextScheduleTime is the schedule's next slot.
	NextScheduleTime *metav1.Time
	// SkippedSlots counts the schedule's slots that were missed beyond
	// catchUp or the starting deadline, or came while suspended.
	SkippedSlots int64
	// Image is the image source's last observation.
	Image *ImageObservation
}

// TriggerEvent is an event that started a job.
type TriggerEvent struct {
	// Time is when the event was seen.
	Time metav1.Time
	// Detail describes the event, as the job's spec.trigger.detail does.
	Detail string
	// Job is the job it started.
	Job string
}

// ImageObservation is the tag and digest an image source follows.
type ImageObservation struct {
	// Repository is the repository read, as spec.image.repository named
	// it then: a different one makes the next read a new baseline.
	Repository string
	// Tag is the newest tag the policy selects; empty when none does.
	Tag string
	// Digest is that tag's digest.
	Digest string
	// Time is when the registry was last read.
	Time *metav1.Time
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// TriggerList is a list of Triggers.
type TriggerList struct {
	metav1.TypeMeta
	// Standard list metadata.
	metav1.ListMeta
	// Items is the list of Triggers.
	Items []Trigger
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PipelineJobLogOptions are the query parameters of pipelinejobs/log. A GET
// reads a job's output; a POST, with the output as its body, archives the
// output of one action.
type PipelineJobLogOptions struct {
	metav1.TypeMeta
	// Step selects one step. Every step, in order, when empty. Required
	// with a POST.
	Step string
	// Action selects one action of the step; needs step. Every action, in
	// order, when empty. Required with a POST.
	Action string
	// Attempt selects an attempt of the step, from 1; needs step. Every
	// attempt, in order, when 0. Required with a POST.
	Attempt int64
	// Follow streams the output as the job writes it, moving on to the next
	// action and step, until the job ends.
	Follow bool
	// TailLines is how many lines to show from the end of each action's
	// output.
	TailLines *int64
	// SinceSeconds shows only the lines written in the last so many seconds.
	SinceSeconds *int64
	// Timestamps begins every line with the RFC 3339 time it was written.
	Timestamps bool
	// LimitBytes stops the output after so many bytes.
	LimitBytes *int64
}
