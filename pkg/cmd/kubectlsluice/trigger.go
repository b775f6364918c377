package kubectlsluice

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	sluicescheme "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/scheme"
)

const triggerExample = `  # The triggers of the namespace
  kubectl sluice trigger list

  # Start the job of a trigger by hand, with its params
  kubectl sluice trigger fire nightly`

// NewTriggerCommand is `kubectl sluice trigger`, with list and the
// subcommands the constructors in more make, such as trigger fire.
func NewTriggerCommand(f *Factory, streams genericiooptions.IOStreams, more ...func(*Factory, genericiooptions.IOStreams) *cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trigger",
		Short: "List and fire triggers",
		Long: `Triggers start jobs of a pipeline when an event happens: a schedule's time, a new
image, a webhook, a Slack command. 'trigger list' shows them; 'trigger fire' starts
one by hand.`,
		Example: triggerExample,
		RunE: func(cmd *cobra.Command, args []string) error {
			var subcommands []string
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() {
					subcommands = append(subcommands, sub.Name())
				}
			}
			if len(args) == 0 {
				return UsageErrorf(cmd, "expected a subcommand: %s", strings.Join(subcommands, ", "))
			}
			return UsageErrorf(cmd, "unknown subcommand %q: expected %s", args[0], strings.Join(subcommands, ", "))
		},
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	cmd.AddCommand(NewTriggerListCommand(f, streams))
	for _, newCommand := range more {
		cmd.AddCommand(newCommand(f, streams))
	}
	return cmd
}

const triggerListExample = `  # The triggers of the namespace, as 'kubectl get triggers' prints them
  kubectl sluice trigger list

  # With their environment and why one is not ready
  kubectl sluice trigger list -o wide

  # As YAML
  kubectl sluice trigger list -o yaml`

// TriggerListOptions are the options of `kubectl sluice trigger list`.
type TriggerListOptions struct {
	PrintFlags *genericclioptions.PrintFlags

	namespace string
	wide      bool
	client    sluiceclient.Interface
	printer   printers.ResourcePrinter // nil: the server's table
	genericiooptions.IOStreams
}

// NewTriggerListCommand is `kubectl sluice trigger list`.
func NewTriggerListCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &TriggerListOptions{PrintFlags: genericclioptions.NewPrintFlags("").WithTypeSetter(sluicescheme.Scheme), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the triggers",
		Long: `List the triggers of the namespace with the columns of 'kubectl get triggers': the
pipeline, the source of events, when it last fired and which job, its next schedule slot,
and whether it is ready.`,
		Example:           triggerListExample,
		Args:              exactArgs(),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	o.PrintFlags.AddFlags(cmd)
	cmd.Flag("output").Usage = "Output format: wide, json, yaml or name (and kubectl's templates). The server's table when empty."
	return cmd
}

// Complete reads the flags.
func (o *TriggerListOptions) Complete(f *Factory, cmd *cobra.Command, _ []string) error {
	var err error
	if o.printer, o.wide, err = printerFor(o.PrintFlags); err != nil {
		return UsageErrorf(cmd, "%v", err)
	}
	o.client, o.namespace, err = f.SluiceIn()
	return err
}

// Run lists the triggers and prints them.
func (o *TriggerListOptions) Run(cmd *cobra.Command) error {
	if o.printer != nil {
		l, err := o.client.SluiceV1alpha1().Triggers(o.namespace).List(cmd.Context(), metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing triggers: %w", err)
		}
		items := make([]runtime.Object, len(l.Items))
		for i := range l.Items {
			items[i] = &l.Items[i]
		}
		list, err := asList(items, "Trigger")
		if err != nil {
			return err
		}
		return o.printer.PrintObj(list, o.Out)
	}
	t, err := getTable(cmd.Context(), o.client.SluiceV1alpha1().RESTClient(), o.namespace, "triggers", metav1.ListOptions{}, metav1.IncludeNone)
	if err != nil {
		return fmt.Errorf("listing triggers: %w", err)
	}
	if len(t.Rows) == 0 {
		fmt.Fprintf(o.ErrOut, "No triggers found in %s namespace.\n", o.namespace)
		return nil
	}
	return printTable(o.Out, t, o.wide)
}
