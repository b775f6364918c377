package pipelinejob

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/registry"
	"github.com/sluice-dev/sluice/pkg/registry/status"
	"github.com/sluice-dev/sluice/pkg/registry/table"
)

// REST is the storage of pipelinejobs.
type REST struct {
	*genericregistry.Store
}

// NewREST returns the storage of pipelinejobs and of their status subresource.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, *status.REST, error) {
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
		return nil, nil, err
	}
	return &REST{store}, statusREST, nil
}

// ShortNames lets `kubectl get pj` work.
func (r *REST) ShortNames() []string { return []string{"pj"} }

// Categories puts jobs in `kubectl get sluice`.
func (r *REST) Categories() []string { return []string{"sluice"} }

// Table prints jobs: NAME, PIPELINE, PHASE, STEP, STARTED-BY, DURATION,
// AGE, and with -o wide TRIGGER and MESSAGE. STEP and DURATION are computed
// by the server from the status, which CRD printer columns cannot do.
var Table = table.Convertor{
	Columns: []metav1.TableColumnDefinition{
		table.NameColumn,
		{Name: "Pipeline", Type: "string", Description: "The Pipeline the job runs, or <inline>."},
		{Name: "Phase", Type: "string", Description: "Pending, Running, Succeeded, Failed or Cancelled."},
		{Name: "Step", Type: "string", Description: "The current (or failing, or last) step: position/total and name."},
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
		return []any{j.Name, pipeline, string(j.Status.Phase), StepColumn(j), startedBy, Duration(j, now),
			table.Age(j.CreationTimestamp, now), trigger, j.Status.Message}, nil
	},
}

// StepColumn is "<position>/<total> <name>" of the running step, or of the
// step that failed, or of the last step that ran; "0/<total>" before any
// step ran; "-" while the number of steps is not known yet.
func StepColumn(j *sluice.PipelineJob) string {
	total := len(j.Status.Steps)
	switch {
	case j.Status.PipelineSpec != nil:
		total = len(j.Status.PipelineSpec.Steps)
	case j.Spec.PipelineSpec != nil:
		total = len(j.Spec.PipelineSpec.Steps)
	}
	if total == 0 {
		return "-"
	}
	current := -1
	for i, s := range j.Status.Steps {
		switch s.Phase {
		case sluice.StepRunning:
			return fmt.Sprintf("%d/%d %s", i+1, total, s.Name)
		case sluice.StepSucceeded, sluice.StepFailed, sluice.StepCancelled:
			current = i
		}
	}
	if current < 0 {
		return fmt.Sprintf("0/%d", total)
	}
	return fmt.Sprintf("%d/%d %s", current+1, total, j.Status.Steps[current].Name)
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
