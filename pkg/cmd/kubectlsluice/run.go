package kubectlsluice

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/pkg/sluicectl"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	sluicescheme "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/scheme"
)

const runExample = `  # Run the pipeline release with two params, in its default environment
  kubectl sluice run release -p version=1.4.2 -p image=registry.example.com/web:1.4.2

  # Run it in production and follow it: its logs and a line per step, until it
  # ends; the exit code is 0 when it succeeded, 1 when not
  kubectl sluice run release --env production -p version=1.4.2 -f

  # Print only the new job's name, for a script
  kubectl sluice run release -p version=1.4.2 -o name`

// RunOptions are the options of `kubectl sluice run`.
type RunOptions struct {
	PrintFlags  *genericclioptions.PrintFlags
	Params      []string
	Environment string
	Follow      bool

	pipeline  string
	namespace string
	// namespaceFlag is " -n <ns>" when -n was given, for the commands
	// that following suggests.
	namespaceFlag string
	request       *v1alpha1.RunRequest
	client        sluiceclient.Interface
	printer       printers.ResourcePrinter
	genericiooptions.IOStreams
}

// NewRunCommand is `kubectl sluice run PIPELINE`.
func NewRunCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RunOptions{PrintFlags: genericclioptions.NewPrintFlags("created").WithTypeSetter(sluicescheme.Scheme), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "run PIPELINE [-p NAME=VALUE]... [--env ENVIRONMENT] [-f]",
		Short: "Start a job of a pipeline",
		Long: `Start a job of a pipeline through its pipelines/run subresource, with the checks of the
server: its params must be declared and given, its environment known. The server records
you as the job's starter.

With -f, follow the job until it ends: its actions' output on stdout, as kubectl sluice
logs -f prints it, and a line per step on stderr as it starts, ends, waits for an
approval or waits to retry. The exit code is 0 when the job succeeded and 1 when not,
with a line that names the step that failed. A broken stream or watch is opened again
without printing a line twice. Ctrl-C stops following and leaves the job running.`,
		Example:           runExample,
		Args:              exactArgs("PIPELINE"),
		ValidArgsFunction: completeNames(f, pipelineNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringArrayVarP(&o.Params, "param", "p", nil, "A param of the job, NAME=VALUE; repeat for more.")
	cmd.Flags().StringVar(&o.Environment, "env", "", "The environment to run in; the pipeline's own when empty.")
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "Follow the job: stream its logs and a line per step until it ends, and exit with its result.")
	o.PrintFlags.AddFlags(cmd)
	return cmd
}

// Complete reads the arguments and flags.
func (o *RunOptions) Complete(f *Factory, cmd *cobra.Command, args []string) error {
	o.pipeline = args[0]
	o.request = &v1alpha1.RunRequest{Environment: o.Environment}
	for _, p := range o.Params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return UsageErrorf(cmd, "--param %q: expected NAME=VALUE", p)
		}
		o.request.Params = append(o.request.Params, v1alpha1.Param{Name: name, Value: value})
	}
	var err error
	if o.printer, err = o.PrintFlags.ToPrinter(); err != nil {
		return usageError{err}
	}
	if o.namespace, err = f.Namespace(); err != nil {
		return err
	}
	if f.flags.Namespace != nil && *f.flags.Namespace != "" {
		o.namespaceFlag = " -n " + o.namespace
	}
	o.client, err = f.Sluice()
	return err
}

// Run starts the job and prints it.
func (o *RunOptions) Run(cmd *cobra.Command) error {
	job, err := o.client.SluiceV1alpha1().Pipelines(o.namespace).Run(cmd.Context(), o.pipeline, o.request, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("running pipeline %s: %w", o.pipeline, err)
	}
	if err := o.printer.PrintObj(job, o.Out); err != nil || !o.Follow {
		return err
	}
	return o.follow(cmd.Context(), job)
}

// follow streams the job's output and a line per step until the job ends,
// and returns jobFailedError unless it succeeded.
func (o *RunOptions) follow(ctx context.Context, job *v1alpha1.PipelineJob) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logsDone := make(chan error, 1)
	go func() {
		logs := newLogFollower(o.client, o.namespace, job.Name, v1alpha1.PipelineJobLogOptions{Follow: true}, o.Out, o.ErrOut)
		err := logs.Run(ctx)
		if err != nil && ctx.Err() == nil {
			// Following goes on with the lines of the steps.
			fmt.Fprintf(o.ErrOut, "--> cannot read the job's output: %s\n", sluicectl.ErrorMessage(err))
		}
		logsDone <- err
	}()
	steps := newStepReporter(o.ErrOut, job.Name, o.namespaceFlag)
	final, err := newJobWatcher(o.client, o.namespace).Until(ctx, job, steps.report)
	stopped := func() error {
		fmt.Fprintf(o.ErrOut, "--> stopped following; job %s goes on: kubectl sluice logs %s -f%s\n", job.Name, job.Name, o.namespaceFlag)
		return ctx.Err()
	}
	if err != nil {
		if ctx.Err() != nil {
			return stopped()
		}
		return fmt.Errorf("following job %s: %w", job.Name, err)
	}
	// The output ends once the job has; all of it comes before the last line.
	if <-logsDone != nil && ctx.Err() != nil {
		return stopped()
	}
	outcome := steps.jobOutcome(final)
	fmt.Fprintf(o.ErrOut, "--> %s\n", outcome)
	if final.Status.Phase != v1alpha1.JobSucceeded {
		return jobFailedError{outcome}
	}
	return nil
}
