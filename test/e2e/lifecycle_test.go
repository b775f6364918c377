package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// TestNamespaceDeletion: deleting a namespace removes its pipelines and
// jobs through kube-controller-manager's namespace controller, which finds
// them through discovery of the aggregated API.
func TestNamespaceDeletion(t *testing.T) {
	ctx := testContext(t)
	ns := namespace(t, "doomed")
	c := sluiceAdmin(t).SluiceV1alpha1()
	_, err := c.Pipelines(ns).Create(ctx, pipeline("p", "a"), metav1.CreateOptions{})
	require.NoError(t, err)
	for i := range 5 {
		_, err := c.PipelineJobs(ns).Create(ctx, job(fmt.Sprintf("j%d", i), "p"), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	require.NoError(t, kube(t).CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}))
	eventually(t, 2*time.Minute, "the namespace to be gone", func(ctx context.Context) error {
		_, err := kube(t).CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("namespace still there: %v", err)
	})
	jobs, err := c.PipelineJobs(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, jobs.Items)
	pipelines, err := c.Pipelines(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, pipelines.Items)
}

// TestGarbageCollection: a Pod owned by a PipelineJob is deleted by the
// garbage collector when the job is deleted.
func TestGarbageCollection(t *testing.T) {
	ctx := testContext(t)
	ns := namespace(t, "gc")
	c := sluiceAdmin(t).SluiceV1alpha1()
	_, err := c.Pipelines(ns).Create(ctx, pipeline("p", "a"), metav1.CreateOptions{})
	require.NoError(t, err)
	j, err := c.PipelineJobs(ns).Create(ctx, job("j", "p"), metav1.CreateOptions{})
	require.NoError(t, err)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "j-a-1", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "PipelineJob", Name: j.Name, UID: j.UID,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "run", Image: "alpine"}}, RestartPolicy: corev1.RestartPolicyNever},
	}
	_, err = kube(t).CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	// The Pod is scheduled onto a kwok node and runs.
	eventually(t, time.Minute, "the pod to run on a kwok node", func(ctx context.Context) error {
		p, err := kube(t).CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pod on %q in phase %s", p.Spec.NodeName, p.Status.Phase)
		}
		return nil
	})

	require.NoError(t, c.PipelineJobs(ns).Delete(ctx, "j", metav1.DeleteOptions{}))
	eventually(t, 2*time.Minute, "the pod to be garbage-collected", func(ctx context.Context) error {
		_, err := kube(t).CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errors.Join(errors.New("pod still there"), err)
	})
}
