package controller

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluicefake "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/fake"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
	"github.com/sluice-dev/sluice/pkg/trigger/schedule"
)

var pipelinesGVR = v1alpha1.SchemeGroupVersion.WithResource("pipelines")

// newTriggerHarness is a harness whose fake API serves pipelines/run (see
// serveRun).
func newTriggerHarness(t *testing.T) *harness {
	kube, sluice := kubefake.NewClientset(), sluicefake.NewClientset()
	sluice.PrependReactor("create", "pipelines", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return serveRun(sluice, a)
	})
	return newHarnessWith(t, kube, sluice)
}

// serveRun serves pipelines/run as the server does for what the trigger
// loop relies on: the pipeline must exist, its required params be given
// (else 422), and the job is created under the requested name, with the
// trigger and its label, so that a second request of the name gets
// AlreadyExists. It runs inside the fake clientset's lock, so it works on
// the object tracker directly.
func serveRun(sluice *sluicefake.Clientset, a k8stesting.Action) (bool, runtime.Object, error) {
	if a.GetSubresource() != "run" {
		return false, nil, nil
	}
	create := a.(k8stesting.CreateActionImpl)
	req := create.GetObject().(*v1alpha1.RunRequest)
	obj, err := sluice.Tracker().Get(pipelinesGVR, a.GetNamespace(), create.Name)
	if err != nil {
		return true, nil, err
	}
	p := obj.(*v1alpha1.Pipeline)
	for _, spec := range p.Spec.Params {
		given := slices.ContainsFunc(req.Params, func(g v1alpha1.Param) bool { return g.Name == spec.Name })
		if spec.Default == nil && !given {
			return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: v1alpha1.GroupName, Kind: "RunRequest"}, p.Name,
				field.ErrorList{field.Required(field.NewPath("params"), "param "+spec.Name+" is required")})
		}
	}
	j := jobOf(req.Name, p.Name, req.Params...)
	j.Namespace = a.GetNamespace()
	j.UID = types.UID("uid-" + req.Name)
	j.Spec.Environment = req.Environment
	j.Spec.Trigger = *req.Trigger
	j.Labels = map[string]string{v1alpha1.LabelPipeline: p.Name, v1alpha1.LabelTrigger: req.Trigger.Name}
	j.Status.Phase = v1alpha1.JobPending
	if err := sluice.Tracker().Create(jobsGVR, j, j.Namespace); err != nil {
		return true, nil, err
	}
	return true, j, nil
}

// createTrigger creates a schedule trigger of pipeline p, created at the
// harness's now, and waits for the cache.
func (h *harness) createTrigger(name string, src *v1alpha1.ScheduleSource, params ...v1alpha1.Param) *v1alpha1.Trigger {
	h.t.Helper()
	tr := &v1alpha1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 1, CreationTimestamp: metav1.NewTime(h.clock.Now())},
		Spec:       v1alpha1.TriggerSpec{PipelineRef: v1alpha1.PipelineReference{Name: "p"}, Params: params, Schedule: src},
	}
	_, err := h.sluice.SluiceV1alpha1().Triggers(ns).Create(h.ctx, tr, metav1.CreateOptions{})
	require.NoError(h.t, err)
	h.eventually("trigger in cache", func() bool { _, err := h.c.triggers.Triggers(ns).Get(name); return err == nil })
	return tr
}

// syncTrigger runs one sync of the trigger, which must succeed, and waits
// until the cache holds the status it wrote.
func (h *harness) syncTrigger(name string) *v1alpha1.Trigger {
	h.t.Helper()
	require.NoError(h.t, h.c.syncTrigger(h.ctx, ns+"/"+name))
	return h.waitTriggerCache(name)
}

func (h *harness) waitTriggerCache(name string) *v1alpha1.Trigger {
	h.t.Helper()
	stored, err := h.sluice.SluiceV1alpha1().Triggers(ns).Get(h.ctx, name, metav1.GetOptions{})
	require.NoError(h.t, err)
	h.eventually("trigger in cache", func() bool {
		cached, err := h.c.triggers.Triggers(ns).Get(name)
		return err == nil && apiequality.Semantic.DeepEqual(cached.Status, stored.Status) && apiequality.Semantic.DeepEqual(cached.Spec, stored.Spec)
	})
	return stored
}

// runs are the job names of the pipelines/run requests made, in order.
func (h *harness) runs() []string {
	var out []string
	for _, a := range h.sluice.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "pipelines" && a.GetSubresource() == "run" {
			out = append(out, a.(k8stesting.CreateAction).GetObject().(*v1alpha1.RunRequest).Name)
		}
	}
	return out
}

// drainTriggerQueue empties the trigger queue of the keys due now.
func (h *harness) drainTriggerQueue() {
	for h.c.triggerQueue.Len() > 0 {
		k, _ := h.c.triggerQueue.Get()
		h.c.triggerQueue.Done(k)
	}
}

func ready(tr *v1alpha1.Trigger) metav1.Condition {
	if c := meta.FindStatusCondition(tr.Status.Conditions, ConditionReady); c != nil {
		return *c
	}
	return metav1.Condition{}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func slotJob(trigger, slot string) string { return schedule.SlotName(trigger, at(slot)) }

func requiredParam(name string) v1alpha1.ParamSpec { return v1alpha1.ParamSpec{Name: name} }

// TestScheduleFires: nothing fires before the first slot; at the slot the
// job is started through pipelines/run under the slot's name, with the
// params expanded, the trigger recorded and the environment passed on;
// the status says so, and the trigger wakes at its next slot.
func TestScheduleFires(t *testing.T) {
	h := newTriggerHarness(t)
	p := testutil.Pipeline("p", steps("a")...)
	p.Spec.Params = []v1alpha1.ParamSpec{requiredParam("when")}
	h.createPipeline(p)
	h.createTrigger("nightly", &v1alpha1.ScheduleSource{Cron: "*/5 * * * *", TimeZone: "Europe/Berlin"},
		v1alpha1.Param{Name: "when", Value: "at $(schedule.time)"})
	tr, err := h.sluice.SluiceV1alpha1().Triggers(ns).Get(h.ctx, "nightly", metav1.GetOptions{})
	require.NoError(t, err)
	tr.Spec.Environment = "staging"
	_, err = h.sluice.SluiceV1alpha1().Triggers(ns).Update(h.ctx, tr, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.waitTriggerCache("nightly")

	tr = h.syncTrigger("nightly")
	assert.Empty(t, h.runs(), "no slot before the trigger existed")
	assert.Equal(t, at("2026-11-21T12:05:00Z"), tr.Status.NextScheduleTime.Time.UTC())
	assert.Nil(t, tr.Status.LastScheduleTime)
	assert.Equal(t, metav1.ConditionTrue, ready(tr).Status)
	assert.Equal(t, ReasonScheduled, ready(tr).Reason)
	assert.Equal(t, "next at 2026-11-21T13:05:00+01:00", ready(tr).Message)

	// The trigger wakes at its next slot, by the controller's clock.
	h.drainTriggerQueue()
	h.clock.Step(5*time.Minute - time.Second)
	assert.Zero(t, h.c.triggerQueue.Len(), "woken before its slot")
	h.clock.Step(time.Second + 3*time.Second)
	h.eventually("woken at the slot", func() bool { return h.c.triggerQueue.Len() == 1 })

	tr = h.syncTrigger("nightly")
	name := slotJob("nightly", "2026-11-21T12:05:00Z")
	assert.Equal(t, "nightly-1795262700", name)
	assert.Equal(t, []string{name}, h.runs())
	j := h.job(name)
	assert.Equal(t, []v1alpha1.Param{{Name: "when", Value: "at 2026-11-21T12:05:00Z"}}, j.Spec.Params)
	assert.Equal(t, "staging", j.Spec.Environment)
	detail := "schedule */5 * * * * slot 2026-11-21T13:05:00+01:00"
	assert.Equal(t, v1alpha1.JobTrigger{Type: v1alpha1.TriggerSchedule, Name: "nightly", Detail: detail}, j.Spec.Trigger)
	assert.Equal(t, at("2026-11-21T12:05:00Z"), tr.Status.LastScheduleTime.Time.UTC())
	assert.Equal(t, at("2026-11-21T12:10:00Z"), tr.Status.NextScheduleTime.Time.UTC())
	require.NotNil(t, tr.Status.LastEvent)
	assert.Equal(t, v1alpha1.TriggerEvent{Time: metav1.NewTime(h.clock.Now()), Detail: detail, Job: name},
		v1alpha1.TriggerEvent{Time: metav1.NewTime(tr.Status.LastEvent.Time.Time), Detail: tr.Status.LastEvent.Detail, Job: tr.Status.LastEvent.Job})
	assert.Zero(t, tr.Status.SkippedSlots)
	assert.Equal(t, tr.Generation, tr.Status.ObservedGeneration)
	assert.Equal(t, ReasonScheduled, ready(tr).Reason)
	assert.Contains(t, h.events(), "Normal Fired Started job "+name+" for "+detail)

	// The status write wakes the trigger again: nothing more fires.
	h.syncTrigger("nightly")
	assert.Equal(t, []string{name}, h.runs())
}

// TestScheduleRestartCreatesNothingTwice: a controller that started a
// slot's job and died before it recorded the slot leaves the slot to the
// next controller (a restart, or another replica), whose request gets
// AlreadyExists: the slot counts as fired, and no second job exists.
func TestScheduleRestartCreatesNothingTwice(t *testing.T) {
	h := newTriggerHarness(t)
	h.createPipeline(testutil.Pipeline("p", steps("a")...))
	h.createTrigger("every", &v1alpha1.ScheduleSource{Cron: "@every 2s"})
	var failStatus atomic.Bool
	h.sluice.PrependReactor("update", "triggers", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" && failStatus.Load() {
			return true, nil, errors.New("the controller died")
		}
		return false, nil, nil
	})
	h.clock.Step(2 * time.Second)
	failStatus.Store(true)
	require.Error(t, h.c.syncTrigger(h.ctx, ns+"/every"))
	name := schedule.SlotName("every", h.clock.Now())
	assert.Equal(t, []string{name}, h.jobNames())
	failStatus.Store(false)

	restarted := newHarnessWith(t, h.kube, h.sluice)
	restarted.clock.SetTime(h.clock.Now())
	tr := restarted.syncTrigger("every")
	assert.Equal(t, []string{name, name}, h.runs(), "the restarted controller asked for the same slot")
	assert.Equal(t, []string{name}, h.jobNames(), "and created nothing twice")
	assert.Equal(t, name, tr.Status.LastEvent.Job)
	assert.Equal(t, h.clock.Now(), tr.Status.LastScheduleTime.Time)
	assert.Zero(t, tr.Status.SkippedSlots)
	assert.Equal(t, ReasonScheduled, ready(tr).Reason)
	assert.Empty(t, restarted.events(), "no Fired event for a job that existed")

	// Both controllers schedule the next slot: one job.
	h.clock.Step(2 * time.Second)
	restarted.clock.SetTime(h.clock.Now())
	h.waitTriggerCache("every")
	h.syncTrigger("every")
	restarted.syncTrigger("every")
	next := schedule.SlotName("every", h.clock.Now())
	assert.Equal(t, []string{name, next}, h.jobNames())
}

// TestScheduleCatchUp: after a downtime of ten slots, catchUp 3 runs the
// three newest, oldest first, and counts the seven older ones skipped.
func TestScheduleCatchUp(t *testing.T) {
	h := newTriggerHarness(t)
	h.createPipeline(testutil.Pipeline("p", steps("a")...))
	h.createTrigger("hourly", &v1alpha1.ScheduleSource{Cron: "0 * * * *", CatchUp: ptr.To[int32](3)})
	h.clock.SetTime(at("2026-11-21T22:30:00Z"))
	tr := h.syncTrigger("hourly")
	want := []string{slotJob("hourly", "2026-11-21T20:00:00Z"), slotJob("hourly", "2026-11-21T21:00:00Z"), slotJob("hourly", "2026-11-21T22:00:00Z")}
	assert.Equal(t, want, h.runs(), "the three newest slots, oldest first")
	assert.EqualValues(t, 7, tr.Status.SkippedSlots)
	assert.Equal(t, at("2026-11-21T22:00:00Z"), tr.Status.LastScheduleTime.Time.UTC())
	assert.Equal(t, want[2], tr.Status.LastEvent.Job)
	assert.Equal(t, at("2026-11-21T23:00:00Z"), tr.Status.NextScheduleTime.Time.UTC())
}

// TestScheduleDeadline: slots later than startingDeadlineSeconds are
// skipped, even within catchUp, and the schedule goes on.
func TestScheduleDeadline(t *testing.T) {
	h := newTriggerHarness(t)
	h.createPipeline(testutil.Pipeline("p", steps("a")...))
	h.createTrigger("hourly", &v1alpha1.ScheduleSource{Cron: "0 * * * *", CatchUp: ptr.To[int32](3), StartingDeadlineSeconds: ptr.To[int64](600)})
	h.clock.SetTime(at("2026-11-21T15:30:00Z"))
	tr := h.syncTrigger("hourly")
	assert.Empty(t, h.runs(), "13:00, 14:00 and 15:00 are all too late")
	assert.EqualValues(t, 3, tr.Status.SkippedSlots)
	assert.Equal(t, at("2026-11-21T15:00:00Z"), tr.Status.LastScheduleTime.Time.UTC())
	assert.Nil(t, tr.Status.LastEvent)
	assert.Equal(t, ReasonScheduled, ready(tr).Reason)

	h.clock.SetTime(at("2026-11-21T17:09:00Z"))
	tr = h.syncTrigger("hourly")
	assert.Equal(t, []string{slotJob("hourly", "2026-11-21T17:00:00Z")}, h.runs(), "16:00 is too late, 17:00 within the deadline")
	assert.EqualValues(t, 4, tr.Status.SkippedSlots)
}

// TestScheduleSuspend: a suspended trigger fires nothing and skips its
// slots; resumed, it fires from the next slot on, not the skipped ones.
func TestScheduleSuspend(t *testing.T) {
	h := newTriggerHarness(t)
	h.createPipeline(testutil.Pipeline("p", steps("a")...))
	h.createTrigger("hourly", &v1alpha1.ScheduleSource{Cron: "0 * * * *", CatchUp: ptr.To[int32](3)})
	tr, err := h.sluice.SluiceV1alpha1().Triggers(ns).Get(h.ctx, "hourly", metav1.GetOptions{})
	require.NoError(t, err)
	tr.Spec.Suspend = true
	_, err = h.sluice.SluiceV1alpha1().Triggers(ns).Update(h.ctx, tr, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.waitTriggerCache("hourly")

	h.clock.SetTime(at("2026-11-21T14:30:00Z"))
	tr = h.syncTrigger("hourly")
	assert.Empty(t, h.runs())
	assert.EqualValues(t, 2, tr.Status.SkippedSlots)
	assert.Equal(t, at("2026-11-21T14:00:00Z"), tr.Status.LastScheduleTime.Time.UTC())
	assert.Equal(t, metav1.ConditionTrue, ready(tr).Status)
	assert.Equal(t, ReasonSuspended, ready(tr).Reason)

	tr.Spec.Suspend = false
	_, err = h.sluice.SluiceV1alpha1().Triggers(ns).Update(h.ctx, tr, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.waitTriggerCache("hourly")
	tr = h.syncTrigger("hourly")
	assert.Empty(t, h.runs(), "the slots skipped while suspended do not run")
	assert.Equal(t, ReasonScheduled, ready(tr).Reason)
	h.clock.SetTime(at("2026-11-21T15:00:01Z"))
	h.syncTrigger("hourly")
	assert.Equal(t, []string{slotJob("hourly", "2026-11-21T15:00:00Z")}, h.runs())
}

// TestSchedulePipelineNotFound: a trigger of a pipeline that does not
// exist is not Ready; the pipeline's creation wakes it, and it fires.
func TestSchedulePipelineNotFound(t *testing.T) {
	h := newTriggerHarness(t)
	h.createTrigger("every", &v1alpha1.ScheduleSource{Cron: "@every 10s"})
	h.clock.Step(10 * time.Second)
	tr := h.syncTrigger("every")
	assert.Equal(t, metav1.ConditionFalse, ready(tr).Status)
	assert.Equal(t, ReasonPipelineNotFound, ready(tr).Reason)
	assert.Equal(t, `pipeline "p" not found`, ready(tr).Message)
	assert.Empty(t, h.runs())

	h.drainTriggerQueue()
	h.createPipeline(testutil.Pipeline("p", steps("a")...))
	h.eventually("the pipeline wakes its trigger", func() bool { return h.c.triggerQueue.Len() == 1 })
	tr = h.syncTrigger("every")
	assert.Equal(t, []string{schedule.SlotName("every", h.clock.Now())}, h.runs())
	assert.Equal(t, ReasonScheduled, ready(tr).Reason)
}

// TestScheduleRunRefused: a job pipelines/run refuses (422) skips its slot
// and makes the trigger not Ready, until a slot fires again. A reference
// no schedule fills is InvalidParams.
func TestScheduleRunRefused(t *testing.T) {
	h := newTriggerHarness(t)
	p := testutil.Pipeline("p", steps("a")...)
	p.Spec.Params = []v1alpha1.ParamSpec{requiredParam("image")}
	h.createPipeline(p)
	h.createTrigger("every", &v1alpha1.ScheduleSource{Cron: "@every 10s"})
	h.clock.Step(10 * time.Second)
	tr := h.syncTrigger("every")
	assert.Empty(t, h.jobNames())
	assert.EqualValues(t, 1, tr.Status.SkippedSlots)
	assert.Equal(t, h.clock.Now(), tr.Status.LastScheduleTime.Time)
	assert.Equal(t, metav1.ConditionFalse, ready(tr).Status)
	assert.Equal(t, ReasonRunRefused, ready(tr).Reason)
	assert.Contains(t, ready(tr).Message, "param image is required")
	events := h.events()
	require.Len(t, events, 1)
	assert.True(t, strings.HasPrefix(events[0], "Warning RunRefused pipelines/run refused job "+schedule.SlotName("every", h.clock.Now())), events[0])
	tr = h.syncTrigger("every")
	assert.Equal(t, ReasonRunRefused, ready(tr).Reason, "the refusal stands until a slot fires")

	tr.Spec.Params = []v1alpha1.Param{{Name: "image", Value: "$(image.tag)"}}
	_, err := h.sluice.SluiceV1alpha1().Triggers(ns).Update(h.ctx, tr, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.waitTriggerCache("every")
	h.clock.Step(10 * time.Second)
	tr = h.syncTrigger("every")
	assert.Equal(t, ReasonInvalidParams, ready(tr).Reason)
	assert.Equal(t, "param image: no value for $(image.tag)", ready(tr).Message)
	assert.Empty(t, h.jobNames())

	tr.Spec.Params = []v1alpha1.Param{{Name: "image", Value: "web"}}
	_, err = h.sluice.SluiceV1alpha1().Triggers(ns).Update(h.ctx, tr, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.waitTriggerCache("every")
	tr = h.syncTrigger("every")
	assert.Equal(t, []string{schedule.SlotName("every", h.clock.Now())}, h.jobNames())
	assert.Equal(t, ReasonScheduled, ready(tr).Reason)
	assert.EqualValues(t, 1, tr.Status.SkippedSlots)
}

// TestEventTriggerStatus: the loop keeps the status of the triggers whose
// events the receiver handles: Ready says whether the pipeline and the
// Secret requests are verified with are there, and lastEvent is the newest
// job the trigger started, learnt from the job informer. An image trigger
// says its source does not poll yet.
func TestEventTriggerStatus(t *testing.T) {
	h := newTriggerHarness(t)
	tr := h.createTrigger("hook", nil)
	tr.Spec.Webhook = &v1alpha1.WebhookSource{Provider: v1alpha1.WebhookGitHub, SecretRef: v1alpha1.SecretKeyRef{Name: "hook", Key: "secret"}}
	_, err := h.sluice.SluiceV1alpha1().Triggers(ns).Update(h.ctx, tr, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.waitTriggerCache("hook")
	ready := func(tr *v1alpha1.Trigger) string {
		c := meta.FindStatusCondition(tr.Status.Conditions, ConditionReady)
		require.NotNil(t, c)
		return string(c.Status) + " " + c.Reason + ": " + c.Message
	}

	assert.Equal(t, `False PipelineNotFound: pipeline "p" not found`, ready(h.syncTrigger("hook")))
	h.createPipeline(testutil.Pipeline("p", steps("a")...))
	h.eventually("pipeline in cache", func() bool { _, err := h.c.pipelines.Pipelines(ns).Get("p"); return err == nil })
	assert.Equal(t, `False SecretNotFound: secret "hook" not found`, ready(h.syncTrigger("hook")))
	_, err = h.kube.CoreV1().Secrets(ns).Create(h.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook"}, Data: map[string][]byte{"other": []byte("x")}}, metav1.CreateOptions{})
	require.NoError(t, err)
	assert.Equal(t, `False SecretNotFound: secret "hook" has no key "secret", or it is empty`, ready(h.syncTrigger("hook")))
	_, err = h.kube.CoreV1().Secrets(ns).Update(h.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook"}, Data: map[string][]byte{"secret": []byte("s3cret")}}, metav1.UpdateOptions{})
	require.NoError(t, err)
	got := h.syncTrigger("hook")
	assert.Equal(t, "True Listening: receiving events at /hooks/team-a/hook", ready(got))
	assert.Nil(t, got.Status.LastEvent)
	assert.NotContains(t, fmt.Sprint(got.Status), "s3cret")

	// Jobs the receiver started: the newest is the last event, whatever
	// order the informer sees them in, and it wakes the trigger.
	fired := func(name string, ago time.Duration) {
		j := jobOf(name, "p")
		j.CreationTimestamp = metav1.NewTime(h.clock.Now().Add(-ago))
		j.Labels = map[string]string{v1alpha1.LabelTrigger: "hook"}
		j.Spec.Trigger = v1alpha1.JobTrigger{Type: v1alpha1.TriggerWebhook, Name: "hook", Detail: "github push to main by alice (" + name + ")"}
		h.createJob(j)
	}
	fired("hook-newer", time.Minute)
	h.eventually("the informer notes the job", func() bool { _, ok := h.c.lastTriggered.get(ns + "/hook"); return ok })
	fired("hook-older", time.Hour)
	h.eventually("the informer saw both", func() bool {
		_, err1 := h.c.jobs.PipelineJobs(ns).Get("hook-newer")
		_, err2 := h.c.jobs.PipelineJobs(ns).Get("hook-older")
		return err1 == nil && err2 == nil
	})
	got = h.syncTrigger("hook")
	require.NotNil(t, got.Status.LastEvent)
	assert.Equal(t, "hook-newer", got.Status.LastEvent.Job)
	assert.Equal(t, "github push to main by alice (hook-newer)", got.Status.LastEvent.Detail)

}
