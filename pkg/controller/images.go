package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/trigger/imagewatch"
	triggermetrics "github.com/sluice-dev/sluice/pkg/trigger/metrics"
)

// DefaultImageInterval is how often an image source's registry is read
// when its interval is unset.
const DefaultImageInterval = 5 * time.Minute

// EventBaseline: an image trigger recorded what its registry holds as the
// baseline newer images are compared with.
const EventBaseline = "Baseline"

// syncImageTrigger reads the registry of an image trigger when a read is
// due, starts the job of a new image, records the observation in
// status.image, and wakes itself for the next read.
//
// A read is due once interval has passed since the last one, after a spec
// change, and when the informer saw the trigger start a job this loop did
// not (the receiver fired on a registry notification): that read records
// the image the job was for, so the next poll does not take it for new.
// Every read writes status.image.time, as Flux's ImageRepository records
// each scan: the user sees when the registry was last read.
func (c *Controller) syncImageTrigger(ctx context.Context, key string, cached *v1alpha1.Trigger) error {
	tr := cached.DeepCopy()
	tr.Status.ObservedGeneration = tr.Generation
	src := tr.Spec.Image
	interval := DefaultImageInterval
	if src.Interval != nil {
		interval = src.Interval.Duration
	}
	now := c.clock.Now()
	startedElsewhere := c.noteLastEvent(tr)

	if _, err := c.pipelines.Pipelines(tr.Namespace).Get(tr.Spec.PipelineRef.Name); apierrors.IsNotFound(err) {
		// The Pipeline's informer wakes the trigger when it appears.
		c.setTriggerReady(tr, metav1.ConditionFalse, ReasonPipelineNotFound, fmt.Sprintf("pipeline %q not found", tr.Spec.PipelineRef.Name))
		return c.updateTriggerStatus(ctx, cached, tr)
	} else if err != nil {
		return err
	}
	if tr.Spec.Suspend {
		// Nothing is read: on resume, the first read compares with what
		// was seen before the suspension, and the newest image fires once.
		c.setTriggerReady(tr, metav1.ConditionTrue, ReasonSuspended, "suspended: the registry is not read")
		return c.updateTriggerStatus(ctx, cached, tr)
	}
	if last := tr.Status.Image; last != nil && last.Time != nil && !startedElsewhere &&
		cached.Status.ObservedGeneration == cached.Generation {
		if wait := last.Time.Add(interval).Sub(now); wait > 0 {
			c.triggerQueue.AddAfter(key, wait)
			return c.updateTriggerStatus(ctx, cached, tr)
		}
	}

	obs, err := c.images.Latest(ctx, tr.Namespace, src)
	var failed *imagewatch.Error
	switch {
	case errors.As(err, &failed):
		// The registry, or the Secret, is what must change; the next read
		// is at the interval, as a poll would be.
		triggermetrics.Events.WithLabelValues("image", triggermetrics.Error).Inc()
		c.setTriggerReady(tr, metav1.ConditionFalse, failed.Reason, failed.Error())
		return c.finishTriggerSync(ctx, key, cached, tr, now, now.Add(interval))
	case err != nil:
		return err // reading the pull Secret failed: retried with backoff
	}
	plan, err := imagewatch.Decide(tr, obs, now)
	if err != nil {
		c.setTriggerReady(tr, metav1.ConditionFalse, imagewatch.ReasonInvalidSource, err.Error())
		return c.updateTriggerStatus(ctx, cached, tr)
	}
	klog.V(2).InfoS("image trigger read its registry", "trigger", klog.KObj(tr), "decision", plan.Reason)
	if plan.Baseline && !sameImage(cached.Status.Image, &plan.Record) {
		c.recorder.Event(tr, corev1.EventTypeNormal, EventBaseline, plan.Reason)
	}

	refusal := ""
	if run := plan.Run; run != nil {
		_, err := c.sluice.SluiceV1alpha1().Pipelines(tr.Namespace).Run(ctx, tr.Spec.PipelineRef.Name, run, metav1.CreateOptions{})
		switch {
		case err == nil:
			triggermetrics.Events.WithLabelValues("image", triggermetrics.Started).Inc()
			c.recorder.Eventf(tr, corev1.EventTypeNormal, EventFired, "Started job %s for %s", run.Name, run.Trigger.Detail)
			tr.Status.LastEvent = &v1alpha1.TriggerEvent{Time: metav1.NewTime(now), Detail: run.Trigger.Detail, Job: run.Name}
		case apierrors.IsAlreadyExists(err):
			// A notification taken by the receiver, a restart or another
			// replica started this image's job.
			triggermetrics.Events.WithLabelValues("image", triggermetrics.Duplicate).Inc()
		case apierrors.IsInvalid(err):
			// The image is recorded as seen: reading it again would only be
			// refused again. A spec or pipeline change, and the next image,
			// are what repair this.
			triggermetrics.Events.WithLabelValues("image", triggermetrics.Refused).Inc()
			c.recorder.Eventf(tr, corev1.EventTypeWarning, EventRunRefused, "pipelines/run refused job %s for %s: %v", run.Name, run.Trigger.Detail, err)
			refusal = err.Error()
		default:
			// Nothing is recorded: the next try reads and fires again.
			return fmt.Errorf("running pipeline %s for %s: %w", tr.Spec.PipelineRef.Name, run.Trigger.Detail, err)
		}
	}
	tr.Status.Image = &plan.Record
	switch {
	case refusal != "":
		c.setTriggerReady(tr, metav1.ConditionFalse, ReasonRunRefused, refusal)
	case plan.Run == nil && readyReasonIs(cached, ReasonRunRefused) && !plan.Baseline:
		// The refusal stands until an image starts a job.
	default:
		msg := fmt.Sprintf("reading %s every %s", src.Repository, interval)
		if src.Push != nil {
			msg += fmt.Sprintf(", and at once on notifications to /hooks/%s/%s", tr.Namespace, tr.Name)
		}
		c.setTriggerReady(tr, metav1.ConditionTrue, ReasonPolling, msg)
	}
	return c.finishTriggerSync(ctx, key, cached, tr, now, now.Add(interval))
}

// sameImage reports whether a and b observed the same image of the
// same repository, whenever they read it.
func sameImage(a, b *v1alpha1.ImageObservation) bool {
	return a != nil && b != nil && a.Repository == b.Repository && a.Tag == b.Tag && a.Digest == b.Digest
}
