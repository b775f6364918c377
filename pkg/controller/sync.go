package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// sync moves one job on: it starts it, runs its current step's Pod,
// retries, times out or cancels, and finishes it. All status changes of
// one sync are written once, and only if something changed; Events,
// metrics and notifications follow a successful write.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key we made; nothing to retry
	}
	cached, err := c.jobs.PipelineJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil // deleted: the garbage collector removes its Pods
	}
	if err != nil {
		return err
	}
	// The cache may not have this controller's last write yet.
	cached = c.written.newest(key, cached)
	job := cached.DeepCopy()
	r := &reconciler{c: c, job: job, now: c.clock.Now()}

	if !finished(job.Status.Phase) {
		if job.Status.PipelineSpec == nil {
			// Starts of one concurrency group's jobs are serialised, so
			// that two jobs cannot both see the other not running.
			if g, ok := groupOf(job); ok {
				defer c.startLocks.lock(g.String())()
			}
			if err := r.start(ctx); err != nil {
				return err
			}
		}
		// A job that waits in its group's queue has not started.
		if !finished(job.Status.Phase) && job.Status.PipelineSpec != nil {
			if err := r.advance(ctx); err != nil {
				return err
			}
		}
	}
	r.queueNotifications(&cached.Status)
	if c.notifier != nil {
		c.notifier.Settled(cached)
		c.notifier.Merge(job)
	}
	job.Status.ObservedGeneration = job.Generation

	current := job
	if !apiequality.Semantic.DeepEqual(cached.Status, job.Status) {
		updated, err := c.sluice.SluiceV1alpha1().PipelineJobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		c.written.remember(key, cached.ResourceVersion, updated)
		c.afterWrite(ctx, &cached.Status, updated, r.retries, r.decisions)
		current = updated
	} else if c.notifier != nil {
		c.notifier.Dispatch(cached) // after a restart: notifications still pending
	}
	if err := c.recordRelease(ctx, job); err != nil {
		return err
	}
	// After the write: a Pod goes only once the status that settles its
	// attempt is stored.
	if err := c.retainPods(ctx, current, r.deleted); err != nil {
		return err
	}
	// A finished job's TTL and its pipeline's history limits (history.go).
	if err := c.cleanUpFinished(ctx, key, cached); err != nil {
		return err
	}
	if r.requeue != nil {
		return r.requeue
	}
	if !r.wakeAt.IsZero() {
		c.queue.AddAfter(key, max(r.wakeAt.Sub(c.clock.Now()), 10*time.Millisecond))
	}
	return nil
}

func finished(p v1alpha1.JobPhase) bool {
	return p == v1alpha1.JobSucceeded || p == v1alpha1.JobFailed || p == v1alpha1.JobCancelled
}

// reconciler is the state of one sync.
type reconciler struct {
	c      *Controller
	job    *v1alpha1.PipelineJob
	now    time.Time
	wakeAt time.Time // when the job must be looked at again: a timeout or a retry
	// requeue, when set, is returned after the status is written, so the
	// job is retried with the workqueue's rate limit.
	requeue error
	// retries are the StepRetrying Events of this sync, sent once its
	// status is written. They are recorded where the retry is decided, not
	// read from the status: a failure seen after its backoff has passed
	// starts the next attempt at once and never shows a nextAttemptTime.
	retries []string
	// decisions are the Approved and Rejected Events of the decisions at
	// approval gates that this sync saw first, sent once its status is
	// written.
	decisions []event
	// deleted are the Pods this sync deleted, which the Pod cache may
	// still show.
	deleted map[string]bool
}

func (r *reconciler) wake(at time.Time) {
	if r.wakeAt.IsZero() || at.Before(r.wakeAt) {
		r.wakeAt = at
	}
}

func (r *reconciler) metaNow() *metav1.Time {
	t := metav1.NewTime(r.now)
	return &t
}

// start resolves the pipeline into the status snapshot, checks params,
// references and the concurrency policy, and marks the job Running, or
// leaves it Pending in its group's queue.
func (r *reconciler) start(ctx context.Context) error {
	job, c := r.job, r.c
	spec, err := r.pipelineSpec(ctx)
	if err != nil {
		return err
	}
	if job.Spec.Cancel {
		// Cancelled before it started, perhaps while it waited in the
		// queue: it ends at once, and none of its steps runs.
		job.Status.PipelineSpec = spec
		if spec != nil {
			job.Status.Steps = make([]v1alpha1.StepStatus, len(spec.Steps))
			for i, step := range spec.Steps {
				job.Status.Steps[i] = v1alpha1.StepStatus{Name: step.Name, Phase: v1alpha1.StepSkipped}
			}
		}
		r.finish(v1alpha1.JobCancelled, ReasonCancelled, cancelMessage(job))
		return nil
	}
	if spec == nil {
		r.finish(v1alpha1.JobFailed, ReasonPipelineNotFound,
			fmt.Sprintf("pipeline %q not found in namespace %q", job.Spec.PipelineRef.Name, job.Namespace))
		return nil
	}
	if _, reason, err := resolve(job, spec); err != nil {
		job.Status.PipelineSpec = spec
		r.finish(v1alpha1.JobFailed, reason, err.Error())
		return nil
	}

	if g, ok := groupOf(job); ok && spec.ConcurrencyPolicy != v1alpha1.AllowConcurrent && spec.ConcurrencyPolicy != "" {
		others, err := c.groupJobs(ctx, job, g)
		if err != nil {
			return err
		}
		running := runningNames(others)
		switch spec.ConcurrencyPolicy {
		case v1alpha1.ForbidConcurrent:
			if len(running) > 0 {
				job.Status.PipelineSpec = spec
				r.finish(v1alpha1.JobFailed, ReasonConcurrencyForbidden, fmt.Sprintf(
					"pipeline %q forbids concurrent jobs%s and %s is running", g.pipeline, g.in(), running[0]))
				return nil
			}
		case v1alpha1.ReplaceConcurrent:
			for _, other := range running {
				if err := c.cancel(ctx, job.Namespace, other, fmt.Sprintf("replaced by %s", job.Name)); err != nil {
					return err
				}
			}
		case v1alpha1.QueueConcurrent:
			if behind, position := queuePlace(job, others); behind != "" {
				// Written only when the place changes; the job is woken
				// when a job of its group starts, finishes or goes.
				msg := fmt.Sprintf("queued behind %s (position %d in %s)", behind, position, g.where())
				job.Status.Message = msg
				r.setCondition(metav1.ConditionUnknown, v1alpha1.ReasonQueued, msg)
				return nil
			}
		}
	}

	s := &job.Status
	s.PipelineSpec = spec
	s.Phase = v1alpha1.JobRunning
	s.StartTime = r.metaNow()
	s.Message = ""
	s.Steps = make([]v1alpha1.StepStatus, len(spec.Steps))
	for i, step := range spec.Steps {
		s.Steps[i] = v1alpha1.StepStatus{Name: step.Name, Phase: v1alpha1.StepPending}
	}
	r.setCondition(metav1.ConditionUnknown, ReasonRunning, fmt.Sprintf("running %d steps", len(spec.Steps)))
	return nil
}

// pipelineSpec is the pipeline the job runs: its own snapshot (inline, or
// from a rerun or rollback), or its Pipeline as it is now; nil when that
// Pipeline does not exist.
func (r *reconciler) pipelineSpec(ctx context.Context) (*v1alpha1.PipelineSpec, error) {
	job, c := r.job, r.c
	if job.Spec.PipelineSpec != nil {
		return job.Spec.PipelineSpec.DeepCopy(), nil
	}
	// The snapshot is final, like failing a job for a missing Pipeline,
	// and the job and pipeline caches fill independently: a job created
	// right after its Pipeline, or right after an edit of it, can arrive
	// before the Pipeline's cache has it, and would run (or fail on) what
	// the cache holds. So the Pipeline is read from the API, once per job.
	p, err := c.sluice.SluiceV1alpha1().Pipelines(job.Namespace).Get(ctx, job.Spec.PipelineRef.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return p.Spec.DeepCopy(), nil
}

// cancel asks another job to stop, saying why, through the
// pipelinejobs/cancel subresource, which records the controller as the
// canceller. A job that is gone or has finished meanwhile (404, 409) needs
// nothing more.
func (c *Controller) cancel(ctx context.Context, ns, name, reason string) error {
	_, err := c.sluice.SluiceV1alpha1().PipelineJobs(ns).Cancel(ctx, name, &v1alpha1.CancelRequest{Reason: reason}, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// cancelMessage says who cancelled the job and why, as the server recorded
// it: "cancelled by <user>: <reason>", without the parts it did not record.
func cancelMessage(job *v1alpha1.PipelineJob) string {
	msg := "cancelled"
	if by := job.Status.CancelledBy; by != nil && by.Username != "" {
		msg += " by " + by.Username
	}
	if why := job.Status.CancelReason; why != "" {
		msg += ": " + why
	}
	return msg
}

// advance runs the job from where it is: cancellation and the job's
// timeout first, then the current step.
func (r *reconciler) advance(ctx context.Context) error {
	job, s := r.job, &r.job.Status
	spec := s.PipelineSpec

	if job.Spec.Cancel {
		msg := cancelMessage(job)
		if stopped, err := r.stopCurrent(ctx, v1alpha1.StepCancelled, ReasonCancelled, msg); err != nil || !stopped {
			return err
		}
		r.finish(v1alpha1.JobCancelled, ReasonCancelled, msg)
		return nil
	}
	if spec.Timeout != nil && s.StartTime != nil {
		deadline := timeoutAt(*s.StartTime, spec.Timeout.Duration)
		if !r.now.Before(deadline) {
			msg := fmt.Sprintf("the job exceeded its timeout of %s", spec.Timeout.Duration)
			if stopped, err := r.stopCurrent(ctx, v1alpha1.StepFailed, ReasonTimeout, msg); err != nil || !stopped {
				return err
			}
			r.finish(v1alpha1.JobFailed, ReasonTimeout, msg)
			return nil
		}
		r.wake(deadline)
	}

	res, reason, err := resolve(job, spec)
	if err != nil {
		r.finish(v1alpha1.JobFailed, reason, err.Error())
		return nil
	}
	workspace := ""
	if spec.Workspace != nil && spec.Workspace.VolumeClaimTemplate != nil {
		var ready bool
		if workspace, ready, err = r.ensureWorkspace(ctx, spec.Workspace.VolumeClaimTemplate); err != nil || !ready {
			return err
		}
	}
	for i := range spec.Steps {
		switch s.Steps[i].Phase {
		case v1alpha1.StepSucceeded:
			continue
		case v1alpha1.StepFailed, v1alpha1.StepCancelled, v1alpha1.StepSkipped:
			return nil // the job finished with this step; nothing to run
		}
		var done bool
		if spec.Steps[i].Approval != nil {
			done = r.runGate(i)
		} else if done, err = r.runStep(ctx, res, i, workspace); err != nil {
			return err
		}
		if !done || finished(s.Phase) {
			return nil
		}
	}
	r.finish(v1alpha1.JobSucceeded, ReasonSucceeded, fmt.Sprintf("all %d steps succeeded", len(spec.Steps)))
	return nil
}

// runStep moves step i on and reports whether it has succeeded.
func (r *reconciler) runStep(ctx context.Context, res *resolved, i int, workspace string) (bool, error) {
	step, st := r.job.Status.PipelineSpec.Steps[i], &r.job.Status.Steps[i]
	switch {
	case st.Attempts == 0:
		return false, r.startAttempt(ctx, res, i, 1, workspace)
	case st.NextAttemptTime != nil:
		// The last attempt failed; the next one waits for its backoff.
		if r.now.Before(st.NextAttemptTime.Time) {
			r.wake(st.NextAttemptTime.Time)
			return false, nil
		}
		return false, r.startAttempt(ctx, res, i, st.Attempts+1, workspace)
	}

	name := podName(r.job.Name, step.Name, st.Attempts)
	pod, err := r.c.pods.Pods(r.job.Namespace).Get(name)
	if apierrors.IsNotFound(err) && st.Reason == ReasonWaitingForLogs {
		// The Pod ended, or was about to be deleted, and went before the
		// output of its actions was archived: the attempt is over, and
		// must not run again. Gone from the cache; the API decides.
		if pod, err = r.c.kube.CoreV1().Pods(r.job.Namespace).Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return r.attemptGone(ctx, res, i, workspace)
		}
	}
	if apierrors.IsNotFound(err) {
		// Just created and not in the cache yet, or deleted by someone
		// else: creating it again is safe, the name is the attempt's own.
		return false, r.createPod(ctx, res, i, st.Attempts, workspace)
	}
	if err != nil {
		return false, err
	}
	if !metav1.IsControlledBy(pod, r.job) {
		// Only a Pod this job controls tells how the attempt went.
		return false, r.podConflict(i, pod)
	}
	if st.Reason == ReasonPodConflict {
		st.Reason, st.Message = "", ""
	}
	st.Actions = withLogs(actionStatuses(step, pod), st.Actions)
	ended := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	var deadline time.Time
	timedOut := false
	if step.Timeout != nil && !ended {
		deadline = timeoutAt(pod.CreationTimestamp, step.Timeout.Duration)
		timedOut = !r.now.Before(deadline)
	}
	// Each action's output is copied as its container ends; the attempt
	// is settled only once the output of every action that started is
	// archived (or lost), so none of it goes with the Pod.
	waiting := r.archiveLogs(i, pod, ended || timedOut)
	if ended && len(waiting) > 0 {
		r.waitForLogs(i, fmt.Sprintf("pod %s ended", pod.Name), waiting, "")
		return false, nil
	}
	if timedOut && len(waiting) > 0 {
		r.waitForLogs(i, fmt.Sprintf("attempt %d timed out after %s", st.Attempts, step.Timeout.Duration), waiting,
			fmt.Sprintf(" before pod %s is deleted", pod.Name))
		return false, nil
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		st.Phase = v1alpha1.StepSucceeded
		st.CompletionTime = podFinished(pod, r.now)
		st.Reason, st.Message = "", ""
		return true, nil
	case corev1.PodFailed:
		return false, r.attemptFailed(ctx, res, i, workspace, podFinished(pod, r.now).Time, ReasonStepFailed, failureMessage(step, pod))
	}
	st.Phase = v1alpha1.StepRunning
	if timedOut {
		if err := r.deleteOwnPod(ctx, pod); err != nil {
			return false, err
		}
		return false, r.attemptFailed(ctx, res, i, workspace, r.now, ReasonTimeout,
			fmt.Sprintf("attempt %d timed out after %s", st.Attempts, step.Timeout.Duration))
	}
	if step.Timeout != nil {
		r.wake(deadline)
	}
	return false, nil
}

// attemptGone settles the current attempt of step i, whose Pod went
// while the step waited for its output to be archived: the output not yet
// archived is Lost, and the attempt's result is read from its actions'
// exit codes in the status, as the Pod can no longer tell.
func (r *reconciler) attemptGone(ctx context.Context, res *resolved, i int, workspace string) (bool, error) {
	st := &r.job.Status.Steps[i]
	r.logsLost(i)
	at := r.now
	if last := lastCompletion(st.Actions); last != nil {
		at = last.Time
	}
	msg := fmt.Sprintf("pod %s was deleted before it ended", st.PodName)
	succeeded := len(st.Actions) > 0
	for _, a := range st.Actions {
		if a.ExitCode == nil || *a.ExitCode != 0 {
			succeeded = false
		}
		if a.ExitCode != nil && *a.ExitCode != 0 {
			msg = fmt.Sprintf("action %q exited with code %d", a.Name, *a.ExitCode)
			break
		}
	}
	if succeeded {
		st.Phase = v1alpha1.StepSucceeded
		t := metav1.NewTime(at)
		st.CompletionTime = &t
		st.Reason, st.Message = "", ""
		return true, nil
	}
	return false, r.attemptFailed(ctx, res, i, workspace, at, ReasonStepFailed, msg)
}

// lastCompletion is when the last of the actions terminated, or nil.
func lastCompletion(actions []v1alpha1.ActionStatus) *metav1.Time {
	var last *metav1.Time
	for _, a := range actions {
		if a.CompletionTime != nil && (last == nil || a.CompletionTime.After(last.Time)) {
			last = a.CompletionTime
		}
	}
	return last
}

// startAttempt creates the Pod of attempt n of step i.
func (r *reconciler) startAttempt(ctx context.Context, res *resolved, i int, n int32, workspace string) error {
	st := &r.job.Status.Steps[i]
	st.Attempts = n
	st.PodName = podName(r.job.Name, st.Name, n)
	st.Phase = v1alpha1.StepRunning
	if st.StartTime == nil {
		st.StartTime = r.metaNow()
	}
	st.NextAttemptTime = nil
	st.Reason, st.Message = "", ""
	st.Actions = nil
	for _, a := range res.spec.Steps[i].Actions {
		st.Actions = append(st.Actions, v1alpha1.ActionStatus{Name: a.Name})
	}
	return r.createPod(ctx, res, i, n, workspace)
}

func (r *reconciler) createPod(ctx context.Context, res *resolved, i int, n int32, workspace string) error {
	pod := res.podSpec(r.job, i, n, workspace)
	_, err := r.c.kube.CoreV1().Pods(r.job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	st := &r.job.Status.Steps[i]
	if apierrors.IsAlreadyExists(err) {
		// Our own Pod, created by an earlier sync the cache has not caught
		// up with, or a Pod someone else created under this name (perhaps
		// without the label our cache selects on): ask the API which.
		existing, getErr := r.c.kube.CoreV1().Pods(r.job.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if getErr != nil {
			return getErr // NotFound too: it went meanwhile, and the retry creates ours
		}
		if !metav1.IsControlledBy(existing, r.job) {
			return r.podConflict(i, existing)
		}
		err = nil
	}
	switch {
	case err == nil:
		if st.Reason == ReasonFailedCreatePod || st.Reason == ReasonPodConflict {
			st.Reason, st.Message = "", ""
		}
		return nil
	case apierrors.IsInvalid(err):
		// The cluster will never accept this Pod: fail, do not retry.
		return r.failStep(i, ReasonInvalidPod, err.Error())
	case apierrors.IsForbidden(err):
		// A missing ServiceAccount, an exhausted ResourceQuota or an
		// admission webhook: someone can fix it, so the step waits and
		// retries with the workqueue's backoff, and says why in its
		// status and an Event, as the Job controller does.
		st.Reason, st.Message = ReasonFailedCreatePod, err.Error()
		r.c.recorder.Eventf(r.job, corev1.EventTypeWarning, EventFailedCreatePod, "Step %q: %v", st.Name, err)
		r.requeue = err
		return nil
	}
	return err
}

// podConflict handles a Pod under the name of step i's attempt that the job
// does not control. Its status says nothing about this job, so it never
// counts, and the controller never deletes it.
//
// A Pod controlled by an earlier job of the same name (deleted, then
// created again) is on its way out: the garbage collector deletes every
// object whose owner's UID no longer exists, whether or not it has started
// to. The step waits for it, retried with the workqueue's backoff and woken
// when the Pod goes. Failing instead would make "delete and create again" a
// race against the garbage collector.
//
// Any other Pod (no controller, or another one) stays until someone removes
// it, so the step fails at once, saying which Pod is in the way.
func (r *reconciler) podConflict(i int, pod *corev1.Pod) error {
	st := &r.job.Status.Steps[i]
	if earlier := earlierIncarnation(pod, r.job); earlier != "" {
		st.Reason = ReasonPodConflict
		st.Message = fmt.Sprintf("pod %s belongs to an earlier job %s (uid %s); waiting for it to be deleted", pod.Name, r.job.Name, earlier)
		r.c.recorder.Eventf(r.job, corev1.EventTypeWarning, EventPodConflict, "Step %q: %s", st.Name, st.Message)
		r.requeue = errors.New(st.Message)
		return nil
	}
	msg := fmt.Sprintf("pod %s exists and is not controlled by this job (%s)", pod.Name, describeController(pod))
	r.c.recorder.Eventf(r.job, corev1.EventTypeWarning, EventPodConflict, "Step %q: %s", st.Name, msg)
	return r.failStep(i, ReasonPodConflict, msg)
}

// earlierIncarnation is the UID of the earlier job of the same name that
// controls obj, or "" when obj is controlled by something else or nothing.
func earlierIncarnation(obj metav1.Object, job *v1alpha1.PipelineJob) types.UID {
	ref := metav1.GetControllerOf(obj)
	if ref == nil || !isJobRef(ref) || ref.Name != job.Name || ref.UID == job.UID {
		return ""
	}
	return ref.UID
}

// describeController names obj's controller for a message.
func describeController(obj metav1.Object) string {
	ref := metav1.GetControllerOf(obj)
	if ref == nil {
		return "it has no controller"
	}
	return fmt.Sprintf("its controller is %s %s, uid %s", ref.Kind, ref.Name, ref.UID)
}

// deleteOwnPod deletes pod, as read by this sync, if the job controls it,
// and only that Pod: the UID precondition spares a Pod created under the
// same name after it was read.
func (r *reconciler) deleteOwnPod(ctx context.Context, pod *corev1.Pod) error {
	if !metav1.IsControlledBy(pod, r.job) {
		return nil
	}
	err := r.c.kube.CoreV1().Pods(r.job.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or replaced by a Pod that is not ours
	}
	if err == nil {
		if r.deleted == nil {
			r.deleted = map[string]bool{}
		}
		r.deleted[pod.Name] = true
	}
	return err
}

// attemptFailed retries step i after a backoff, or fails it when no retry is left.
func (r *reconciler) attemptFailed(ctx context.Context, res *resolved, i int, workspace string, at time.Time, reason, msg string) error {
	step, st := r.job.Status.PipelineSpec.Steps[i], &r.job.Status.Steps[i]
	if st.Attempts > step.Retries {
		return r.failStep(i, reason, msg)
	}
	next := at.Add(r.c.backoff(st.Attempts))
	t := metav1.NewTime(next)
	st.NextAttemptTime = &t
	st.Reason = reason
	st.Message = fmt.Sprintf("%s; attempt %d of %d starts at %s", msg, st.Attempts+1, step.Retries+1, next.UTC().Format(time.RFC3339))
	r.retries = append(r.retries, fmt.Sprintf("Step %q: %s", st.Name, st.Message))
	if !r.now.Before(next) {
		return r.startAttempt(ctx, res, i, st.Attempts+1, workspace)
	}
	r.wake(next)
	return nil
}

// backoff is the wait after attempt n failed: RetryBackoff doubled n-1
// times, at most MaxRetryBackoff.
func (c *Controller) backoff(n int32) time.Duration {
	d := c.opts.RetryBackoff
	for range n - 1 {
		d *= 2
		if d >= c.opts.MaxRetryBackoff {
			return c.opts.MaxRetryBackoff
		}
	}
	return d
}

// failStep fails step i and the job; later steps are skipped.
func (r *reconciler) failStep(i int, reason, msg string) error {
	s := &r.job.Status
	st := &s.Steps[i]
	st.Phase = v1alpha1.StepFailed
	st.Reason, st.Message = reason, msg
	st.NextAttemptTime = nil
	st.CompletionTime = r.metaNow()
	r.skipAfter(i)
	jobReason := ReasonStepFailed
	if reason == ReasonTimeout || reason == ReasonInvalidPod || reason == ReasonPodConflict {
		jobReason = reason
	}
	r.finish(v1alpha1.JobFailed, jobReason, fmt.Sprintf("step %q failed: %s", st.Name, msg))
	return nil
}

// stopCurrent ends the running step (deleting its Pod) or the waiting
// approval gate with phase and reason, and skips the steps after it. It
// reports false while the step waits for the output of its Pod's actions
// to be archived before the Pod is deleted; it is called again on the
// next sync.
func (r *reconciler) stopCurrent(ctx context.Context, phase v1alpha1.StepPhase, reason, msg string) (bool, error) {
	s := &r.job.Status
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.Phase != v1alpha1.StepRunning && st.Phase != v1alpha1.StepWaitingForApproval {
			continue
		}
		if st.Attempts > 0 && st.NextAttemptTime == nil {
			if stopped, err := r.stopPod(ctx, i, msg); err != nil || !stopped {
				return false, err
			}
		}
		st.Phase, st.Reason, st.Message = phase, reason, msg
		st.NextAttemptTime = nil
		st.CompletionTime = r.metaNow()
		r.skipAfter(i)
		return true, nil
	}
	r.skipAfter(-1)
	return true, nil
}

// stopPod deletes the Pod of step i's current attempt once the output of
// its started actions is archived: first the copies (of a running
// container, its output so far), then the deletion. It reports false
// while it waits for the copies. A Pod that is already gone leaves the
// output not yet archived Lost.
func (r *reconciler) stopPod(ctx context.Context, i int, why string) (bool, error) {
	step, st := r.job.Status.PipelineSpec.Steps[i], &r.job.Status.Steps[i]
	name := podName(r.job.Name, st.Name, st.Attempts)
	pod, err := r.c.pods.Pods(r.job.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		// Perhaps created by the last sync and not in the cache yet.
		pod, err = r.c.kube.CoreV1().Pods(r.job.Namespace).Get(ctx, name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		r.logsLost(i)
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if !metav1.IsControlledBy(pod, r.job) {
		return true, nil // not the attempt's Pod: nothing of it to copy or delete
	}
	st.Actions = withLogs(actionStatuses(step, pod), st.Actions)
	if waiting := r.archiveLogs(i, pod, true); len(waiting) > 0 {
		r.waitForLogs(i, why, waiting, fmt.Sprintf(" before pod %s is deleted", name))
		return false, nil
	}
	return true, r.deleteOwnPod(ctx, pod)
}

func (r *reconciler) skipAfter(i int) {
	for j := i + 1; j < len(r.job.Status.Steps); j++ {
		if st := &r.job.Status.Steps[j]; st.Phase == v1alpha1.StepPending || st.Phase == "" {
			st.Phase = v1alpha1.StepSkipped
		}
	}
}

// finish ends the job.
func (r *reconciler) finish(phase v1alpha1.JobPhase, reason, msg string) {
	s := &r.job.Status
	s.Phase = phase
	s.CompletionTime = r.metaNow()
	s.Message = msg
	status := metav1.ConditionFalse
	if phase == v1alpha1.JobSucceeded {
		status = metav1.ConditionTrue
	}
	r.setCondition(status, reason, msg)
}

func (r *reconciler) setCondition(status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&r.job.Status.Conditions, metav1.Condition{
		Type:               v1alpha1.ConditionSucceeded,
		Status:             status,
		Reason:             reason,
		Message:            msg,
		ObservedGeneration: r.job.Generation,
		LastTransitionTime: *r.metaNow(),
	})
}

// ensureWorkspace creates the job's workspace PVC once, controlled by the
// job, and reports whether the steps can use it. A claim of that name the
// job does not control is handled as a Pod is (see podConflict): the job
// waits while the claim of an earlier job of the same name is deleted, and
// fails when any other claim is in the way.
func (r *reconciler) ensureWorkspace(ctx context.Context, tpl *corev1.PersistentVolumeClaimTemplate) (string, bool, error) {
	name := workspaceName(r.job.Name)
	pvc, err := r.c.pvcs.PersistentVolumeClaims(r.job.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		claims := r.c.kube.CoreV1().PersistentVolumeClaims(r.job.Namespace)
		pvc, err = claims.Create(ctx, workspaceClaim(r.job, tpl), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// Ours, not yet in the cache, or someone else's: ask the API.
			pvc, err = claims.Get(ctx, name, metav1.GetOptions{})
		}
	}
	if err != nil {
		return "", false, err
	}
	if metav1.IsControlledBy(pvc, r.job) {
		if c := meta.FindStatusCondition(r.job.Status.Conditions, v1alpha1.ConditionSucceeded); c != nil && c.Reason == ReasonWorkspaceConflict {
			r.setCondition(metav1.ConditionUnknown, ReasonRunning, fmt.Sprintf("running %d steps", len(r.job.Status.Steps)))
		}
		return name, true, nil
	}
	if earlier := earlierIncarnation(pvc, r.job); earlier != "" {
		msg := fmt.Sprintf("workspace claim %s belongs to an earlier job %s (uid %s); waiting for it to be deleted", name, r.job.Name, earlier)
		r.setCondition(metav1.ConditionUnknown, ReasonWorkspaceConflict, msg)
		r.c.recorder.Event(r.job, corev1.EventTypeWarning, EventWorkspaceConflict, msg)
		r.requeue = errors.New(msg)
		return "", false, nil
	}
	msg := fmt.Sprintf("workspace claim %s exists and is not controlled by this job (%s)", name, describeController(pvc))
	r.c.recorder.Event(r.job, corev1.EventTypeWarning, EventWorkspaceConflict, msg)
	if stopped, err := r.stopCurrent(ctx, v1alpha1.StepFailed, ReasonWorkspaceConflict, msg); err != nil || !stopped {
		return "", false, err
	}
	r.finish(v1alpha1.JobFailed, ReasonWorkspaceConflict, msg)
	return "", false, nil
}

// actionStatuses reads each action's container status from the Pod.
func actionStatuses(step v1alpha1.Step, pod *corev1.Pod) []v1alpha1.ActionStatus {
	byName := map[string]corev1.ContainerStatus{}
	for _, cs := range pod.Status.InitContainerStatuses {
		byName[cs.Name] = cs
	}
	for _, cs := range pod.Status.ContainerStatuses {
		byName[cs.Name] = cs
	}
	out := make([]v1alpha1.ActionStatus, 0, len(step.Actions))
	for _, a := range step.Actions {
		as := v1alpha1.ActionStatus{Name: a.Name}
		if cs, ok := byName[a.Name]; ok {
			switch {
			case cs.State.Terminated != nil:
				t := cs.State.Terminated
				as.ExitCode = &t.ExitCode
				as.Reason = t.Reason
				as.StartTime = nonZero(t.StartedAt)
				as.CompletionTime = nonZero(t.FinishedAt)
			case cs.State.Running != nil:
				as.StartTime = nonZero(cs.State.Running.StartedAt)
			case cs.State.Waiting != nil:
				as.Reason = cs.State.Waiting.Reason
			}
		}
		out = append(out, as)
	}
	return out
}

func nonZero(t metav1.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// failureMessage names the action that failed and its exit code.
func failureMessage(step v1alpha1.Step, pod *corev1.Pod) string {
	for _, as := range actionStatuses(step, pod) {
		if as.ExitCode != nil && *as.ExitCode != 0 {
			msg := fmt.Sprintf("action %q exited with code %d", as.Name, *as.ExitCode)
			if as.Reason != "" && as.Reason != "Error" {
				msg += " (" + as.Reason + ")"
			}
			return msg
		}
	}
	if pod.Status.Message != "" {
		return fmt.Sprintf("pod %s failed: %s", pod.Name, pod.Status.Message)
	}
	return fmt.Sprintf("pod %s failed (%s)", pod.Name, pod.Status.Reason)
}

// timeoutAt is when something started at start times out after d. API
// timestamps are kept to the second, so start may be up to a second
// early: rounding it up means a timeout never cuts a run short.
func timeoutAt(start metav1.Time, d time.Duration) time.Time {
	return start.Add(d + time.Second)
}

// podFinished is when the Pod's last container terminated, or now.
func podFinished(pod *corev1.Pod, now time.Time) *metav1.Time {
	var last metav1.Time
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if t := cs.State.Terminated; t != nil && t.FinishedAt.After(last.Time) {
				last = t.FinishedAt
			}
		}
	}
	if last.IsZero() {
		last = metav1.NewTime(now)
	}
	return &last
}

// queueNotifications adds a Pending notification for each webhook of the
// pipeline that listens to an event this sync caused. The controller writes
// them with the status, and delivers them after the write, so a restart
// never loses one.
func (r *reconciler) queueNotifications(before *v1alpha1.PipelineJobStatus) {
	s := &r.job.Status
	if s.PipelineSpec == nil {
		return
	}
	var events []v1alpha1.NotifyEvent
	if before.Phase != v1alpha1.JobRunning && s.StartTime != nil && before.StartTime == nil {
		events = append(events, v1alpha1.NotifyStarted)
	}
	for i := range s.Steps {
		if s.Steps[i].Phase == v1alpha1.StepWaitingForApproval && (i >= len(before.Steps) || before.Steps[i].Phase != v1alpha1.StepWaitingForApproval) {
			events = append(events, v1alpha1.NotifyWaitingForApproval)
		}
	}
	if !finished(before.Phase) && finished(s.Phase) {
		events = append(events, map[v1alpha1.JobPhase]v1alpha1.NotifyEvent{
			v1alpha1.JobSucceeded: v1alpha1.NotifySucceeded,
			v1alpha1.JobFailed:    v1alpha1.NotifyFailed,
			v1alpha1.JobCancelled: v1alpha1.NotifyCancelled,
		}[s.Phase])
	}
	for _, ev := range events {
		for _, n := range s.PipelineSpec.Notify {
			target := notificationTarget(n)
			if target == "" || !slices.Contains(n.Events, ev) {
				continue
			}
			exists := slices.ContainsFunc(s.Notifications, func(x v1alpha1.NotificationStatus) bool {
				return x.Event == ev && x.URL == target
			})
			if !exists {
				s.Notifications = append(s.Notifications, v1alpha1.NotificationStatus{Event: ev, URL: target, State: v1alpha1.NotificationPending})
			}
		}
	}
}

// afterWrite does what follows a status change: Events (retries are the
// StepRetrying messages of the sync, decisions the Events of the decisions
// at approval gates it saw first), metrics, the pipeline's lastJob, waking
// the jobs queued in the job's group when it starts or finishes, and
// notifications.
func (c *Controller) afterWrite(ctx context.Context, before *v1alpha1.PipelineJobStatus, job *v1alpha1.PipelineJob, retries []string, decisions []event) {
	after := &job.Status
	for _, msg := range retries {
		c.recorder.Event(job, corev1.EventTypeWarning, EventStepRetrying, msg)
	}
	for _, e := range decisions {
		c.recorder.Event(job, e.eventType, e.reason, e.message)
	}
	started := before.Phase != v1alpha1.JobRunning && after.Phase == v1alpha1.JobRunning
	if started {
		jobsStarted.Inc()
		c.recorder.Eventf(job, corev1.EventTypeNormal, EventStarted, "Started: %d steps", len(after.Steps))
	}
	for i := range after.Steps {
		var old v1alpha1.StepStatus
		if i < len(before.Steps) {
			old = before.Steps[i]
		}
		c.stepEvents(job, &old, &after.Steps[i])
	}
	for _, l := range lostLogs(before, after) {
		logsLost.Inc()
		c.recorder.Eventf(job, corev1.EventTypeWarning, EventLogLost, "Step %q, attempt %d: the output of action %q was lost: %s",
			l.step, l.attempt, l.action, l.message)
	}
	if !finished(before.Phase) && finished(after.Phase) {
		jobsFinished.WithLabelValues(string(after.Phase)).Inc()
		switch after.Phase {
		case v1alpha1.JobSucceeded:
			c.recorder.Event(job, corev1.EventTypeNormal, EventSucceeded, after.Message)
		case v1alpha1.JobFailed:
			c.recorder.Event(job, corev1.EventTypeWarning, EventFailed, after.Message)
		case v1alpha1.JobCancelled:
			c.recorder.Event(job, corev1.EventTypeNormal, EventCancelled, after.Message)
		}
	}
	if started || (!finished(before.Phase) && finished(after.Phase)) {
		if err := c.updateLastJob(ctx, job); err != nil {
			klog.ErrorS(err, "updating the pipeline's lastJob", "job", klog.KObj(job))
		}
	}
	if before.Phase != after.Phase && (notStarted(before.Phase) || finished(after.Phase)) {
		c.wakeWaiting(job)
	}
	if c.notifier != nil {
		c.notifier.Dispatch(job)
	}
}

// gateOf is the approval gate of the job's step named step, or nil.
func gateOf(job *v1alpha1.PipelineJob, step string) *v1alpha1.ApprovalGate {
	if job.Status.PipelineSpec == nil {
		return nil
	}
	for _, s := range job.Status.PipelineSpec.Steps {
		if s.Name == step {
			return s.Approval
		}
	}
	return nil
}

func (c *Controller) stepEvents(job *v1alpha1.PipelineJob, old, st *v1alpha1.StepStatus) {
	if st.Attempts > old.Attempts {
		c.recorder.Eventf(job, corev1.EventTypeNormal, EventStepStarted, "Step %q started: attempt %d, pod %s", st.Name, st.Attempts, st.PodName)
	}
	if st.Phase == old.Phase {
		return
	}
	switch st.Phase {
	case v1alpha1.StepWaitingForApproval:
		if gate := gateOf(job, st.Name); gate != nil {
			c.recorder.Event(job, corev1.EventTypeNormal, EventApprovalRequested, approvalRequested(st.Name, gate))
		}
		return
	case v1alpha1.StepSucceeded:
		c.recorder.Eventf(job, corev1.EventTypeNormal, EventStepSucceeded, "Step %q succeeded", st.Name)
	case v1alpha1.StepFailed:
		c.recorder.Eventf(job, corev1.EventTypeWarning, EventStepFailed, "Step %q failed: %s", st.Name, st.Message)
	default:
		return
	}
	if st.StartTime != nil && st.CompletionTime != nil {
		stepDuration.WithLabelValues(string(st.Phase)).Observe(st.CompletionTime.Sub(st.StartTime.Time).Seconds())
	}
}

// updateLastJob records the job in its Pipeline's status.lastJob: when it
// starts, and when it finishes unless a newer job has started since.
func (c *Controller) updateLastJob(ctx context.Context, job *v1alpha1.PipelineJob) error {
	if job.Spec.PipelineRef == nil {
		return nil
	}
	return c.updatePipelineStatus(ctx, job.Namespace, job.Spec.PipelineRef.Name, func(p *v1alpha1.Pipeline) bool {
		if last := p.Status.LastJob; last != nil && last.Name != job.Name && last.StartTime != nil &&
			job.Status.StartTime != nil && last.StartTime.After(job.Status.StartTime.Time) {
			return false // a newer job is the last one
		}
		p.Status.LastJob = &v1alpha1.JobSummary{Name: job.Name, Phase: job.Status.Phase, StartTime: job.Status.StartTime, CompletionTime: job.Status.CompletionTime}
		p.Status.ObservedGeneration = p.Generation
		return true
	})
}

// updatePipelineStatus applies change to the named pipeline and writes
// its status when change reports a change. The first try starts from the
// pipeline cache: the write carries the cached resourceVersion, so a cache
// behind the API costs a conflict, after which the pipeline is read from
// the API and changed again, a few times. Reading it from the API first
// would cost a request on every job's start and end even when the cache
// is current, as it is but under a burst of writes to one pipeline. A
// pipeline that is gone needs nothing.
func (c *Controller) updatePipelineStatus(ctx context.Context, ns, name string, change func(p *v1alpha1.Pipeline) bool) error {
	client := c.sluice.SluiceV1alpha1().Pipelines(ns)
	var p *v1alpha1.Pipeline
	if cached, err := c.pipelines.Pipelines(ns).Get(name); err == nil {
		p = cached.DeepCopy()
	}
	for range 5 {
		if p == nil {
			var err error
			p, err = client.Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		if !change(p) {
			return nil
		}
		_, err := client.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case !apierrors.IsConflict(err):
			return err
		}
		p = nil // the cache was behind, or someone else wrote: read it
	}
	return fmt.Errorf("pipeline %s/%s kept changing", ns, name)
}
