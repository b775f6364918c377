package kubectlsluice

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

const rollbackExample = `  # Deploy again the release of production before the current one
  kubectl sluice rollback web --env production

  # Go back to a named release of production
  kubectl sluice rollback web --env production --to web-q9v4z

  # Print only the new job's name, for a script
  kubectl sluice rollback web --env production -o name`

// RollbackOptions are the options of `kubectl sluice rollback`.
type RollbackOptions struct {
	Environment string
	ToJob       string

	pipeline string
	actionTarget
	genericiooptions.IOStreams
}

// NewRollbackCommand is `kubectl sluice rollback PIPELINE --env ENV`.
func NewRollbackCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RollbackOptions{actionTarget: actionTarget{printer: newJobPrinter("created")}, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "rollback PIPELINE --env ENVIRONMENT [--to JOB]",
		Short: "Deploy an earlier release of an environment again",
		Long: `Roll an environment back through the pipelines/rollback subresource: the server creates
a job that runs an earlier release of the environment again, its params and its snapshot of
the pipeline, with trigger Rollback and you as its starter, and prints it. Nothing is
rebuilt.

The release is the one before the current one (the pipeline's status.environments), or the
succeeded job of this pipeline and environment that --to names. When --env is empty, the
pipeline's own environment is rolled back.`,
		Example:           rollbackExample,
		Args:              exactArgs("PIPELINE"),
		ValidArgsFunction: completeNames(f, pipelineNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringVar(&o.Environment, "env", "", "The environment to roll back; the pipeline's own when empty.")
	cmd.Flags().StringVar(&o.ToJob, "to", "", "The succeeded job of this pipeline and environment to go back to; the release before the current one when empty.")
	_ = cmd.RegisterFlagCompletionFunc("to", completeNames(f, jobNames))
	o.printer.flags.AddFlags(cmd)
	return cmd
}

// Complete reads the arguments and flags.
func (o *RollbackOptions) Complete(f *Factory, _ *cobra.Command, args []string) error {
	o.pipeline = args[0]
	return o.actionTarget.complete(f)
}

// Run rolls back and prints the new job.
func (o *RollbackOptions) Run(cmd *cobra.Command) error {
	job, err := sluicectl.Rollback(cmd.Context(), o.client, o.namespace, o.pipeline, o.Environment, o.ToJob)
	if err != nil {
		return err
	}
	return o.printer.print(job, o.Out, job.Spec.Trigger.Detail)
}
