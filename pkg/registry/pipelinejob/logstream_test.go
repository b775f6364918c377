package pipelinejob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/joblog"
	"github.com/sluice-dev/sluice/pkg/storage/postgres"
)

// memoryArchive is a LogArchive in memory, for the order and form of
// answers; postgres.LogArchive has tests of its own.
type memoryArchive map[postgres.LogKey]postgres.LogInfo

func (m memoryArchive) content(k postgres.LogKey) string {
	return stamped(k.Step+"/"+k.Action+" attempt "+string(rune('0'+k.Attempt)), 2)
}

func (m memoryArchive) Write(ctx context.Context, key postgres.LogKey, namespace, job string, r io.Reader, maxBytes int64) (postgres.LogInfo, error) {
	panic("not used")
}

func (m memoryArchive) Info(ctx context.Context, key postgres.LogKey) (postgres.LogInfo, error) {
	info, ok := m[key]
	if !ok {
		return info, postgres.ErrLogNotFound
	}
	return info, nil
}

func (m memoryArchive) List(ctx context.Context, uid types.UID) ([]postgres.LogInfo, error) {
	var out []postgres.LogInfo
	for k, info := range m {
		if k.JobUID == uid {
			out = append(out, info)
		}
	}
	return out, nil
}

func (m memoryArchive) Open(ctx context.Context, key postgres.LogKey) (io.ReadCloser, postgres.LogInfo, error) {
	info, err := m.Info(ctx, key)
	if err != nil {
		return nil, info, err
	}
	return io.NopCloser(strings.NewReader(m.content(key))), info, nil
}

func (m memoryArchive) DeleteJob(ctx context.Context, uid types.UID) error { panic("not used") }

// memoryPods is PodLogs in memory: output by "pod/container".
type memoryPods map[string]string

func (m memoryPods) Stream(ctx context.Context, namespace, pod, container string, follow bool) (io.ReadCloser, error) {
	out, ok := m[pod+"/"+container]
	if !ok {
		return nil, apierrors.NewNotFound(corev1Resource, pod)
	}
	return io.NopCloser(strings.NewReader(out)), nil
}

var corev1Resource = sluice.Resource("pods")

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// stamped is n lines "<what> line <i>", each after a kubelet timestamp.
func stamped(what string, n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano) + " " + what + " line " + string(rune('1'+i)) + "\n")
	}
	return b.String()
}

// plain is stamped without the timestamps, as an answer shows it.
func plain(what string, n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(what + " line " + string(rune('1'+i)) + "\n")
	}
	return b.String()
}

// failedJob ran build twice (attempt 1 failed, attempt 2 failed in its
// second action, whose archived output lost its start to the limit),
// then skipped test; its approval gate never came.
func failedJob() (*sluice.PipelineJob, memoryArchive) {
	spec := &sluice.PipelineSpec{Steps: []sluice.Step{
		{Name: "build", Retries: 1, Actions: []sluice.Action{{Name: "checkout"}, {Name: "compile"}}},
		{Name: "approve", Approval: &sluice.ApprovalGate{}},
		{Name: "test", Actions: []sluice.Action{{Name: "unit"}}},
	}}
	job := &sluice.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "team-a", UID: "uid-1"},
		Status: sluice.PipelineJobStatus{Phase: sluice.JobFailed, PipelineSpec: spec, Steps: []sluice.StepStatus{
			{Name: "build", Phase: sluice.StepFailed, Attempts: 2, PodName: "web-1-build-2", Actions: []sluice.ActionStatus{
				{Name: "checkout", ExitCode: ptr.To[int32](0), Log: &sluice.ActionLog{State: sluice.LogArchived}},
				{Name: "compile", ExitCode: ptr.To[int32](2), Log: &sluice.ActionLog{State: sluice.LogArchived}},
			}},
			{Name: "approve", Phase: sluice.StepSkipped},
			{Name: "test", Phase: sluice.StepSkipped},
		}},
	}
	archive := memoryArchive{}
	for _, k := range []postgres.LogKey{
		{Step: "build", Attempt: 1, Action: "checkout"}, {Step: "build", Attempt: 1, Action: "compile"},
		{Step: "build", Attempt: 2, Action: "checkout"}, {Step: "build", Attempt: 2, Action: "compile"},
	} {
		k.JobUID = "uid-1"
		archive[k] = postgres.LogInfo{LogKey: k}
	}
	truncated := postgres.LogKey{JobUID: "uid-1", Step: "build", Attempt: 2, Action: "compile"}
	archive[truncated] = postgres.LogInfo{LogKey: truncated, TruncatedBytes: 4096}
	return job, archive
}

func answer(t *testing.T, job *sluice.PipelineJob, archive LogArchive, pods PodLogs, opts sluice.PipelineJobLogOptions) string {
	t.Helper()
	s := &logStream{r: &LogREST{logs: Logs{Archive: archive, Pods: pods}}, ns: job.Namespace, job: job, opts: &opts, now: t0.Add(time.Hour)}
	var out bytes.Buffer
	if err := s.write(context.Background(), &out); !errors.Is(err, joblog.ErrLimit) {
		require.NoError(t, err)
	}
	return out.String()
}

// TestLogOrderAndHeaders: every attempt of every step in order, each
// action after its header; a skipped step says so; a gate has no output;
// an output the archive cut begins with a line that says so; one step,
// action and attempt is that output alone.
func TestLogOrderAndHeaders(t *testing.T) {
	job, archive := failedJob()
	want := "==> build/checkout (attempt 1)\n" + plain("build/checkout attempt 1", 2) +
		"==> build/compile (attempt 1)\n" + plain("build/compile attempt 1", 2) +
		"==> build/checkout (attempt 2)\n" + plain("build/checkout attempt 2", 2) +
		"==> build/compile (attempt 2)\n" +
		"[sluice] the first 4096 bytes of this output were not kept: the archive keeps the end of each output, up to its limit\n" +
		plain("build/compile attempt 2", 2) +
		"==> test (skipped)\n"
	assert.Equal(t, want, answer(t, job, archive, memoryPods{}, sluice.PipelineJobLogOptions{}))

	assert.Equal(t, "==> build/checkout (attempt 2)\n"+plain("build/checkout attempt 2", 2)+
		"==> build/compile (attempt 2)\n[sluice] the first 4096 bytes of this output were not kept: the archive keeps the end of each output, up to its limit\n"+
		plain("build/compile attempt 2", 2),
		answer(t, job, archive, memoryPods{}, sluice.PipelineJobLogOptions{Step: "build", Attempt: 2}), "one attempt of a step")
	assert.Equal(t, "==> build/checkout (attempt 1)\n"+plain("build/checkout attempt 1", 2)+"==> build/checkout (attempt 2)\n"+plain("build/checkout attempt 2", 2),
		answer(t, job, archive, memoryPods{}, sluice.PipelineJobLogOptions{Step: "build", Action: "checkout"}), "one action, every attempt")
	assert.Equal(t, plain("build/checkout attempt 1", 2),
		answer(t, job, archive, memoryPods{}, sluice.PipelineJobLogOptions{Step: "build", Action: "checkout", Attempt: 1}), "one output: no header")
	assert.Equal(t, "==> test (skipped)\n", answer(t, job, archive, memoryPods{}, sluice.PipelineJobLogOptions{Step: "test"}))
	assert.Empty(t, answer(t, job, archive, memoryPods{}, sluice.PipelineJobLogOptions{Step: "build", Attempt: 3}), "an attempt that never ran")

	// Filters apply to each output; the byte limit to the whole answer.
	assert.Equal(t, "==> build/checkout (attempt 1)\nbuild/checkout attempt 1 line 2\n==> build/checkout (attempt 2)\nbuild/checkout attempt 2 line 2\n",
		answer(t, job, archive, memoryPods{}, sluice.PipelineJobLogOptions{Step: "build", Action: "checkout", TailLines: ptr.To[int64](1)}))
	assert.Equal(t, "==> build",
		answer(t, job, archive, memoryPods{}, sluice.PipelineJobLogOptions{LimitBytes: ptr.To[int64](9)}))
	assert.Equal(t, stamped("build/checkout attempt 1", 2),
		answer(t, job, archive, memoryPods{}, sluice.PipelineJobLogOptions{Step: "build", Action: "checkout", Attempt: 1, Timestamps: true}))
}

// TestLogSources: an archived output is read from the archive even while
// its Pod exists; one not archived yet from the Pod, but only when the
// controller saw the action start in a Pod the job controls; a lost one
// says so; a job that has not started has no output.
func TestLogSources(t *testing.T) {
	spec := &sluice.PipelineSpec{Steps: []sluice.Step{
		{Name: "build", Actions: []sluice.Action{{Name: "compile"}}},
		{Name: "test", Actions: []sluice.Action{{Name: "fetch"}, {Name: "unit"}, {Name: "lint"}}},
	}}
	job := &sluice.PipelineJob{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "team-a", UID: "uid-1"},
		Status: sluice.PipelineJobStatus{Phase: sluice.JobRunning, PipelineSpec: spec, Steps: []sluice.StepStatus{
			{Name: "build", Phase: sluice.StepSucceeded, Attempts: 1, PodName: "web-1-build-1", Actions: []sluice.ActionStatus{
				{Name: "compile", ExitCode: ptr.To[int32](0), Log: &sluice.ActionLog{State: sluice.LogArchived}},
			}},
			{Name: "test", Phase: sluice.StepRunning, Attempts: 1, PodName: "web-1-test-1", Actions: []sluice.ActionStatus{
				{Name: "fetch", ExitCode: ptr.To[int32](0), Log: &sluice.ActionLog{State: sluice.LogLost, Message: "pod web-1-test-1 was deleted before the output was archived"}},
				{Name: "unit", StartTime: &metav1.Time{Time: t0}},
				{Name: "lint"},
			}},
		}},
	}
	archived := postgres.LogKey{JobUID: "uid-1", Step: "build", Attempt: 1, Action: "compile"}
	archive := memoryArchive{archived: {LogKey: archived}}
	pods := memoryPods{
		"web-1-build-1/compile": stamped("from the pod", 1),
		"web-1-test-1/unit":     stamped("test/unit live", 3),
		"web-1-test-1/lint":     stamped("a container the controller has not seen start", 1),
	}
	assert.Equal(t, "==> build/compile (attempt 1)\n"+plain("build/compile attempt 1", 2)+
		"==> test/fetch (attempt 1)\n[sluice] this output is lost: pod web-1-test-1 was deleted before the output was archived\n"+
		"==> test/unit (attempt 1)\n"+plain("test/unit live", 3),
		answer(t, job, archive, pods, sluice.PipelineJobLogOptions{}))

	job.Status = sluice.PipelineJobStatus{Phase: sluice.JobPending}
	assert.Empty(t, answer(t, job, archive, pods, sluice.PipelineJobLogOptions{}), "not started")
}
