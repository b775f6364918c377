package controller

import (
	"context"
	"fmt"
	"k8s.io/apimachinery/pkg/api/meta"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// concurrencyGroup is the jobs a concurrencyPolicy weighs against each
// other: those of one pipeline and one environment, in one namespace. Jobs
// without an environment form a group of their own.
type concurrencyGroup struct {
	namespace, pipeline, environment string
}

// groupOf is the job's concurrency group; a job with an inline pipeline
// has none. The job's identity is its pipelineRef, also when it runs a
// snapshot (a rerun or a rollback).
func groupOf(job *v1alpha1.PipelineJob) (concurrencyGroup, bool) {
	if job.Spec.PipelineRef == nil {
		return concurrencyGroup{}, false
	}
	return concurrencyGroup{job.Namespace, job.Spec.PipelineRef.Name, job.Spec.Environment}, true
}

// String is the group's key for the start locks.
func (g concurrencyGroup) String() string {
	return g.namespace + "/" + g.pipeline + "/" + g.environment
}

// selector selects the group's jobs by the labels the server sets on
// create: sluice.dev/pipeline, and sluice.dev/environment or its absence.
func (g concurrencyGroup) selector() labels.Selector {
	pipeline, _ := labels.NewRequirement(v1alpha1.LabelPipeline, selection.Equals, []string{g.pipeline})
	env, _ := labels.NewRequirement(v1alpha1.LabelEnvironment, selection.DoesNotExist, nil)
	if g.environment != "" {
		env, _ = labels.NewRequirement(v1alpha1.LabelEnvironment, selection.Equals, []string{g.environment})
	}
	return labels.NewSelector().Add(*pipeline, *env)
}

// in says where the group's jobs run, for messages: ` in environment "production"`, or nothing.
func (g concurrencyGroup) in() string {
	if g.environment == "" {
		return ""
	}
	return fmt.Sprintf(" in environment %q", g.environment)
}

// groupJobs are the other jobs of the job's concurrency group that this
// controller instance runs. They are listed from the API, not the cache: a
// job this controller started or finished in the previous sync may not be
// in the cache yet, and a list without a resourceVersion is a consistent
// read that holds every status write made before it. Starts of one group's
// jobs are serialised (see sync), so the job started before this one is
// always seen, and no memory of it need be kept between syncs.
func (c *Controller) groupJobs(ctx context.Context, job *v1alpha1.PipelineJob, g concurrencyGroup) ([]v1alpha1.PipelineJob, error) {
	sel := g.selector().String() + "," + c.jobSelector
	list, err := c.sluice.SluiceV1alpha1().PipelineJobs(g.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list.Items, func(j v1alpha1.PipelineJob) bool { return j.Name == job.Name }), nil
}

// runningNames are the names of the jobs that run.
func runningNames(jobs []v1alpha1.PipelineJob) []string {
	var out []string
	for _, j := range jobs {
		if j.Status.Phase == v1alpha1.JobRunning {
			out = append(out, j.Name)
		}
	}
	return out
}

// notStarted reports whether a job in phase p has neither started nor
// finished: it is new, or waits in its group's queue.
func notStarted(p v1alpha1.JobPhase) bool {
	return p == v1alpha1.JobPending || p == ""
}

// submitted is when the server stored the job: its submit time, to the
// microsecond, or, for a job stored before the server recorded one, its
// creation time.
func submitted(j *v1alpha1.PipelineJob) time.Time {
	if j.Status.SubmitTime != nil {
		return j.Status.SubmitTime.Time
	}
	return j.CreationTimestamp.Time
}

// queuedBefore orders a concurrency group's queue: first in, first out by
// submit time, then by name, so that every sync agrees on one order.
func queuedBefore(a, b *v1alpha1.PipelineJob) bool {
	ta, tb := submitted(a), submitted(b)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.Name < b.Name
}

// queuePlace says what a job of a group whose policy is Queue waits for,
// given the group's other jobs: the job right ahead of it (the last one
// submitted before it that has not started, or else a running one) and
// its position among the jobs that wait (1 starts next). It waits for
// nothing when behind is "".
func queuePlace(job *v1alpha1.PipelineJob, others []v1alpha1.PipelineJob) (behind string, position int) {
	var ahead, runs []*v1alpha1.PipelineJob
	for i := range others {
		o := &others[i]
		switch {
		case o.Status.Phase == v1alpha1.JobRunning:
			runs = append(runs, o)
		case notStarted(o.Status.Phase) && queuedBefore(o, job):
			ahead = append(ahead, o)
		}
	}
	less := func(a, b *v1alpha1.PipelineJob) int {
		if queuedBefore(a, b) {
			return -1
		}
		return 1
	}
	switch {
	case len(ahead) > 0:
		return slices.MaxFunc(ahead, less).Name, len(ahead) + 1
	case len(runs) > 0:
		return slices.MinFunc(runs, less).Name, 1
	}
	return "", 0
}

// where names the group's queue in a message: the environment, or the
// pipeline of jobs without one.
func (g concurrencyGroup) where() string {
	if g.environment != "" {
		return g.environment
	}
	return fmt.Sprintf("pipeline %q", g.pipeline)
}

// wakeWaiting adds to the workqueue the jobs that wait in the group of a
// job that has started, finished or gone: the head of a queue may start
// now, and the others' places have changed. They are read from the cache,
// by the queuedByGroup index: only the jobs whose status says Queued, so
// that a job of a group that queues nothing (Allow, the default) wakes
// nobody, and one of a long queue reads only the queue. A job not there
// yet is added by its own informer event: a job is Queued only once its
// status write says so, and that write wakes it too.
func (c *Controller) wakeWaiting(job *v1alpha1.PipelineJob) {
	g, ok := groupOf(job)
	if !ok {
		return
	}
	queued, err := c.jobIndex.ByIndex(queuedByGroup, g.String())
	if err != nil {
		return
	}
	for _, obj := range queued {
		if j, ok := obj.(*v1alpha1.PipelineJob); ok && j.Name != job.Name {
			c.queue.Add(j.Namespace + "/" + j.Name)
		}
	}
}

// queuedByGroup indexes the jobs that wait in their concurrency group's
// queue (not started, reason Queued) by the group.
const queuedByGroup = "queuedByGroup"

func indexQueuedByGroup(obj any) ([]string, error) {
	job, ok := obj.(*v1alpha1.PipelineJob)
	if !ok || !notStarted(job.Status.Phase) {
		return nil, nil
	}
	g, ok := groupOf(job)
	if !ok {
		return nil, nil
	}
	if c := meta.FindStatusCondition(job.Status.Conditions, v1alpha1.ConditionSucceeded); c == nil || c.Reason != v1alpha1.ReasonQueued {
		return nil, nil
	}
	return []string{g.String()}, nil
}
