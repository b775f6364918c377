package kubectlsluice

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewTriggerCommand is `kubectl sluice trigger`, the parent of the
// commands on Triggers.
func NewTriggerCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trigger",
		Short: "Work with the triggers that start pipelines",
		Long:  `Work with Triggers, which start jobs of a pipeline when an event happens.`,
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(NewTriggerFireCommand(f, streams))
	return cmd
}
