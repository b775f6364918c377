package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	"github.com/sluice-dev/sluice/pkg/secretkey"
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
	// ReasonListening: a webhook or slack trigger whose pipeline and
	// Secret are there; the message names its URL path.
	ReasonListening = "Listening"
	// ReasonSecretNotFound: the Secret, or its key, that a webhook or slack
	// trigger verifies requests with is missing.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSourceNotSupported: the trigger has no source this controller
	// knows (one a newer server added).
	ReasonSourceNotSupported = "SourceNotSupported"
	// ReasonPolling: an image trigger reads its registry; the message
	// names the repository and the interval. Its other reasons are
	// imagewatch's: SecretNotFound, RegistryUnauthorized,
	// RegistryUnreachable.
	ReasonPolling = "Polling"
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
// Schedule sources fire here, and image sources are polled here (a
// registry's notification makes the hook receiver of any replica read the
// registry too: both name the image's job alike). For webhook and slack
// sources, whose events the receiver turns into jobs in every replica, the
// loop keeps the status: Ready, and lastEvent from the jobs the informer
// sees them start.

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
	switch {
	case cached.Spec.Image != nil:
		return c.syncImageTrigger(ctx, key, cached)
	case cached.Spec.Schedule == nil:
		return c.syncEventTrigger(ctx, cached)
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

	var refused int64
	var refusal string
	for _, slot := range fire {
		job := schedule.SlotName(tr.Name, slot)
		detail := fmt.Sprintf("schedule %s slot %s", src.Cron, slot.In(sched.Location()).Format(time.RFC3339))
		req, err := params.Run(tr, job, v1alpha1.TriggerSchedule, detail, params.ScheduleValues(slot))
		if err != nil {
			// Validation rejects unknown references: a spec change is what
			// repairs this, and it wakes the trigger.
			c.setTriggerReady(tr, metav1.ConditionFalse, ReasonInvalidParams, err.Error())
			return c.updateTriggerStatus(ctx, cached, tr)
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

// keyedEvents holds the newest job started for each trigger key.
type keyedEvents struct {
	mu   sync.Mutex
	jobs map[string]v1alpha1.TriggerEvent
}

// note records job as the trigger's event when it is newer than the one
// held, and reports whether it was.
func (k *keyedEvents) note(key string, ev v1alpha1.TriggerEvent) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if old, ok := k.jobs[key]; ok && !ev.Time.After(old.Time.Time) {
		return false
	}
	if k.jobs == nil {
		k.jobs = map[string]v1alpha1.TriggerEvent{}
	}
	k.jobs[key] = ev
	return true
}

func (k *keyedEvents) get(key string) (v1alpha1.TriggerEvent, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ev, ok := k.jobs[key]
	return ev, ok
}

// noteTriggeredJob, on a job the informer sees appear, records it as its
// trigger's last event (the informer's first list replays every job, so a
// new leader learns them all) and wakes the trigger. The schedule source
// records its own events as it fires them.
func (c *Controller) noteTriggeredJob(obj any) {
	job, ok := obj.(*v1alpha1.PipelineJob)
	if !ok || job.Labels[v1alpha1.LabelTrigger] == "" || job.Spec.Trigger.Type == v1alpha1.TriggerSchedule {
		return
	}
	key := job.Namespace + "/" + job.Labels[v1alpha1.LabelTrigger]
	ev := v1alpha1.TriggerEvent{Time: job.CreationTimestamp, Detail: job.Spec.Trigger.Detail, Job: job.Name}
	if c.lastTriggered.note(key, ev) {
		c.triggerQueue.Add(key)
	}
}

// syncEventTrigger keeps the status of a trigger whose events come from
// outside the loop: its newest job as lastEvent, and Ready, which says
// whether the pipeline and the Secret requests are verified with are
// there. A Secret is not watched: a change to one shows at the trigger's
// next resync.
func (c *Controller) syncEventTrigger(ctx context.Context, cached *v1alpha1.Trigger) error {
	tr := cached.DeepCopy()
	tr.Status.ObservedGeneration = tr.Generation
	c.noteLastEvent(tr)
	status, reason, msg, err := c.eventTriggerReady(ctx, tr)
	if err != nil {
		return err
	}
	c.setTriggerReady(tr, status, reason, msg)
	return c.updateTriggerStatus(ctx, cached, tr)
}

// noteLastEvent sets tr's lastEvent to the newest job the informer saw it
// start, when that is another job than the one status holds, and reports
// whether it did.
func (c *Controller) noteLastEvent(tr *v1alpha1.Trigger) bool {
	ev, ok := c.lastTriggered.get(tr.Namespace + "/" + tr.Name)
	if !ok || tr.Status.LastEvent != nil && (ev.Job == tr.Status.LastEvent.Job || ev.Time.Before(&tr.Status.LastEvent.Time)) {
		return false
	}
	tr.Status.LastEvent = &ev
	return true
}

// eventTriggerReady says whether a webhook or slack trigger can work.
func (c *Controller) eventTriggerReady(ctx context.Context, tr *v1alpha1.Trigger) (metav1.ConditionStatus, string, string, error) {
	if _, err := c.pipelines.Pipelines(tr.Namespace).Get(tr.Spec.PipelineRef.Name); apierrors.IsNotFound(err) {
		return metav1.ConditionFalse, ReasonPipelineNotFound, fmt.Sprintf("pipeline %q not found", tr.Spec.PipelineRef.Name), nil
	} else if err != nil {
		return "", "", "", err
	}
	var ref v1alpha1.SecretKeyRef
	switch {
	case tr.Spec.Webhook != nil:
		ref = tr.Spec.Webhook.SecretRef
	case tr.Spec.Slack != nil:
		ref = tr.Spec.Slack.SigningSecretRef
	default:
		return metav1.ConditionFalse, ReasonSourceNotSupported, "the trigger has no source this controller knows", nil
	}
	switch _, err := secretkey.Read(ctx, c.kube.CoreV1(), tr.Namespace, ref); {
	case errors.Is(err, secretkey.ErrMissing):
		return metav1.ConditionFalse, ReasonSecretNotFound, err.Error(), nil
	case err != nil:
		return "", "", "", err
	}
	return metav1.ConditionTrue, ReasonListening, fmt.Sprintf("receiving events at /hooks/%s/%s", tr.Namespace, tr.Name), nil
}
