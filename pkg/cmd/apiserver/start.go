package apiserver

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/pkg/apiserver"
)

// NewCommand returns the sluice-apiserver command.
func NewCommand(ctx context.Context) *cobra.Command {
	o := apiserver.NewOptions()
	cmd := &cobra.Command{
		Use:   "sluice-apiserver",
		Short: "Serve the sluice.dev API (Pipelines, PipelineJobs) from PostgreSQL as an aggregated API server",
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return o.ComponentGlobalsRegistry.Set()
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
		SilenceUsage: true,
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	return cmd
}
