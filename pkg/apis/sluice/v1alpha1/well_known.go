package v1alpha1

// Labels Sluice sets on the objects it creates.
const (
	// LabelPipeline holds the name of the Pipeline a job or Pod belongs to.
	// The server sets it on every PipelineJob when it is created.
	LabelPipeline = "sluice.dev/pipeline"
	// LabelEnvironment holds a job's spec.environment. The server sets it
	// on every PipelineJob that has an environment when it is created.
	LabelEnvironment = "sluice.dev/environment"
	// LabelRerunOf holds the name of the job that a job created by
	// pipelinejobs/rerun or pipelines/rollback runs again.
	LabelRerunOf = "sluice.dev/rerun-of"
	// LabelTrigger holds spec.trigger.name of a job a Trigger started.
	// The server sets it on every PipelineJob that names one when it is
	// created. On a Trigger, the server sets LabelPipeline.
	LabelTrigger = "sluice.dev/trigger"
	// LabelJob holds the name of the PipelineJob a Pod or PVC belongs to.
	LabelJob = "sluice.dev/job"
	// LabelStep holds the name of the step a Pod runs.
	LabelStep = "sluice.dev/step"
	// LabelControllerInstance, set by users on a PipelineJob, hands it to
	// the sluice-controller started with the same --instance; controllers
	// without --instance run only jobs without the label. It lets two
	// controllers share a cluster (a canary of a new version, or jobs that
	// must be run by nothing at all).
	LabelControllerInstance = "sluice.dev/controller-instance"
)

// Condition types.
const (
	// ConditionSucceeded is Unknown while a job runs, then True or False.
	ConditionSucceeded = "Succeeded"
)

// ReasonQueued is the reason of the Succeeded condition of a job that waits
// behind other jobs of its pipeline and environment (concurrencyPolicy
// Queue). The server's table shows such a job as queued.
const ReasonQueued = "Queued"

// WorkspaceMountPath is where the workspace volume is mounted in every action.
const WorkspaceMountPath = "/workspace"
