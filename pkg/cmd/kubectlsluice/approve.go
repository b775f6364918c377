package kubectlsluice

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

const approveExample = `  # Approve the gate release-x7k2p waits at
  kubectl sluice approve release-x7k2p

  # Approve it with a message, recorded with your decision
  kubectl sluice approve release-x7k2p -m "staging looks good"

  # Approve it only if the gate it waits at is approve-production
  kubectl sluice approve release-x7k2p --step approve-production`

const rejectExample = `  # Reject the gate release-x7k2p waits at: the job fails, with your message
  kubectl sluice reject release-x7k2p -m "the changelog is missing"`

// DecideOptions are the options of `kubectl sluice approve` and `reject`:
// a decision on the approval gate a job waits at.
type DecideOptions struct {
	Message string
	Step    string

	decision v1alpha1.Decision
	job      string
	actionTarget
	genericiooptions.IOStreams
}

// NewApproveCommand is `kubectl sluice approve JOB`.
func NewApproveCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newDecideCommand(f, streams, v1alpha1.Approve, &cobra.Command{
		Use:   "approve JOB [-m MESSAGE] [--step STEP]",
		Short: "Approve the approval gate a job waits at",
		Long: `Approve the approval gate a job waits at, through its pipelinejobs/approval subresource.
The server decides whether your approval counts: you need RBAC create on
pipelinejobs/approval, must be one of the gate's approvers (as a user or through a group),
must not have started the job unless the gate allows self-approval, and must not have
decided this gate already. It prints the gate's approvals after yours; once the gate has
as many as it requires, the controller moves the job on to its next step.

A job waits at one gate at a time, and that is the gate decided. --step makes sure it is
the one you mean: the command refuses when the job waits at another step.`,
		Example: approveExample,
	})
}

// NewRejectCommand is `kubectl sluice reject JOB -m MESSAGE`.
func NewRejectCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newDecideCommand(f, streams, v1alpha1.Reject, &cobra.Command{
		Use:   "reject JOB -m MESSAGE [--step STEP]",
		Short: "Reject the approval gate a job waits at: the job fails",
		Long: `Reject the approval gate a job waits at, through its pipelinejobs/approval subresource:
the job fails with reason Rejected and your message, which is required. Who may reject is
who may approve: see 'kubectl sluice approve --help'.

--step makes sure the gate is the one you mean: the command refuses when the job waits at
another step.`,
		Example: rejectExample,
	})
}

func newDecideCommand(f *Factory, streams genericiooptions.IOStreams, decision v1alpha1.Decision, cmd *cobra.Command) *cobra.Command {
	operation := "approved"
	if decision == v1alpha1.Reject {
		operation = "rejected"
	}
	o := &DecideOptions{decision: decision, actionTarget: actionTarget{printer: newJobPrinter(operation)}, IOStreams: streams}
	cmd.Args = exactArgs("JOB")
	cmd.ValidArgsFunction = completeNames(f, jobNames)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		// Validate reads only the flags: a usage error comes before the
		// kubeconfig is read.
		if err := o.Validate(cmd); err != nil {
			return err
		}
		if err := o.Complete(f, cmd, args); err != nil {
			return err
		}
		return o.Run(cmd)
	}
	cmd.Flags().StringVarP(&o.Message, "message", "m", "", "A message recorded with the decision; required to reject.")
	cmd.Flags().StringVar(&o.Step, "step", "", "Decide only if the job waits at this step.")
	o.printer.flags.AddFlags(cmd)
	return cmd
}

// Complete reads the arguments and flags.
func (o *DecideOptions) Complete(f *Factory, _ *cobra.Command, args []string) error {
	o.job = args[0]
	return o.actionTarget.complete(f)
}

// Validate wants a message for a rejection: the job fails with it.
func (o *DecideOptions) Validate(cmd *cobra.Command) error {
	if o.decision == v1alpha1.Reject && o.Message == "" {
		return UsageErrorf(cmd, "a rejection needs a message: -m MESSAGE says why, and the job fails with it")
	}
	return nil
}

// Run decides the gate and prints where it stands.
func (o *DecideOptions) Run(cmd *cobra.Command) error {
	job, err := sluicectl.Decide(cmd.Context(), o.client, o.namespace, o.job, o.decision, o.Message, o.Step)
	if err != nil {
		return err
	}
	return o.printer.print(job, o.Out, sluicectl.GateState(job))
}
