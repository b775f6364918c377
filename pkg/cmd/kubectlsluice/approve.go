package kubectlsluice

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
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

	decision  v1alpha1.Decision
	job       string
	namespace string
	client    sluiceclient.Interface
	printer   *jobPrinter
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
	o := &DecideOptions{decision: decision, printer: newJobPrinter(operation), IOStreams: streams}
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
	if err := o.printer.complete(); err != nil {
		return err
	}
	var err error
	o.client, o.namespace, err = f.SluiceIn()
	return err
}

// Validate wants a message for a rejection: the job fails with it.
func (o *DecideOptions) Validate(cmd *cobra.Command) error {
	if o.decision == v1alpha1.Reject && o.Message == "" {
		return UsageErrorf(cmd, "a rejection needs a message: -m MESSAGE says why, and the job fails with it")
	}
	return nil
}

// verb is the decision as a verb, for errors.
func (o *DecideOptions) verb() string {
	if o.decision == v1alpha1.Reject {
		return "reject"
	}
	return "approve"
}

// Run decides the gate and prints where it stands.
func (o *DecideOptions) Run(cmd *cobra.Command) error {
	jobs := o.client.SluiceV1alpha1().PipelineJobs(o.namespace)
	if o.Step != "" {
		job, err := jobs.Get(cmd.Context(), o.job, metav1.GetOptions{})
		if err != nil {
			return actionError(o.verb(), o.job, err)
		}
		if i := waitingGate(job); i < 0 {
			return fmt.Errorf("you cannot %s %s: it waits at no approval gate (it is %s)", o.verb(), o.job, jobPhase(job))
		} else if step := job.Status.Steps[i].Name; step != o.Step {
			return fmt.Errorf("you cannot %s %s at step %q: it waits at step %q", o.verb(), o.job, o.Step, step)
		}
	}
	job, err := jobs.Decide(cmd.Context(), o.job, &v1alpha1.ApprovalRequest{Decision: o.decision, Message: o.Message}, metav1.CreateOptions{})
	if err != nil {
		return actionError(o.verb(), o.job, err)
	}
	return o.printer.print(job, o.Out, gateState(job))
}

// waitingGate is the index of the step job waits at for approval, or -1.
func waitingGate(job *v1alpha1.PipelineJob) int {
	return slices.IndexFunc(job.Status.Steps, func(s v1alpha1.StepStatus) bool { return s.Phase == v1alpha1.StepWaitingForApproval })
}

func jobPhase(job *v1alpha1.PipelineJob) v1alpha1.JobPhase {
	if job.Status.Phase == "" {
		return v1alpha1.JobPending
	}
	return job.Status.Phase
}

// gateState says where the gate a decision was recorded on stands: its
// approvals out of those required, and what happens next.
func gateState(job *v1alpha1.PipelineJob) string {
	i := waitingGate(job)
	if i < 0 || job.Status.PipelineSpec == nil || i >= len(job.Status.PipelineSpec.Steps) || job.Status.PipelineSpec.Steps[i].Approval == nil {
		return ""
	}
	step := job.Status.Steps[i]
	required := max(job.Status.PipelineSpec.Steps[i].Approval.Required, 1)
	var approvals int32
	for _, d := range step.Approvals {
		switch d.Decision {
		case v1alpha1.Reject:
			return fmt.Sprintf("step %s is rejected; the job fails", step.Name)
		case v1alpha1.Approve:
			approvals++
		}
	}
	if approvals >= required {
		return fmt.Sprintf("step %s has %d of %d approvals; the job goes on", step.Name, approvals, required)
	}
	return fmt.Sprintf("step %s has %d of %d approvals; it waits for %d more", step.Name, approvals, required, required-approvals)
}
