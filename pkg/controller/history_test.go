package controller

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	metricstestutil "k8s.io/component-base/metrics/testutil"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// enforceDeletePreconditions makes the fake clientset check a delete's UID
// and resourceVersion preconditions as the apiserver does (409), which its
// object tracker does not. It runs inside the fake's lock, so it reads the
// tracker directly.
func enforceDeletePreconditions(h *harness) {
	h.sluice.PrependReactor("delete", "pipelinejobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteActionImpl)
		pre := d.DeleteOptions.Preconditions
		if pre == nil {
			return false, nil, nil
		}
		obj, err := h.sluice.Tracker().Get(a.GetResource(), a.GetNamespace(), d.Name)
		if err != nil {
			return true, nil, err
		}
		j := obj.(*v1alpha1.PipelineJob)
		if (pre.UID != nil && *pre.UID != j.UID) || (pre.ResourceVersion != nil && *pre.ResourceVersion != j.ResourceVersion) {
			return true, nil, apierrors.NewConflict(v1alpha1.Resource("pipelinejobs"), d.Name, errPreconditions)
		}
		return false, nil, nil
	})
}

var errPreconditions = errors.New("the object has been modified; the preconditions do not match")

// onNextJobGet runs change on the stored job once, inside the next GET of
// it, before the GET reads it: as if someone wrote the job just before the
// controller read it from the API.
func onNextJobGet(h *harness, name string, change func(j *v1alpha1.PipelineJob)) {
	done := false
	h.sluice.PrependReactor("get", "pipelinejobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if done || a.(k8stesting.GetAction).GetName() != name {
			return false, nil, nil
		}
		done = true
		obj, err := h.sluice.Tracker().Get(a.GetResource(), a.GetNamespace(), name)
		if err != nil {
			return true, nil, err
		}
		j := obj.(*v1alpha1.PipelineJob).DeepCopy()
		change(j)
		return false, nil, h.sluice.Tracker().Update(a.GetResource(), j, a.GetNamespace())
	})
}

// finishedJob is a job of pipeline that has finished as phase, at the
// harness's clock plus completedAfter, as the controller leaves it.
func (h *harness) finishedJob(name, pipeline string, phase v1alpha1.JobPhase, completedAfter time.Duration) *v1alpha1.PipelineJob {
	j := jobOf(name, pipeline)
	start := metav1.NewTime(h.clock.Now())
	done := metav1.NewTime(h.clock.Now().Add(completedAfter))
	j.Status = v1alpha1.PipelineJobStatus{Phase: phase, StartTime: &start, CompletionTime: &done,
		PipelineSpec: &v1alpha1.PipelineSpec{Steps: steps("deploy")}}
	return j
}

// syncDeleting runs one sync of a job that may delete it.
func (h *harness) syncDeleting(name string) {
	h.t.Helper()
	require.NoError(h.t, h.c.sync(h.ctx, ns+"/"+name))
}

func (h *harness) jobExists(name string) bool {
	h.t.Helper()
	_, err := h.sluice.SluiceV1alpha1().PipelineJobs(ns).Get(h.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	require.NoError(h.t, err)
	return true
}

// jobNames are the names of the jobs in the API, in order.
func (h *harness) jobNames() []string {
	h.t.Helper()
	list, err := h.sluice.SluiceV1alpha1().PipelineJobs(ns).List(h.ctx, metav1.ListOptions{})
	require.NoError(h.t, err)
	var out []string
	for _, j := range list.Items {
		out = append(out, j.Name)
	}
	slices.Sort(out)
	return out
}

// jobDeletes are the deletes of jobs the controller sent.
func (h *harness) jobDeletes() []k8stesting.DeleteActionImpl {
	var out []k8stesting.DeleteActionImpl
	for _, a := range h.sluice.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.GetResource().Resource == "pipelinejobs" {
			out = append(out, d)
		}
	}
	return out
}

func deletedTotal(t *testing.T, reason string) float64 {
	t.Helper()
	v, err := metricstestutil.GetCounterMetricValue(jobsDeleted.WithLabelValues(reason))
	require.NoError(t, err)
	return v
}

// TestTTLFromTheJob: a job with spec.ttlSecondsAfterFinished is woken when
// its TTL runs out and deleted then, not before, with its UID and
// resourceVersion as preconditions and in the background, so the garbage
// collector deletes its Pods.
func TestTTLFromTheJob(t *testing.T) {
	h := newHarness(t)
	enforceDeletePreconditions(h)
	h.createPipeline(testutil.Pipeline("release", steps("deploy")...))
	j := jobOf("r1", "release")
	j.Spec.TTLSecondsAfterFinished = ptr.To[int32](60)
	j.ResourceVersion = "7"
	h.createJob(j)
	h.sync("r1")
	h.clock.Step(time.Minute)
	h.finishPod("r1-deploy-1", 0)
	require.Equal(t, v1alpha1.JobSucceeded, h.sync("r1").Status.Phase)

	key := ns + "/r1"
	h.sync("r1") // as the informer's update event does
	require.Equal(t, time.Minute, h.queue.lastDelay(key), "woken when the TTL runs out")
	h.clock.Step(59 * time.Second)
	h.sync("r1")
	require.True(t, h.jobExists("r1"))
	require.Equal(t, time.Second, h.queue.lastDelay(key))
	require.Empty(t, h.jobDeletes())

	before := deletedTotal(t, DeleteReasonTTL)
	h.clock.Step(time.Second)
	h.syncDeleting("r1")
	require.False(t, h.jobExists("r1"))
	deletes := h.jobDeletes()
	require.Len(t, deletes, 1)
	opts := deletes[0].DeleteOptions
	require.Equal(t, "r1", deletes[0].Name)
	require.Equal(t, ptr.To(j.UID), opts.Preconditions.UID)
	require.Equal(t, ptr.To("7"), opts.Preconditions.ResourceVersion)
	require.Equal(t, ptr.To(metav1.DeletePropagationBackground), opts.PropagationPolicy)
	require.Equal(t, before+1, deletedTotal(t, DeleteReasonTTL))

	// Its next sync, from the delete event, finds nothing to do.
	h.syncDeleting("r1")
	require.Len(t, h.jobDeletes(), 1)
}

// TestTTLFromThePipeline: a job without a TTL of its own gets the one of
// its pipeline's history, as it was when the job started (its snapshot);
// its own TTL wins over the pipeline's, and a job with neither is kept.
func TestTTLFromThePipeline(t *testing.T) {
	h := newHarness(t)
	p := testutil.Pipeline("release", steps("deploy")...)
	p.Spec.History = &v1alpha1.HistoryPolicy{TTLSecondsAfterFinished: ptr.To[int32](30)}
	h.createPipeline(p)
	h.createJob(jobOf("defaulted", "release"))
	own := jobOf("own", "release")
	own.Spec.TTLSecondsAfterFinished = ptr.To[int32](120)
	h.createJob(own)
	for _, name := range []string{"defaulted", "own"} {
		h.sync(name)
		h.finishPod(name+"-deploy-1", 1)
		require.Equal(t, v1alpha1.JobFailed, h.sync(name).Status.Phase)
		h.sync(name)
	}
	require.Equal(t, 30*time.Second, h.queue.lastDelay(ns+"/defaulted"))
	require.Equal(t, 2*time.Minute, h.queue.lastDelay(ns+"/own"))

	// The pipeline's TTL changes later: the snapshot's applies.
	p = h.pipeline("release")
	p.Spec.History.TTLSecondsAfterFinished = ptr.To[int32](3600)
	_, err := h.sluice.SluiceV1alpha1().Pipelines(ns).Update(h.ctx, p, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.eventually("pipeline in cache", func() bool {
		c, err := h.c.pipelines.Pipelines(ns).Get("release")
		return err == nil && *c.Spec.History.TTLSecondsAfterFinished == 3600
	})
	h.clock.Step(30 * time.Second)
	h.syncDeleting("defaulted")
	h.syncDeleting("own")
	require.Equal(t, []string{"own"}, h.jobNames())
	require.Equal(t, 90*time.Second, h.queue.lastDelay(ns+"/own"))

	// A job with no TTL, its own or its snapshot's, is kept.
	kept := h.finishedJob("kept", "release", v1alpha1.JobSucceeded, 0)
	h.createJob(kept)
	h.clock.Step(365 * 24 * time.Hour)
	h.sync("kept")
	require.True(t, h.jobExists("kept"))
	require.Equal(t, time.Duration(-1), h.queue.lastDelay(ns+"/kept"))
}

// TestTTLChangedBeforeExpiry: the TTL may change at any time. The job is
// read from the API before it is deleted, and that read decides: a TTL
// made longer or removed after the cache saw the job keeps it (woken at
// the new expiry, or not at all); a TTL made shorter deletes it at the
// new expiry; and a change between that read and the delete makes the
// delete fail on its resourceVersion, and the job is looked at again.
func TestTTLChangedBeforeExpiry(t *testing.T) {
	h := newHarness(t)
	enforceDeletePreconditions(h)
	h.createPipeline(testutil.Pipeline("release", steps("deploy")...))
	for _, name := range []string{"longer", "removed", "shorter", "raced"} {
		j := h.finishedJob(name, "release", v1alpha1.JobSucceeded, 0)
		j.Spec.TTLSecondsAfterFinished = ptr.To[int32](60)
		if name == "shorter" {
			j.Spec.TTLSecondsAfterFinished = ptr.To[int32](3600)
		}
		j.ResourceVersion = "1"
		h.createJob(j)
	}
	h.clock.Step(time.Minute)

	onNextJobGet(h, "longer", func(j *v1alpha1.PipelineJob) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](3600) })
	h.syncDeleting("longer")
	require.True(t, h.jobExists("longer"), "the TTL the API has now decides")
	require.Equal(t, 59*time.Minute, h.queue.lastDelay(ns+"/longer"))

	onNextJobGet(h, "removed", func(j *v1alpha1.PipelineJob) { j.Spec.TTLSecondsAfterFinished = nil })
	h.syncDeleting("removed")
	require.True(t, h.jobExists("removed"))
	require.Equal(t, time.Duration(-1), h.queue.lastDelay(ns+"/removed"), "no TTL, no wake-up")

	h.sync("shorter")
	require.Equal(t, 59*time.Minute, h.queue.lastDelay(ns+"/shorter"))
	j := h.job("shorter")
	j.Spec.TTLSecondsAfterFinished = ptr.To[int32](0)
	_, err := h.sluice.SluiceV1alpha1().PipelineJobs(ns).Update(h.ctx, j, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.eventually("ttl in cache", func() bool {
		c, err := h.c.jobs.PipelineJobs(ns).Get("shorter")
		return err == nil && *c.Spec.TTLSecondsAfterFinished == 0
	})
	h.syncDeleting("shorter")
	require.False(t, h.jobExists("shorter"))

	// Someone writes the job after the controller read it, before the
	// delete: the delete's resourceVersion precondition fails it.
	raced := false
	h.sluice.PrependReactor("get", "pipelinejobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if raced || a.(k8stesting.GetAction).GetName() != "raced" {
			return false, nil, nil
		}
		raced = true
		obj, err := h.sluice.Tracker().Get(a.GetResource(), a.GetNamespace(), "raced")
		if err != nil {
			return true, nil, err
		}
		read := obj.(*v1alpha1.PipelineJob).DeepCopy()
		written := read.DeepCopy()
		written.ResourceVersion = "2"
		return true, read, h.sluice.Tracker().Update(a.GetResource(), written, a.GetNamespace())
	})
	err = h.c.sync(h.ctx, ns+"/raced")
	require.True(t, apierrors.IsConflict(err), "%v", err)
	require.True(t, h.jobExists("raced"))
	h.syncDeleting("raced")
	require.False(t, h.jobExists("raced"), "the next sync reads the job again and deletes it")
}

// TestTTLZero: a job whose TTL is 0 is deleted by the first sync that sees
// it finished; one whose failure webhook is still to be delivered is kept
// until its notification is delivered.
func TestTTLZero(t *testing.T) {
	h := newHarness(t)
	h.createPipeline(testutil.Pipeline("release", steps("deploy")...))
	j := jobOf("now", "release")
	j.Spec.TTLSecondsAfterFinished = ptr.To[int32](0)
	h.createJob(j)
	h.sync("now")
	h.finishPod("now-deploy-1", 0)
	require.Equal(t, v1alpha1.JobSucceeded, h.sync("now").Status.Phase)
	h.syncDeleting("now")
	require.False(t, h.jobExists("now"))
	require.Equal(t, time.Duration(-1), h.queue.lastDelay(ns+"/now"))

	notified := h.finishedJob("notified", "release", v1alpha1.JobFailed, 0)
	notified.Spec.TTLSecondsAfterFinished = ptr.To[int32](0)
	notified.Status.Notifications = []v1alpha1.NotificationStatus{{Event: v1alpha1.NotifyFailed, URL: "https://chat.example.com/hook", State: v1alpha1.NotificationPending}}
	h.createJob(notified)
	h.syncDeleting("notified")
	require.True(t, h.jobExists("notified"), "kept while its notification is pending")

	stored := h.job("notified")
	stored.Status.Notifications[0].State = v1alpha1.NotificationDelivered
	stored.Status.Notifications[0].Attempts = 1
	_, err := h.sluice.SluiceV1alpha1().PipelineJobs(ns).UpdateStatus(h.ctx, stored, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.eventually("delivery in cache", func() bool {
		c, err := h.c.jobs.PipelineJobs(ns).Get("notified")
		return err == nil && c.Status.Notifications[0].State == v1alpha1.NotificationDelivered
	})
	h.syncDeleting("notified")
	require.False(t, h.jobExists("notified"))
}

// TestRestartedControllerDeletesExpiredJobs: a controller that starts (a
// restart, or a new leader) lists every job: the jobs whose TTL ran out
// while no controller ran are deleted by their first sync, and the others
// are woken at their expiry.
func TestRestartedControllerDeletesExpiredJobs(t *testing.T) {
	first := newHarness(t)
	for _, name := range []string{"expires", "later"} {
		j := first.finishedJob(name, "inline", v1alpha1.JobSucceeded, 0)
		j.Spec.PipelineRef = nil
		j.Spec.PipelineSpec = &v1alpha1.PipelineSpec{Steps: steps("deploy")}
		j.Spec.TTLSecondsAfterFinished = ptr.To[int32](60)
		if name == "later" {
			j.Spec.TTLSecondsAfterFinished = ptr.To[int32](3600)
		}
		first.createJob(j)
		first.sync(name)
		require.Equal(t, time.Duration(*j.Spec.TTLSecondsAfterFinished)*time.Second, first.queue.lastDelay(ns+"/"+name))
	}

	// The controller stops; two minutes later another one starts.
	restarted := newHarnessWith(t, first.kube, first.sluice)
	restarted.clock.Step(2 * time.Minute)
	for _, name := range []string{"expires", "later"} {
		restarted.eventually("queued by the informer's list", func() bool { return restarted.queue.added(ns+"/"+name) == 1 })
	}
	restarted.syncDeleting("expires")
	restarted.syncDeleting("later")
	require.Equal(t, 58*time.Minute, restarted.queue.lastDelay(ns+"/later"))
	require.Equal(t, []string{"later"}, restarted.jobNames())
}
