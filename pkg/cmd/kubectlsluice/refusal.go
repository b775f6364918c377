package kubectlsluice

import (
	"fmt"
	"io"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	sluicescheme "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/scheme"
)

// jobPrinter prints the job an action answered with: -o json|yaml|name,
// or by default its name, what happened to it, and what to say about it.
type jobPrinter struct {
	flags   *genericclioptions.PrintFlags
	printer printers.ResourcePrinter
}

// actionTarget is what an action command (cancel, rerun, rollback,
// approve, reject, trigger fire) completes from the flags: how to print
// the job the server answers with, and the client and namespace it acts in.
type actionTarget struct {
	printer   *jobPrinter
	client    sluiceclient.Interface
	namespace string
}

func (t *actionTarget) complete(f *Factory) error {
	if err := t.printer.complete(); err != nil {
		return err
	}
	var err error
	t.client, t.namespace, err = f.SluiceIn()
	return err
}

func newJobPrinter(operation string) *jobPrinter {
	return &jobPrinter{flags: genericclioptions.NewPrintFlags(operation).WithTypeSetter(sluicescheme.Scheme)}
}

// complete makes the printer from the flags.
func (p *jobPrinter) complete() error {
	var err error
	if p.printer, err = p.flags.ToPrinter(); err != nil {
		return usageError{err}
	}
	return nil
}

// human is true when no -o was given.
func (p *jobPrinter) human() bool {
	return p.flags.OutputFormat == nil || *p.flags.OutputFormat == ""
}

// print prints job; in human output, note follows the operation, after a colon.
func (p *jobPrinter) print(job *v1alpha1.PipelineJob, out io.Writer, note string) error {
	if !p.human() || note == "" {
		return p.printer.PrintObj(job, out)
	}
	fmt.Fprintf(out, "pipelinejob.%s/%s %s: %s\n", v1alpha1.GroupName, job.Name, p.flags.NamePrintFlags.Operation, note)
	return nil
}
