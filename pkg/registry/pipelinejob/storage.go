package pipelinejob

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/apis/sluice/validation"
	"github.com/sluice-dev/sluice/pkg/registry"
	"github.com/sluice-dev/sluice/pkg/registry/status"
	"github.com/sluice-dev/sluice/pkg/registry/table"
	"github.com/sluice-dev/sluice/pkg/registry/update"
)

// REST is the storage of pipelinejobs.
type REST struct {
	*genericregistry.Store
	// pipelines reads the Pipeline a new job names, for its default
	// environment.
	pipelines rest.Getter
	// reruns is the store with RerunStrategy, for the jobs of rerun and
	// rollback.
	reruns *genericregistry.Store
	// actions is the store with ActionStrategy, for cancel and approval.
	actions *genericregistry.Store
}

// Storage is the storage of pipelinejobs and their subresources.
type Storage struct {
	Jobs     *REST
	Status   *status.REST
	Cancel   *CancelREST
	Rerun    *RerunREST
	Approval *ApprovalREST
	Log      *LogREST
}

// NewStorage returns the storage of pipelinejobs and of their
// subresources. pipelines reads Pipelines; logs is where pipelinejobs/log
// reads and archives the output of jobs.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, pipelines rest.Getter, logs Logs) (*Storage, error) {
	strategy := NewStrategy(scheme)
	store, statusREST, err := registry.NewStore(registry.Resource{
		Plural:         "pipelinejobs",
		Singular:       "pipelinejob",
		NewFunc:        func() runtime.Object { return &sluice.PipelineJob{} },
		NewListFunc:    func() runtime.Object { return &sluice.PipelineJobList{} },
		Strategy:       strategy,
		StatusStrategy: NewStatusStrategy(strategy),
		GetAttrs:       GetAttrs,
		TableConvertor: Table,
	}, optsGetter)
	if err != nil {
		return nil, err
	}
	// The copies share the store's storage; only their strategies differ,
	// as the status subresource's does.
	reruns, actions := *store, *store
	reruns.CreateStrategy = RerunStrategy{strategy}
	actions.UpdateStrategy = ActionStrategy{strategy}
	// A job's logs go with it. Whatever this misses (the server stopped
	// in between, or PostgreSQL failed) the archive's sweep removes.
	store.AfterDelete = func(obj runtime.Object, options *metav1.DeleteOptions) {
		j, ok := obj.(*sluice.PipelineJob)
		if !ok || len(options.DryRun) > 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := logs.Archive.DeleteJob(ctx, j.UID); err != nil {
			klog.ErrorS(err, "Deleting the logs of a deleted job; the archive's sweep will", "job", klog.KObj(j), "uid", j.UID)
		}
	}
	jobs := &REST{Store: store, pipelines: pipelines, reruns: &reruns, actions: &actions}
	return &Storage{
		Jobs:     jobs,
		Status:   statusREST,
		Cancel:   &CancelREST{jobs: jobs},
		Rerun:    &RerunREST{jobs: jobs},
		Approval: &ApprovalREST{jobs: jobs},
		Log:      &LogREST{jobs: jobs, logs: logs},
	}, nil
}

// Create creates a job. A job of a Pipeline that names no environment gets
// the Pipeline's spec.environment, read now: the environment, like the
// rest of the spec, never changes after creation.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	if err := r.defaultEnvironment(ctx, obj); err != nil {
		return nil, err
	}
	return r.Store.Create(ctx, obj, createValidation, options)
}

// Update updates a job, or creates one for server-side apply, whose new
// job gets its environment as in Create. A client's bad patch or
// resourceVersion is its 4xx (update.Checked).
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	checked := update.Checked(r.DefaultQualifiedResource, name, objInfo)
	return r.Store.Update(ctx, name, defaultingOnCreate{checked, r}, createValidation, updateValidation, forceAllowCreate, options)
}

// defaultingOnCreate defaults the environment of the job an update creates.
type defaultingOnCreate struct {
	rest.UpdatedObjectInfo
	jobs *REST
}

// UpdatedObject is the inner object; when old is not stored yet (no
// resourceVersion), the update creates it, and it gets its environment.
func (d defaultingOnCreate) UpdatedObject(ctx context.Context, old runtime.Object) (runtime.Object, error) {
	obj, err := d.UpdatedObjectInfo.UpdatedObject(ctx, old)
	if err != nil {
		return nil, err
	}
	if o, ok := old.(*sluice.PipelineJob); ok && o.ResourceVersion == "" {
		if err := d.jobs.defaultEnvironment(ctx, obj); err != nil {
			return nil, err
		}
	}
	return obj, nil
}

// defaultEnvironment sets the environment of a new job of a Pipeline that
// names none to the Pipeline's. A missing Pipeline fails the job when it
// starts, as before, so it is not an error here. A name no Pipeline can
// have is not looked up: validation refuses it with its field path, where
// the lookup would answer "Name parameter invalid" (a "/" or "..") first.
func (r *REST) defaultEnvironment(ctx context.Context, obj runtime.Object) error {
	j, ok := obj.(*sluice.PipelineJob)
	if !ok || j.Spec.Environment != "" || j.Spec.PipelineRef == nil || j.Spec.PipelineSpec != nil ||
		len(validation.ValidateName(j.Spec.PipelineRef.Name, false)) > 0 {
		return nil
	}
	p, err := r.pipelines.Get(ctx, j.Spec.PipelineRef.Name, &metav1.GetOptions{})
	switch {
	case err == nil:
		j.Spec.Environment = p.(*sluice.Pipeline).Spec.Environment
	case !apierrors.IsNotFound(err):
		return err
	}
	return nil
}

// CreateForAction creates a job that an action subresource (run, rerun,
// rollback) builds on the caller's behalf. The caller's RBAC was checked
// for the action, not for creating jobs; the job is validated and gets its
// startedBy like any other. A job that carries a snapshot of its pipeline
// is created with RerunStrategy.
func (r *REST) CreateForAction(ctx context.Context, job *sluice.PipelineJob, options *metav1.CreateOptions) (*sluice.PipelineJob, error) {
	opts := &metav1.CreateOptions{DryRun: options.DryRun}
	var (
		created runtime.Object
		err     error
	)
	if job.Spec.PipelineRef != nil && job.Spec.PipelineSpec != nil {
		created, err = r.reruns.Create(ctx, job, rest.ValidateAllObjectFunc, opts)
	} else {
		created, err = r.Create(ctx, job, rest.ValidateAllObjectFunc, opts)
	}
	if err != nil {
		return nil, err
	}
	return created.(*sluice.PipelineJob), nil
}

// updateForAction changes the named job for an action subresource
// (cancel, approval) with ActionStrategy. change gets a copy of the job as
// stored and edits it, or refuses with a Status error; it runs again on
// the newer job when a conflicting write came first, so no action undoes
// another.
func (r *REST) updateForAction(ctx context.Context, name string, dryRun []string, change func(j *sluice.PipelineJob) error) (runtime.Object, error) {
	updated, _, err := r.actions.Update(ctx, name, rest.DefaultUpdatedObjectInfo(nil, func(ctx context.Context, _, old runtime.Object) (runtime.Object, error) {
		j := old.(*sluice.PipelineJob).DeepCopy()
		if err := change(j); err != nil {
			return nil, err
		}
		return j, nil
	}), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{DryRun: dryRun})
	return updated, err
}

// getJob reads a job.
func (r *REST) getJob(ctx context.Context, name string) (*sluice.PipelineJob, error) {
	obj, err := r.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*sluice.PipelineJob), nil
}

// ShortNames lets `kubectl get pj` work.
func (r *REST) ShortNames() []string { return []string{"pj"} }

// Categories puts jobs in `kubectl get sluice`.
func (r *REST) Categories() []string { return []string{"sluice"} }

// Table prints jobs: NAME, PIPELINE, ENVIRONMENT, PHASE, STEP, STARTED-BY, DURATION,
// AGE, and with -o wide TRIGGER and MESSAGE. STEP and DURATION are computed
// by the server from the status, which CRD printer columns cannot do.
var Table = table.Convertor{
	Columns: []metav1.TableColumnDefinition{
		table.NameColumn,
		{Name: "Pipeline", Type: "string", Description: "The Pipeline the job runs, or <inline>."},
		{Name: "Environment", Type: "string", Description: "Where the job deploys, or <none>."},
		{Name: "Phase", Type: "string", Description: "Pending, Running, Succeeded, Failed or Cancelled."},
		{Name: "Step", Type: "string", Description: "The current (or failing, or last) step: position/total and name, and whether it waits for approval or in a queue."},
		{Name: "Started-By", Type: "string", Description: "The user that created the job."},
		{Name: "Duration", Type: "string", Description: "How long the job ran, or has been running."},
		table.AgeColumn,
		{Name: "Trigger", Type: "string", Priority: 1, Description: "What started the job."},
		{Name: "Message", Type: "string", Priority: 1, Description: "Why the job is in its phase."},
	},
	Row: func(obj runtime.Object, now time.Time) ([]any, error) {
		j := obj.(*sluice.PipelineJob)
		pipeline := "<inline>"
		if j.Spec.PipelineRef != nil {
			pipeline = j.Spec.PipelineRef.Name
		}
		startedBy := "<unknown>"
		if j.Spec.StartedBy != nil {
			startedBy = j.Spec.StartedBy.Username
		}
		trigger := string(j.Spec.Trigger.Type)
		if j.Spec.Trigger.Detail != "" {
			trigger += ": " + j.Spec.Trigger.Detail
		}
		env := j.Spec.Environment
		if env == "" {
			env = "<none>"
		}
		return []any{j.Name, pipeline, env, string(j.Status.Phase), StepColumn(j), startedBy, Duration(j, now),
			table.Age(j.CreationTimestamp, now), trigger, j.Status.Message}, nil
	},
}

// StepColumn is "<position>/<total> <name>" of the running step, or of the
// step that failed, or of the last step that ran; "0/<total>" before any
// step ran; "-" while the number of steps is not known yet. A gate that
// waits says so, with its approvals so far, and a job that waits in its
// environment's queue is "queued".
func StepColumn(j *sluice.PipelineJob) string {
	total := len(j.Status.Steps)
	switch {
	case j.Status.PipelineSpec != nil:
		total = len(j.Status.PipelineSpec.Steps)
	case j.Spec.PipelineSpec != nil:
		total = len(j.Spec.PipelineSpec.Steps)
	}
	if queued(j) {
		return "queued"
	}
	if total == 0 {
		return "-"
	}
	current := -1
	for i, s := range j.Status.Steps {
		switch s.Phase {
		case sluice.StepRunning:
			return fmt.Sprintf("%d/%d %s", i+1, total, s.Name)
		case sluice.StepWaitingForApproval:
			return fmt.Sprintf("%d/%d %s (waiting for approval%s)", i+1, total, s.Name, approvalCount(j, i))
		case sluice.StepSucceeded, sluice.StepFailed, sluice.StepCancelled:
			current = i
		}
	}
	if current < 0 {
		return fmt.Sprintf("0/%d", total)
	}
	return fmt.Sprintf("%d/%d %s", current+1, total, j.Status.Steps[current].Name)
}

// queued reports whether the job waits behind others of its pipeline and
// environment (concurrencyPolicy Queue).
func queued(j *sluice.PipelineJob) bool {
	if j.Status.Phase != sluice.JobPending {
		return false
	}
	for _, c := range j.Status.Conditions {
		if c.Type == v1alpha1.ConditionSucceeded && c.Reason == v1alpha1.ReasonQueued {
			return true
		}
	}
	return false
}

// approvalCount is ", <approvals>/<required>" of gate i, or "" when the
// snapshot does not say what the gate requires.
func approvalCount(j *sluice.PipelineJob, i int) string {
	if j.Status.PipelineSpec == nil || i >= len(j.Status.PipelineSpec.Steps) || j.Status.PipelineSpec.Steps[i].Approval == nil {
		return ""
	}
	approvals := 0
	for _, d := range j.Status.Steps[i].Approvals {
		if d.Decision == sluice.Approve {
			approvals++
		}
	}
	return fmt.Sprintf(" %d/%d", approvals, j.Status.PipelineSpec.Steps[i].Approval.Required)
}

// Duration is how long the job ran (completion - start), or has been
// running; "-" before it starts.
func Duration(j *sluice.PipelineJob, now time.Time) string {
	if j.Status.StartTime == nil {
		return "-"
	}
	end := now
	if j.Status.CompletionTime != nil {
		end = j.Status.CompletionTime.Time
	}
	return duration.HumanDuration(end.Sub(j.Status.StartTime.Time))
}
