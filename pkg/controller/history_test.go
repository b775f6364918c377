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

// historyQueued drains the history cleaner's queue and returns its keys.
func (h *harness) historyQueued() []string {
	var out []string
	for h.c.history.queue.Len() > 0 {
		k, _ := h.c.history.queue.Get()
		h.c.history.queue.Forget(k)
		h.c.history.queue.Done(k)
		out = append(out, k)
	}
	return out
}

// cleanHistory runs one pass of the history cleaner over pipeline.
func (h *harness) cleanHistory(pipeline string) {
	h.t.Helper()
	require.NoError(h.t, h.c.history.sync(h.ctx, ns+"/"+pipeline))
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

// historyPipeline creates pipeline "release" with the history limits
// given, and jobs; it leaves the history cleaner's queue empty.
func historyPipeline(h *harness, succeeded, failed *int32, jobs ...*v1alpha1.PipelineJob) {
	h.t.Helper()
	p := testutil.Pipeline("release", steps("deploy")...)
	p.Spec.History = &v1alpha1.HistoryPolicy{SuccessfulJobsLimit: succeeded, FailedJobsLimit: failed}
	h.createPipeline(p)
	for _, j := range jobs {
		h.createJob(j)
	}
	if hasLimits(p) {
		h.eventually("pipeline queued by its add event", func() bool { return h.c.history.queue.Len() > 0 })
		h.historyQueued()
	}
}

// TestHistoryLimits: a pass keeps the newest successfulJobsLimit Succeeded
// jobs and the newest failedJobsLimit Failed or Cancelled jobs of the
// pipeline, across environments, newest by completion time and then by
// name; it deletes the others in the background with a UID precondition,
// records one Event on the Pipeline, and counts them. Jobs that have not
// finished, jobs of other pipelines and jobs another controller instance
// runs are not its to count or delete.
func TestHistoryLimits(t *testing.T) {
	// A job another controller instance runs, which the informer's label
	// selector leaves out of this one's cache. (The fake clientset answers
	// a List with a label selector, not a watch, so it exists from the
	// start.)
	done := metav1.NewTime(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)) // older than every other job
	other := jobOf("other-instance", "release")
	other.Namespace, other.UID = ns, "uid-other-instance"
	other.Labels = map[string]string{v1alpha1.LabelPipeline: "release", v1alpha1.LabelControllerInstance: "canary"}
	other.Status = v1alpha1.PipelineJobStatus{Phase: v1alpha1.JobSucceeded, StartTime: &done, CompletionTime: &done}
	h := newHarness(t, other)
	enforceDeletePreconditions(h)
	inEnv := func(j *v1alpha1.PipelineJob, env string) *v1alpha1.PipelineJob { j.Spec.Environment = env; return j }
	running := jobOf("running", "release")
	running.Status.Phase = v1alpha1.JobRunning
	historyPipeline(h, ptr.To[int32](2), ptr.To[int32](1),
		h.finishedJob("s1", "release", v1alpha1.JobSucceeded, 1*time.Second),
		h.finishedJob("f1", "release", v1alpha1.JobFailed, 2*time.Second),
		h.finishedJob("s2", "release", v1alpha1.JobSucceeded, 3*time.Second),
		h.finishedJob("c1", "release", v1alpha1.JobCancelled, 4*time.Second),
		inEnv(h.finishedJob("s3", "release", v1alpha1.JobSucceeded, 5*time.Second), "qa"),
		inEnv(h.finishedJob("s4a", "release", v1alpha1.JobSucceeded, 5*time.Second), "qa"),
		h.finishedJob("f2", "release", v1alpha1.JobFailed, 6*time.Second),
		h.finishedJob("s5", "release", v1alpha1.JobSucceeded, 7*time.Second),
		h.finishedJob("elsewhere", "another", v1alpha1.JobSucceeded, 0),
		running, jobOf("pending", "release"),
	)
	// The Pipeline records qa's releases, as the controller would have.
	p := h.pipeline("release")
	p.Status.Environments = []v1alpha1.EnvironmentStatus{{Name: "qa", Current: release(h.job("s4a")), Previous: release(h.job("s3"))}}
	_, err := h.sluice.SluiceV1alpha1().Pipelines(ns).UpdateStatus(h.ctx, p, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.eventually("releases in cache", func() bool {
		c, err := h.c.pipelines.Pipelines(ns).Get("release")
		return err == nil && len(c.Status.Environments) == 1
	})
	h.eventually("a pipeline with limits is queued when it changes", func() bool { return h.c.history.queue.Len() == 1 })
	require.Equal(t, []string{ns + "/release"}, h.historyQueued())
	h.clock.Step(time.Minute)

	before := deletedTotal(t, DeleteReasonHistory)
	h.events()
	h.cleanHistory("release")
	// Succeeded, newest first: s5, s4a, s3 (s4a is newer than s3 by name),
	// s2, s1; s3 is qa's previous release and is kept beyond the limit.
	// Failed or Cancelled, newest first: f2, c1, f1.
	require.Equal(t, []string{"elsewhere", "f2", "other-instance", "pending", "running", "s3", "s4a", "s5"}, h.jobNames())
	var deleted []string
	for _, d := range h.jobDeletes() {
		deleted = append(deleted, d.Name)
		require.NotNil(t, d.DeleteOptions.Preconditions.UID, d.Name)
		require.Equal(t, "uid-"+d.Name, string(*d.DeleteOptions.Preconditions.UID))
		require.Equal(t, ptr.To(metav1.DeletePropagationBackground), d.DeleteOptions.PropagationPolicy)
	}
	require.Equal(t, []string{"s1", "s2", "f1", "c1"}, deleted, "oldest first, per limit")
	require.Equal(t, before+4, deletedTotal(t, DeleteReasonHistory))
	require.Equal(t, []string{"Normal DeletedJobs Deleted 4 finished jobs beyond the history limits (successfulJobsLimit 2, failedJobsLimit 1): s1, s2, f1, c1"}, h.events())

	// A second pass, once the cache has seen the deletes, has nothing to do
	// and asks the API nothing.
	h.eventually("deletes in cache", func() bool {
		for _, name := range deleted {
			if _, err := h.c.jobs.PipelineJobs(ns).Get(name); !apierrors.IsNotFound(err) {
				return false
			}
		}
		return true
	})
	actions := len(h.sluice.Actions())
	h.cleanHistory("release")
	require.Len(t, h.sluice.Actions(), actions)
}

// TestHistoryQueuedByFinishedJobs: every sync of a finished job of a
// pipeline with limits queues one pass over the pipeline, so the jobs that
// finish together, and every job at a resync, share it. A pipeline without
// limits is never queued.
func TestHistoryQueuedByFinishedJobs(t *testing.T) {
	h := newHarness(t)
	historyPipeline(h, ptr.To[int32](1), nil,
		h.finishedJob("a", "release", v1alpha1.JobSucceeded, 0),
		h.finishedJob("b", "release", v1alpha1.JobSucceeded, time.Second))
	h.createPipeline(testutil.Pipeline("unlimited", steps("deploy")...))
	h.createJob(h.finishedJob("u", "unlimited", v1alpha1.JobSucceeded, 0))

	h.sync("u")
	require.Empty(t, h.historyQueued())
	h.sync("a")
	h.sync("b")
	require.Equal(t, []string{ns + "/release"}, h.historyQueued())
}

// TestHistoryKeepsReleases: a Succeeded job that is the current or the
// previous release of an environment is never deleted by a limit, nor
// one that will become one once recorded (its controller stopped before
// writing the Pipeline). A job of an environment that completed before its
// previous release is not a release, and goes.
func TestHistoryKeepsReleases(t *testing.T) {
	h := newHarness(t)
	inEnv := func(j *v1alpha1.PipelineJob, env string) *v1alpha1.PipelineJob { j.Spec.Environment = env; return j }
	historyPipeline(h, ptr.To[int32](1), ptr.To[int32](0),
		inEnv(h.finishedJob("prod-old", "release", v1alpha1.JobSucceeded, 1*time.Second), "production"),
		inEnv(h.finishedJob("prod-1", "release", v1alpha1.JobSucceeded, 2*time.Second), "production"),
		inEnv(h.finishedJob("prod-2", "release", v1alpha1.JobSucceeded, 3*time.Second), "production"),
		inEnv(h.finishedJob("prod-failed", "release", v1alpha1.JobFailed, 4*time.Second), "production"),
		inEnv(h.finishedJob("staging-1", "release", v1alpha1.JobSucceeded, 5*time.Second), "staging"),
		inEnv(h.finishedJob("qa-unrecorded", "release", v1alpha1.JobSucceeded, 6*time.Second), "qa"),
		h.finishedJob("no-env-1", "release", v1alpha1.JobSucceeded, 7*time.Second),
		h.finishedJob("no-env-2", "release", v1alpha1.JobSucceeded, 8*time.Second),
	)
	p := h.pipeline("release")
	p.Status.Environments = []v1alpha1.EnvironmentStatus{
		{Name: "production", Current: release(h.job("prod-2")), Previous: release(h.job("prod-1"))},
		{Name: "staging", Current: release(h.job("staging-1"))},
	}
	_, err := h.sluice.SluiceV1alpha1().Pipelines(ns).UpdateStatus(h.ctx, p, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.eventually("releases in cache", func() bool {
		c, err := h.c.pipelines.Pipelines(ns).Get("release")
		return err == nil && len(c.Status.Environments) == 2
	})

	h.cleanHistory("release")
	require.Equal(t, []string{"no-env-2", "prod-1", "prod-2", "qa-unrecorded", "staging-1"}, h.jobNames())

	// Once the environment moves on, its old releases go too.
	h.createJob(inEnv(h.finishedJob("prod-3", "release", v1alpha1.JobSucceeded, 9*time.Second), "production"))
	h.createJob(inEnv(h.finishedJob("prod-4", "release", v1alpha1.JobSucceeded, 10*time.Second), "production"))
	for _, name := range []string{"prod-3", "prod-4", "qa-unrecorded"} {
		h.sync(name) // records the release, as every sync of a succeeded job does
	}
	h.eventually("releases in cache", func() bool {
		c, err := h.c.pipelines.Pipelines(ns).Get("release")
		return err == nil && len(c.Status.Environments) == 3 && c.Status.Environments[0].Current.Job == "prod-4"
	})
	h.cleanHistory("release")
	require.Equal(t, []string{"prod-3", "prod-4", "qa-unrecorded", "staging-1"}, h.jobNames())
}

// TestHistoryUsesTheLimitsOfNow: the limits are the Pipeline's as the API
// has them when the pass deletes, not the cache's: limits raised, or
// removed, a moment ago keep the jobs.
func TestHistoryUsesTheLimitsOfNow(t *testing.T) {
	h := newHarness(t)
	historyPipeline(h, ptr.To[int32](1), nil,
		h.finishedJob("a", "release", v1alpha1.JobSucceeded, 1*time.Second),
		h.finishedJob("b", "release", v1alpha1.JobSucceeded, 2*time.Second),
		h.finishedJob("c", "release", v1alpha1.JobSucceeded, 3*time.Second))
	raised := false
	h.sluice.PrependReactor("get", "pipelines", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if raised {
			return false, nil, nil
		}
		raised = true
		obj, err := h.sluice.Tracker().Get(a.GetResource(), a.GetNamespace(), "release")
		if err != nil {
			return true, nil, err
		}
		p := obj.(*v1alpha1.Pipeline).DeepCopy()
		p.Spec.History.SuccessfulJobsLimit = ptr.To[int32](2)
		return false, nil, h.sluice.Tracker().Update(a.GetResource(), p, a.GetNamespace())
	})
	h.cleanHistory("release")
	require.Equal(t, []string{"b", "c"}, h.jobNames(), "the limit raised to 2 just now applies")

	p := h.pipeline("release")
	p.Spec.History = nil
	_, err := h.sluice.SluiceV1alpha1().Pipelines(ns).Update(h.ctx, p, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.eventually("pipeline in cache", func() bool {
		c, err := h.c.pipelines.Pipelines(ns).Get("release")
		return err == nil && c.Spec.History == nil
	})
	h.createJob(h.finishedJob("d", "release", v1alpha1.JobSucceeded, 4*time.Second))
	h.cleanHistory("release")
	require.Equal(t, []string{"b", "c", "d"}, h.jobNames())
}

// TestHistoryUnsetKeepsAll: no history, a history with only a TTL, or a
// limit for one class only, keeps every job that no limit counts.
func TestHistoryUnsetKeepsAll(t *testing.T) {
	h := newHarness(t)
	historyPipeline(h, nil, nil,
		h.finishedJob("s0", "release", v1alpha1.JobSucceeded, 0),
		h.finishedJob("s1", "release", v1alpha1.JobSucceeded, time.Second),
		h.finishedJob("f2", "release", v1alpha1.JobFailed, 2*time.Second),
		h.finishedJob("f3", "release", v1alpha1.JobFailed, 3*time.Second),
		h.finishedJob("c4", "release", v1alpha1.JobCancelled, 4*time.Second))
	all := h.jobNames()
	require.Len(t, all, 5)
	h.cleanHistory("release")
	require.Equal(t, all, h.jobNames())

	for _, history := range []*v1alpha1.HistoryPolicy{nil, {TTLSecondsAfterFinished: ptr.To[int32](3600)}} {
		p := h.pipeline("release")
		p.Spec.History = history
		_, err := h.sluice.SluiceV1alpha1().Pipelines(ns).Update(h.ctx, p, metav1.UpdateOptions{})
		require.NoError(t, err)
		h.eventually("pipeline in cache", func() bool {
			c, err := h.c.pipelines.Pipelines(ns).Get("release")
			return err == nil && (c.Spec.History == nil) == (history == nil)
		})
		h.historyQueued()
		for _, name := range all {
			h.sync(name)
		}
		require.Empty(t, h.historyQueued(), "a pipeline without limits is not queued")
		h.cleanHistory("release")
		require.Equal(t, all, h.jobNames())
	}

	p := h.pipeline("release")
	p.Spec.History = &v1alpha1.HistoryPolicy{SuccessfulJobsLimit: ptr.To[int32](0)}
	_, err := h.sluice.SluiceV1alpha1().Pipelines(ns).Update(h.ctx, p, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.eventually("pipeline in cache", func() bool {
		c, err := h.c.pipelines.Pipelines(ns).Get("release")
		return err == nil && c.Spec.History != nil && c.Spec.History.SuccessfulJobsLimit != nil
	})
	h.cleanHistory("release")
	require.Equal(t, []string{"c4", "f2", "f3"}, h.jobNames(), "failedJobsLimit unset keeps every failed job")
}

// TestHistoryWaitsForNotifications: a job beyond the limits whose webhook
// notification is still pending is kept until it has been delivered.
func TestHistoryWaitsForNotifications(t *testing.T) {
	h := newHarness(t)
	pending := h.finishedJob("pending", "release", v1alpha1.JobFailed, 0)
	pending.Status.Notifications = []v1alpha1.NotificationStatus{{Event: v1alpha1.NotifyFailed, URL: "https://chat.example.com/hook", State: v1alpha1.NotificationPending}}
	historyPipeline(h, nil, ptr.To[int32](0), pending)
	h.cleanHistory("release")
	require.True(t, h.jobExists("pending"))

	stored := h.job("pending")
	stored.Status.Notifications[0].State = v1alpha1.NotificationFailed
	_, err := h.sluice.SluiceV1alpha1().PipelineJobs(ns).UpdateStatus(h.ctx, stored, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.eventually("result in cache", func() bool {
		c, err := h.c.jobs.PipelineJobs(ns).Get("pending")
		return err == nil && c.Status.Notifications[0].State == v1alpha1.NotificationFailed
	})
	h.historyQueued()
	h.sync("pending") // the status write's update event
	require.Equal(t, []string{ns + "/release"}, h.historyQueued())
	h.cleanHistory("release")
	require.False(t, h.jobExists("pending"))
}

// TestRestartedControllerCleansUp: a controller that starts (a restart, or
// a new leader) lists every job and pipeline: the jobs whose TTL ran out
// while no controller ran are deleted by their first sync, the others are
// woken at their expiry, and every pipeline with limits gets a pass.
func TestRestartedControllerCleansUp(t *testing.T) {
	first := newHarness(t)
	historyPipeline(first, ptr.To[int32](1), nil,
		first.finishedJob("old", "release", v1alpha1.JobSucceeded, 0),
		first.finishedJob("new", "release", v1alpha1.JobSucceeded, time.Second))
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
	for _, name := range []string{"expires", "later", "old", "new"} {
		restarted.eventually("queued by the informer's list", func() bool { return restarted.queue.added(ns+"/"+name) == 1 })
	}
	restarted.eventually("pipeline queued by the informer's list", func() bool { return restarted.c.history.queue.Len() == 1 })
	require.Equal(t, []string{ns + "/release"}, restarted.historyQueued())

	restarted.syncDeleting("expires")
	restarted.syncDeleting("later")
	require.Equal(t, 58*time.Minute, restarted.queue.lastDelay(ns+"/later"))
	restarted.cleanHistory("release")
	require.Equal(t, []string{"later", "new"}, restarted.jobNames())
}

// TestNewestFirst: finished jobs are ordered by completion time, the
// latest first, and jobs that completed in the same second by name, the
// later name first; a job without a completion time is the oldest.
func TestNewestFirst(t *testing.T) {
	at := func(name string, sec int) *v1alpha1.PipelineJob {
		j := jobOf(name, "release")
		if sec >= 0 {
			done := metav1.NewTime(time.Date(2026, 11, 21, 12, 0, sec, 0, time.UTC))
			j.Status.CompletionTime = &done
		}
		return j
	}
	jobs := []*v1alpha1.PipelineJob{at("none", -1), at("a", 1), at("b", 1), at("c", 0), at("d", 2)}
	slices.SortFunc(jobs, newestFirst)
	var names []string
	for _, j := range jobs {
		names = append(names, j.Name)
	}
	require.Equal(t, []string{"d", "b", "a", "c", "none"}, names)
}

// TestTTLKeepsReleases: a job whose TTL has run out is kept while it is
// the current or previous release of its environment, so that a rollback
// can return to it, and is deleted once a later release moves it out: the
// Pipeline's status update wakes it.
func TestTTLKeepsReleases(t *testing.T) {
	h := newHarness(t)
	h.createPipeline(testutil.Pipeline("release", steps("deploy")...))
	deploy := func(name string) {
		j := h.finishedJob(name, "release", v1alpha1.JobSucceeded, time.Second)
		j.Spec.Environment = "production"
		j.Spec.TTLSecondsAfterFinished = ptr.To[int32](0)
		h.createJob(j)
		h.clock.Step(time.Minute)
		h.syncDeleting(name) // records the release, then looks at the TTL
	}
	deploy("r1")
	require.True(t, h.jobExists("r1"), "the current release outlives its TTL")
	deploy("r2")
	require.Equal(t, []string{"r1", "r2"}, h.jobNames(), "the previous release too")

	woken := h.queue.added(ns + "/r1")
	deploy("r3")
	h.eventually("r1, no longer a release, to be woken", func() bool { return h.queue.added(ns+"/r1") > woken })
	h.syncDeleting("r1")
	require.Equal(t, []string{"r2", "r3"}, h.jobNames())
}
