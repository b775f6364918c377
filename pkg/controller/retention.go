package controller

import (
	"context"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// podRetention is the job's pipeline's podRetention, from its snapshot;
// OnJobCompletion when unset.
func podRetention(job *v1alpha1.PipelineJob) v1alpha1.PodRetention {
	if spec := job.Status.PipelineSpec; spec != nil && spec.PodRetention != "" {
		return spec.PodRetention
	}
	return v1alpha1.PodRetentionOnJobCompletion
}

// retainPods deletes the job's Pods that its podRetention no longer keeps:
// with OnStepCompletion each attempt's Pod once the attempt is settled,
// with OnJobCompletion every Pod once the job has finished, with Never
// none. An attempt is settled only once the output of its actions is
// archived or lost (see runStep), so no output goes with a Pod. A step
// whose latest attempt has output that is neither (a job run by a
// controller from before the archive) keeps its Pods until the job is
// deleted, as before.
//
// It runs on every sync, of finished jobs too, and costs no API call when
// there is nothing to delete: it reads the Pod cache's podsByJob index, so
// its cost does not grow with the namespace's other Pods.
// Only the Pods the job controls are deleted, each with its UID as a
// precondition; one already being deleted, or deleted by this sync
// (deleted), is left alone.
func (c *Controller) retainPods(ctx context.Context, job *v1alpha1.PipelineJob, deleted map[string]bool) error {
	policy := podRetention(job)
	if policy == v1alpha1.PodRetentionNever || job.Status.PipelineSpec == nil {
		return nil
	}
	done := finished(job.Status.Phase)
	if policy == v1alpha1.PodRetentionOnJobCompletion && !done {
		return nil
	}
	pods, err := c.podIndex.ByIndex(podsByJob, job.Namespace+"/"+job.Name)
	if err != nil {
		return err
	}
	for _, obj := range pods {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			continue
		}
		if pod.DeletionTimestamp != nil || deleted[pod.Name] || !metav1.IsControlledBy(pod, job) {
			continue
		}
		if (!done && !attemptSettled(job, pod)) || !stepLogsSettled(job, pod.Labels[v1alpha1.LabelStep]) {
			continue
		}
		err := c.kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

// attemptSettled reports whether pod is the Pod of a settled attempt of
// one of the job's steps: an attempt before the step's current one (a
// retry starts only once the attempt before it is settled), or the current
// one of a step that has ended or waits to retry.
func attemptSettled(job *v1alpha1.PipelineJob, pod *corev1.Pod) bool {
	attempt, err := strconv.ParseInt(pod.Labels[LabelAttempt], 10, 32)
	if err != nil {
		return false
	}
	for _, st := range job.Status.Steps {
		if st.Name != pod.Labels[v1alpha1.LabelStep] {
			continue
		}
		n := int32(attempt)
		if n < 1 || n > st.Attempts || pod.Name != podName(job.Name, st.Name, n) {
			return false
		}
		if n < st.Attempts {
			return true
		}
		switch st.Phase {
		case v1alpha1.StepSucceeded, v1alpha1.StepFailed, v1alpha1.StepCancelled:
			return true
		}
		return st.NextAttemptTime != nil
	}
	return false
}

// stepLogsSettled reports whether the output of every action that started
// in the latest attempt of the named step is archived or lost.
func stepLogsSettled(job *v1alpha1.PipelineJob, step string) bool {
	for _, st := range job.Status.Steps {
		if st.Name != step {
			continue
		}
		for _, a := range st.Actions {
			if started(a) && !logSettled(a.Log) {
				return false
			}
		}
		return true
	}
	return true
}

// podsByJob indexes the Pods in the cache by namespace and the value of
// their sluice.dev/job label.
const podsByJob = "podsByJob"

func indexPodsByJob(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	job, ok := pod.Labels[v1alpha1.LabelJob]
	if !ok {
		return nil, nil
	}
	return []string{pod.Namespace + "/" + job}, nil
}
