package kubectlsluice

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sluice-dev/sluice/pkg/sluicectl"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Exit codes.
const (
	ExitOK        = 0
	ExitFailure   = 1 // a job that failed, or any error but a usage error
	ExitUsage     = 2 // a flag or an argument is wrong
	exitInterrupt = 130
)

// NewCommand is `kubectl sluice` with every command under it.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	f := NewFactory(flags)
	root := &cobra.Command{
		Use: "kubectl-sluice",
		// Help and errors name it as it is typed, a kubectl plugin.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl sluice"},
		Short:       "Run, follow and release Sluice pipelines",
		Long: `kubectl sluice runs Sluice pipelines, follows their jobs and logs, and releases them
through environments: approve, reject, cancel, rerun and roll back.

It talks to the Kubernetes API with your kubeconfig, like kubectl: what you may do is
what RBAC lets you do.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// No completion of file names where nothing is expected.
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	flags.AddFlags(root.PersistentFlags())
	registerFlagCompletions(root, f)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(
		NewRunCommand(f, streams),
		NewLogsCommand(f, streams),
		NewListCommand(f, streams),
		NewDescribeCommand(f, streams),
		NewWatchCommand(f, streams),
		NewStatusCommand(f, streams),
		NewCancelCommand(f, streams),
		NewRerunCommand(f, streams),
		NewRollbackCommand(f, streams),
		NewApproveCommand(f, streams),
		NewRejectCommand(f, streams),
		NewTriggerCommand(f, streams, NewTriggerFireCommand),
		NewVersionCommand(f, streams),
		NewDashboardCommand(f, streams),
	)
	return root
}

// Execute runs cmd with the process's arguments until it ends or is
// interrupted, prints its error as one line, and returns the exit code.
func Execute(cmd *cobra.Command, streams genericiooptions.IOStreams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil {
		return exitInterrupt
	}
	var failed jobFailedError
	if !errors.As(err, &failed) {
		fmt.Fprintf(streams.ErrOut, "Error: %s\n", sluicectl.ErrorMessage(err))
	}
	return ExitCode(err)
}

// ExitCode is the exit code of err: ExitUsage for a usage error, else
// ExitFailure.
func ExitCode(err error) int {
	var u usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &u) || isCobraUsageError(err):
		return ExitUsage
	default:
		return ExitFailure
	}
}
