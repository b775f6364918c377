package trigger

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/registry"
	"github.com/sluice-dev/sluice/pkg/registry/status"
	"github.com/sluice-dev/sluice/pkg/registry/table"
	"github.com/sluice-dev/sluice/pkg/registry/update"
)

// REST is the storage of triggers.
type REST struct {
	*genericregistry.Store
}

// NewREST returns the storage of triggers and of their status subresource.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, *status.REST, error) {
	strategy := NewStrategy(scheme)
	store, statusREST, err := registry.NewStore(registry.Resource{
		Plural:         "triggers",
		Singular:       "trigger",
		NewFunc:        func() runtime.Object { return &sluice.Trigger{} },
		NewListFunc:    func() runtime.Object { return &sluice.TriggerList{} },
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

// Update updates a trigger, or creates one for server-side apply; a
// client's bad patch or resourceVersion is its 4xx (update.Checked).
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.Store.Update(ctx, name, update.Checked(r.DefaultQualifiedResource, name, objInfo), createValidation, updateValidation, forceAllowCreate, options)
}

// ShortNames lets `kubectl get tr` work.
func (r *REST) ShortNames() []string { return []string{"tr"} }

// Categories puts triggers in `kubectl get sluice`.
func (r *REST) Categories() []string { return []string{"sluice"} }

// Table prints triggers: NAME, PIPELINE, SOURCE, LAST-FIRED, LAST-JOB,
// NEXT, READY, AGE, and with -o wide the environment and the reason the
// trigger is not ready.
var Table = table.Convertor{
	Columns: []metav1.TableColumnDefinition{
		table.NameColumn,
		{Name: "Pipeline", Type: "string", Description: "The Pipeline whose jobs the trigger starts."},
		{Name: "Source", Type: "string", Description: "The source of events: its kind and what it watches."},
		{Name: "Last-Fired", Type: "string", Description: "How long ago the trigger last started a job."},
		{Name: "Last-Job", Type: "string", Description: "The job it last started."},
		{Name: "Next", Type: "string", Description: "When a schedule's next slot comes."},
		{Name: "Ready", Type: "string", Description: "Whether the trigger can work (its Ready condition), or Suspended."},
		table.AgeColumn,
		{Name: "Environment", Type: "string", Priority: 1, Description: "The environment of the jobs, or <pipeline's>."},
		{Name: "Message", Type: "string", Priority: 1, Description: "Why the trigger is not ready."},
	},
	Row: func(obj runtime.Object, now time.Time) ([]any, error) {
		tr := obj.(*sluice.Trigger)
		lastFired, lastJob := "<never>", "<none>"
		if e := tr.Status.LastEvent; e != nil {
			lastFired = duration.HumanDuration(now.Sub(e.Time.Time)) + " ago"
			if e.Job != "" {
				lastJob = e.Job
			}
		}
		next := "-"
		if t := tr.Status.NextScheduleTime; t != nil && tr.Spec.Schedule != nil && !tr.Spec.Suspend {
			next = "in " + duration.HumanDuration(t.Sub(now))
			if !t.After(now) {
				next = "now"
			}
		}
		env := tr.Spec.Environment
		if env == "" {
			env = "<pipeline's>"
		}
		ready, message := "Unknown", ""
		if c := meta.FindStatusCondition(tr.Status.Conditions, "Ready"); c != nil {
			ready, message = string(c.Status), c.Message
		}
		if tr.Spec.Suspend {
			ready = "Suspended"
		}
		return []any{tr.Name, tr.Spec.PipelineRef.Name, SourceColumn(tr), lastFired, lastJob, next, ready,
			table.Age(tr.CreationTimestamp, now), env, message}, nil
	},
}

// SourceColumn is the source's kind and what it watches: "schedule 0 3 * *
// 1-5 Europe/Berlin", "image registry.example.com/web >=1.2.0 <2",
// "webhook GitHub", "slack".
func SourceColumn(tr *sluice.Trigger) string {
	s := tr.Spec
	switch {
	case s.Schedule != nil:
		out := "schedule " + s.Schedule.Cron
		if s.Schedule.TimeZone != "" {
			out += " " + s.Schedule.TimeZone
		}
		return out
	case s.Image != nil:
		policy := s.Image.Policy.Semver
		if policy == "" {
			policy = "/" + s.Image.Policy.Pattern + "/"
		}
		return "image " + s.Image.Repository + " " + policy
	case s.Webhook != nil:
		return "webhook " + string(s.Webhook.Provider)
	case s.Slack != nil:
		return "slack"
	}
	return "<none>"
}
