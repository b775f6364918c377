package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// LogCopier copies what one action of one attempt of a step wrote, from
// its Pod to the job's log archive.
type LogCopier interface {
	// CopyLog copies the output of container c.Action of Pod c.Pod, as
	// pods/log with timestamps returns it at that moment, and returns how
	// many bytes it read. The archive replaces an earlier copy of the same
	// action and attempt, so copying again is safe. An error wraps
	// ErrPodGone when the Pod does not exist.
	CopyLog(ctx context.Context, c LogCopy) (int64, error)
}

// ErrPodGone says that the Pod whose output was to be copied does not exist.
var ErrPodGone = errors.New("the pod is gone")

// LogCopy names the output of one action of one attempt of a step: the
// key of a copy in the controller's copy queue.
type LogCopy struct {
	Namespace string
	Job       string
	Step      string
	Attempt   int32
	Action    string
	// Pod is the attempt's Pod, whose container Action is copied.
	Pod string
}

// Retries of a failed copy: the queue's per-item exponential backoff.
const (
	copyRetryBase = time.Second
	copyRetryMax  = 5 * time.Minute
	// copyAgainAfter: a copy that succeeded but whose Archived record the
	// job's status still lacks this long after is made again when a sync
	// asks for it. The server records Archived before it answers, so this
	// only covers a record that never reached the cache.
	copyAgainAfter = 2 * time.Minute
	// maxLogMessage bounds the error kept in status and Events.
	maxLogMessage = 256
	// copyTimeout bounds one copy, so that a stream that hangs (a kubelet
	// that stops answering) cannot hold a copy worker for good.
	copyTimeout = 5 * time.Minute
)

// copyState is what the controller knows of one copy, in memory only:
// the job's status (each action's log state) and the Pods hold everything
// a restarted controller needs to copy again what was not archived.
type copyState struct {
	jobUID types.UID
	podUID types.UID
	// failure is the error of the last attempt, "" when none failed.
	failure string
	// copied is when the last copy succeeded; zero while one is due.
	copied time.Time
}

// copyQueue is the controller's queue of copies and what it knows of each.
type copyQueue struct {
	queue workqueue.TypedRateLimitingInterface[LogCopy]
	mu    sync.Mutex
	state map[LogCopy]*copyState
}

// requestCopy asks for the output of t to be copied from pod, unless a
// copy of that Pod's output is queued, under way, waiting to be retried,
// or done and awaiting its Archived record.
func (c *Controller) requestCopy(job *v1alpha1.PipelineJob, pod *corev1.Pod, t LogCopy) {
	c.copies.mu.Lock()
	defer c.copies.mu.Unlock()
	s := c.copies.state[t]
	switch {
	case s == nil || s.jobUID != job.UID || s.podUID != pod.UID:
		// New, or a Pod or job created again under the same name.
		c.copies.state[t] = &copyState{jobUID: job.UID, podUID: pod.UID}
	case s.copied.IsZero() || c.clock.Since(s.copied) < copyAgainAfter:
		return
	default:
		s.copied = time.Time{}
	}
	c.copies.queue.Add(t)
}

// copyFailure is the error of the last failed attempt to copy t, or "".
func (c *Controller) copyFailure(t LogCopy) string {
	c.copies.mu.Lock()
	defer c.copies.mu.Unlock()
	if s := c.copies.state[t]; s != nil {
		return s.failure
	}
	return ""
}

// forgetCopy drops what the controller knows of t, once the job's status
// says its output is Archived or Lost. A copy still queued is skipped.
func (c *Controller) forgetCopy(t LogCopy) {
	c.copies.mu.Lock()
	defer c.copies.mu.Unlock()
	delete(c.copies.state, t)
}

// forgetCopies drops the copies of a deleted job.
func (c *Controller) forgetCopies(namespace, job string) {
	c.copies.mu.Lock()
	defer c.copies.mu.Unlock()
	for t := range c.copies.state {
		if t.Namespace == namespace && t.Job == job {
			delete(c.copies.state, t)
		}
	}
}

func (c *Controller) copyWorker(ctx context.Context) {
	for c.processNextCopy(ctx) {
	}
}

// processNextCopy makes one copy. A success needs nothing more: the server
// records the output Archived in the job's status, and that write wakes
// the job through its informer. A failure is counted, recorded in an Event
// and, through the job's next sync, in the action's log state, and retried
// with backoff. A Pod that is gone wakes the job, whose sync records the
// output Lost once its cache agrees.
func (c *Controller) processNextCopy(ctx context.Context) bool {
	t, quit := c.copies.queue.Get()
	if quit {
		return false
	}
	defer c.copies.queue.Done(t)
	c.copies.mu.Lock()
	s := c.copies.state[t]
	due := s != nil && s.copied.IsZero()
	c.copies.mu.Unlock()
	if !due {
		c.copies.queue.Forget(t) // settled, forgotten or already copied
		return true
	}
	job, err := c.jobs.PipelineJobs(t.Namespace).Get(t.Job)
	if err != nil || job.UID != s.jobUID {
		c.forgetCopy(t) // the job is gone
		c.copies.queue.Forget(t)
		return true
	}

	copyCtx, cancel := context.WithTimeout(ctx, copyTimeout)
	n, err := c.copier.CopyLog(copyCtx, t)
	cancel()
	jobKey := t.Namespace + "/" + t.Job
	c.copies.mu.Lock()
	current := c.copies.state[t] == s
	c.copies.mu.Unlock()
	switch {
	case err == nil:
		logsArchived.Inc()
		logBytesArchived.Add(float64(n))
		c.copies.mu.Lock()
		s.failure, s.copied = "", c.clock.Now()
		c.copies.mu.Unlock()
		c.copies.queue.Forget(t)
		klog.V(4).InfoS("archived an action's output", "job", klog.KRef(t.Namespace, t.Job), "step", t.Step, "attempt", t.Attempt, "action", t.Action, "bytes", n)
	case !current:
		c.copies.queue.Forget(t) // settled or replaced while copying
	case errors.Is(err, ErrPodGone):
		klog.V(2).InfoS("the pod is gone before its output was archived", "job", klog.KRef(t.Namespace, t.Job), "pod", t.Pod, "action", t.Action)
		c.enqueueKey(jobKey)
		c.copies.queue.AddRateLimited(t)
	default:
		logArchiveFailures.Inc()
		msg := shortMessage(err.Error())
		c.copies.mu.Lock()
		s.failure = msg
		c.copies.mu.Unlock()
		// Only the error: never the output, nor anything read from the Pod.
		c.recorder.Eventf(job, corev1.EventTypeWarning, EventLogArchiveFailed,
			"Step %q, attempt %d: archiving the output of action %q failed, retrying: %s", t.Step, t.Attempt, t.Action, msg)
		klog.V(2).InfoS("archiving an action's output failed", "job", klog.KRef(t.Namespace, t.Job), "pod", t.Pod, "action", t.Action, "err", err)
		c.enqueueKey(jobKey)
		c.copies.queue.AddRateLimited(t)
	}
	return true
}

// shortMessage keeps at most maxLogMessage bytes of msg, on a rune boundary.
func shortMessage(msg string) string {
	if len(msg) <= maxLogMessage {
		return msg
	}
	cut := maxLogMessage - len("…")
	for cut > 0 && !isRuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// logSettled reports whether an action's output needs nothing more: it is
// Archived, or Lost.
func logSettled(l *v1alpha1.ActionLog) bool {
	return l != nil && (l.State == v1alpha1.LogArchived || l.State == v1alpha1.LogLost)
}

// started reports whether an action's container has started: only then
// has it output to archive.
func started(a v1alpha1.ActionStatus) bool { return a.ExitCode != nil || a.StartTime != nil }

// withLogs is actions, read from the Pod, with the log state of each
// action as the job's status had it for the same attempt.
func withLogs(actions, before []v1alpha1.ActionStatus) []v1alpha1.ActionStatus {
	for k := range actions {
		for _, b := range before {
			if b.Name == actions[k].Name {
				actions[k].Log = b.Log
				break
			}
		}
	}
	return actions
}

// logCopy names the output of action of step i's current attempt.
func (r *reconciler) logCopy(i int, action string) LogCopy {
	st := &r.job.Status.Steps[i]
	return LogCopy{Namespace: r.job.Namespace, Job: r.job.Name, Step: st.Name, Attempt: st.Attempts,
		Action: action, Pod: podName(r.job.Name, st.Name, st.Attempts)}
}

// archiveLogs asks for the output of the actions of step i's current
// attempt to be copied from pod: of each terminated action, and when all
// is set (the Pod has ended, or is about to be deleted) of each started
// one, whose copy is its output so far. It records a failed copy in the
// action's log state, and returns the names of the actions it waits for.
func (r *reconciler) archiveLogs(i int, pod *corev1.Pod, all bool) []string {
	st := &r.job.Status.Steps[i]
	var waiting []string
	for k := range st.Actions {
		a := &st.Actions[k]
		t := r.logCopy(i, a.Name)
		if logSettled(a.Log) {
			r.c.forgetCopy(t)
			continue
		}
		if a.ExitCode == nil && (!all || !started(*a)) {
			continue
		}
		r.c.requestCopy(r.job, pod, t)
		if msg := r.c.copyFailure(t); msg != "" {
			a.Log = &v1alpha1.ActionLog{State: v1alpha1.LogArchiveFailed, Message: msg}
		}
		waiting = append(waiting, a.Name)
	}
	return waiting
}

// logsLost records as Lost the output of every started action of step i's
// current attempt that was not archived: its Pod is gone.
func (r *reconciler) logsLost(i int) {
	st := &r.job.Status.Steps[i]
	for k := range st.Actions {
		a := &st.Actions[k]
		r.c.forgetCopy(r.logCopy(i, a.Name))
		if started(*a) && !logSettled(a.Log) {
			a.Log = &v1alpha1.ActionLog{State: v1alpha1.LogLost,
				Message: fmt.Sprintf("pod %s was deleted before the output was archived", st.PodName)}
		}
	}
}

// waitForLogs keeps step i Running, with reason WaitingForLogs, until the
// output of the named actions is archived: "<why>; waiting for the output
// of <actions> to be archived<then>".
func (r *reconciler) waitForLogs(i int, why string, actions []string, then string) {
	st := &r.job.Status.Steps[i]
	st.Phase = v1alpha1.StepRunning
	st.Reason = ReasonWaitingForLogs
	st.Message = fmt.Sprintf("%s; waiting for the output of %s to be archived%s", why, actionList(actions), then)
}

// actionList is `action "a"` or `actions "a", "b"`.
func actionList(names []string) string {
	quoted := make([]string, len(names))
	for k, n := range names {
		quoted[k] = fmt.Sprintf("%q", n)
	}
	if len(names) == 1 {
		return "action " + quoted[0]
	}
	return "actions " + strings.Join(quoted, ", ")
}

// lostLogs lists the actions whose output the status after records Lost
// and the status before did not, for the same attempt.
func lostLogs(before, after *v1alpha1.PipelineJobStatus) []lostLog {
	var out []lostLog
	for i := range after.Steps {
		st := &after.Steps[i]
		var old *v1alpha1.StepStatus
		if i < len(before.Steps) && before.Steps[i].Attempts == st.Attempts {
			old = &before.Steps[i]
		}
		for _, a := range st.Actions {
			if a.Log == nil || a.Log.State != v1alpha1.LogLost {
				continue
			}
			if old != nil && wasLost(old.Actions, a.Name) {
				continue
			}
			out = append(out, lostLog{step: st.Name, attempt: st.Attempts, action: a.Name, message: a.Log.Message})
		}
	}
	return out
}

type lostLog struct {
	step    string
	attempt int32
	action  string
	message string
}

// wasLost reports whether the named action's output is Lost in actions.
func wasLost(actions []v1alpha1.ActionStatus, name string) bool {
	for _, a := range actions {
		if a.Name == name {
			return a.Log != nil && a.Log.State == v1alpha1.LogLost
		}
	}
	return false
}
