package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluicefake "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/fake"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// podWrites are the API calls the controller made on Pods, other than
// its informer's lists and watches.
func (h *harness) podWrites() int {
	n := 0
	for _, a := range h.kube.Actions() {
		if a.GetResource().Resource == "pods" && a.GetVerb() != "list" && a.GetVerb() != "watch" && a.GetSubresource() != "status" {
			n++
		}
	}
	return n
}

// TestPodRetention: the pipeline's podRetention decides when the Pods of a
// job go, always after their output is archived. OnStepCompletion deletes
// each attempt's Pod once the attempt is settled (a failed attempt's when
// its retry is due), OnJobCompletion (the default) all of them when the job
// finishes, Never none. A finished job's later syncs change nothing and
// make no API call.
func TestPodRetention(t *testing.T) {
	all := []string{"j-a-1", "j-a-2", "j-b-1"}
	for _, c := range []struct {
		policy v1alpha1.PodRetention
		// the Pods left after attempt 1 of a failed, after step a
		// succeeded, and after the job succeeded
		afterRetry, afterStep, afterJob []string
	}{
		{v1alpha1.PodRetentionOnStepCompletion, nil, []string{"j-b-1"}, nil},
		{"", []string{"j-a-1"}, []string{"j-a-1", "j-a-2", "j-b-1"}, nil},
		{v1alpha1.PodRetentionOnJobCompletion, []string{"j-a-1"}, []string{"j-a-1", "j-a-2", "j-b-1"}, nil},
		{v1alpha1.PodRetentionNever, []string{"j-a-1"}, all, all},
	} {
		name := string(c.policy)
		if name == "" {
			name = "unset"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			p := testutil.Pipeline("p", steps("a", "b")...)
			p.Spec.Steps[0].Retries = 1
			p.Spec.PodRetention = c.policy
			h.createPipeline(p)
			h.createJob(jobOf("j", "p"))
			h.sync("j")
			h.finishPod("j-a-1", 1)
			j := h.sync("j")
			require.NotNil(t, j.Status.Steps[0].NextAttemptTime)
			require.ElementsMatch(t, c.afterRetry, h.podNames(), "attempt 1 settled, the retry waits")

			h.clock.Step(10 * time.Second)
			h.sync("j")
			h.finishPod("j-a-2", 0)
			j = h.sync("j")
			require.Equal(t, "a=Succeeded b=Running", testutil.StepPhases(j))
			require.ElementsMatch(t, c.afterStep, h.podNames(), "step a settled")

			h.finishPod("j-b-1", 0)
			j = h.sync("j")
			require.Equal(t, v1alpha1.JobSucceeded, j.Status.Phase)
			require.ElementsMatch(t, c.afterJob, h.podNames(), "the job finished")
			for _, st := range j.Status.Steps {
				for _, a := range st.Actions {
					require.Equal(t, v1alpha1.LogArchived, a.Log.State, "%s/%s: archived before its Pod went", st.Name, a.Name)
				}
			}

			h.syncPodCache()
			writes, calls := h.statusWrites(), h.podWrites()
			for range 3 {
				h.sync("j")
			}
			require.Equal(t, writes, h.statusWrites())
			require.Equal(t, calls, h.podWrites(), "nothing more to do, and no API call to find that out")
		})
	}
}

// TestFinishedJobDeletesItsPods: the sync of a finished job deletes the
// Pods its podRetention does not keep (here, left by a controller that
// stopped before it deleted them), only those the job controls, and only
// once. A job finished by a controller from before the archive, whose
// actions' output has no log state, keeps its Pods: nothing else has that
// output.
func TestFinishedJobDeletesItsPods(t *testing.T) {
	for _, c := range []struct {
		name string
		log  *v1alpha1.ActionLog
		kept []string
	}{
		{"archived", &v1alpha1.ActionLog{State: v1alpha1.LogArchived, Bytes: 10}, []string{"j-other"}},
		{"lost", &v1alpha1.ActionLog{State: v1alpha1.LogLost, Message: "gone"}, []string{"j-other"}},
		{"from before the archive", nil, []string{"j-a-1", "j-other"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			job := jobOf("j", "p")
			job.Namespace, job.UID, job.Generation = ns, "uid-j", 1
			job.Status = v1alpha1.PipelineJobStatus{
				Phase:        v1alpha1.JobSucceeded,
				PipelineSpec: &v1alpha1.PipelineSpec{Steps: steps("a"), ConcurrencyPolicy: v1alpha1.AllowConcurrent},
				Steps: []v1alpha1.StepStatus{{Name: "a", Phase: v1alpha1.StepSucceeded, Attempts: 1, PodName: "j-a-1",
					Actions: []v1alpha1.ActionStatus{{Name: "prepare", ExitCode: ptr.To[int32](0), Log: c.log}, {Name: "run", ExitCode: ptr.To[int32](0), Log: c.log}}}},
			}
			pod := func(name string, owners ...metav1.OwnerReference) *corev1.Pod {
				return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name + "-pod"), OwnerReferences: owners,
					Labels: map[string]string{v1alpha1.LabelJob: "j", v1alpha1.LabelStep: "a", LabelAttempt: "1"}}}
			}
			own := pod("j-a-1", ownerRef(job))
			squatter := pod("j-other", earlierJob) // labelled, but controlled by an earlier job of that name
			h := newHarnessWith(t, kubefake.NewClientset(own, squatter), sluicefake.NewClientset([]runtime.Object{job}...))
			h.eventually("job in cache", func() bool { _, err := h.c.jobs.PipelineJobs(ns).Get("j"); return err == nil })
			h.syncPodCache()

			h.sync("j")
			require.ElementsMatch(t, c.kept, h.podNames())
			calls := h.podWrites()
			h.sync("j")
			require.Equal(t, calls, h.podWrites(), "deleted once")
		})
	}
}
