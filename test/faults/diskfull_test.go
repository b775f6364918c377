package faults

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// TestDiskFull fills the disk under the database (pkg/testing/postgres's
// disk fault: PostgreSQL meets ENOSPC) while four writers create and update
// Pipelines through kube-apiserver and two watchers watch them, then frees
// it. While it is full, a write is refused with 507 InsufficientStorage and
// a message that says so, and nothing of it is stored or seen by a watcher;
// anything else is a 503 or a timeout, never 500; kubectl shows the reason;
// archiving a job's log is refused the same way. Once it is freed, writes,
// watches and the log archive recover by themselves, and no acknowledged
// write is lost. The figures are logged.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "diskfull")
	jobWithStartedStep(t, ns)
	l := startLoad(t, ns, 4, 2, true)
	l.waitAcked(60, time.Minute)

	require.NoError(t, stack.Postgres.SetDiskFull(true))
	full := time.Now()
	t.Cleanup(func() { _ = stack.Postgres.SetDiskFull(false) })
	// Long enough (about 2.5 s) for sluice-apiserver to find that the
	// revisions of failed writes cannot be closed (after its 2 s
	// UnavailableAfter), when that is so.
	eventually(t, time.Minute, "writes to be refused with 507", func(context.Context) error {
		if n := l.refused.Load(); n < 200 {
			return fmt.Errorf("%d refused", n)
		}
		return nil
	})
	l.mu.Lock()
	refusal := l.samples[fmt.Sprintf("%d %s", http.StatusInsufficientStorage, "InsufficientStorage")]
	l.mu.Unlock()
	require.Contains(t, refusal, "the database is out of disk space; nothing was written")
	require.Contains(t, refusal, "No space left on device")

	// What a user of kubectl sees, for an object that needs new pages for
	// certain (incompressible, and larger than any free space in a page).
	big := make([]byte, 96<<10)
	_, _ = rand.Read(big)
	out, err := stack.KubectlStdin(ctx, fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata:
  name: big
  namespace: %s
  annotations: {faults.sluice.dev/padding: %s}
spec:
  steps: [{name: s, actions: [{name: a, image: "alpine:3.20"}]}]
`, ns, base64.StdEncoding.EncodeToString(big)), "create", "-f", "-")
	require.Error(t, err, out)
	require.Contains(t, err.Error(), "Error from server (InsufficientStorage)")
	require.Contains(t, err.Error(), "the database is out of disk space; nothing was written")
	kubectlSaw := err.Error()[strings.Index(err.Error(), "Error from server"):]

	// The controller's log archive answers the same, through kube-apiserver.
	err = archiveLog(ctx, ns, big)
	require.Error(t, err)
	var status apierrors.APIStatus
	require.True(t, errors.As(err, &status), "%v", err)
	require.EqualValues(t, http.StatusInsufficientStorage, status.Status().Code, "%v", err)
	require.Contains(t, status.Status().Message, "archiving the output of build/compile attempt 1: the database is out of disk space")

	refusedWhileFull := l.refused.Load()
	require.NoError(t, stack.Postgres.SetDiskFull(false))
	freed := time.Now()
	firstWrite := l.firstAckAfter(freed, time.Minute)
	var watchesBack []string
	for _, w := range l.watchers {
		watchesBack = append(watchesBack, w.firstEventAfter(freed, false, time.Minute).Round(time.Millisecond).String())
	}
	l.waitAcked(60, time.Minute)
	require.NoError(t, archiveLog(ctx, ns, big), "the log is archived once space is back")
	_, err = sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Get(ctx, "big", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "the refused create stored nothing: %v", err)

	lost := l.check()
	t.Logf("the database's disk full for %s under load, %d writes refused meanwhile; "+
		"after it was freed, the first write acknowledged after %s, the watchers' first events after %s; "+
		"%d acknowledged writes lost; kubectl said %q\n%s",
		freed.Sub(full).Round(time.Millisecond), refusedWhileFull, firstWrite.Round(time.Millisecond),
		strings.Join(watchesBack, " and "), lost, kubectlSaw, l.report(full))
}

// jobWithStartedStep creates the job "j" whose step "build" runs its first
// attempt, as the controller would record it (no controller runs here), so
// that its output may be archived.
func jobWithStartedStep(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	c := sluiceAdmin(t).SluiceV1alpha1()
	p := testutil.Pipeline("p", v1alpha1.Step{Name: "build", Actions: []v1alpha1.Action{{Name: "compile", Image: "golang:1.26"}}})
	_, err := c.Pipelines(ns).Create(ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)
	j, err := c.PipelineJobs(ns).Create(ctx, testutil.Job("j", "p"), metav1.CreateOptions{})
	require.NoError(t, err)
	now := metav1.Now()
	j.Status.Phase = v1alpha1.JobRunning
	j.Status.StartTime = &now
	j.Status.PipelineSpec = &p.Spec
	j.Status.Steps = []v1alpha1.StepStatus{{Name: "build", Phase: v1alpha1.StepRunning, Attempts: 1, StartTime: &now}}
	_, err = c.PipelineJobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// archiveLog archives content as the output of build/compile of job j's
// first attempt, as sluice-controller does.
func archiveLog(ctx context.Context, ns string, content []byte) error {
	client, err := sluiceclient.NewForConfig(clientConfig())
	if err != nil {
		return err
	}
	return client.SluiceV1alpha1().RESTClient().Post().
		Namespace(ns).Resource("pipelinejobs").Name("j").SubResource("log").
		Param("step", "build").Param("action", "compile").Param("attempt", "1").
		SetHeader("Content-Type", "text/plain").Body(content).Do(ctx).Error()
}
