package kubectlsluice

import (
	"bytes"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestTriggerSubcommands: trigger has list and the subcommands it is
// given; without one, or with an unknown one, it is a usage error that
// names them.
func TestTriggerSubcommands(t *testing.T) {
	var errOut bytes.Buffer
	streams := genericiooptions.IOStreams{Out: &bytes.Buffer{}, ErrOut: &errOut}
	fired := false
	fire := func(*Factory, genericiooptions.IOStreams) *cobra.Command {
		return &cobra.Command{Use: "fire", RunE: func(*cobra.Command, []string) error { fired = true; return nil }}
	}
	newRoot := func(args ...string) *cobra.Command {
		root := &cobra.Command{Use: "kubectl-sluice", SilenceErrors: true, SilenceUsage: true}
		root.AddCommand(NewTriggerCommand(NewFactory(genericclioptions.NewConfigFlags(false)), streams, fire))
		root.SetArgs(args)
		return root
	}
	require.Equal(t, ExitOK, Execute(newRoot("trigger", "fire"), streams))
	require.True(t, fired)

	require.Equal(t, ExitUsage, Execute(newRoot("trigger"), streams))
	require.Contains(t, errOut.String(), "Error: expected a subcommand: fire, list\n")
	errOut.Reset()
	require.Equal(t, ExitUsage, Execute(newRoot("trigger", "pull"), streams))
	require.Contains(t, errOut.String(), `Error: unknown subcommand "pull": expected fire, list`)
}
