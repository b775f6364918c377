package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// queuePipeline creates pipeline "release" with concurrencyPolicy Queue.
func queuePipeline(h *harness, timeout time.Duration) {
	p := testutil.Pipeline("release", steps("deploy")...)
	p.Spec.ConcurrencyPolicy = v1alpha1.QueueConcurrent
	if timeout > 0 {
		p.Spec.Timeout = &metav1.Duration{Duration: timeout}
	}
	h.createPipeline(p)
}

// requireQueued checks that the job waits, with message msg, and has not started.
func requireQueued(t *testing.T, j *v1alpha1.PipelineJob, msg string) {
	t.Helper()
	require.Equal(t, v1alpha1.JobPending, j.Status.Phase, j.Name)
	c := meta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded)
	require.NotNil(t, c, j.Name)
	require.Equal(t, metav1.ConditionUnknown, c.Status, j.Name)
	require.Equal(t, v1alpha1.ReasonQueued, c.Reason, j.Name)
	require.Equal(t, msg, c.Message, j.Name)
	require.Equal(t, msg, j.Status.Message, j.Name)
	require.Nil(t, j.Status.StartTime, j.Name)
	require.Nil(t, j.Status.PipelineSpec, "%s: the pipeline is read when the job starts", j.Name)
	require.Empty(t, j.Status.Steps, j.Name)
}

// TestQueue: with concurrencyPolicy Queue, a job waits while a job of its
// pipeline and environment runs or another submitted before it waits,
// first in first out by submit time to the microsecond, whatever the order
// of names and of syncs. A job that starts or finishes wakes the jobs
// waiting in its group, so the head starts without polling, and the others
// learn their new place.
func TestQueue(t *testing.T) {
	h := newHarness(t)
	queuePipeline(h, 0)
	h.createJob(h.inEnv("r", "release", "production", 0))
	require.Equal(t, v1alpha1.JobRunning, h.sync("r").Status.Phase)

	// Submitted in the same second, in the order c, b, a.
	second := time.Second
	for i, name := range []string{"c", "b", "a"} {
		h.createJob(h.inEnv(name, "release", "production", second+time.Duration(i+1)*time.Microsecond))
	}
	requireQueued(t, h.sync("a"), "queued behind b (position 3 in production)")
	requireQueued(t, h.sync("b"), "queued behind c (position 2 in production)")
	requireQueued(t, h.sync("c"), "queued behind r (position 1 in production)")
	require.Equal(t, []string{"r-deploy-1"}, h.podNames())
	writes := h.statusWrites()
	h.sync("a")
	h.sync("c")
	require.Equal(t, writes, h.statusWrites(), "a message that did not change is not written again")

	// Other environments, and jobs without one, are queues of their own.
	h.createJob(h.inEnv("s", "release", "staging", 2*second))
	require.Equal(t, v1alpha1.JobRunning, h.sync("s").Status.Phase)
	h.createJob(jobOf("n", "release"))
	require.Equal(t, v1alpha1.JobRunning, h.sync("n").Status.Phase)

	// Each waiting job was added once when created and once when its
	// status was written; none since.
	for _, name := range []string{"a", "b", "c"} {
		h.eventually("informer events of "+name, func() bool { return h.queue.added(ns+"/"+name) == 2 })
	}
	h.finishPod("r-deploy-1", 0)
	require.Equal(t, v1alpha1.JobSucceeded, h.sync("r").Status.Phase)
	for _, name := range []string{"a", "b", "c"} {
		require.Equal(t, 3, h.queue.added(ns+"/"+name), "%s is woken when r finishes", name)
	}
	requireQueued(t, h.sync("a"), "queued behind b (position 3 in production)")
	require.Equal(t, v1alpha1.JobRunning, h.sync("c").Status.Phase, "the head starts")
	for _, name := range []string{"a", "b"} {
		require.Equal(t, 4, h.queue.added(ns+"/"+name), "%s is woken when c starts", name)
	}
	requireQueued(t, h.sync("b"), "queued behind c (position 1 in production)")
	requireQueued(t, h.sync("a"), "queued behind b (position 2 in production)")

	h.finishPod("c-deploy-1", 1)
	require.Equal(t, v1alpha1.JobFailed, h.sync("c").Status.Phase)
	require.Equal(t, v1alpha1.JobRunning, h.sync("b").Status.Phase, "a failed job ends its turn too")
	requireQueued(t, h.sync("a"), "queued behind b (position 1 in production)")
}

// TestNothingQueuedWakesNobody: when a job of a group that queues nothing
// (Allow, the default) starts or finishes, the group's other jobs that have
// not started are not added to the workqueue again: none of them waits
// for it, and with a thousand jobs submitted at once each start would
// otherwise sync every one of the others again.
func TestNothingQueuedWakesNobody(t *testing.T) {
	h := newHarness(t)
	h.createPipeline(testutil.Pipeline("p", steps("a")...))
	h.createJob(jobOf("first", "p"))
	h.createJob(jobOf("second", "p"))
	require.Equal(t, v1alpha1.JobRunning, h.sync("first").Status.Phase)
	h.finishPod("first-a-1", 0)
	require.Equal(t, v1alpha1.JobSucceeded, h.sync("first").Status.Phase)
	h.flushInformers()
	require.Equal(t, 1, h.queue.added(ns+"/second"), "added when created, and never since")
}

// TestQueueWithoutEnvironment: the jobs of a pipeline that name no
// environment queue together, and the message names the pipeline.
func TestQueueWithoutEnvironment(t *testing.T) {
	h := newHarness(t)
	queuePipeline(h, 0)
	h.createJob(jobOf("first", "release"))
	h.sync("first")
	h.createJob(jobOf("second", "release"))
	requireQueued(t, h.sync("second"), `queued behind first (position 1 in pipeline "release")`)
}

// TestQueuedJobCancelled: a waiting job that is cancelled ends Cancelled
// at once, without starting, and the jobs behind it move up.
func TestQueuedJobCancelled(t *testing.T) {
	h := newHarness(t)
	queuePipeline(h, 0)
	h.createJob(h.inEnv("r", "release", "production", 0))
	h.sync("r")
	h.createJob(h.inEnv("q1", "release", "production", time.Second))
	h.createJob(h.inEnv("q2", "release", "production", 2*time.Second))
	requireQueued(t, h.sync("q1"), "queued behind r (position 1 in production)")
	requireQueued(t, h.sync("q2"), "queued behind q1 (position 2 in production)")
	h.eventually("informer events of q2", func() bool { return h.queue.added(ns+"/q2") == 2 })

	h.cancel("q1", "bob", "not needed")
	q1 := h.sync("q1")
	require.Equal(t, v1alpha1.JobCancelled, q1.Status.Phase)
	require.Equal(t, "cancelled by bob: not needed", q1.Status.Message)
	c := meta.FindStatusCondition(q1.Status.Conditions, v1alpha1.ConditionSucceeded)
	require.Equal(t, metav1.ConditionFalse, c.Status)
	require.Equal(t, ReasonCancelled, c.Reason)
	require.Nil(t, q1.Status.StartTime, "it never started")
	require.NotNil(t, q1.Status.CompletionTime)
	require.Equal(t, "deploy=Skipped", testutil.StepPhases(q1))
	require.Equal(t, []string{"r-deploy-1"}, h.podNames())
	require.Equal(t, 3, h.queue.added(ns+"/q2"), "q2 is woken")
	requireQueued(t, h.sync("q2"), "queued behind r (position 1 in production)")
}

// TestQueueTimeDoesNotCountAgainstTheTimeout: a job's timeout starts when
// it starts, not when it was submitted; a running job that times out ends
// its turn.
func TestQueueTimeDoesNotCountAgainstTheTimeout(t *testing.T) {
	h := newHarness(t)
	queuePipeline(h, time.Minute)
	h.createJob(h.inEnv("r", "release", "production", 0))
	h.sync("r")
	h.createJob(h.inEnv("q", "release", "production", time.Second))
	requireQueued(t, h.sync("q"), "queued behind r (position 1 in production)")

	h.clock.Step(5 * time.Minute)
	require.Equal(t, ReasonTimeout, meta.FindStatusCondition(h.sync("r").Status.Conditions, v1alpha1.ConditionSucceeded).Reason)
	q := h.sync("q")
	require.Equal(t, v1alpha1.JobRunning, q.Status.Phase, "five minutes in the queue do not time it out")
	require.True(t, q.Status.StartTime.Time.Equal(h.clock.Now()))
	h.clock.Step(time.Minute)
	require.Equal(t, v1alpha1.JobRunning, h.sync("q").Status.Phase)
	h.clock.Step(time.Second)
	require.Equal(t, v1alpha1.JobFailed, h.sync("q").Status.Phase, "a minute after it started")
}

// TestQueueWokenByDeletion: deleting the running job starts the next one.
func TestQueueWokenByDeletion(t *testing.T) {
	h := newHarness(t)
	queuePipeline(h, 0)
	h.createJob(h.inEnv("r", "release", "production", 0))
	h.sync("r")
	h.createJob(h.inEnv("q", "release", "production", time.Second))
	requireQueued(t, h.sync("q"), "queued behind r (position 1 in production)")
	h.eventually("informer events of q", func() bool { return h.queue.added(ns+"/q") == 2 })

	require.NoError(t, h.sluice.SluiceV1alpha1().PipelineJobs(ns).Delete(h.ctx, "r", metav1.DeleteOptions{}))
	h.eventually("q woken", func() bool { return h.queue.added(ns+"/q") == 3 })
	require.Equal(t, v1alpha1.JobRunning, h.sync("q").Status.Phase)
}

// TestQueueOrder: by submit time, to the microsecond; by creation time
// when a job has none (stored before the server recorded submit times);
// then by name.
func TestQueueOrder(t *testing.T) {
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	job := func(name string, submitted *time.Time, created time.Time) *v1alpha1.PipelineJob {
		j := &v1alpha1.PipelineJob{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)}}
		if submitted != nil {
			s := metav1.NewMicroTime(*submitted)
			j.Status.SubmitTime = &s
		}
		return j
	}
	micro := at.Add(time.Microsecond)
	cases := []struct {
		name  string
		a, b  *v1alpha1.PipelineJob
		ahead bool
	}{
		{"earlier microsecond, later name", job("z", &at, at), job("a", &micro, at), true},
		{"later microsecond, earlier name", job("a", &micro, at), job("z", &at, at), false},
		{"same time, by name", job("a", &at, at), job("b", &at, at), true},
		{"same time, by name, reversed", job("b", &at, at), job("a", &at, at), false},
		{"no submit time: creation time", job("z", nil, at), job("a", nil, at.Add(time.Second)), true},
		{"no submit time, same creation time: name", job("b", nil, at), job("a", nil, at), false},
		{"one without submit time", job("a", nil, at.Add(time.Second)), job("z", &micro, at), false},
	}
	for _, c := range cases {
		assert.Equal(t, c.ahead, queuedBefore(c.a, c.b), c.name)
	}
}
