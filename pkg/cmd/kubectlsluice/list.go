package kubectlsluice

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	sluicescheme "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/scheme"
	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

const listExample = `  # The job history of the namespace, newest first
  kubectl sluice list

  # The releases of the pipeline web to production, newest first
  kubectl sluice list web --env production

  # The last 5 failed jobs the trigger nightly started, with their trigger and message
  kubectl sluice list --trigger nightly --phase Failed --limit 5 -o wide

  # The names of the running jobs, for a script
  kubectl sluice list --phase Running -o name`

// ListOptions are the options of `kubectl sluice list`.
type ListOptions struct {
	PrintFlags  *genericclioptions.PrintFlags
	Environment string
	Phase       string
	Trigger     string
	Limit       int

	selector  metav1.ListOptions
	namespace string
	wide      bool
	client    sluiceclient.Interface
	printer   printers.ResourcePrinter // nil: the server's table
	genericiooptions.IOStreams
}

// NewListCommand is `kubectl sluice list [PIPELINE]`.
func NewListCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ListOptions{PrintFlags: genericclioptions.NewPrintFlags("").WithTypeSetter(sluicescheme.Scheme), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "list [PIPELINE] [--env ENVIRONMENT] [--phase PHASE] [--trigger TRIGGER] [--limit N]",
		Short: "List the job history, newest first",
		Long: `List jobs, newest first, with the columns of 'kubectl get pipelinejobs'.

The pipeline, --env and --trigger select by the labels the server sets on every job
(sluice.dev/pipeline, sluice.dev/environment, sluice.dev/trigger), and --phase by the
field status.phase; the server answers them from its indexes. The server lists in name
order, so the command reads every job that matches, page by page, and keeps the newest
--limit of them (by the time the server stored each job): narrow the selection to make
a long history quick.`,
		Example:           listExample,
		Args:              maxArgs("PIPELINE"),
		ValidArgsFunction: completeNames(f, pipelineNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	cmd.Flags().StringVar(&o.Environment, "env", "", "Only the jobs of this environment.")
	cmd.Flags().StringVar(&o.Phase, "phase", "", "Only the jobs in this phase: Pending, Running, Succeeded, Failed or Cancelled.")
	cmd.Flags().StringVar(&o.Trigger, "trigger", "", "Only the jobs this Trigger started.")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "Print at most this many jobs, the newest; 0 prints all.")
	o.PrintFlags.AddFlags(cmd)
	cmd.Flag("output").Usage = "Output format: wide, json, yaml or name (and kubectl's templates). The server's table when empty."
	_ = cmd.RegisterFlagCompletionFunc("phase", cobra.FixedCompletions(
		[]string{"Pending", "Running", "Succeeded", "Failed", "Cancelled"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("trigger", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return completeNames(f, triggerNames)(cmd, nil, toComplete)
	})
	return cmd
}

// Complete reads the arguments and flags into the selectors of the list.
func (o *ListOptions) Complete(f *Factory, cmd *cobra.Command, args []string) error {
	set := labels.Set{}
	if len(args) == 1 {
		set[v1alpha1.LabelPipeline] = args[0]
	}
	if o.Environment != "" {
		set[v1alpha1.LabelEnvironment] = o.Environment
	}
	if o.Trigger != "" {
		set[v1alpha1.LabelTrigger] = o.Trigger
	}
	selector, err := labels.ValidatedSelectorFromSet(set)
	if err != nil {
		return UsageErrorf(cmd, "%v", err)
	}
	o.selector = metav1.ListOptions{LabelSelector: selector.String()}
	if o.Phase != "" {
		if !sluicectl.KnownJobPhase(o.Phase) {
			return UsageErrorf(cmd, "--phase %q: expected Pending, Running, Succeeded, Failed or Cancelled", o.Phase)
		}
		o.selector.FieldSelector = fields.OneTermEqualSelector("status.phase", o.Phase).String()
	}
	if o.Limit < 0 {
		return UsageErrorf(cmd, "--limit %d: expected 0 or more", o.Limit)
	}
	if o.printer, o.wide, err = printerFor(o.PrintFlags); err != nil {
		return UsageErrorf(cmd, "%v", err)
	}
	o.client, o.namespace, err = f.SluiceIn()
	return err
}

// printerFor is the printer -o asks for, or nil for the server's table,
// wide with -o wide.
func printerFor(p *genericclioptions.PrintFlags) (printers.ResourcePrinter, bool, error) {
	switch format := *p.OutputFormat; format {
	case "", "wide":
		return nil, format == "wide", nil
	}
	printer, err := p.ToPrinter()
	return printer, false, err
}

// Run lists the jobs and prints the newest.
func (o *ListOptions) Run(cmd *cobra.Command) error {
	jobs, err := newestJobs(cmd.Context(), o.client.SluiceV1alpha1().RESTClient(), o.namespace, o.selector, o.Limit, o.printer != nil)
	if err != nil {
		return fmt.Errorf("listing jobs: %w", err)
	}
	if o.printer != nil {
		l, err := jobs.list()
		if err != nil {
			return err
		}
		return o.printer.PrintObj(l, o.Out)
	}
	if len(jobs.Rows) == 0 {
		fmt.Fprintf(o.ErrOut, "No jobs found in %s namespace.\n", o.namespace)
		return nil
	}
	return printTable(o.Out, jobs.Table, o.wide)
}

// jobTable is the server's table of jobs, each row with its job.
type jobTable struct {
	*metav1.Table
	jobs []*v1alpha1.PipelineJob // jobs[i] is the object of Rows[i]
}

// list is the jobs of the table as a list, for -o json, yaml and name.
func (t jobTable) list() (*unstructured.UnstructuredList, error) {
	items := make([]runtime.Object, len(t.jobs))
	for i, j := range t.jobs {
		items[i] = j
	}
	return asList(items, "PipelineJob")
}

// asList is items, objects of kind, as the List of kubectl get -o json:
// each item with its apiVersion and kind, which the printers of -o name
// and the templates need, in the order given.
func asList(items []runtime.Object, kind string) (*unstructured.UnstructuredList, error) {
	l := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}}}
	for _, obj := range items {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, err
		}
		item := unstructured.Unstructured{Object: u}
		item.SetAPIVersion(v1alpha1.SchemeGroupVersion.String())
		item.SetKind(kind)
		l.Items = append(l.Items, item)
	}
	return l, nil
}

// newestJobs reads every job of ns that the selectors select, as the
// server's table, in pages of sluicectl.NewestPageSize, and keeps the
// newest limit of them (all when limit is 0), newest first, as
// sluicectl.KeepNewest does. Each row keeps its whole job when whole is
// true (for -o json), else only the job's metadata and submitTime, what
// the table printer and the order need.
func newestJobs(ctx context.Context, c rest.Interface, ns string, selector metav1.ListOptions, limit int, whole bool) (jobTable, error) {
	var columns *metav1.Table
	rows, err := sluicectl.KeepNewest(ctx, limit, func(r jobRow) *v1alpha1.PipelineJob { return r.job },
		func(ctx context.Context, cont string) ([]jobRow, string, error) {
			opts := selector
			opts.Limit, opts.Continue = sluicectl.NewestPageSize, cont
			page, err := getTable(ctx, c, ns, "pipelinejobs", opts, metav1.IncludeObject)
			if err != nil {
				return nil, "", err
			}
			jobs, err := jobRows(page, whole)
			if err != nil {
				return nil, "", err
			}
			if columns == nil {
				// The first page's columns; the rows are kept apart.
				t := *page
				t.Rows, t.Continue, t.RemainingItemCount = nil, "", nil
				columns = &t
			}
			rows := make([]jobRow, len(jobs))
			for i := range jobs {
				rows[i] = jobRow{row: page.Rows[i], job: jobs[i]}
			}
			return rows, page.Continue, nil
		})
	if err != nil {
		return jobTable{}, err
	}
	kept := jobTable{Table: columns}
	for _, r := range rows {
		kept.Rows = append(kept.Rows, r.row)
		kept.jobs = append(kept.jobs, r.job)
	}
	return kept, nil
}

// jobRow is a row of the server's table with its job.
type jobRow struct {
	row metav1.TableRow
	job *v1alpha1.PipelineJob
}

// getTable lists resource in ns as the server's table, each row with
// what include says of its object: all of it, its metadata, or nothing.
func getTable(ctx context.Context, c rest.Interface, ns, resource string, opts metav1.ListOptions, include metav1.IncludeObjectPolicy) (*metav1.Table, error) {
	raw, err := c.Get().Namespace(ns).Resource(resource).
		VersionedParams(&opts, sluicescheme.ParameterCodec).
		Param("includeObject", string(include)).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io, application/json").
		Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	t := &metav1.Table{}
	if err := json.Unmarshal(raw, t); err != nil {
		return nil, fmt.Errorf("reading the server's table of %s: %w", resource, err)
	}
	if t.Kind != "Table" {
		return nil, fmt.Errorf("the server answered a list of %s with a %s, not a Table", resource, t.Kind)
	}
	return t, nil
}

// jobRows decodes the job of each row of t, and makes it the row's object,
// which the table printer reads for the namespace and labels: the whole
// job, or only its metadata and submitTime.
func jobRows(t *metav1.Table, whole bool) ([]*v1alpha1.PipelineJob, error) {
	jobs := make([]*v1alpha1.PipelineJob, len(t.Rows))
	for i := range t.Rows {
		j := &v1alpha1.PipelineJob{}
		if err := json.Unmarshal(t.Rows[i].Object.Raw, j); err != nil {
			return nil, fmt.Errorf("reading a job of the server's table: %w", err)
		}
		if j.Name == "" {
			return nil, fmt.Errorf("the server's table has a row without its job")
		}
		if !whole {
			j = &v1alpha1.PipelineJob{TypeMeta: j.TypeMeta, ObjectMeta: j.ObjectMeta,
				Status: v1alpha1.PipelineJobStatus{SubmitTime: j.Status.SubmitTime}}
			j.ManagedFields = nil
		}
		t.Rows[i].Object = runtime.RawExtension{Object: j}
		jobs[i] = j
	}
	return jobs, nil
}

// printTable prints t as kubectl get does, with its wide columns when wide.
func printTable(w io.Writer, t *metav1.Table, wide bool) error {
	return printers.NewTablePrinter(printers.PrintOptions{Wide: wide}).PrintObj(t, w)
}
