package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// Reasons a finished job is deleted, in the metric jobs_deleted_total and
// the controller's log.
const (
	// DeleteReasonTTL: the job's ttlSecondsAfterFinished has passed.
	DeleteReasonTTL = "ttl"
	// DeleteReasonHistory: the job is older than its pipeline's
	// successfulJobsLimit or failedJobsLimit allows.
	DeleteReasonHistory = "history"
)

// EventDeletedJobs is recorded on a Pipeline when jobs beyond its history
// limits are deleted.
const EventDeletedJobs = "DeletedJobs"

var jobsDeleted = metrics.NewCounterVec(&metrics.CounterOpts{
	Namespace: "sluice", Subsystem: "controller", Name: "jobs_deleted_total",
	Help: "Finished PipelineJobs the controller deleted, by reason: ttl or history.", StabilityLevel: metrics.ALPHA,
}, []string{"reason"})

func init() {
	legacyregistry.MustRegister(jobsDeleted)
}

// deleteBackground deletes a job only if it is still the object of uid
// (and, when resourceVersion is set, of that version), and leaves its
// Pods and PVC to the garbage collector.
func deleteBackground(uid types.UID, resourceVersion string) metav1.DeleteOptions {
	pre := &metav1.Preconditions{UID: &uid}
	if resourceVersion != "" {
		pre.ResourceVersion = &resourceVersion
	}
	background := metav1.DeletePropagationBackground
	return metav1.DeleteOptions{Preconditions: pre, PropagationPolicy: &background}
}

// cleanUpFinished is the part of a job's sync that concerns a job the
// cache shows finished: it deletes the job once its TTL has passed, or
// wakes it then, and has the history cleaner look at its pipeline. Every
// sync of a finished job calls it, so a new leader, whose informers list
// every job, deletes the jobs that expired while no controller ran and
// wakes the others at their expiry.
func (c *Controller) cleanUpFinished(ctx context.Context, key string, cached *v1alpha1.PipelineJob) error {
	if !finished(cached.Status.Phase) {
		return nil
	}
	if ref := cached.Spec.PipelineRef; ref != nil {
		if p, err := c.pipelines.Pipelines(cached.Namespace).Get(ref.Name); err == nil && hasLimits(p) {
			c.history.enqueue(cached.Namespace, ref.Name)
		}
	}
	return c.deleteIfExpired(ctx, key, cached)
}

// ttlOf is the job's TTL after it finished: its own
// spec.ttlSecondsAfterFinished, or else the one of the pipeline it ran
// (status.pipelineSpec.history), as the pipeline was when the job
// started. Nil keeps the job.
func ttlOf(job *v1alpha1.PipelineJob) *int32 {
	if job.Spec.TTLSecondsAfterFinished != nil {
		return job.Spec.TTLSecondsAfterFinished
	}
	if spec := job.Status.PipelineSpec; spec != nil && spec.History != nil {
		return spec.History.TTLSecondsAfterFinished
	}
	return nil
}

// expiry is when a finished job's TTL runs out; false when it has no TTL
// (or no completion time to count from).
func expiry(job *v1alpha1.PipelineJob) (time.Time, bool) {
	ttl := ttlOf(job)
	if ttl == nil || job.Status.CompletionTime == nil {
		return time.Time{}, false
	}
	return job.Status.CompletionTime.Add(time.Duration(*ttl) * time.Second), true
}

// notificationsPending reports whether a webhook notification of the job
// still waits to be delivered. Such a job is kept until the Notifier has
// delivered it or given up: deleting the job would drop the delivery, and
// the job's status write that records the result syncs the job again.
func notificationsPending(job *v1alpha1.PipelineJob) bool {
	return slices.ContainsFunc(job.Status.Notifications, func(n v1alpha1.NotificationStatus) bool {
		return n.State == v1alpha1.NotificationPending || n.State == ""
	})
}

// deleteIfExpired deletes a finished job whose TTL has passed, as the
// Kubernetes TTL-after-finished controller does. The cache decides
// whether to look; the job is then read from the API, because its TTL may
// have changed since the cache saw it, and deleted only if that read is
// still expired, with that read's UID and resourceVersion as
// preconditions, so a TTL changed after the read (or a new job of the same
// name) makes the delete fail with a conflict and the job is looked at
// again. A job not yet expired is added to the workqueue for its expiry.
func (c *Controller) deleteIfExpired(ctx context.Context, key string, cached *v1alpha1.PipelineJob) error {
	at, ok := expiry(cached)
	if !ok || notificationsPending(cached) {
		return nil
	}
	if wait := at.Sub(c.clock.Now()); wait > 0 {
		c.queue.AddAfter(key, wait)
		return nil
	}
	jobs := c.sluice.SluiceV1alpha1().PipelineJobs(cached.Namespace)
	job, err := jobs.Get(ctx, cached.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if job.UID != cached.UID || !finished(job.Status.Phase) {
		return nil // another job of the same name; its own events sync it
	}
	at, ok = expiry(job)
	if !ok || notificationsPending(job) {
		return nil // the TTL was removed, or the update event brings the job back
	}
	if wait := at.Sub(c.clock.Now()); wait > 0 {
		c.queue.AddAfter(key, wait)
		return nil
	}
	// A release a rollback may return to outlives its TTL; the Pipeline's
	// status update that moves the release on wakes the job (see
	// newHistoryCleaner).
	if ref := job.Spec.PipelineRef; ref != nil {
		p, err := c.sluice.SluiceV1alpha1().Pipelines(job.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case err == nil && isRelease(p, job):
			return nil
		case err != nil && !apierrors.IsNotFound(err):
			return err
		}
	}
	err = jobs.Delete(ctx, job.Name, deleteBackground(job.UID, job.ResourceVersion))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err // a conflict too: the job changed after the read, so look again
	}
	jobsDeleted.WithLabelValues(DeleteReasonTTL).Inc()
	klog.InfoS("deleted a finished job", "job", klog.KObj(job), "reason", DeleteReasonTTL,
		"ttlSecondsAfterFinished", *ttlOf(job), "completionTime", job.Status.CompletionTime.UTC().Format(time.RFC3339))
	return nil
}

// historyCleaner deletes the finished jobs of a pipeline beyond its
// spec.history limits. It works off the job's sync, in a workqueue of its
// own keyed by namespace/pipeline, so the jobs of a pipeline that finish
// together, and every job of a pipeline at a resync, cause one pass.
//
// A pass reads the pipeline's finished jobs from an index of the job
// informer's cache (byPipelineResult), not from the API. The informer
// already holds every job of this controller instance, which are the only
// jobs it may delete; the index narrows a pass to one pipeline's finished
// jobs of one result, so its cost does not grow with the namespace's other
// jobs, and a pass that deletes nothing makes no request. Listing from the
// API with the indexed selectors (sluice.dev/pipeline plus status.phase,
// paged) would cost three lists (Succeeded, Failed, Cancelled) per pass
// and per pipeline at every resync, to read what memory holds. A cache
// behind the API only keeps more: a job it lacks does not take a place
// among the newest, a job it still has after its deletion does, and a
// finished job never changes its phase or completion time.
type historyCleaner struct {
	c     *Controller
	jobs  cache.Indexer
	queue workqueue.TypedRateLimitingInterface[string]
}

// byPipelineResult indexes a job that finished by its namespace, its
// pipelineRef and its result class (see historyClass).
const byPipelineResult = "byPipelineResult"

// historyClass is the class of a finished phase that one limit counts:
// Succeeded for successfulJobsLimit, Failed (Failed and Cancelled jobs)
// for failedJobsLimit. False for a job that has not finished.
func historyClass(p v1alpha1.JobPhase) (v1alpha1.JobPhase, bool) {
	switch p {
	case v1alpha1.JobSucceeded:
		return v1alpha1.JobSucceeded, true
	case v1alpha1.JobFailed, v1alpha1.JobCancelled:
		return v1alpha1.JobFailed, true
	}
	return "", false
}

func historyIndexKey(namespace, pipeline string, class v1alpha1.JobPhase) string {
	return namespace + "/" + pipeline + "/" + string(class)
}

// indexByPipelineResult is the index function of byPipelineResult. The
// pipeline is spec.pipelineRef, which never changes, as for concurrency
// groups; the server derives the sluice.dev/pipeline label from it.
func indexByPipelineResult(obj any) ([]string, error) {
	job, ok := obj.(*v1alpha1.PipelineJob)
	if !ok || job.Spec.PipelineRef == nil {
		return nil, nil
	}
	class, ok := historyClass(job.Status.Phase)
	if !ok {
		return nil, nil
	}
	return []string{historyIndexKey(job.Namespace, job.Spec.PipelineRef.Name, class)}, nil
}

// newHistoryCleaner adds its index to the job informer, which must not
// have started, and has a pipeline's additions and updates (its limits
// changed, a job's release recorded, a resync) queue a pass when it has
// history limits.
func newHistoryCleaner(c *Controller, jobs, pipelines cache.SharedIndexInformer) (*historyCleaner, error) {
	if err := jobs.AddIndexers(cache.Indexers{byPipelineResult: indexByPipelineResult}); err != nil {
		return nil, err
	}
	h := &historyCleaner{
		c:    c,
		jobs: jobs.GetIndexer(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pipelinejob-history"}),
	}
	changed := func(obj any) {
		if p, ok := obj.(*v1alpha1.Pipeline); ok && hasLimits(p) {
			h.enqueue(p.Namespace, p.Name)
		}
	}
	if _, err := pipelines.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: changed,
		UpdateFunc: func(old, obj any) {
			changed(obj)
			c.wakeFormerReleases(old, obj)
		},
	}); err != nil {
		return nil, err
	}
	return h, nil
}

// wakeFormerReleases syncs the jobs that a Pipeline's status no longer
// names as a current or previous release: a TTL that ran out while a job
// was a release deletes it now.
func (c *Controller) wakeFormerReleases(oldObj, newObj any) {
	old, ok1 := oldObj.(*v1alpha1.Pipeline)
	p, ok2 := newObj.(*v1alpha1.Pipeline)
	if !ok1 || !ok2 {
		return
	}
	now := map[string]bool{}
	for _, e := range p.Status.Environments {
		for _, r := range []*v1alpha1.Release{e.Current, e.Previous} {
			if r != nil {
				now[r.Job] = true
			}
		}
	}
	for _, e := range old.Status.Environments {
		for _, r := range []*v1alpha1.Release{e.Current, e.Previous} {
			if r != nil && !now[r.Job] {
				c.queue.Add(p.Namespace + "/" + r.Job)
			}
		}
	}
}

// hasLimits reports whether the pipeline limits how many finished jobs
// are kept.
func hasLimits(p *v1alpha1.Pipeline) bool {
	h := p.Spec.History
	return h != nil && (h.SuccessfulJobsLimit != nil || h.FailedJobsLimit != nil)
}

func (h *historyCleaner) enqueue(namespace, pipeline string) {
	h.queue.Add(namespace + "/" + pipeline)
}

// run runs one worker until ctx ends. One is enough: a pass is a scan of
// memory, and its deletes are throttled by the client's rate limit, which
// the job syncs share.
func (h *historyCleaner) run(ctx context.Context) {
	defer h.queue.ShutDown()
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		for h.processNext(ctx) {
		}
	}, time.Second)
	<-ctx.Done()
}

func (h *historyCleaner) processNext(ctx context.Context) bool {
	key, quit := h.queue.Get()
	if quit {
		return false
	}
	defer h.queue.Done(key)
	if err := h.sync(ctx, key); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "deleting jobs beyond the history limits", "pipeline", key)
		h.queue.AddRateLimited(key)
		return true
	}
	h.queue.Forget(key)
	return true
}

// sync deletes the finished jobs of one pipeline that its history limits
// no longer keep. The cached Pipeline says whether there is anything to
// do; before deleting, the Pipeline is read from the API, so the limits
// applied are the ones it has now, not a cache's older, lower ones.
func (h *historyCleaner) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	p, err := h.c.pipelines.Pipelines(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil // no pipeline, no limits: every job is kept
	}
	if err != nil {
		return err
	}
	if !hasLimits(p) || len(h.beyondLimits(p)) == 0 {
		return nil
	}
	if p, err = h.c.sluice.SluiceV1alpha1().Pipelines(ns).Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if !hasLimits(p) {
		return nil
	}
	var deleted []string
	var errs []error
	client := h.c.sluice.SluiceV1alpha1().PipelineJobs(ns)
	for _, job := range h.beyondLimits(p) {
		err := client.Delete(ctx, job.Name, deleteBackground(job.UID, ""))
		switch {
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			continue // gone already, or a new job of the same name
		case err != nil:
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, job.Name)
		jobsDeleted.WithLabelValues(DeleteReasonHistory).Inc()
		klog.InfoS("deleted a finished job", "job", klog.KObj(job), "reason", DeleteReasonHistory,
			"pipeline", klog.KObj(p), "phase", job.Status.Phase, "limits", describeLimits(p.Spec.History))
	}
	if len(deleted) > 0 {
		h.c.recorder.Eventf(p, corev1.EventTypeNormal, EventDeletedJobs, "Deleted %d finished %s beyond the history limits (%s): %s",
			len(deleted), plural(len(deleted), "job"), describeLimits(p.Spec.History), summarise(deleted, 10))
	}
	if len(errs) > 0 {
		return fmt.Errorf("deleting %d of the jobs of pipeline %s beyond its history limits: %w", len(errs), key, errs[0])
	}
	return nil
}

// beyondLimits are the finished jobs of p, in the cache, that its history
// limits do not keep, oldest first. For each limit that is set, the
// newest so many jobs of its class are kept (newest by completionTime,
// then by name, the later name counting as newer), and of the others
// every one except:
//   - a Succeeded job that is, or will be, the current or previous
//     release of its environment (see isRelease);
//   - a job whose webhook notifications are still pending (see
//     notificationsPending).
func (h *historyCleaner) beyondLimits(p *v1alpha1.Pipeline) []*v1alpha1.PipelineJob {
	var out []*v1alpha1.PipelineJob
	for _, l := range []struct {
		class v1alpha1.JobPhase
		limit *int32
	}{{v1alpha1.JobSucceeded, p.Spec.History.SuccessfulJobsLimit}, {v1alpha1.JobFailed, p.Spec.History.FailedJobsLimit}} {
		if l.limit == nil {
			continue
		}
		objs, err := h.jobs.ByIndex(byPipelineResult, historyIndexKey(p.Namespace, p.Name, l.class))
		if err != nil || len(objs) <= int(*l.limit) {
			continue
		}
		jobs := make([]*v1alpha1.PipelineJob, 0, len(objs))
		for _, o := range objs {
			jobs = append(jobs, o.(*v1alpha1.PipelineJob))
		}
		slices.SortFunc(jobs, newestFirst)
		for _, job := range slices.Backward(jobs[*l.limit:]) {
			if !isRelease(p, job) && !notificationsPending(job) {
				out = append(out, job)
			}
		}
	}
	return out
}

// newestFirst orders finished jobs by completionTime, the latest first,
// then by name, the later name first.
func newestFirst(a, b *v1alpha1.PipelineJob) int {
	ta, tb := completedAt(a), completedAt(b)
	if c := tb.Compare(ta); c != 0 {
		return c
	}
	return strings.Compare(b.Name, a.Name)
}

func completedAt(job *v1alpha1.PipelineJob) time.Time {
	if job.Status.CompletionTime == nil {
		return time.Time{}
	}
	return job.Status.CompletionTime.Time
}

// isRelease reports whether a job of p is the current or previous release
// of its environment in p's status.environments, or would become one when
// recorded (recordRelease): a controller that stopped between finishing
// the job and writing the Pipeline records it when it next syncs the job,
// and a pass must not delete it first. Releases only move on to jobs that
// completed later, so a status older than the API's keeps more, never
// fewer.
func isRelease(p *v1alpha1.Pipeline, job *v1alpha1.PipelineJob) bool {
	if job.Status.Phase != v1alpha1.JobSucceeded || job.Spec.Environment == "" {
		return false
	}
	for _, e := range p.Status.Environments {
		if e.Name == job.Spec.Environment && (e.Current != nil && e.Current.Job == job.Name || e.Previous != nil && e.Previous.Job == job.Name) {
			return true
		}
	}
	return setRelease(p.Status.DeepCopy(), job.Spec.Environment, releaseOf(job))
}

// describeLimits says what a history policy keeps, for logs and Events:
// "successfulJobsLimit 5, failedJobsLimit 2".
func describeLimits(h *v1alpha1.HistoryPolicy) string {
	var parts []string
	if h.SuccessfulJobsLimit != nil {
		parts = append(parts, fmt.Sprintf("successfulJobsLimit %d", *h.SuccessfulJobsLimit))
	}
	if h.FailedJobsLimit != nil {
		parts = append(parts, fmt.Sprintf("failedJobsLimit %d", *h.FailedJobsLimit))
	}
	return strings.Join(parts, ", ")
}

// summarise joins names, at most n of them, then says how many more.
func summarise(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
