package kubectlsluice

import (
	"errors"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluicescheme "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/scheme"
)

// actionError says why the server refused an action, as one line for a
// person: "you cannot approve release-x7k2p: <the server's reason>".
// A refusal (403, 409) keeps only the server's reason, without the
// generic `pipelinejobs.sluice.dev "x" is forbidden:` it is wrapped in;
// anything else says what the command was doing, then the server's whole
// message (a 404 names the object, a 422 its fields).
func actionError(verb, name string, err error) error {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return fmt.Errorf("cannot %s %s: %w", verb, name, err)
	}
	switch s := status.Status(); s.Reason {
	case metav1.StatusReasonForbidden, metav1.StatusReasonConflict:
		return fmt.Errorf("you cannot %s %s: %s", verb, name, statusCause(s))
	default:
		return fmt.Errorf("cannot %s %s: %w", verb, name, err)
	}
}

// statusCause is the reason a Status gives, without the prefix its
// constructor adds: `<resource> "<name>" is forbidden: ` for a 403,
// `Operation cannot be fulfilled on <resource> "<name>": ` for a 409.
func statusCause(s metav1.Status) string {
	msg := s.Message
	if s.Details != nil && s.Details.Name != "" {
		quoted := fmt.Sprintf("%q", s.Details.Name)
		for _, sep := range []string{quoted + " is forbidden: ", quoted + ": "} {
			if _, cause, ok := strings.Cut(msg, sep); ok {
				return cause
			}
		}
	}
	return msg
}

// jobPrinter prints the job an action answered with: -o json|yaml|name,
// or by default its name, what happened to it, and what to say about it.
type jobPrinter struct {
	flags   *genericclioptions.PrintFlags
	printer printers.ResourcePrinter
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
