package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:method=Run,verb=create,subresource=run,input=RunRequest,result=PipelineJob
// +genclient:method=Rollback,verb=create,subresource=rollback,input=RollbackRequest,result=PipelineJob
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Pipeline is a reusable definition of ordered steps. Each step runs as one Pod
// whose actions run in order inside it. Start a run by creating a PipelineJob
// that refers to the Pipeline.
type Pipeline struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec defines the parameters, steps and policies of the pipeline.
	// +optional
	Spec PipelineSpec `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	// Status is the observed state of the pipeline, written by the controller.
	// +optional
	Status PipelineStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// PipelineSpec defines what a pipeline runs.
type PipelineSpec struct {
	// Description says what the pipeline is for.
	// +optional
	Description string `json:"description,omitempty" protobuf:"bytes,1,opt,name=description"`

	// Params are the parameters a job may pass. A param without a default is
	// required when a job starts. Refer to a param as $(params.NAME) in an
	// action's image, command, args or env values.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Params []ParamSpec `json:"params,omitempty" patchStrategy:"merge" patchMergeKey:"name" protobuf:"bytes,2,rep,name=params"`

	// Steps run strictly in order; each step is one Pod. Between 1 and 64.
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Steps []Step `json:"steps" patchStrategy:"merge" patchMergeKey:"name" protobuf:"bytes,3,rep,name=steps"`

	// Workspace configures the volume mounted at /workspace in every action.
	// Without it each step gets an emptyDir shared by the actions of that step.
	// +optional
	Workspace *WorkspaceSpec `json:"workspace,omitempty" protobuf:"bytes,4,opt,name=workspace"`

	// Timeout bounds the whole job. When it passes, the running Pod is deleted
	// and the job fails with reason Timeout.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty" protobuf:"bytes,5,opt,name=timeout"`

	// Environment is the environment of this pipeline's jobs that do not
	// name one (spec.environment of the job). A DNS-1123 label.
	// +optional
	Environment string `json:"environment,omitempty" protobuf:"bytes,6,opt,name=environment"`

	// ConcurrencyPolicy says what happens when a job starts while another job
	// of this pipeline and environment is running: Allow (default) runs both,
	// Forbid fails the new job, Replace cancels the running one, Queue makes
	// the new job wait until the jobs before it have finished, first in,
	// first out.
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty" protobuf:"bytes,7,opt,name=concurrencyPolicy,casttype=ConcurrencyPolicy"`

	// Notify lists webhooks called when a job of this pipeline changes phase.
	// +optional
	// +listType=atomic
	Notify []Notification `json:"notify,omitempty" protobuf:"bytes,8,rep,name=notify"`

	// PodRetention says when the controller deletes a step's Pod, always
	// after the output of its actions is archived: OnStepCompletion as
	// soon as the step ends, OnJobCompletion (default) when the job ends,
	// or Never, which leaves the Pods until the job is deleted. The
	// pipelinejobs/log subresource serves the archived output either way.
	// +optional
	PodRetention PodRetention `json:"podRetention,omitempty" protobuf:"bytes,9,opt,name=podRetention,casttype=PodRetention"`

	// History says how long the pipeline's finished jobs, and their logs,
	// are kept. Unset keeps every job forever.
	// +optional
	History *HistoryPolicy `json:"history,omitempty" protobuf:"bytes,10,opt,name=history"`
}

// PodRetention says when a step's Pod is deleted.
// +enum
type PodRetention string

const (
	// PodRetentionOnStepCompletion deletes each step's Pod once its logs are
	// archived.
	PodRetentionOnStepCompletion PodRetention = "OnStepCompletion"
	// PodRetentionOnJobCompletion deletes the job's Pods when the job ends.
	PodRetentionOnJobCompletion PodRetention = "OnJobCompletion"
	// PodRetentionNever leaves the Pods until the job is deleted.
	PodRetentionNever PodRetention = "Never"
)

// HistoryPolicy bounds how many finished jobs of a pipeline are kept, and
// for how long. The controller deletes what falls outside it, with its
// logs, in the background. A job that is the current or previous release
// of an environment (status.environments) is never deleted by a limit or
// a TTL, so a rollback always has its snapshot.
type HistoryPolicy struct {
	// SuccessfulJobsLimit keeps the newest so many Succeeded jobs of the
	// pipeline, across its environments. Unset keeps all.
	// +optional
	SuccessfulJobsLimit *int32 `json:"successfulJobsLimit,omitempty" protobuf:"varint,1,opt,name=successfulJobsLimit"`
	// FailedJobsLimit keeps the newest so many Failed or Cancelled jobs.
	// Unset keeps all.
	// +optional
	FailedJobsLimit *int32 `json:"failedJobsLimit,omitempty" protobuf:"varint,2,opt,name=failedJobsLimit"`
	// TTLSecondsAfterFinished is the default of the jobs' own
	// spec.ttlSecondsAfterFinished.
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty" protobuf:"varint,3,opt,name=ttlSecondsAfterFinished"`
}

// ParamSpec declares one parameter of a pipeline.
type ParamSpec struct {
	// Name is a C identifier, referred to as $(params.NAME).
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// Description says what the parameter means.
	// +optional
	Description string `json:"description,omitempty" protobuf:"bytes,2,opt,name=description"`
	// Default is used when a job does not set the param. Without a default the
	// param is required.
	// +optional
	Default *string `json:"default,omitempty" protobuf:"bytes,3,opt,name=default"`
}

// Step is one Pod of a pipeline, or an approval gate. A step's actions run
// in order inside its Pod: every action but the last as an init container,
// the last as the main container. A step with an approval runs no Pod: it
// waits until enough approvers approve, and fails the job when one rejects.
type Step struct {
	// Name is a DNS-1123 label, unique within the pipeline.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`

	// Actions run in order inside the step's Pod. Between 1 and 16. Exactly
	// one of actions and approval is set.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Actions []Action `json:"actions,omitempty" patchStrategy:"merge" patchMergeKey:"name" protobuf:"bytes,2,rep,name=actions"`

	// Approval makes the step a gate that people decide through the
	// pipelinejobs/approval subresource. Exactly one of actions and approval
	// is set; a gate has no timeout, retries or podTemplate of its own.
	// +optional
	Approval *ApprovalGate `json:"approval,omitempty" protobuf:"bytes,3,opt,name=approval"`

	// Timeout bounds one attempt of the step. When it passes, the Pod is
	// deleted and the step fails with reason Timeout.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty" protobuf:"bytes,4,opt,name=timeout"`

	// Retries is how many more attempts a failed step gets, each a new Pod,
	// with exponential backoff. Between 0 (default) and 10.
	// +optional
	Retries int32 `json:"retries,omitempty" protobuf:"varint,5,opt,name=retries"`

	// PodTemplate sets Pod-level fields of the step's Pod.
	// +optional
	PodTemplate *PodTemplate `json:"podTemplate,omitempty" protobuf:"bytes,6,opt,name=podTemplate"`
}

// Action is one container of a step's Pod.
type Action struct {
	// Name is a DNS-1123 label, unique within the step. It names the container.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// Image is the container image to run.
	Image string `json:"image" protobuf:"bytes,2,opt,name=image"`
	// Command is the entrypoint array. The image's ENTRYPOINT is used if empty.
	// +optional
	// +listType=atomic
	Command []string `json:"command,omitempty" protobuf:"bytes,3,rep,name=command"`
	// Args are the arguments to the entrypoint. The image's CMD is used if empty.
	// +optional
	// +listType=atomic
	Args []string `json:"args,omitempty" protobuf:"bytes,4,rep,name=args"`
	// Env sets environment variables in the container.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Env []corev1.EnvVar `json:"env,omitempty" patchStrategy:"merge" patchMergeKey:"name" protobuf:"bytes,5,rep,name=env"`
	// EnvFrom populates environment variables from ConfigMaps or Secrets.
	// +optional
	// +listType=atomic
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty" protobuf:"bytes,6,rep,name=envFrom"`
	// WorkingDir is the container's working directory. Defaults to the
	// image's; /workspace is where the shared volume is mounted.
	// +optional
	WorkingDir string `json:"workingDir,omitempty" protobuf:"bytes,7,opt,name=workingDir"`
	// Resources are the compute resources the container needs.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty" protobuf:"bytes,8,opt,name=resources"`
	// SecurityContext is the container's security context.
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty" protobuf:"bytes,9,opt,name=securityContext"`
}

// ApprovalGate says who may pass a gate, and how many of them must.
type ApprovalGate struct {
	// Approvers are the users and groups whose members may decide the gate.
	// Between 1 and 32.
	// +listType=atomic
	Approvers []Approver `json:"approvers" protobuf:"bytes,1,rep,name=approvers"`
	// Required is how many distinct approvers must approve. Between 1 and 32;
	// defaults to 1.
	// +optional
	Required int32 `json:"required,omitempty" protobuf:"varint,2,opt,name=required"`
	// Timeout bounds the wait. When it passes without enough approvals, the
	// job fails with reason ApprovalTimeout. Without it the gate waits as
	// long as the job's own timeout allows.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty" protobuf:"bytes,3,opt,name=timeout"`
	// AllowSelfApproval lets the user who started the job approve it. By
	// default they cannot, whatever groups they are in.
	// +optional
	AllowSelfApproval bool `json:"allowSelfApproval,omitempty" protobuf:"varint,4,opt,name=allowSelfApproval"`
}

// ApproverKind says whether an approver is a user or a group.
// +enum
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
	Kind ApproverKind `json:"kind" protobuf:"bytes,1,opt,name=kind,casttype=ApproverKind"`
	// Name of the user or group, as the cluster's authenticator reports it.
	Name string `json:"name" protobuf:"bytes,2,opt,name=name"`
}

// PodTemplate holds the Pod-level fields a step may set.
type PodTemplate struct {
	// ServiceAccountName is the service account the step's Pod runs as.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty" protobuf:"bytes,1,opt,name=serviceAccountName"`
	// NodeSelector must match a node's labels for the Pod to be scheduled there.
	// +optional
	// +mapType=atomic
	NodeSelector map[string]string `json:"nodeSelector,omitempty" protobuf:"bytes,2,rep,name=nodeSelector"`
	// Tolerations let the Pod schedule onto tainted nodes.
	// +optional
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty" protobuf:"bytes,3,rep,name=tolerations"`
	// Affinity holds the Pod's scheduling constraints.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty" protobuf:"bytes,4,opt,name=affinity"`
	// SecurityContext is the Pod's security context.
	// +optional
	SecurityContext *corev1.PodSecurityContext `json:"securityContext,omitempty" protobuf:"bytes,5,opt,name=securityContext"`
	// ImagePullSecrets name Secrets in the job's namespace used to pull images.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty" patchStrategy:"merge" patchMergeKey:"name" protobuf:"bytes,6,rep,name=imagePullSecrets"`
}

// WorkspaceSpec configures the volume shared by the steps of a job.
type WorkspaceSpec struct {
	// VolumeClaimTemplate describes a PersistentVolumeClaim created once per
	// job, owned by the job, and mounted at /workspace in every action of
	// every step.
	VolumeClaimTemplate *corev1.PersistentVolumeClaimTemplate `json:"volumeClaimTemplate" protobuf:"bytes,1,opt,name=volumeClaimTemplate"`
}

// ConcurrencyPolicy says how jobs of the same pipeline and environment may
// overlap.
// +enum
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
// +enum
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
	// The field is not called "on": YAML 1.1, which kubectl follows, reads
	// that key as the boolean true.

	// Events lists the events that trigger the webhook. Defaults to [Failed].
	// +optional
	// +listType=set
	Events []NotifyEvent `json:"events,omitempty" protobuf:"bytes,1,rep,name=events,casttype=NotifyEvent"`
	// Webhook is where the notification is posted, signed. Exactly one of
	// webhook and slack is set.
	// +optional
	Webhook *Webhook `json:"webhook,omitempty" protobuf:"bytes,2,opt,name=webhook"`
	// Slack posts a readable message to a Slack channel through an
	// incoming webhook.
	// +optional
	Slack *SlackNotification `json:"slack,omitempty" protobuf:"bytes,3,opt,name=slack"`
}

// SlackNotification is a Slack incoming webhook. Its URL carries a token,
// so it is read from a Secret when the message is sent, and never shown:
// the job's status.notifications names it slack:<secret>/<key>.
type SlackNotification struct {
	// URLSecretRef is the key of a Secret in the job's namespace that holds
	// the incoming webhook's URL, https://hooks.slack.com/services/….
	URLSecretRef SecretKeyRef `json:"urlSecretRef" protobuf:"bytes,1,opt,name=urlSecretRef"`
}

// Webhook is an HTTP endpoint that receives a JSON POST. The body is signed
// with HMAC-SHA256 using the referenced Secret's key over
// "<X-Sluice-Timestamp>.<body>", sent in the header X-Sluice-Signature as
// "sha256=<hex>"; X-Sluice-Timestamp is the Unix time of the attempt.
type Webhook struct {
	// URL is an absolute http or https URL.
	URL string `json:"url" protobuf:"bytes,1,opt,name=url"`
	// SecretRef names the Secret key, in the job's namespace, used to sign the payload.
	SecretRef *SecretKeyRef `json:"secretRef" protobuf:"bytes,2,opt,name=secretRef"`
}

// SecretKeyRef selects one key of a Secret in the same namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// Key within the Secret.
	Key string `json:"key" protobuf:"bytes,2,opt,name=key"`
}

// PipelineStatus is the observed state of a pipeline.
type PipelineStatus struct {
	// ObservedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,1,opt,name=observedGeneration"`
	// LastJob summarises the most recently started job of this pipeline.
	// +optional
	LastJob *JobSummary `json:"lastJob,omitempty" protobuf:"bytes,2,opt,name=lastJob"`
	// Environments says what each environment runs: its current release,
	// the last job of this pipeline that succeeded there, and the release
	// before it, which pipelines/rollback goes back to.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Environments []EnvironmentStatus `json:"environments,omitempty" patchStrategy:"merge" patchMergeKey:"name" protobuf:"bytes,3,rep,name=environments"`
	// Conditions are the pipeline's current conditions.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type" protobuf:"bytes,4,rep,name=conditions"`
}

// EnvironmentStatus is what one environment runs.
type EnvironmentStatus struct {
	// Name of the environment.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// Current is the release the environment runs: the job of this pipeline
	// that succeeded there last.
	// +optional
	Current *Release `json:"current,omitempty" protobuf:"bytes,2,opt,name=current"`
	// Previous is the release before the current one.
	// +optional
	Previous *Release `json:"previous,omitempty" protobuf:"bytes,3,opt,name=previous"`
}

// Release is a job that succeeded in an environment, and what it deployed.
type Release struct {
	// Job is the name of the PipelineJob.
	Job string `json:"job" protobuf:"bytes,1,opt,name=job"`
	// Params are the job's params, which name what was deployed.
	// +optional
	// +listType=map
	// +listMapKey=name
	Params []Param `json:"params,omitempty" protobuf:"bytes,2,rep,name=params"`
	// CompletionTime is when the job succeeded.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty" protobuf:"bytes,3,opt,name=completionTime"`
	// StartedBy is the user that started the job.
	// +optional
	StartedBy string `json:"startedBy,omitempty" protobuf:"bytes,4,opt,name=startedBy"`
	// Trigger is what started the job: Manual, Rerun, Rollback, ...
	// +optional
	Trigger TriggerType `json:"trigger,omitempty" protobuf:"bytes,5,opt,name=trigger,casttype=TriggerType"`
}

// JobSummary is a short record of one job.
type JobSummary struct {
	// Name of the PipelineJob.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// Phase of the job.
	// +optional
	Phase JobPhase `json:"phase,omitempty" protobuf:"bytes,2,opt,name=phase,casttype=JobPhase"`
	// StartTime is when the job started running.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty" protobuf:"bytes,3,opt,name=startTime"`
	// CompletionTime is when the job finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty" protobuf:"bytes,4,opt,name=completionTime"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PipelineList is a list of Pipelines.
type PipelineList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	// Items is the list of Pipelines.
	Items []Pipeline `json:"items" protobuf:"bytes,2,rep,name=items"`
}

// +genclient
// +genclient:method=Cancel,verb=create,subresource=cancel,input=CancelRequest,result=PipelineJob
// +genclient:method=Rerun,verb=create,subresource=rerun,input=RerunRequest,result=PipelineJob
// +genclient:method=Decide,verb=create,subresource=approval,input=ApprovalRequest,result=PipelineJob
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PipelineJob is one run of a pipeline. The controller runs its steps as Pods
// and reports progress in its status.
type PipelineJob struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec says what to run and with which params.
	// +optional
	Spec PipelineJobSpec `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	// Status is the observed state of the job, written by the controller.
	// +optional
	Status PipelineJobStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// PipelineJobSpec says what a job runs. Only cancel may change after creation.
type PipelineJobSpec struct {
	// PipelineRef names a Pipeline in the job's namespace. A job sets
	// exactly one of pipelineRef and pipelineSpec, except a job created by
	// pipelinejobs/rerun or pipelines/rollback, which has both: the
	// pipeline it belongs to, and the snapshot of it that it runs.
	// +optional
	PipelineRef *PipelineReference `json:"pipelineRef,omitempty" protobuf:"bytes,1,opt,name=pipelineRef"`
	// PipelineSpec is an inline pipeline (see pipelineRef).
	// +optional
	PipelineSpec *PipelineSpec `json:"pipelineSpec,omitempty" protobuf:"bytes,2,opt,name=pipelineSpec"`

	// Environment is where the job deploys, a DNS-1123 label. It defaults
	// to the pipeline's spec.environment when the job is created. The
	// server labels the job sluice.dev/environment with it; concurrency
	// policies and the pipeline's status.environments are per environment.
	// +optional
	Environment string `json:"environment,omitempty" protobuf:"bytes,3,opt,name=environment"`

	// Params are the values passed to the pipeline's params.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Params []Param `json:"params,omitempty" patchStrategy:"merge" patchMergeKey:"name" protobuf:"bytes,4,rep,name=params"`

	// Cancel requests cancellation: the running Pod is deleted, later steps
	// are skipped and the job ends Cancelled. Once true it cannot be unset.
	// +optional
	Cancel bool `json:"cancel,omitempty" protobuf:"varint,5,opt,name=cancel"`

	// Trigger records what started the job.
	// +optional
	Trigger JobTrigger `json:"trigger,omitempty" protobuf:"bytes,6,opt,name=trigger"`

	// StartedBy is the authenticated user that created the job. The server
	// sets it on create from the request; whatever the client sends is
	// replaced, and it never changes afterwards.
	// +optional
	StartedBy *UserInfo `json:"startedBy,omitempty" protobuf:"bytes,7,opt,name=startedBy"`

	// TTLSecondsAfterFinished deletes the job, with its Pods and logs, so
	// many seconds after it ends, or once it is no longer the current or
	// previous release of its environment, whichever is later: a rollback
	// always has its snapshot. It defaults to the pipeline's
	// history.ttlSecondsAfterFinished; unset keeps the job. It is the one
	// field of the spec besides cancel that may change, as a Job's may.
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty" protobuf:"varint,8,opt,name=ttlSecondsAfterFinished"`
}

// PipelineReference names a Pipeline in the same namespace.
type PipelineReference struct {
	// Name of the Pipeline.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
}

// Param is a value passed to a pipeline param.
type Param struct {
	// Name of the pipeline param.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// Value of the param.
	Value string `json:"value" protobuf:"bytes,2,opt,name=value"`
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
	TriggerRollback TriggerType = "Rollback"
	TriggerSlack    TriggerType = "Slack"
)

// JobTrigger records what started a job.
type JobTrigger struct {
	// Type is Manual (default), Schedule, Image, Webhook, Slack, Rerun or
	// Rollback.
	// +optional
	Type TriggerType `json:"type,omitempty" protobuf:"bytes,1,opt,name=type,casttype=TriggerType"`
	// Name is the Trigger that started the job, for the types a Trigger
	// fires. The server labels the job sluice.dev/trigger with it.
	// +optional
	Name string `json:"name,omitempty" protobuf:"bytes,2,opt,name=name"`
	// Detail is free text about the trigger: a schedule, an image digest, a
	// webhook delivery id or the job being re-run.
	// +optional
	Detail string `json:"detail,omitempty" protobuf:"bytes,3,opt,name=detail"`
}

// UserInfo identifies the user that made a request.
type UserInfo struct {
	// Username as authenticated by the cluster.
	Username string `json:"username" protobuf:"bytes,1,opt,name=username"`
	// UID of the user, when the authenticator provides one.
	// +optional
	UID string `json:"uid,omitempty" protobuf:"bytes,2,opt,name=uid"`
	// Groups the user belongs to.
	// +optional
	// +listType=atomic
	Groups []string `json:"groups,omitempty" protobuf:"bytes,3,rep,name=groups"`
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
	// StepWaitingForApproval is an approval gate that has not been decided.
	StepWaitingForApproval StepPhase = "WaitingForApproval"
)

// PipelineJobStatus is the observed state of a job.
type PipelineJobStatus struct {
	// Phase is Pending, Running, Succeeded, Failed or Cancelled.
	// +optional
	Phase JobPhase `json:"phase,omitempty" protobuf:"bytes,1,opt,name=phase,casttype=JobPhase"`
	// Conditions hold the Succeeded condition: Unknown while the job runs,
	// True or False with a reason when it ends.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type" protobuf:"bytes,2,rep,name=conditions"`
	// ObservedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,3,opt,name=observedGeneration"`
	// StartTime is when the job started running.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty" protobuf:"bytes,4,opt,name=startTime"`
	// CompletionTime is when the job ended.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty" protobuf:"bytes,5,opt,name=completionTime"`
	// SubmitTime is when the server stored the job, to the microsecond. It
	// orders the jobs a Queue concurrency policy holds.
	// +optional
	SubmitTime *metav1.MicroTime `json:"submitTime,omitempty" protobuf:"bytes,6,opt,name=submitTime"`
	// CancelledBy is the user that asked to cancel the job, through
	// pipelinejobs/cancel or by setting spec.cancel. The server records it.
	// +optional
	CancelledBy *UserInfo `json:"cancelledBy,omitempty" protobuf:"bytes,7,opt,name=cancelledBy"`
	// CancelReason is the reason given with the cancellation.
	// +optional
	CancelReason string `json:"cancelReason,omitempty" protobuf:"bytes,8,opt,name=cancelReason"`
	// Message says why the job is in its phase, e.g. which step and action failed.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,9,opt,name=message"`
	// PipelineSpec is the pipeline as it was when the job started. Later edits
	// of the Pipeline never change a job that has started.
	// +optional
	PipelineSpec *PipelineSpec `json:"pipelineSpec,omitempty" protobuf:"bytes,10,opt,name=pipelineSpec"`
	// Steps is the state of each step, in pipeline order.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Steps []StepStatus `json:"steps,omitempty" patchStrategy:"merge" patchMergeKey:"name" protobuf:"bytes,11,rep,name=steps"`
	// Notifications is the delivery state of each webhook notification of
	// the pipeline's spec.notify for this job.
	// +optional
	// +listType=map
	// +listMapKey=event
	// +listMapKey=url
	Notifications []NotificationStatus `json:"notifications,omitempty" protobuf:"bytes,12,rep,name=notifications"`
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
	Event NotifyEvent `json:"event" protobuf:"bytes,1,opt,name=event,casttype=NotifyEvent"`
	// URL of the webhook.
	URL string `json:"url" protobuf:"bytes,2,opt,name=url"`
	// State is Pending, Delivered or Failed.
	// +optional
	State NotificationState `json:"state,omitempty" protobuf:"bytes,3,opt,name=state,casttype=NotificationState"`
	// Attempts is how many times delivery was tried.
	// +optional
	Attempts int32 `json:"attempts,omitempty" protobuf:"varint,4,opt,name=attempts"`
	// LastAttemptTime is when delivery was last tried.
	// +optional
	LastAttemptTime *metav1.Time `json:"lastAttemptTime,omitempty" protobuf:"bytes,5,opt,name=lastAttemptTime"`
	// ResponseCode is the HTTP status of the last attempt, 0 if there was none.
	// +optional
	ResponseCode int32 `json:"responseCode,omitempty" protobuf:"varint,6,opt,name=responseCode"`
	// Message describes the last attempt's result.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,7,opt,name=message"`
}

// StepStatus is the state of one step of a job.
type StepStatus struct {
	// Name of the step.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// Phase is Pending, Running, WaitingForApproval, Succeeded, Failed,
	// Skipped or Cancelled.
	// +optional
	Phase StepPhase `json:"phase,omitempty" protobuf:"bytes,2,opt,name=phase,casttype=StepPhase"`
	// PodName is the Pod of the latest attempt.
	// +optional
	PodName string `json:"podName,omitempty" protobuf:"bytes,3,opt,name=podName"`
	// Attempts is how many Pods the step has started.
	// +optional
	Attempts int32 `json:"attempts,omitempty" protobuf:"varint,4,opt,name=attempts"`
	// StartTime is when the first attempt started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty" protobuf:"bytes,5,opt,name=startTime"`
	// CompletionTime is when the step ended.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty" protobuf:"bytes,6,opt,name=completionTime"`
	// NextAttemptTime is when the next attempt starts, while a step whose
	// attempt failed waits to retry.
	// +optional
	NextAttemptTime *metav1.Time `json:"nextAttemptTime,omitempty" protobuf:"bytes,7,opt,name=nextAttemptTime"`
	// Reason is a CamelCase word for why the step is in its phase, e.g. Timeout.
	// +optional
	Reason string `json:"reason,omitempty" protobuf:"bytes,8,opt,name=reason"`
	// Message says why the step is in its phase.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,9,opt,name=message"`
	// Actions is the state of each action of the latest attempt.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Actions []ActionStatus `json:"actions,omitempty" patchStrategy:"merge" patchMergeKey:"name" protobuf:"bytes,10,rep,name=actions"`
	// Approvals are the decisions on an approval gate, in the order they
	// were made. The server records them through pipelinejobs/approval.
	// +optional
	// +listType=atomic
	Approvals []ApprovalDecision `json:"approvals,omitempty" protobuf:"bytes,11,rep,name=approvals"`
}

// Decision is an approver's answer at a gate.
// +enum
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
	User UserInfo `json:"user" protobuf:"bytes,1,opt,name=user"`
	// Decision is Approve or Reject.
	Decision Decision `json:"decision" protobuf:"bytes,2,opt,name=decision,casttype=Decision"`
	// Time is when the server recorded the decision.
	Time metav1.Time `json:"time" protobuf:"bytes,3,opt,name=time"`
	// Message is what the approver said.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,4,opt,name=message"`
}

// ActionStatus is the state of one action (container) of a step's Pod.
type ActionStatus struct {
	// Name of the action.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// ExitCode of the container, once it has terminated.
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty" protobuf:"varint,2,opt,name=exitCode"`
	// Reason is the container's termination or waiting reason.
	// +optional
	Reason string `json:"reason,omitempty" protobuf:"bytes,3,opt,name=reason"`
	// StartTime is when the container started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty" protobuf:"bytes,4,opt,name=startTime"`
	// CompletionTime is when the container terminated.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty" protobuf:"bytes,5,opt,name=completionTime"`
	// Log says whether the action's output is archived. The server records
	// Archived when it stores the output; the controller records a failure
	// to copy it, and Lost when the Pod went before it could.
	// +optional
	Log *ActionLog `json:"log,omitempty" protobuf:"bytes,6,opt,name=log"`
}

// LogState is where an action's output stands.
// +enum
type LogState string

const (
	// LogArchived: the output is in the archive, and is served from there.
	LogArchived LogState = "Archived"
	// LogArchiveFailed: copying the output failed; the controller retries,
	// and the step does not end until it succeeds.
	LogArchiveFailed LogState = "Failed"
	// LogLost: the Pod was deleted before its output could be archived.
	LogLost LogState = "Lost"
)

// ActionLog is the archive state of an action's output.
type ActionLog struct {
	// State is Archived, Failed or Lost.
	State LogState `json:"state" protobuf:"bytes,1,opt,name=state,casttype=LogState"`
	// Bytes is the size of the archived output.
	// +optional
	Bytes int64 `json:"bytes,omitempty" protobuf:"varint,2,opt,name=bytes"`
	// TruncatedBytes is how many bytes at the start of the output were
	// dropped to keep the archive's limit (sluice-apiserver's
	// --log-archive-max-bytes).
	// +optional
	TruncatedBytes int64 `json:"truncatedBytes,omitempty" protobuf:"varint,3,opt,name=truncatedBytes"`
	// Message says what went wrong, for Failed and Lost.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,4,opt,name=message"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PipelineJobList is a list of PipelineJobs.
type PipelineJobList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	// Items is the list of PipelineJobs.
	Items []PipelineJob `json:"items" protobuf:"bytes,2,rep,name=items"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RunRequest is the body of pipelines/run: it starts a job of the pipeline.
// The job is created by the server on the caller's behalf, so the caller
// needs RBAC create on pipelines/run (which resourceNames can scope to
// named pipelines) and nothing on pipelinejobs.
type RunRequest struct {
	metav1.TypeMeta `json:",inline"`
	// Params are the values of the pipeline's params.
	// +optional
	// +listType=map
	// +listMapKey=name
	Params []Param `json:"params,omitempty" protobuf:"bytes,1,rep,name=params"`
	// Environment of the job; defaults to the pipeline's.
	// +optional
	Environment string `json:"environment,omitempty" protobuf:"bytes,2,opt,name=environment"`
	// Name is the job's name, a DNS-1123 label; the server makes one up
	// from the pipeline's when empty. A trigger names a job after the
	// event it is for, so that an event seen twice starts one job: the
	// second request gets 409 AlreadyExists.
	// +optional
	Name string `json:"name,omitempty" protobuf:"bytes,3,opt,name=name"`
	// Trigger, for a job a Trigger starts, records it in the job's
	// spec.trigger: its type (Schedule, Image, Webhook or Slack, or Manual
	// when a person fires the Trigger by hand), its name, which must be a
	// Trigger of this pipeline in the namespace, and the event's detail.
	// Unset: the job is Manual and names no Trigger.
	// +optional
	Trigger *JobTrigger `json:"trigger,omitempty" protobuf:"bytes,4,opt,name=trigger"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// CancelRequest is the body of pipelinejobs/cancel. The server records the
// caller in status.cancelledBy.
type CancelRequest struct {
	metav1.TypeMeta `json:",inline"`
	// Reason says why, for the job's status and message.
	// +optional
	Reason string `json:"reason,omitempty" protobuf:"bytes,1,opt,name=reason"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RerunRequest is the body of pipelinejobs/rerun: it starts a new job with
// the params and environment of a finished one, labelled
// sluice.dev/rerun-of.
type RerunRequest struct {
	metav1.TypeMeta `json:",inline"`
	// FromCurrentPipeline runs the pipeline as it is now. By default the new
	// job runs the snapshot in the old job's status.pipelineSpec, exactly
	// what ran before.
	// +optional
	FromCurrentPipeline bool `json:"fromCurrentPipeline,omitempty" protobuf:"varint,1,opt,name=fromCurrentPipeline"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// RollbackRequest is the body of pipelines/rollback: it reruns an earlier
// release of an environment, with its params and its snapshot of the
// pipeline, so nothing is rebuilt.
type RollbackRequest struct {
	metav1.TypeMeta `json:",inline"`
	// Environment to roll back; defaults to the pipeline's.
	// +optional
	Environment string `json:"environment,omitempty" protobuf:"bytes,1,opt,name=environment"`
	// ToJob names the succeeded job of this pipeline and environment to go
	// back to. By default it is the release before the current one
	// (status.environments[].previous).
	// +optional
	ToJob string `json:"toJob,omitempty" protobuf:"bytes,2,opt,name=toJob"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApprovalRequest is the body of pipelinejobs/approval: a decision on the
// job's current approval gate.
type ApprovalRequest struct {
	metav1.TypeMeta `json:",inline"`
	// Decision is Approve or Reject.
	Decision Decision `json:"decision" protobuf:"bytes,1,opt,name=decision,casttype=Decision"`
	// Message is recorded with the decision.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,2,opt,name=message"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Trigger starts jobs of a pipeline when an event happens: a schedule's
// time comes, a container image is pushed, a Git host calls a webhook, or
// someone runs a Slack command. Each job it starts has a name derived from
// the event, so an event seen twice starts one job.
type Trigger struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec says what to start, and on which event.
	// +optional
	Spec TriggerSpec `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	// Status is what the trigger has seen and done, written by the
	// controller.
	// +optional
	Status TriggerStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// TriggerSpec is a pipeline, its params and environment, and exactly one
// source of events.
type TriggerSpec struct {
	// PipelineRef names the Pipeline whose jobs the trigger starts, in the
	// trigger's namespace.
	PipelineRef PipelineReference `json:"pipelineRef" protobuf:"bytes,1,opt,name=pipelineRef"`
	// Environment of the jobs; defaults to the pipeline's.
	// +optional
	Environment string `json:"environment,omitempty" protobuf:"bytes,2,opt,name=environment"`
	// Params are the values of the pipeline's params. A value may refer to
	// what the source saw: $(image.repository), $(image.tag),
	// $(image.digest); $(schedule.time); $(webhook.ref), $(webhook.branch),
	// $(webhook.tag), $(webhook.commit), $(webhook.repository),
	// $(webhook.sender), $(webhook.body.<jsonpath>) into the request's body;
	// $(slack.user), $(slack.text). A reference the source does not fill
	// is rejected.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +patchStrategy=merge
	// +patchMergeKey=name
	Params []Param `json:"params,omitempty" patchStrategy:"merge" patchMergeKey:"name" protobuf:"bytes,3,rep,name=params"`
	// Suspend stops the trigger from starting jobs; events that come
	// meanwhile are dropped, and a schedule's slots are skipped.
	// +optional
	Suspend bool `json:"suspend,omitempty" protobuf:"varint,4,opt,name=suspend"`

	// Schedule starts a job at the times of a cron schedule.
	// +optional
	Schedule *ScheduleSource `json:"schedule,omitempty" protobuf:"bytes,5,opt,name=schedule"`
	// Image starts a job when a container image repository gets a new tag
	// that the policy selects, or a followed tag a new digest.
	// +optional
	Image *ImageSource `json:"image,omitempty" protobuf:"bytes,6,opt,name=image"`
	// Webhook starts a job when a Git host or another system calls the
	// trigger's URL with a signed event.
	// +optional
	Webhook *WebhookSource `json:"webhook,omitempty" protobuf:"bytes,7,opt,name=webhook"`
	// Slack starts a job from a Slack slash command.
	// +optional
	Slack *SlackSource `json:"slack,omitempty" protobuf:"bytes,8,opt,name=slack"`
}

// ScheduleSource is a cron schedule.
type ScheduleSource struct {
	// Cron is a schedule in cron syntax (minute hour day-of-month month
	// day-of-week), or a descriptor such as @hourly or @every 30s.
	Cron string `json:"cron" protobuf:"bytes,1,opt,name=cron"`
	// TimeZone is an IANA time zone name, such as Europe/Berlin, in which
	// the schedule is read. UTC when empty.
	// +optional
	TimeZone string `json:"timeZone,omitempty" protobuf:"bytes,2,opt,name=timeZone"`
	// StartingDeadlineSeconds is how late a slot may still start a job;
	// a slot missed by more is skipped. Unset: any delay.
	// +optional
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty" protobuf:"varint,3,opt,name=startingDeadlineSeconds"`
	// CatchUp is how many slots missed while no controller ran are run,
	// oldest first, each as its own job; older ones are skipped and
	// counted in status. 1 (default) runs the latest missed slot only; 0
	// runs none of them.
	// +optional
	CatchUp *int32 `json:"catchUp,omitempty" protobuf:"varint,4,opt,name=catchUp"`
}

// ImageSource follows a container image repository.
type ImageSource struct {
	// Repository is the image repository, without tag or digest:
	// registry.example.com/team/web.
	Repository string `json:"repository" protobuf:"bytes,1,opt,name=repository"`
	// Policy selects the tags that start jobs.
	Policy ImagePolicy `json:"policy" protobuf:"bytes,2,opt,name=policy"`
	// Interval is how often the registry is polled, at least 10s; 5m when
	// unset. A registry that notifies the trigger's URL of pushes starts
	// jobs at once; polling finds what a lost notification missed.
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty" protobuf:"bytes,3,opt,name=interval"`
	// PullSecretRef names a Secret of type kubernetes.io/dockerconfigjson
	// in the trigger's namespace, for a private registry.
	// +optional
	PullSecretRef *corev1.LocalObjectReference `json:"pullSecretRef,omitempty" protobuf:"bytes,4,opt,name=pullSecretRef"`
	// Push accepts a registry's notifications of pushes at the trigger's
	// URL, /hooks/<namespace>/<trigger>, so a new image starts its job at
	// once. A notification only prompts a read of the registry: what
	// fires is decided, and its digest resolved, as a poll does.
	// +optional
	Push *ImagePush `json:"push,omitempty" protobuf:"bytes,5,opt,name=push"`
}

// ImagePushProvider is the format of a registry's push notifications.
// +enum
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
	Provider ImagePushProvider `json:"provider" protobuf:"bytes,1,opt,name=provider,casttype=ImagePushProvider"`
	// SecretRef is the key of a Secret in the trigger's namespace that
	// holds the bearer token notifications carry.
	SecretRef SecretKeyRef `json:"secretRef" protobuf:"bytes,2,opt,name=secretRef"`
}

// ImagePolicy selects tags: exactly one of semver and pattern.
type ImagePolicy struct {
	// Semver is a version constraint, such as ">=1.2.0 <2": the highest
	// version of the tags that satisfy it is followed.
	// +optional
	Semver string `json:"semver,omitempty" protobuf:"bytes,1,opt,name=semver"`
	// Pattern is a regular expression a tag must match, such as
	// "^main-[0-9a-f]{7}$".
	// +optional
	Pattern string `json:"pattern,omitempty" protobuf:"bytes,2,opt,name=pattern"`
}

// WebhookProvider is who calls a webhook, which says how calls are signed
// and what they carry.
// +enum
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
// +enum
type WebhookEvent string

const (
	WebhookPush WebhookEvent = "push"
	WebhookTag  WebhookEvent = "tag"
)

// WebhookSource accepts signed calls of the trigger's URL.
type WebhookSource struct {
	// Provider is GitHub, GitLab or Generic.
	Provider WebhookProvider `json:"provider" protobuf:"bytes,1,opt,name=provider,casttype=WebhookProvider"`
	// SecretRef is the key of a Secret in the trigger's namespace that
	// holds the webhook's secret.
	SecretRef SecretKeyRef `json:"secretRef" protobuf:"bytes,2,opt,name=secretRef"`
	// Events are the Git events that start jobs: push, tag. Both when
	// empty. Not for Generic.
	// +optional
	// +listType=set
	Events []WebhookEvent `json:"events,omitempty" protobuf:"bytes,3,rep,name=events,casttype=WebhookEvent"`
	// Filter selects branches and tags.
	// +optional
	Filter *WebhookFilter `json:"filter,omitempty" protobuf:"bytes,4,opt,name=filter"`
}

// WebhookFilter selects the branches and tags of events by glob (path.Match).
type WebhookFilter struct {
	// Branches a push must be to, such as main or release/*; any when empty.
	// +optional
	// +listType=atomic
	Branches []string `json:"branches,omitempty" protobuf:"bytes,1,rep,name=branches"`
	// Tags a tag event must be of, such as v*; any when empty.
	// +optional
	// +listType=atomic
	Tags []string `json:"tags,omitempty" protobuf:"bytes,2,rep,name=tags"`
}

// SlackSource accepts the Slack slash command /sluice.
type SlackSource struct {
	// SigningSecretRef is the key of a Secret in the trigger's namespace
	// that holds the Slack app's signing secret.
	SigningSecretRef SecretKeyRef `json:"signingSecretRef" protobuf:"bytes,1,opt,name=signingSecretRef"`
	// AllowedUsers are the Slack user IDs that may run commands; nobody
	// when empty.
	// +optional
	// +listType=set
	AllowedUsers []string `json:"allowedUsers,omitempty" protobuf:"bytes,2,rep,name=allowedUsers"`
}

// TriggerStatus is what a trigger has seen and done.
type TriggerStatus struct {
	// ObservedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,1,opt,name=observedGeneration"`
	// Conditions hold Ready: True while the trigger can work, False with a
	// reason (PipelineNotFound, SecretNotFound, RegistryUnreachable,
	// InvalidSchedule, ...) when it cannot.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type" protobuf:"bytes,2,rep,name=conditions"`
	// LastEvent is the last event that started a job.
	// +optional
	LastEvent *TriggerEvent `json:"lastEvent,omitempty" protobuf:"bytes,3,opt,name=lastEvent"`
	// LastScheduleTime is the last schedule slot handled, fired or skipped.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty" protobuf:"bytes,4,opt,name=lastScheduleTime"`
	// NextScheduleTime is the schedule's next slot.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty" protobuf:"bytes,5,opt,name=nextScheduleTime"`
	// SkippedSlots counts the schedule's slots that were missed beyond
	// catchUp or the starting deadline, or came while suspended.
	// +optional
	SkippedSlots int64 `json:"skippedSlots,omitempty" protobuf:"varint,6,opt,name=skippedSlots"`
	// Image is the image source's last observation.
	// +optional
	Image *ImageObservation `json:"image,omitempty" protobuf:"bytes,7,opt,name=image"`
}

// TriggerEvent is an event that started a job.
type TriggerEvent struct {
	// Time is when the event was seen.
	Time metav1.Time `json:"time" protobuf:"bytes,1,opt,name=time"`
	// Detail describes the event, as the job's spec.trigger.detail does.
	// +optional
	Detail string `json:"detail,omitempty" protobuf:"bytes,2,opt,name=detail"`
	// Job is the job it started.
	// +optional
	Job string `json:"job,omitempty" protobuf:"bytes,3,opt,name=job"`
}

// ImageObservation is the tag and digest an image source follows.
type ImageObservation struct {
	// Repository is the repository read, as spec.image.repository named
	// it then: a different one makes the next read a new baseline.
	// +optional
	Repository string `json:"repository,omitempty" protobuf:"bytes,1,opt,name=repository"`
	// Tag is the newest tag the policy selects; empty when none does.
	// +optional
	Tag string `json:"tag,omitempty" protobuf:"bytes,2,opt,name=tag"`
	// Digest is that tag's digest.
	// +optional
	Digest string `json:"digest,omitempty" protobuf:"bytes,3,opt,name=digest"`
	// Time is when the registry was last read.
	// +optional
	Time *metav1.Time `json:"time,omitempty" protobuf:"bytes,4,opt,name=time"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// TriggerList is a list of Triggers.
type TriggerList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	// Items is the list of Triggers.
	Items []Trigger `json:"items" protobuf:"bytes,2,rep,name=items"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PipelineJobLogOptions are the query parameters of pipelinejobs/log. A GET
// reads a job's output; a POST, with the output as its body, archives the
// output of one action.
type PipelineJobLogOptions struct {
	metav1.TypeMeta `json:",inline"`
	// Step selects one step. Every step, in order, when empty. Required
	// with a POST.
	// +optional
	Step string `json:"step,omitempty" protobuf:"bytes,1,opt,name=step"`
	// Action selects one action of the step; needs step. Every action, in
	// order, when empty. Required with a POST.
	// +optional
	Action string `json:"action,omitempty" protobuf:"bytes,2,opt,name=action"`
	// Attempt selects an attempt of the step, from 1; needs step. Every
	// attempt, in order, when 0. Required with a POST.
	// +optional
	Attempt int64 `json:"attempt,omitempty" protobuf:"varint,3,opt,name=attempt"`
	// Follow streams the output as the job writes it, moving on to the next
	// action and step, until the job ends.
	// +optional
	Follow bool `json:"follow,omitempty" protobuf:"varint,4,opt,name=follow"`
	// TailLines is how many lines to show from the end of each action's
	// output.
	// +optional
	TailLines *int64 `json:"tailLines,omitempty" protobuf:"varint,5,opt,name=tailLines"`
	// SinceSeconds shows only the lines written in the last so many seconds.
	// +optional
	SinceSeconds *int64 `json:"sinceSeconds,omitempty" protobuf:"varint,6,opt,name=sinceSeconds"`
	// Timestamps begins every line with the RFC 3339 time it was written.
	// +optional
	Timestamps bool `json:"timestamps,omitempty" protobuf:"varint,7,opt,name=timestamps"`
	// LimitBytes stops the output after so many bytes.
	// +optional
	LimitBytes *int64 `json:"limitBytes,omitempty" protobuf:"varint,8,opt,name=limitBytes"`
}
