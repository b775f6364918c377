package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/substitution"
	triggermetrics "github.com/sluice-dev/sluice/pkg/trigger/metrics"
	"github.com/sluice-dev/sluice/pkg/trigger/params"
	"github.com/sluice-dev/sluice/pkg/trigger/schedule"
)

// ConditionReady is the condition of a Trigger that says whether it can work.
const ConditionReady = "Ready"

// Reasons of a Trigger's Ready condition.
const (
	// ReasonScheduled: the schedule runs; the message names the next slot.
	ReasonScheduled = "Scheduled"
	// ReasonSuspended: spec.suspend is set; slots are skipped.
	ReasonSuspended = "Suspended"
	// ReasonInvalidSchedule: the cron expression or time zone does not parse.
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonRunRefused: pipelines/run refused the last slot's job (422),
	// e.g. a param the pipeline requires is missing.
	ReasonRunRefused = "RunRefused"
	// ReasonPipelineNotFound (shared with jobs) and ReasonInvalidParams
	// (shared with jobs) are the other reasons a Trigger is not Ready.
)

// Event reasons recorded on Triggers.
const (
	// EventFired: a slot started a job.
	EventFired = "Fired"
	// EventRunRefused: pipelines/run refused a slot's job.
	EventRunRefused = "RunRefused"
)

// The trigger loop runs in the same process as the job controller, so only
// the leader schedules. It runs every Trigger of the cluster: Triggers have
// no sluice.dev/controller-instance label, and a second instance's
// controller would only find its jobs already there (AlreadyExists).
// Only schedule sources are handled here; the other sources are left
// alone, status included.

func (c *Controller) enqueueTrigger(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.triggerQueue.Add(key)
}

// enqueueTriggersOf wakes the triggers of a pipeline that has just
// appeared: they may be waiting for it (PipelineNotFound).
func (c *Controller) enqueueTriggersOf(obj any) {
	p, ok := obj.(*v1alpha1.Pipeline)
	if !ok {
		return
	}
	triggers, err := c.triggers.Triggers(p.Namespace).List(labels.Everything())
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	for _, tr := range triggers {
		if tr.Spec.PipelineRef.Name == p.Name {
			c.triggerQueue.Add(tr.Namespace + "/" + tr.Name)
		}
	}
}

func (c *Controller) triggerWorker(ctx context.Context) {
	for c.processNextTrigger(ctx) {
	}
}

func (c *Controller) processNextTrigger(ctx context.Context) bool {
	key, quit := c.triggerQueue.Get()
	if quit {
		return false
	}
	defer c.triggerQueue.Done(key)
	if err := c.syncTrigger(ctx, key); err != nil {
		if apierrors.IsConflict(err) {
			klog.V(4).InfoS("conflict, retrying", "trigger", key)
		} else {
			utilruntime.HandleErrorWithContext(ctx, err, "syncing Trigger", "trigger", key)
		}
		c.triggerQueue.AddRateLimited(key)
		return true
	}
	c.triggerQueue.Forget(key)
	return true
}

// syncTrigger runs the slots of a schedule trigger that are due, writes its
// status once, and wakes itself at the next slot.
func (c *Controller) syncTrigger(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		utilruntime.HandleError(err)
		return nil
	}
	cached, err := c.triggers.Triggers(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.Spec.Schedule == nil {
		return nil
	}
	tr := cached.DeepCopy()
	tr.Status.ObservedGeneration = tr.Generation
	now := c.clock.Now()
	src := tr.Spec.Schedule

	sched, err := schedule.Parse(src.Cron, src.TimeZone)
	if err != nil {
		// Validation rejects what does not parse; a schedule stored by an
		// older server can still get here.
		c.setTriggerReady(tr, metav1.ConditionFalse, ReasonInvalidSchedule, err.Error())
		tr.Status.NextScheduleTime = nil
		return c.updateTriggerStatus(ctx, cached, tr)
	}
	if _, err := c.pipelines.Pipelines(namespace).Get(tr.Spec.PipelineRef.Name); apierrors.IsNotFound(err) {
		// The Pipeline's informer wakes the trigger when it appears.
		c.setTriggerReady(tr, metav1.ConditionFalse, ReasonPipelineNotFound,
			fmt.Sprintf("pipeline %q not found", tr.Spec.PipelineRef.Name))
		return c.updateTriggerStatus(ctx, cached, tr)
	} else if err != nil {
		return err
	}

	// A new trigger does not fire for the slots before it existed.
	last := tr.CreationTimestamp.Time
	if tr.Status.LastScheduleTime != nil {
		last = tr.Status.LastScheduleTime.Time
	}
	var deadline time.Duration
	if src.StartingDeadlineSeconds != nil {
		deadline = time.Duration(*src.StartingDeadlineSeconds) * time.Second
	}
	catchUp := int32(1)
	if src.CatchUp != nil {
		catchUp = *src.CatchUp
	}
	due := sched.Due(last, now, deadline, catchUp)
	fire, skipped := due.Fire, due.Skipped
	if catchUp == 0 {
		// No missed slot runs: only the slots that came while this
		// controller ran are on time.
		var onTime []time.Time
		for _, slot := range fire {
			if !slot.Before(c.triggersStarted) {
				onTime = append(onTime, slot)
			}
		}
		skipped += int64(len(fire) - len(onTime))
		fire = onTime
	}
	// handled is the newest slot this sync fired or skipped.
	handled := newestSlot(sched, last, now)

	if tr.Spec.Suspend {
		skipped += int64(len(fire))
		triggermetrics.Events.WithLabelValues("schedule", triggermetrics.Skipped).Add(float64(skipped))
		tr.Status.SkippedSlots += skipped
		if !handled.IsZero() {
			tr.Status.LastScheduleTime = &metav1.Time{Time: handled}
		}
		tr.Status.NextScheduleTime = timeOrNil(due.Next)
		c.setTriggerReady(tr, metav1.ConditionTrue, ReasonSuspended, "suspended: slots are skipped")
		return c.finishTriggerSync(ctx, key, cached, tr, now, due.Next)
	}

	given := make([]substitution.Given, 0, len(tr.Spec.Params))
	for _, p := range tr.Spec.Params {
		given = append(given, substitution.Given{Name: p.Name, Value: p.Value})
	}
	var refused int64
	var refusal string
	for _, slot := range fire {
		expanded, err := params.Expand(given, params.ScheduleValues(slot))
		if err != nil {
			// Validation rejects unknown references: a spec change is what
			// repairs this, and it wakes the trigger.
			c.setTriggerReady(tr, metav1.ConditionFalse, ReasonInvalidParams, err.Error())
			return c.updateTriggerStatus(ctx, cached, tr)
		}
		job := schedule.SlotName(tr.Name, slot)
		detail := fmt.Sprintf("schedule %s slot %s", src.Cron, slot.In(sched.Location()).Format(time.RFC3339))
		req := &v1alpha1.RunRequest{
			Name:        job,
			Environment: tr.Spec.Environment,
			Trigger:     &v1alpha1.JobTrigger{Type: v1alpha1.TriggerSchedule, Name: tr.Name, Detail: detail},
		}
		for _, p := range expanded {
			req.Params = append(req.Params, v1alpha1.Param{Name: p.Name, Value: p.Value})
		}
		_, err = c.sluice.SluiceV1alpha1().Pipelines(namespace).Run(ctx, tr.Spec.PipelineRef.Name, req, metav1.CreateOptions{})
		switch {
		case err == nil:
			triggermetrics.Events.WithLabelValues("schedule", triggermetrics.Started).Inc()
			c.recorder.Eventf(tr, corev1.EventTypeNormal, EventFired, "Started job %s for %s", job, detail)
		case apierrors.IsAlreadyExists(err):
			// A restart, or another replica, started this slot's job:
			// the slot has fired.
			triggermetrics.Events.WithLabelValues("schedule", triggermetrics.Duplicate).Inc()
		case apierrors.IsInvalid(err):
			triggermetrics.Events.WithLabelValues("schedule", triggermetrics.Refused).Inc()
			c.recorder.Eventf(tr, corev1.EventTypeWarning, EventRunRefused, "pipelines/run refused job %s for %s: %v", job, detail, err)
			refused++
			refusal = err.Error()
			continue
		default:
			// The slot is retried with backoff; nothing is recorded yet.
			return fmt.Errorf("running pipeline %s for %s: %w", tr.Spec.PipelineRef.Name, detail, err)
		}
		tr.Status.LastEvent = &v1alpha1.TriggerEvent{Time: metav1.NewTime(now), Detail: detail, Job: job}
		refusal = ""
	}
	triggermetrics.Events.WithLabelValues("schedule", triggermetrics.Skipped).Add(float64(skipped))
	tr.Status.SkippedSlots += skipped + refused
	if !handled.IsZero() {
		tr.Status.LastScheduleTime = &metav1.Time{Time: handled}
	}
	tr.Status.NextScheduleTime = timeOrNil(due.Next)
	switch {
	case refusal != "":
		c.setTriggerReady(tr, metav1.ConditionFalse, ReasonRunRefused, refusal)
	case len(fire) == 0 && readyReasonIs(cached, ReasonRunRefused):
		// The refusal stands until a slot starts a job.
	default:
		msg := "no next slot"
		if !due.Next.IsZero() {
			msg = "next at " + due.Next.In(sched.Location()).Format(time.RFC3339)
		}
		c.setTriggerReady(tr, metav1.ConditionTrue, ReasonScheduled, msg)
	}
	return c.finishTriggerSync(ctx, key, cached, tr, now, due.Next)
}

// finishTriggerSync writes the status and wakes the trigger at its next slot.
func (c *Controller) finishTriggerSync(ctx context.Context, key string, cached, tr *v1alpha1.Trigger, now, next time.Time) error {
	if err := c.updateTriggerStatus(ctx, cached, tr); err != nil {
		return err
	}
	if !next.IsZero() {
		c.triggerQueue.AddAfter(key, next.Sub(now))
	}
	return nil
}

// newestSlot is the newest slot in (last, now], or zero.
func newestSlot(s *schedule.Schedule, last, now time.Time) time.Time {
	if d := s.Due(last, now, 0, 1); len(d.Fire) > 0 {
		return d.Fire[len(d.Fire)-1]
	}
	return time.Time{}
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &metav1.Time{Time: t}
}

func (c *Controller) setTriggerReady(tr *v1alpha1.Trigger, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&tr.Status.Conditions, metav1.Condition{
		Type: ConditionReady, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: tr.Generation, LastTransitionTime: metav1.NewTime(c.clock.Now()),
	})
}

func readyReasonIs(tr *v1alpha1.Trigger, reason string) bool {
	cond := meta.FindStatusCondition(tr.Status.Conditions, ConditionReady)
	return cond != nil && cond.Reason == reason
}

// updateTriggerStatus writes tr's status when it differs from the cached one.
func (c *Controller) updateTriggerStatus(ctx context.Context, cached, tr *v1alpha1.Trigger) error {
	if apiequality.Semantic.DeepEqual(cached.Status, tr.Status) {
		return nil
	}
	_, err := c.sluice.SluiceV1alpha1().Triggers(tr.Namespace).UpdateStatus(ctx, tr, metav1.UpdateOptions{})
	return err
}
