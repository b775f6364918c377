package kubectlsluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

// jobWatcher follows one job's status until it ends, through a watch that
// is opened again when it ends or fails: from the last version seen, or,
// when the server no longer has that version (410 Gone), from the job as
// it is read again.
type jobWatcher struct {
	client                 sluiceclient.Interface
	namespace              string
	minBackoff, maxBackoff time.Duration
}

func newJobWatcher(client sluiceclient.Interface, namespace string) *jobWatcher {
	return &jobWatcher{client: client, namespace: namespace, minBackoff: 500 * time.Millisecond, maxBackoff: 8 * time.Second}
}

// errJobDeleted ends a watch of a job that was deleted.
var errJobDeleted = errors.New("the job was deleted")

// Until calls seen with job and each later version of it until it has
// ended, and returns that version.
func (w *jobWatcher) Until(ctx context.Context, job *v1alpha1.PipelineJob, seen func(*v1alpha1.PipelineJob)) (*v1alpha1.PipelineJob, error) {
	jobs := w.client.SluiceV1alpha1().PipelineJobs(w.namespace)
	seen(job)
	delay := w.minBackoff
	for !sluicectl.JobFinished(job) {
		wi, err := jobs.Watch(ctx, metav1.ListOptions{
			FieldSelector:       fields.OneTermEqualSelector("metadata.name", job.Name).String(),
			ResourceVersion:     job.ResourceVersion,
			AllowWatchBookmarks: true,
		})
		progressed := false
		if err == nil {
			rv := job.ResourceVersion
			job, err = w.consume(wi, job, seen)
			wi.Stop()
			progressed = job.ResourceVersion != rv
			if progressed {
				delay = w.minBackoff
			}
		}
		switch {
		case ctx.Err() != nil:
			return job, ctx.Err()
		case errors.Is(err, errJobDeleted):
			return job, fmt.Errorf("job %s was deleted", job.Name)
		case apierrors.IsResourceExpired(err) || apierrors.IsGone(err):
			// Too old a version to watch from: read the job again.
			latest, err := jobs.Get(ctx, job.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return job, fmt.Errorf("job %s was deleted", job.Name)
			}
			if err == nil {
				job = latest
				seen(job)
				continue
			}
			if !retryable(err) {
				return job, err
			}
		case err != nil && !retryable(err):
			return job, err
		case err == nil && progressed:
			continue // the server ended the watch: open it again
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return job, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, w.maxBackoff)
	}
	return job, nil
}

// consume takes the events of a watch until it ends or the job has ended,
// and returns the last version of the job seen.
func (w *jobWatcher) consume(wi watch.Interface, job *v1alpha1.PipelineJob, seen func(*v1alpha1.PipelineJob)) (*v1alpha1.PipelineJob, error) {
	for ev := range wi.ResultChan() {
		switch ev.Type {
		case watch.Added, watch.Modified:
			j, ok := ev.Object.(*v1alpha1.PipelineJob)
			if !ok || j.Name != job.Name {
				continue
			}
			job = j
			seen(job)
			if sluicectl.JobFinished(job) {
				return job, nil
			}
		case watch.Bookmark:
			if m, err := meta.Accessor(ev.Object); err == nil && m.GetResourceVersion() != "" {
				job = job.DeepCopy()
				job.ResourceVersion = m.GetResourceVersion()
			}
		case watch.Deleted:
			return job, errJobDeleted
		case watch.Error:
			return job, apierrors.FromObject(ev.Object)
		}
	}
	return job, nil
}

// stepReporter writes a line for each change of a step that matters to
// someone following a job: it starts, ends, waits for an approval, or
// waits to retry.
type stepReporter struct {
	w   io.Writer
	job string
	// namespaceFlag is " -n <ns>" when the user named the namespace, for
	// the commands the lines suggest.
	namespaceFlag string
	reported      map[string]string
}

func newStepReporter(w io.Writer, job, namespaceFlag string) *stepReporter {
	return &stepReporter{w: w, job: job, namespaceFlag: namespaceFlag, reported: map[string]string{}}
}

// report writes the lines of what changed in job since the last report.
func (r *stepReporter) report(job *v1alpha1.PipelineJob) {
	for i := range job.Status.Steps {
		st := &job.Status.Steps[i]
		if st.Phase == "" || st.Phase == v1alpha1.StepPending {
			continue
		}
		state := fmt.Sprintf("%s/%d/%t", st.Phase, st.Attempts, st.NextAttemptTime != nil)
		if r.reported[st.Name] == state {
			continue
		}
		r.reported[st.Name] = state
		fmt.Fprintln(r.w, r.stepLine(st))
	}
}

func (r *stepReporter) stepLine(st *v1alpha1.StepStatus) string {
	line := fmt.Sprintf("--> step %s %s", st.Name, st.Phase)
	switch st.Phase {
	case v1alpha1.StepRunning:
		if st.NextAttemptTime != nil {
			return fmt.Sprintf("--> step %s attempt %d failed: %s", st.Name, st.Attempts, st.Message)
		}
		if st.Attempts > 1 {
			line += fmt.Sprintf(" (attempt %d)", st.Attempts)
		}
		return line
	case v1alpha1.StepWaitingForApproval:
		return line + fmt.Sprintf(": approve with kubectl sluice approve %s%s", r.job, r.namespaceFlag)
	case v1alpha1.StepSucceeded, v1alpha1.StepFailed, v1alpha1.StepCancelled:
		if took := took(st.StartTime, st.CompletionTime); took != "" {
			line += " in " + took
		}
	}
	if st.Phase != v1alpha1.StepSucceeded && st.Message != "" {
		line += ": " + st.Message
	}
	return line
}

// took is how long from start to end, or "" without both.
func took(start, end *metav1.Time) string {
	if start == nil || end == nil {
		return ""
	}
	return duration.HumanDuration(end.Sub(start.Time))
}

// jobOutcome is how the job ended, as one line: "job web-1 Succeeded in
// 40s", or for a job that did not succeed, what failed and the command that
// shows its output.
func (r *stepReporter) jobOutcome(job *v1alpha1.PipelineJob) string {
	s := job.Status
	if s.Phase == v1alpha1.JobSucceeded {
		line := fmt.Sprintf("job %s Succeeded", job.Name)
		if d := took(s.StartTime, s.CompletionTime); d != "" {
			line += " in " + d
		}
		return line
	}
	if s.Phase == v1alpha1.JobCancelled {
		line := fmt.Sprintf("job %s was cancelled", job.Name)
		if s.CancelledBy != nil && s.CancelledBy.Username != "" {
			line += " by " + s.CancelledBy.Username
		}
		if s.CancelReason != "" {
			line += ": " + s.CancelReason
		}
		return line
	}
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.Phase != v1alpha1.StepFailed {
			continue
		}
		why := st.Message
		if why == "" {
			why = st.Reason
		}
		line := fmt.Sprintf("job %s failed: step %s", job.Name, st.Name)
		if why != "" {
			line += ": " + why
		}
		if !isGate(job, st.Name) {
			line += fmt.Sprintf("; see kubectl sluice logs %s --step %s%s", job.Name, st.Name, r.namespaceFlag)
		}
		return line
	}
	why := s.Message
	if why == "" {
		why = strings.ToLower(string(s.Phase))
	}
	return fmt.Sprintf("job %s failed: %s", job.Name, why)
}

// isGate says whether the job's step of that name is an approval gate,
// which has no output.
func isGate(job *v1alpha1.PipelineJob, step string) bool {
	if job.Status.PipelineSpec == nil {
		return false
	}
	for _, s := range job.Status.PipelineSpec.Steps {
		if s.Name == step {
			return s.Approval != nil
		}
	}
	return false
}
