package kubectlsluice

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/sluicectl"
	"github.com/sluice-dev/sluice/pkg/substitution"
	triggerparams "github.com/sluice-dev/sluice/pkg/trigger/params"
)

const triggerFireExample = `  # Start a job of the nightly trigger's pipeline with the trigger's params, now
  kubectl sluice trigger fire nightly -p time=2026-12-03T03:00:00Z

  # Fire an image trigger: its params that refer to the image must be given
  kubectl sluice trigger fire web-images -p image=registry.example.com/web:1.4.2

  # Print only the new job's name, for a script
  kubectl sluice trigger fire deploy-on-push -p commit=3f2a9c1 -o name`

// firedByHand is the spec.trigger.detail of a job fired by hand.
const firedByHand = "fired by hand with kubectl sluice trigger fire"

// TriggerFireOptions are the options of `kubectl sluice trigger fire`.
type TriggerFireOptions struct {
	Params []string

	trigger string
	given   map[string]string
	actionTarget
	genericiooptions.IOStreams
}

// NewTriggerFireCommand is `kubectl sluice trigger fire TRIGGER`.
func NewTriggerFireCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &TriggerFireOptions{actionTarget: actionTarget{printer: newJobPrinter("created")}, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "fire TRIGGER [-p NAME=VALUE]...",
		Short: "Start a job of a trigger's pipeline, by hand, with the trigger's params",
		Long: `Start a job as the trigger would, now: a job of its pipeline, in its environment, with
its params, through pipelines/run. The job records the trigger (spec.trigger: type Manual,
the trigger's name, and the detail "` + firedByHand + `"), so it is
labelled sluice.dev/trigger and listed with the trigger's jobs, and you as its starter.
It needs what running the pipeline needs: RBAC create on pipelines/run. A suspended
trigger fires too: suspending stops the trigger's events, not you.

-p sets a param: it replaces the trigger's value of that param, or adds one the trigger
does not set. A param whose value refers to what the trigger's source sees, such as
$(schedule.time), $(image.tag) or $(webhook.commit), has no value without an event: give
it with -p.`,
		Example:           triggerFireExample,
		Args:              exactArgs("TRIGGER"),
		ValidArgsFunction: completeNames(f, triggerNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringArrayVarP(&o.Params, "param", "p", nil, "A param of the job, NAME=VALUE, in place of the trigger's; repeat for more.")
	o.printer.flags.AddFlags(cmd)
	return cmd
}

// Complete reads the arguments and flags.
func (o *TriggerFireOptions) Complete(f *Factory, cmd *cobra.Command, args []string) error {
	o.trigger = args[0]
	o.given = map[string]string{}
	for _, p := range o.Params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return UsageErrorf(cmd, "--param %q: expected NAME=VALUE", p)
		}
		o.given[name] = value
	}
	return o.actionTarget.complete(f)
}

// Run reads the trigger, starts its pipeline and prints the job.
func (o *TriggerFireOptions) Run(cmd *cobra.Command) error {
	tr, err := o.client.SluiceV1alpha1().Triggers(o.namespace).Get(cmd.Context(), o.trigger, metav1.GetOptions{})
	if err != nil {
		return sluicectl.ActionError("fire trigger", o.trigger, err)
	}
	req, err := fireRequest(tr, o.given)
	if err != nil {
		return UsageErrorf(cmd, "%v", err)
	}
	pipeline := tr.Spec.PipelineRef.Name
	job, err := o.client.SluiceV1alpha1().Pipelines(o.namespace).Run(cmd.Context(), pipeline, req, metav1.CreateOptions{})
	if err != nil {
		return sluicectl.ActionError("fire trigger "+o.trigger+": run pipeline", pipeline, err)
	}
	return o.printer.print(job, o.Out, fmt.Sprintf("trigger %s fired by hand", tr.Name))
}

// fireRequest is the pipelines/run request that fires tr by hand with
// the params given: tr's params, each replaced by a given one of its name,
// then the given params tr does not set, by name. A param of tr that
// refers to its source's event and is not given is an error naming every
// such param, since nothing can fill it in.
func fireRequest(tr *v1alpha1.Trigger, given map[string]string) (*v1alpha1.RunRequest, error) {
	var (
		own    []substitution.Given
		needed []string
		set    = map[string]bool{}
	)
	for _, p := range tr.Spec.Params {
		set[p.Name] = true
		if _, ok := given[p.Name]; ok {
			continue
		}
		if refs := substitution.ReferencesOf(p.Value, triggerparams.IsTriggerReference); len(refs) > 0 {
			needed = append(needed, fmt.Sprintf("%s (%s)", p.Name, p.Value))
			continue
		}
		own = append(own, substitution.Given{Name: p.Name, Value: p.Value})
	}
	if len(needed) > 0 {
		return nil, fmt.Errorf("trigger %s's params %s refer to its %s, which only an event fills in: give them with -p NAME=VALUE",
			tr.Name, strings.Join(needed, ", "), sourceOf(tr))
	}
	// Escapes ($$(...)) become what the trigger's event would make of them.
	expanded, err := triggerparams.Expand(own, triggerparams.Values{})
	if err != nil {
		return nil, err
	}
	values := map[string]string{}
	for _, p := range expanded {
		values[p.Name] = p.Value
	}
	req := &v1alpha1.RunRequest{
		Environment: tr.Spec.Environment,
		Trigger:     &v1alpha1.JobTrigger{Type: v1alpha1.TriggerManual, Name: tr.Name, Detail: firedByHand},
	}
	for _, p := range tr.Spec.Params {
		v, ok := given[p.Name]
		if !ok {
			v = values[p.Name]
		}
		req.Params = append(req.Params, v1alpha1.Param{Name: p.Name, Value: v})
	}
	var extra []string
	for name := range given {
		if !set[name] {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		req.Params = append(req.Params, v1alpha1.Param{Name: name, Value: given[name]})
	}
	return req, nil
}

// sourceOf names what tr's params may refer to.
func sourceOf(tr *v1alpha1.Trigger) string {
	switch {
	case tr.Spec.Schedule != nil:
		return "schedule's slot"
	case tr.Spec.Image != nil:
		return "image source's new image"
	case tr.Spec.Webhook != nil:
		return "webhook's event"
	case tr.Spec.Slack != nil:
		return "Slack command"
	}
	return "source's event"
}
