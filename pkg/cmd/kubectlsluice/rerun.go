package kubectlsluice

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

const rerunExample = `  # Run a finished job again: the same params, environment and snapshot of its pipeline
  kubectl sluice rerun release-x7k2p

  # Run it again with the pipeline as it is now
  kubectl sluice rerun release-x7k2p --from-current-pipeline

  # Print only the new job's name, for a script
  kubectl sluice rerun release-x7k2p -o name`

// RerunOptions are the options of `kubectl sluice rerun`.
type RerunOptions struct {
	FromCurrentPipeline bool

	job string
	actionTarget
	genericiooptions.IOStreams
}

// NewRerunCommand is `kubectl sluice rerun JOB`.
func NewRerunCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RerunOptions{actionTarget: actionTarget{printer: newJobPrinter("created")}, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "rerun JOB [--from-current-pipeline]",
		Short: "Run a finished job again, as a new job",
		Long: `Run a finished job again through its pipelinejobs/rerun subresource: the server creates
a new job with the same params, environment and labels, labelled sluice.dev/rerun-of, with
trigger Rerun and you as its starter, and prints it.

By default the new job runs the old job's snapshot of its pipeline, exactly what ran then,
whatever the Pipeline says now; --from-current-pipeline runs the Pipeline as it is. A job
that has not finished cannot be rerun: cancel it first.`,
		Example:           rerunExample,
		Args:              exactArgs("JOB"),
		ValidArgsFunction: completeNames(f, jobNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().BoolVar(&o.FromCurrentPipeline, "from-current-pipeline", false, "Run the Pipeline as it is now, not the old job's snapshot of it.")
	o.printer.flags.AddFlags(cmd)
	return cmd
}

// Complete reads the arguments and flags.
func (o *RerunOptions) Complete(f *Factory, _ *cobra.Command, args []string) error {
	o.job = args[0]
	return o.actionTarget.complete(f)
}

// Run reruns the job and prints the new one.
func (o *RerunOptions) Run(cmd *cobra.Command) error {
	job, err := sluicectl.Rerun(cmd.Context(), o.client, o.namespace, o.job, o.FromCurrentPipeline)
	if err != nil {
		return err
	}
	return o.printer.print(job, o.Out, job.Spec.Trigger.Detail)
}
