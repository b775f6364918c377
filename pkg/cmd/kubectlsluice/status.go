package kubectlsluice

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

const statusExample = `  # What the pipeline web runs in each environment, its last jobs there, and its triggers
  kubectl sluice status web

  # With the last 10 jobs of each environment
  kubectl sluice status web --jobs 10`

// StatusOptions are the options of `kubectl sluice status`.
type StatusOptions struct {
	Jobs int

	pipeline  string
	namespace string
	client    sluiceclient.Interface
	genericiooptions.IOStreams
}

// NewStatusCommand is `kubectl sluice status PIPELINE`.
func NewStatusCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StatusOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "status PIPELINE",
		Short: "Show what a pipeline has deployed where, its last jobs and its triggers",
		Long: `Show what a pipeline has deployed in each environment: the current release and the one
before it (which 'kubectl sluice rollback' goes back to), with when, by whom and with which
params, from the Pipeline's status.environments. Then the last jobs of each environment,
newest first, and the triggers that start the pipeline's jobs, with whether they are
ready and when they last fired.`,
		Example:           statusExample,
		Args:              exactArgs("PIPELINE"),
		ValidArgsFunction: completeNames(f, pipelineNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().IntVar(&o.Jobs, "jobs", 3, "How many of the last jobs of each environment to show.")
	return cmd
}

// Complete reads the arguments and flags.
func (o *StatusOptions) Complete(f *Factory, cmd *cobra.Command, args []string) error {
	o.pipeline = args[0]
	if o.Jobs < 1 {
		return UsageErrorf(cmd, "--jobs %d: expected 1 or more", o.Jobs)
	}
	var err error
	o.client, o.namespace, err = f.SluiceIn()
	return err
}

// environmentJobs are the last jobs of a pipeline in one environment.
type environmentJobs struct {
	name string
	jobs jobTable
}

// Run reads the pipeline, the last jobs of each of its environments and
// its triggers, and prints them.
func (o *StatusOptions) Run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	c := o.client.SluiceV1alpha1()
	p, err := c.Pipelines(o.namespace).Get(ctx, o.pipeline, metav1.GetOptions{})
	if err != nil {
		return err
	}
	var envs []environmentJobs
	for _, env := range sluicectl.Environments(p) {
		selector := labels.Set{v1alpha1.LabelPipeline: p.Name, v1alpha1.LabelEnvironment: env}.AsSelector()
		jobs, err := newestJobs(ctx, c.RESTClient(), o.namespace, metav1.ListOptions{LabelSelector: selector.String()}, o.Jobs, false)
		if err != nil {
			return fmt.Errorf("listing the jobs of %s in %s: %w", p.Name, env, err)
		}
		envs = append(envs, environmentJobs{name: env, jobs: jobs})
	}
	// The server labels each Trigger with the pipeline its spec.pipelineRef names.
	byPipeline := labels.Set{v1alpha1.LabelPipeline: p.Name}.AsSelector().String()
	triggers, err := getTable(ctx, c.RESTClient(), o.namespace, "triggers", metav1.ListOptions{LabelSelector: byPipeline}, metav1.IncludeNone)
	if err != nil {
		return fmt.Errorf("listing the triggers of %s: %w", p.Name, err)
	}
	return describeStatus(o.Out, p, envs, triggers, time.Now())
}

// describeStatus writes the status of p as a person reads it, with times
// relative to now.
func describeStatus(out io.Writer, p *v1alpha1.Pipeline, envs []environmentJobs, triggers *metav1.Table, now time.Time) error {
	w := &describeWriter{now: now}
	w.field("Pipeline", p.Name)
	w.field("Namespace", p.Namespace)
	if p.Spec.Description != "" {
		w.field("Description", p.Spec.Description)
	}
	if p.Spec.Environment != "" {
		w.field("Environment", p.Spec.Environment+" (default)")
	}
	if l := p.Status.LastJob; l != nil {
		last := l.Name + "  " + orNone(string(l.Phase))
		if l.StartTime != nil {
			last += "  started " + ago(l.StartTime.Time, now)
		}
		w.field("Last job", last)
	}
	releases := map[string]v1alpha1.EnvironmentStatus{}
	for _, e := range p.Status.Environments {
		releases[e.Name] = e
	}
	w.line("")
	if len(envs) == 0 {
		w.line("Environments: <none>: the pipeline's jobs name no environment")
	} else {
		w.line("Environments:")
	}
	for _, env := range envs {
		w.line("  %s", env.name)
		e := releases[env.name]
		w.release("current", e.Current)
		w.release("previous", e.Previous)
		if len(env.jobs.Rows) == 0 {
			w.line("    last jobs: <none>")
			continue
		}
		w.line("    last jobs:")
		var table bytes.Buffer
		if err := printTable(&table, env.jobs.Table, false); err != nil {
			return err
		}
		w.WriteString(indentLines("      ", table.String()))
	}
	w.line("")
	if len(triggers.Rows) == 0 {
		w.line("Triggers: <none>")
	} else {
		w.line("Triggers:")
		var table bytes.Buffer
		if err := printTable(&table, triggers, false); err != nil {
			return err
		}
		w.WriteString(indentLines("  ", table.String()))
	}
	_, err := io.WriteString(out, w.String())
	return err
}

// release writes one release of an environment on a line.
func (w *describeWriter) release(label string, r *v1alpha1.Release) {
	if r == nil {
		w.line("    %-10s<none>", label+":")
		return
	}
	parts := []string{r.Job}
	if r.CompletionTime != nil {
		parts = append(parts, "deployed "+w.at(r.CompletionTime))
	}
	if r.StartedBy != "" {
		parts = append(parts, "by "+r.StartedBy)
	}
	if r.Trigger != "" {
		parts = append(parts, string(r.Trigger))
	}
	var params []string
	for _, p := range r.Params {
		params = append(params, p.Name+"="+p.Value)
	}
	if len(params) > 0 {
		parts = append(parts, strings.Join(params, " "))
	}
	w.line("    %-10s%s", label+":", strings.Join(parts, "  "))
}

// indentLines prefixes each line of s with prefix.
func indentLines(prefix, s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line != "" {
			b.WriteString(prefix + line)
		}
	}
	return b.String()
}
