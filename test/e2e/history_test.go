package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/types"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// jobNames are the names of the jobs in ns, in order.
func jobNames(ctx context.Context, t *testing.T, ns string) ([]string, error) {
	list, err := sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, j := range list.Items {
		names = append(names, j.Name)
	}
	slices.Sort(names)
	return names, nil
}

// deletedTotal sums sluice_controller_jobs_deleted_total{reason} over the
// live controllers.
func deletedTotal(t *testing.T, reason string) float64 {
	t.Helper()
	var sum float64
	for _, c := range liveControllers() {
		sum += metric(t, c, fmt.Sprintf(`sluice_controller_jobs_deleted_total{reason=%q}`, reason))
	}
	return sum
}

// TestHistory: the controller, with the RBAC of the deployment, deletes the
// oldest finished jobs beyond the pipeline's history limits and keeps the
// newest, then the Pods of the jobs it deleted go; a job whose TTL has
// passed is deleted too, and one without a TTL is kept.
func TestHistory(t *testing.T) {
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "history")
	jobs := sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns)

	p := keepPods(testutil.Pipeline("nightly", runStep("test", "KWOK_DURATION", "$(params.duration)")))
	p.Spec.Params = []v1alpha1.ParamSpec{{Name: "duration", Default: ptr.To("100ms")}}
	p.Spec.History = &v1alpha1.HistoryPolicy{SuccessfulJobsLimit: ptr.To[int32](2), FailedJobsLimit: ptr.To[int32](1)}
	createPipelineAndJob(t, ns, p)
	historyBefore, ttlBefore := deletedTotal(t, "history"), deletedTotal(t, "ttl")

	// One at a time, so that they complete in the order of their names.
	// failedJobsLimit counts Cancelled jobs with the Failed ones.
	uids := map[string]types.UID{}
	run := func(name string) {
		_, err := jobs.Create(ctx, testutil.Job(name, "nightly"), metav1.CreateOptions{})
		require.NoError(t, err)
		uids[name] = waitJob(t, ns, name, v1alpha1.JobSucceeded, 2*time.Minute).UID
	}
	cancelled := func(name string) {
		_, err := jobs.Create(ctx, testutil.Job(name, "nightly", v1alpha1.Param{Name: "duration", Value: "1h"}), metav1.CreateOptions{})
		require.NoError(t, err)
		waitStep(t, ns, name, 0, 1)
		_, err = jobs.Cancel(ctx, name, &v1alpha1.CancelRequest{Reason: "history test"}, metav1.CreateOptions{})
		require.NoError(t, err)
		uids[name] = waitJob(t, ns, name, v1alpha1.JobCancelled, 2*time.Minute).UID
	}
	run("ok-1")
	cancelled("stopped-1")
	run("ok-2")
	require.NotEmpty(t, jobPods(t, ns, "ok-1"))
	run("ok-3")
	cancelled("stopped-2")
	run("ok-4")

	eventually(t, time.Minute, "the jobs beyond the limits to be deleted", func(ctx context.Context) error {
		names, err := jobNames(ctx, t, ns)
		if err != nil {
			return err
		}
		if want := []string{"ok-3", "ok-4", "stopped-2"}; !slices.Equal(names, want) {
			return fmt.Errorf("jobs %v, want %v", names, want)
		}
		return nil
	})
	eventually(t, 2*time.Minute, "the deleted jobs' Pods to be garbage-collected", func(ctx context.Context) error {
		for _, job := range []string{"ok-1", "ok-2"} {
			if pods := jobPods(t, ns, job); len(pods) > 0 {
				return fmt.Errorf("pods of %s: %v", job, pods)
			}
		}
		return nil
	})
	require.Len(t, jobPods(t, ns, "ok-4"), 1, "a kept job keeps its Pod")
	// The logs go with their jobs; the kept jobs' stay, cancelled or not.
	for name, uid := range uids {
		deleted := name == "ok-1" || name == "ok-2" || name == "stopped-1"
		if n := archivedLogs(t, uid); deleted {
			require.Zero(t, n, "logs of the deleted job %s", name)
		} else {
			require.Equal(t, 2, n, "logs of the kept job %s: one per action", name)
		}
	}
	eventually(t, time.Minute, "the DeletedJobs Events on the pipeline", func(ctx context.Context) error {
		list, err := kube(t).CoreV1().Events(ns).List(ctx, metav1.ListOptions{
			FieldSelector: "involvedObject.kind=Pipeline,involvedObject.name=nightly,reason=DeletedJobs",
		})
		if err != nil {
			return err
		}
		var deleted []string
		for _, e := range list.Items {
			_, names, _ := strings.Cut(e.Message, "): ")
			deleted = append(deleted, strings.Split(names, ", ")...)
		}
		slices.Sort(deleted)
		if want := []string{"ok-1", "ok-2", "stopped-1"}; !slices.Equal(deleted, want) {
			return fmt.Errorf("the Events name %v, want %v", deleted, want)
		}
		return nil
	})
	// The counter goes up just after the delete returns: a moment after
	// the test may see the job gone.
	eventually(t, time.Minute, "sluice_controller_jobs_deleted_total{reason=\"history\"}", func(context.Context) error {
		if d := deletedTotal(t, "history") - historyBefore; d < 3.0 {
			return fmt.Errorf("up by %v", d)
		}
		return nil
	})

	// A TTL: the job goes a second after it ended; without one it stays.
	ttl := testutil.Job("ttl", "nightly")
	ttl.Spec.TTLSecondsAfterFinished = ptr.To[int32](1)
	_, err := jobs.Create(ctx, ttl, metav1.CreateOptions{})
	require.NoError(t, err)
	eventually(t, 2*time.Minute, "the job whose TTL passed to be deleted", func(ctx context.Context) error {
		j, err := jobs.Get(ctx, "ttl", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("phase %s", j.Status.Phase)
	})
	// The counter goes up just after the delete returns: a moment after
	// the test may see the job gone.
	eventually(t, time.Minute, "sluice_controller_jobs_deleted_total{reason=\"ttl\"}", func(context.Context) error {
		if d := deletedTotal(t, "ttl") - ttlBefore; d < 1.0 {
			return fmt.Errorf("up by %v", d)
		}
		return nil
	})
	names, err := jobNames(ctx, t, ns)
	require.NoError(t, err)
	require.Contains(t, names, "ok-4", "a job without a TTL stays")
}

// archivedLogs is how many outputs the log archive holds for the job
// with the given UID, read from PostgreSQL.
func archivedLogs(t *testing.T, uid types.UID) int {
	t.Helper()
	conn, err := pgx.Connect(testContext(t), stack.DatabaseURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(testContext(t), `SELECT count(*) FROM sluice.logs WHERE job_uid = $1`, string(uid)).Scan(&n))
	return n
}
