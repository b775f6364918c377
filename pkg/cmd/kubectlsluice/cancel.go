package kubectlsluice

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

const cancelExample = `  # Cancel a job
  kubectl sluice cancel release-x7k2p

  # Cancel it and say why: the job's status records it, with who cancelled it
  kubectl sluice cancel release-x7k2p --reason "wrong image"`

// CancelOptions are the options of `kubectl sluice cancel`.
type CancelOptions struct {
	Reason string

	job string
	actionTarget
	genericiooptions.IOStreams
}

// NewCancelCommand is `kubectl sluice cancel JOB`.
func NewCancelCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CancelOptions{actionTarget: actionTarget{printer: newJobPrinter("cancelled")}, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "cancel JOB [--reason REASON]",
		Short: "Cancel a job",
		Long: `Cancel a job through its pipelinejobs/cancel subresource. The server sets the job's
spec.cancel and records you and the reason in its status; the controller then stops its
running step and the job ends Cancelled.

A job that has already finished cannot be cancelled; cancelling a job that is already
being cancelled changes nothing.`,
		Example:           cancelExample,
		Args:              exactArgs("JOB"),
		ValidArgsFunction: completeNames(f, jobNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringVar(&o.Reason, "reason", "", "Why the job is cancelled, recorded in its status.")
	o.printer.flags.AddFlags(cmd)
	return cmd
}

// Complete reads the arguments and flags.
func (o *CancelOptions) Complete(f *Factory, _ *cobra.Command, args []string) error {
	o.job = args[0]
	return o.actionTarget.complete(f)
}

// Run cancels the job and prints it.
func (o *CancelOptions) Run(cmd *cobra.Command) error {
	job, err := sluicectl.Cancel(cmd.Context(), o.client, o.namespace, o.job, o.Reason)
	if err != nil {
		return err
	}
	return o.printer.print(job, o.Out, "")
}
