package kubectlsluice

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
)

const logsExample = `  # Print the output of every action of a job, in the order it ran them
  kubectl sluice logs release-x7k2p

  # Follow it while it runs, until it ends
  kubectl sluice logs release-x7k2p -f

  # The last 20 lines of each action of the test step, with their times
  kubectl sluice logs release-x7k2p --step test --tail 20 --timestamps

  # One action of the second attempt of a step: its output alone, no header
  kubectl sluice logs release-x7k2p --step test --action unit --attempt 2

  # What was written in the last five minutes
  kubectl sluice logs release-x7k2p --since 5m`

// LogsOptions are the options of `kubectl sluice logs`.
type LogsOptions struct {
	Follow     bool
	Step       string
	Action     string
	Attempt    int64
	Tail       int64
	Since      time.Duration
	Timestamps bool
	LimitBytes int64

	job       string
	namespace string
	client    sluiceclient.Interface
	genericiooptions.IOStreams
}

// NewLogsCommand is `kubectl sluice logs JOB`.
func NewLogsCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &LogsOptions{Tail: -1, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "logs JOB [-f] [--step STEP] [--action ACTION] [--attempt N] [--tail N] [--since DURATION] [--timestamps]",
		Short: "Print the output of a job's actions",
		Long: `Print the output of a job's actions through its pipelinejobs/log subresource: every
action's output in the order the job ran them, each after a header line
"==> step/action (attempt n)"; one step's with --step; one action's alone, without a
header, with --step, --action and --attempt. The output is there while the job runs and
long after its Pods are gone: the server archives each action's output as it ends.

The flags mean what they mean to kubectl logs, per action. With -f the output is
streamed as it is written until the job ends; a stream that breaks (the API server
restarting, a connection reset) is opened again, and it goes on where it stopped:
no line is printed twice or missed. Lines written while it was broken are all
printed, whatever --tail says.`,
		Example:           logsExample,
		Args:              exactArgs("JOB"),
		ValidArgsFunction: completeNames(f, jobNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			if err := o.Validate(cmd); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "Stream the output as it is written, until the job ends.")
	cmd.Flags().StringVar(&o.Step, "step", "", "Only this step's output.")
	cmd.Flags().StringVarP(&o.Action, "action", "c", "", "Only this action's output; needs --step.")
	cmd.Flags().Int64Var(&o.Attempt, "attempt", 0, "Only this attempt of the step, from 1; every attempt when 0. Needs --step.")
	cmd.Flags().Int64Var(&o.Tail, "tail", -1, "The last so many lines of each action's output; -1 for all of it.")
	cmd.Flags().DurationVar(&o.Since, "since", 0, "Only the lines written in the last so long, such as 5s, 2m or 3h.")
	cmd.Flags().BoolVar(&o.Timestamps, "timestamps", false, "Begin each line with the RFC 3339 time it was written.")
	cmd.Flags().Int64Var(&o.LimitBytes, "limit-bytes", 0, "Stop after printing so many bytes; 0 for no limit.")
	return cmd
}

// Complete reads the argument and the connection.
func (o *LogsOptions) Complete(f *Factory, cmd *cobra.Command, args []string) error {
	o.job = args[0]
	var err error
	o.client, o.namespace, err = f.SluiceIn()
	return err
}

// Validate checks the flags against each other.
func (o *LogsOptions) Validate(cmd *cobra.Command) error {
	switch {
	case o.Action != "" && o.Step == "":
		return UsageErrorf(cmd, "--action needs --step")
	case o.Attempt != 0 && o.Step == "":
		return UsageErrorf(cmd, "--attempt needs --step")
	case o.Attempt < 0:
		return UsageErrorf(cmd, "--attempt must be 1 or more, or 0 for every attempt")
	case o.Tail < -1:
		return UsageErrorf(cmd, "--tail must be -1 or more")
	case o.Since < 0:
		return UsageErrorf(cmd, "--since must not be negative")
	case o.LimitBytes < 0:
		return UsageErrorf(cmd, "--limit-bytes must not be negative")
	}
	return nil
}

// options are the request's options.
func (o *LogsOptions) options() v1alpha1.PipelineJobLogOptions {
	opts := v1alpha1.PipelineJobLogOptions{
		Step: o.Step, Action: o.Action, Attempt: o.Attempt, Follow: o.Follow, Timestamps: o.Timestamps,
	}
	if o.Tail >= 0 {
		opts.TailLines = &o.Tail
	}
	if o.Since > 0 {
		s := sinceSeconds(o.Since)
		opts.SinceSeconds = &s
	}
	if o.LimitBytes > 0 {
		opts.LimitBytes = &o.LimitBytes
	}
	return opts
}

// Run prints the output.
func (o *LogsOptions) Run(cmd *cobra.Command) error {
	err := newLogFollower(o.client, o.namespace, o.job, o.options(), o.Out, o.ErrOut).Run(cmd.Context())
	if err != nil && cmd.Context().Err() == nil {
		return fmt.Errorf("reading the output of %s: %w", o.job, err)
	}
	return err
}
