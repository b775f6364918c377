package kubectlsluice

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	clienttesting "k8s.io/client-go/testing"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/fake"
)

func atSecond(s int) *metav1.Time {
	t := metav1.NewTime(t0.Add(time.Duration(s) * time.Second))
	return &t
}

// jobAt is web-1 at resourceVersion rv with the steps.
func jobAt(rv string, phase v1alpha1.JobPhase, steps ...v1alpha1.StepStatus) *v1alpha1.PipelineJob {
	return &v1alpha1.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ci", ResourceVersion: rv},
		Status:     v1alpha1.PipelineJobStatus{Phase: phase, Steps: steps, StartTime: atSecond(0)},
	}
}

// TestJobWatcherReadsOnAfterTheWatchEnds: a watch the server ends is
// opened again from the last version seen; one whose version is too old
// (410) reads the job again and watches from there; the lines of each
// step change are written once.
func TestJobWatcherReadsOnAfterTheWatchEnds(t *testing.T) {
	build := v1alpha1.StepStatus{Name: "build", Phase: v1alpha1.StepRunning, Attempts: 1, StartTime: atSecond(0)}
	buildDone := build
	buildDone.Phase, buildDone.CompletionTime = v1alpha1.StepSucceeded, atSecond(12)
	test := v1alpha1.StepStatus{Name: "test", Phase: v1alpha1.StepRunning, Attempts: 1, StartTime: atSecond(12)}
	testRetry := test
	testRetry.NextAttemptTime, testRetry.Message = atSecond(20), `action "unit" exited with code 2; attempt 2 of 2 starts at 2026-12-03T12:00:20Z`
	test2 := test
	test2.Attempts = 2
	testFailed := test2
	testFailed.Phase, testFailed.CompletionTime, testFailed.Message = v1alpha1.StepFailed, atSecond(25), `action "unit" exited with code 2`
	gate := v1alpha1.StepStatus{Name: "deploy", Phase: v1alpha1.StepWaitingForApproval}

	c := fake.NewSimpleClientset(jobAt("5", v1alpha1.JobRunning, buildDone, testRetry))
	var mu sync.Mutex
	var watchedFrom []string
	watches := []func() (watch.Interface, error){
		func() (watch.Interface, error) {
			w := watch.NewFakeWithChanSize(3, false)
			w.Modify(jobAt("2", v1alpha1.JobRunning, buildDone))
			w.Modify(jobAt("3", v1alpha1.JobRunning, buildDone, test))
			w.Stop() // the server ends the watch
			return w, nil
		},
		func() (watch.Interface, error) {
			return nil, apierrors.NewResourceExpired("too old resource version: 3 (4)")
		},
		func() (watch.Interface, error) {
			w := watch.NewFakeWithChanSize(4, false)
			w.Modify(jobAt("6", v1alpha1.JobRunning, buildDone, test2))
			w.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 500, Reason: metav1.StatusReasonInternalError, Message: "watch broke"})
			return w, nil
		},
		func() (watch.Interface, error) {
			w := watch.NewFakeWithChanSize(3, false)
			w.Modify(jobAt("7", v1alpha1.JobRunning, buildDone, test2, gate))
			w.Modify(jobAt("8", v1alpha1.JobFailed, buildDone, testFailed, gate))
			return w, nil
		},
	}
	c.PrependWatchReactor("pipelinejobs", func(a clienttesting.Action) (bool, watch.Interface, error) {
		mu.Lock()
		defer mu.Unlock()
		watchedFrom = append(watchedFrom, a.(clienttesting.WatchActionImpl).WatchRestrictions.ResourceVersion)
		if len(watches) == 0 {
			t.Errorf("watch %d: no more", len(watchedFrom))
			return true, nil, apierrors.NewBadRequest("no more")
		}
		next := watches[0]
		watches = watches[1:]
		w, err := next()
		return true, w, err
	})

	var out bytes.Buffer
	r := newStepReporter(&out, "web-1", " -n ci")
	w := newJobWatcher(c, "ci")
	w.minBackoff, w.maxBackoff = time.Millisecond, time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	final, err := w.Until(ctx, jobAt("1", v1alpha1.JobRunning, build), r.report)
	require.NoError(t, err)
	assert.Equal(t, "8", final.ResourceVersion)
	assert.Equal(t, []string{"1", "3", "5", "6"}, watchedFrom, "from the last version seen; after a 410, from the job read again")
	assert.Equal(t, `--> step build Running
--> step build Succeeded in 12s
--> step test Running
--> step test attempt 1 failed: action "unit" exited with code 2; attempt 2 of 2 starts at 2026-12-03T12:00:20Z
--> step test Running (attempt 2)
--> step deploy WaitingForApproval: approve with kubectl sluice approve web-1 -n ci
--> step test Failed in 13s: action "unit" exited with code 2
`, out.String())
	assert.Equal(t, `job web-1 failed: step test: action "unit" exited with code 2; see kubectl sluice logs web-1 --step test -n ci`, r.jobOutcome(final))
}

func TestJobWatcherJobDeleted(t *testing.T) {
	c := fake.NewSimpleClientset()
	c.PrependWatchReactor("pipelinejobs", func(clienttesting.Action) (bool, watch.Interface, error) {
		w := watch.NewFakeWithChanSize(1, false)
		w.Delete(jobAt("2", v1alpha1.JobRunning))
		return true, w, nil
	})
	_, err := newJobWatcher(c, "ci").Until(context.Background(), jobAt("1", v1alpha1.JobRunning), func(*v1alpha1.PipelineJob) {})
	require.EqualError(t, err, "job web-1 was deleted")
}

func TestJobOutcome(t *testing.T) {
	r := newStepReporter(&bytes.Buffer{}, "web-1", "")
	ok := jobAt("1", v1alpha1.JobSucceeded)
	ok.Status.CompletionTime = atSecond(95)
	assert.Equal(t, "job web-1 Succeeded in 95s", r.jobOutcome(ok))

	cancelled := jobAt("1", v1alpha1.JobCancelled)
	cancelled.Status.CancelledBy = &v1alpha1.UserInfo{Username: "alice"}
	cancelled.Status.CancelReason = "wrong version"
	assert.Equal(t, "job web-1 was cancelled by alice: wrong version", r.jobOutcome(cancelled))

	invalid := jobAt("1", v1alpha1.JobFailed)
	invalid.Status.Message = `spec.params: Required value: param "version" has no default and must be set`
	assert.Equal(t, `job web-1 failed: spec.params: Required value: param "version" has no default and must be set`, r.jobOutcome(invalid))

	rejected := jobAt("1", v1alpha1.JobFailed, v1alpha1.StepStatus{Name: "deploy", Phase: v1alpha1.StepFailed, Reason: "Rejected", Message: "rejected by bob: not today"})
	rejected.Status.PipelineSpec = &v1alpha1.PipelineSpec{Steps: []v1alpha1.Step{{Name: "deploy", Approval: &v1alpha1.ApprovalGate{}}}}
	assert.Equal(t, "job web-1 failed: step deploy: rejected by bob: not today", r.jobOutcome(rejected), "a gate has no output to see")

}
