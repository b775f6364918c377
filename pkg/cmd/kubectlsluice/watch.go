package kubectlsluice

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sluice-dev/sluice/pkg/sluicectl"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
)

const watchExample = `  # Follow the tree of a job until it ends; the exit code is 0 when it succeeded, 1 when not
  kubectl sluice watch release-x7k2p

  # In a script or CI log: a new tree is printed each time the job changes
  kubectl sluice watch release-x7k2p | tee job.log`

// clearScreen moves the cursor home and clears the terminal, to redraw.
const clearScreen = "\x1b[H\x1b[2J"

// WatchOptions are the options of `kubectl sluice watch`.
type WatchOptions struct {
	job       string
	namespace string
	client    sluiceclient.Interface
	// redraw replaces the tree on the screen, and redraws it every second
	// for its durations; without it (stdout is not a terminal) each
	// change of the job prints a new tree below the last.
	redraw bool
	genericiooptions.IOStreams
}

// NewWatchCommand is `kubectl sluice watch JOB`.
func NewWatchCommand(f *Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WatchOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "watch JOB",
		Short: "Show a job's tree live until it ends",
		Long: `Show the tree of 'kubectl sluice describe' for a job, redrawn as the job changes,
until it ends. A dropped watch reconnects. When stdout is not a terminal, each change
prints a new tree instead of redrawing.

The exit code is 0 when the job succeeded, 1 when it failed or was cancelled.`,
		Example:           watchExample,
		Args:              exactArgs("JOB"),
		ValidArgsFunction: completeNames(f, jobNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(f, cmd, args); err != nil {
				return err
			}
			return o.Run(cmd)
		},
	}
	return cmd
}

// Complete reads the arguments, and whether stdout is a terminal.
func (o *WatchOptions) Complete(f *Factory, _ *cobra.Command, args []string) error {
	o.job = args[0]
	if out, ok := o.Out.(*os.File); ok {
		o.redraw = term.IsTerminal(int(out.Fd()))
	}
	var err error
	o.client, o.namespace, err = f.SluiceIn()
	return err
}

// Run prints the job's tree, and again each time it changes, until it
// ends; then returns its result.
func (o *WatchOptions) Run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	jobs := o.client.SluiceV1alpha1().PipelineJobs(o.namespace)
	j, err := jobs.Get(ctx, o.job, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if err := o.draw(j); err != nil {
		return err
	}
	if sluicectl.JobFinished(j) {
		return jobResult(j)
	}

	// An informer of the one job: it lists and watches again after a
	// dropped watch or an expired resource version, so nothing is missed;
	// a change seen twice has the same resourceVersion and is drawn once.
	byName := fields.OneTermEqualSelector("metadata.name", o.job).String()
	// As the generated informers do, the client says whether it can
	// watch a list (a fake cannot).
	lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = byName
			return jobs.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = byName
			return jobs.Watch(ctx, opts)
		},
	}, o.client)
	_, _, watcher, done := watchtools.NewIndexerInformerWatcherWithLogger(klog.FromContext(ctx), lw, &v1alpha1.PipelineJob{})
	defer func() {
		watcher.Stop()
		<-done
	}()
	var tick <-chan time.Time
	if o.redraw {
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
			if err := o.draw(j); err != nil {
				return err
			}
		case event, ok := <-watcher.ResultChan():
			if !ok {
				return fmt.Errorf("watching job %s: the watch ended", o.job)
			}
			switch event.Type {
			case watch.Deleted:
				return fmt.Errorf("job %s was deleted", o.job)
			case watch.Error:
				return fmt.Errorf("watching job %s: %w", o.job, apierrors.FromObject(event.Object))
			}
			changed, ok := event.Object.(*v1alpha1.PipelineJob)
			if !ok || changed.ResourceVersion == j.ResourceVersion {
				continue
			}
			j = changed
			if err := o.draw(j); err != nil {
				return err
			}
			if sluicectl.JobFinished(j) {
				return jobResult(j)
			}
		}
	}
}

// draw prints the tree of j: over the last one on a terminal, else below
// it, after a blank line.
func (o *WatchOptions) draw(j *v1alpha1.PipelineJob) error {
	var b bytes.Buffer
	if o.redraw {
		b.WriteString(clearScreen)
	}
	if err := describeJob(&b, j, time.Now()); err != nil {
		return err
	}
	if !o.redraw {
		b.WriteString("\n")
	}
	_, err := io.Copy(o.Out, &b)
	return err
}

// jobResult is nil for a job that succeeded, and a jobFailedError (exit
// code 1) for one that failed or was cancelled.
func jobResult(j *v1alpha1.PipelineJob) error {
	if j.Status.Phase == v1alpha1.JobSucceeded {
		return nil
	}
	msg := fmt.Sprintf("job %s %s", j.Name, j.Status.Phase)
	if j.Status.Message != "" {
		msg += ": " + j.Status.Message
	}
	return jobFailedError{msg}
}
