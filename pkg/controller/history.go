package controller

import (
	"context"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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
)

var jobsDeleted = metrics.NewCounterVec(&metrics.CounterOpts{
	Namespace: "sluice", Subsystem: "controller", Name: "jobs_deleted_total",
	Help: "Finished PipelineJobs the controller deleted, by reason: ttl.", StabilityLevel: metrics.ALPHA,
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
// wakes it then. Every sync of a finished job calls it, so a new leader,
// whose informers list every job, deletes the jobs that expired while no
// controller ran and wakes the others at their expiry.
func (c *Controller) cleanUpFinished(ctx context.Context, key string, cached *v1alpha1.PipelineJob) error {
	if !finished(cached.Status.Phase) {
		return nil
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
