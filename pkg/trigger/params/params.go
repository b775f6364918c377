package params

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/substitution"
	"github.com/sluice-dev/sluice/pkg/trigger/webhook"
)

// Source is the kind of a Trigger's source.
type Source string

const (
	Image    Source = "image"
	Schedule Source = "schedule"
	Webhook  Source = "webhook"
	Slack    Source = "slack"
)

// BodyPrefix starts the webhook references that read the request's body.
const BodyPrefix = "webhook.body."

// allowed are the references each source fills in, besides body lookups.
var allowed = map[Source][]string{
	Image:    {"image.repository", "image.tag", "image.digest"},
	Schedule: {"schedule.time"},
	Webhook:  {"webhook.ref", "webhook.branch", "webhook.tag", "webhook.commit", "webhook.repository", "webhook.sender"},
	Slack:    {"slack.user", "slack.text"},
}

// Allowed returns the references source fills in, e.g. "image.tag"; a
// webhook source also takes any "webhook.body.<jsonpath>".
func Allowed(source Source) []string {
	return append([]string(nil), allowed[source]...)
}

// IsTriggerReference claims the expressions a trigger's params are
// checked for: every source's namespace and Sluice's own.
func IsTriggerReference(expr string) bool {
	for s := range allowed {
		if strings.HasPrefix(expr, string(s)+".") {
			return true
		}
	}
	return substitution.IsSluiceReference(expr)
}

// Validate checks the references in params' values against source, and
// returns an error at fldPath.Index(i).Child("value") for each unknown
// reference and each body JSONPath that does not parse.
func Validate(source Source, params []substitution.Given, fldPath *field.Path) field.ErrorList {
	known := map[string]bool{}
	for _, r := range allowed[source] {
		known[r] = true
	}
	var allErrs field.ErrorList
	for i, p := range params {
		valuePath := fldPath.Index(i).Child("value")
		for _, ref := range substitution.ReferencesOf(p.Value, IsTriggerReference) {
			if known[ref] {
				continue
			}
			if path, ok := strings.CutPrefix(ref, BodyPrefix); ok && source == Webhook {
				if _, err := webhook.BodyPath(path); err != nil {
					allErrs = append(allErrs, field.Invalid(valuePath, p.Value, fmt.Sprintf("$(%s): %v", ref, err)))
				}
				continue
			}
			allErrs = append(allErrs, field.Invalid(valuePath, p.Value, unknownMessage(source, ref)))
		}
	}
	return allErrs
}

func unknownMessage(source Source, ref string) string {
	refs := make([]string, 0, len(allowed[source])+1)
	for _, r := range allowed[source] {
		refs = append(refs, "$("+r+")")
	}
	if source == Webhook {
		refs = append(refs, "$("+BodyPrefix+"<jsonpath>)")
	}
	if len(refs) == 0 {
		return fmt.Sprintf("unknown reference $(%s)", ref)
	}
	return fmt.Sprintf("unknown reference $(%s): a trigger with a %s source may use %s", ref, source, strings.Join(refs, ", "))
}

// Values are what an event fills in, keyed as references name them
// ("image.tag"). Event, when set, answers the webhook.body. lookups.
type Values struct {
	Refs  map[string]string
	Event *webhook.Event
}

// ImageValues are the values of an image event.
func ImageValues(repository, tag, digest string) Values {
	return Values{Refs: map[string]string{"image.repository": repository, "image.tag": tag, "image.digest": digest}}
}

// ScheduleValues are the values of a schedule slot.
func ScheduleValues(slot time.Time) Values {
	return Values{Refs: map[string]string{"schedule.time": slot.UTC().Format(time.RFC3339)}}
}

// WebhookValues are the values of a webhook event.
func WebhookValues(e *webhook.Event) Values {
	return Values{Event: e, Refs: map[string]string{
		"webhook.ref": e.Ref, "webhook.branch": e.Branch, "webhook.tag": e.Tag, "webhook.commit": e.Commit,
		"webhook.repository": e.Repository, "webhook.sender": e.Sender,
	}}
}

// SlackValues are the values of a slash command.
func SlackValues(user, text string) Values {
	return Values{Refs: map[string]string{"slack.user": user, "slack.text": text}}
}

// Expand returns params with their references replaced by values. A
// reference without a value (a body path that matches nothing, or one
// validation would have rejected) is an error that names it: a job never
// starts with a silently empty param.
func Expand(params []substitution.Given, values Values) ([]substitution.Given, error) {
	out := make([]substitution.Given, 0, len(params))
	for _, p := range params {
		var lookupErr error
		v, missing := substitution.ExpandOf(p.Value, IsTriggerReference, func(ref string) (string, bool) {
			if v, ok := values.Refs[ref]; ok {
				return v, true
			}
			if path, ok := strings.CutPrefix(ref, BodyPrefix); ok && values.Event != nil {
				v, err := values.Event.Lookup(path)
				if err != nil {
					if lookupErr == nil {
						lookupErr = err
					}
					return "", false
				}
				return v, true
			}
			return "", false
		})
		if lookupErr != nil {
			return nil, fmt.Errorf("param %s: %v", p.Name, lookupErr)
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("param %s: no value for $(%s)", p.Name, missing[0])
		}
		out = append(out, substitution.Given{Name: p.Name, Value: v})
	}
	return out, nil
}

// Run is the pipelines/run request of an event of tr: its job's name (from
// the event, see pkg/trigger/jobname), tr's params with the event's values
// filled in, tr's environment, and the record of the trigger in the job's
// spec.trigger.
func Run(tr *v1alpha1.Trigger, job string, typ v1alpha1.TriggerType, detail string, values Values) (*v1alpha1.RunRequest, error) {
	given := make([]substitution.Given, 0, len(tr.Spec.Params))
	for _, p := range tr.Spec.Params {
		given = append(given, substitution.Given{Name: p.Name, Value: p.Value})
	}
	expanded, err := Expand(given, values)
	if err != nil {
		return nil, err
	}
	run := &v1alpha1.RunRequest{
		Name:        job,
		Environment: tr.Spec.Environment,
		Trigger:     &v1alpha1.JobTrigger{Type: typ, Name: tr.Name, Detail: detail},
	}
	for _, p := range expanded {
		run.Params = append(run.Params, v1alpha1.Param{Name: p.Name, Value: p.Value})
	}
	return run, nil
}
