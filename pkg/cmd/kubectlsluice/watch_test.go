package kubectlsluice

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clienttesting "k8s.io/client-go/testing"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/fake"
)

// lockedBuffer is a bytes.Buffer that a command writes while a test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// watchJob runs watch of job name against client, not on a terminal, and
// returns its output so far and, once it has ended, its error.
func watchJob(t *testing.T, client *fake.Clientset, name string) (*lockedBuffer, <-chan error) {
	t.Helper()
	out := &lockedBuffer{}
	o := &WatchOptions{job: name, namespace: "team-a", client: client,
		IOStreams: genericiooptions.IOStreams{Out: out, ErrOut: &bytes.Buffer{}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := &cobra.Command{}
	cmd.SetContext(ctx)
	result := make(chan error, 1)
	go func() { result <- o.Run(cmd) }()
	return out, result
}

// waitFor waits until out contains s.
func waitFor(t *testing.T, out *lockedBuffer, s string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), s) }, 10*time.Second, 10*time.Millisecond,
		"waiting for %q in:\n%s", s, out.String())
}

func finish(t *testing.T, client *fake.Clientset, j *v1alpha1.PipelineJob, phase v1alpha1.JobPhase, rv string) {
	t.Helper()
	j = j.DeepCopy()
	j.ResourceVersion = rv
	j.Status.Phase = phase
	j.Status.CompletionTime = at(0)
	j.Status.Message = "the end"
	_, err := client.SluiceV1alpha1().PipelineJobs("team-a").UpdateStatus(context.Background(), j, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// TestWatchUntilSucceeded: watch prints the tree, a new one when the job
// changes, and ends with no error when the job has succeeded.
func TestWatchUntilSucceeded(t *testing.T) {
	j := imageTriggeredJob()
	j.ResourceVersion = "1"
	client := fake.NewClientset(j)
	out, result := watchJob(t, client, j.Name)
	waitFor(t, out, "Phase:        Running")

	finish(t, client, j, v1alpha1.JobSucceeded, "2")
	select {
	case err := <-result:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("watch did not end when the job succeeded:\n%s", out.String())
	}
	trees := strings.Split(out.String(), "\n\nName: ")
	require.Len(t, trees, 2, out.String())
	require.Contains(t, trees[1], "Phase:        Succeeded")
}

// TestWatchFailed: a job that fails ends watch with exit code 1; one
// already finished prints its tree once.
func TestWatchFailed(t *testing.T) {
	j := imageTriggeredJob()
	j.ResourceVersion = "1"
	client := fake.NewClientset(j)
	out, result := watchJob(t, client, j.Name)
	waitFor(t, out, "Phase:        Running")

	finish(t, client, j, v1alpha1.JobFailed, "2")
	var err error
	select {
	case err = <-result:
	case <-time.After(10 * time.Second):
		t.Fatalf("watch did not end when the job failed:\n%s", out.String())
	}
	var failed jobFailedError
	require.True(t, errors.As(err, &failed), "%v", err)
	require.Equal(t, ExitFailure, ExitCode(err))
	require.Contains(t, out.String(), "Phase:        Failed")

	done := failedWithRetriesJob()
	out, result = watchJob(t, fake.NewClientset(done), done.Name)
	require.Error(t, <-result)
	require.Equal(t, 1, strings.Count(out.String(), "Name: "), out.String())
}

// TestWatchReconnects: a watch the server drops is watched again; the
// change made while it was down is drawn once, and watch goes on to the
// job's end.
func TestWatchReconnects(t *testing.T) {
	j := imageTriggeredJob()
	j.ResourceVersion = "1"
	client := fake.NewClientset(j)
	drop := make(chan struct{})
	var watches atomic.Int32
	client.PrependWatchReactor("pipelinejobs", func(clienttesting.Action) (bool, watch.Interface, error) {
		if watches.Add(1) > 1 {
			return false, nil, nil // the tracker's watch
		}
		// The first watch sees nothing, and ends when the test drops it.
		w := watch.NewFake()
		go func() { <-drop; w.Stop() }()
		return true, w, nil
	})
	out, result := watchJob(t, client, j.Name)
	require.Eventually(t, func() bool { return watches.Load() == 1 }, 10*time.Second, 10*time.Millisecond)

	changed := j.DeepCopy()
	changed.ResourceVersion = "2"
	changed.Status.Steps[0].Actions[1].ExitCode = exit(0)
	changed.Status.Steps[0].Actions[1].CompletionTime = at(0)
	_, err := client.SluiceV1alpha1().PipelineJobs("team-a").UpdateStatus(context.Background(), changed, metav1.UpdateOptions{})
	require.NoError(t, err)
	close(drop)
	waitFor(t, out, "└── rollout  exit 0")

	finish(t, client, changed, v1alpha1.JobSucceeded, "3")
	select {
	case err := <-result:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("watch did not end when the job succeeded:\n%s", out.String())
	}
	require.GreaterOrEqual(t, watches.Load(), int32(2), "watched again")
	trees := strings.Split(out.String(), "\n\nName: ")
	require.Len(t, trees, 3, "the first tree, the change seen after the drop, the end:\n%s", out.String())
}
