package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/scheme"
	"github.com/sluice-dev/sluice/pkg/testing/localstack"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// These tests read jobs' output through pipelinejobs/log, as users do:
// through kube-apiserver, with the clientset's REST client.

// logRequest is a GET of pipelinejobs/log of the job with the options.
func logRequest(c rest.Interface, ns, job string, opts *v1alpha1.PipelineJobLogOptions) *rest.Request {
	return c.Get().Namespace(ns).Resource("pipelinejobs").Name(job).SubResource("log").VersionedParams(opts, scheme.ParameterCodec)
}

// jobLog reads the job's output as the admin.
func jobLog(t *testing.T, ns, job string, opts *v1alpha1.PipelineJobLogOptions) string {
	t.Helper()
	b, err := logRequest(sluiceAdmin(t).SluiceV1alpha1().RESTClient(), ns, job, opts).DoRaw(testContext(t))
	require.NoError(t, err, "log of %s/%s %+v", ns, job, opts)
	return string(b)
}

// threeSteps is a pipeline of three steps of two actions each, whose
// containers print the lines of logs.
func threeSteps(name string) (*v1alpha1.Pipeline, map[string][]localstack.LogLine) {
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	at := func(s int, text string) localstack.LogLine {
		return localstack.LogLine{Time: t0.Add(time.Duration(s) * time.Second), Text: text}
	}
	logs := map[string][]localstack.LogLine{
		"checkout": {at(0, "Cloning into '/workspace/src'..."), at(1, "HEAD is now at 4f2a9c1 release v1.4.2")},
		"compile":  {at(2, "go build ./..."), at(3, "built web in 1.5s"), at(4, "wrote bin/web (14 MiB)")},
		"fetch":    {at(5, "go: downloading github.com/example/lib v1.2.0")},
		"unit":     {at(6, "=== RUN   TestServe"), at(7, "--- PASS: TestServe (0.01s)"), at(8, "PASS")},
		"render":   {at(9, "rendered 3 manifests for staging")},
		"apply":    {at(10, "deployment.apps/web configured"), at(11, "rollout complete: 3 of 3 replicas ready")},
	}
	p := testutil.Pipeline(name,
		logStep("build", "checkout", "compile", "KWOK_DURATION", "200ms"),
		logStep("test", "fetch", "unit", "KWOK_DURATION", "200ms"),
		logStep("deploy", "render", "apply", "KWOK_DURATION", "200ms"),
	)
	return p, logs
}

// fullLog is what pipelinejobs/log answers for every action of p that
// ran once, with its header.
func fullLog(p *v1alpha1.Pipeline, logs map[string][]localstack.LogLine) string {
	var b strings.Builder
	for _, s := range p.Spec.Steps {
		for _, a := range s.Actions {
			fmt.Fprintf(&b, "==> %s/%s (attempt 1)\n%s", s.Name, a.Name, logText(logs[a.Name]))
		}
	}
	return b.String()
}

// TestJobLog: the whole output of a three-step job of two actions each,
// in order with a header per action; one action's output, which matches
// `kubectl logs` with --tail, --since and --timestamps; the same answers
// once the Pods are gone; 422 for a step or action the pipeline does not
// have; and RBAC: a sluice-view user of the namespace reads, a user of
// another namespace gets 403, and nobody but the controller may write.
func TestJobLog(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "joblog")
	p, logs := threeSteps("web")
	p.Spec.PodRetention = v1alpha1.PodRetentionNever // kubectl logs reads the Pods afterwards
	require.NoError(t, stack.SetContainerLogs(ctx, ns, logs))
	createPipelineAndJob(t, ns, p, testutil.Job("web-1", "web"))
	waitJob(t, ns, "web-1", v1alpha1.JobSucceeded, 2*time.Minute)

	want := fullLog(p, logs)
	require.Equal(t, want, jobLog(t, ns, "web-1", &v1alpha1.PipelineJobLogOptions{}))
	require.Equal(t, "==> test/fetch (attempt 1)\n"+logText(logs["fetch"])+"==> test/unit (attempt 1)\n"+logText(logs["unit"]),
		jobLog(t, ns, "web-1", &v1alpha1.PipelineJobLogOptions{Step: "test"}), "one step")

	// One action of one attempt is its output alone, as kubectl logs
	// shows it, with the same options.
	one := func(o v1alpha1.PipelineJobLogOptions) *v1alpha1.PipelineJobLogOptions {
		o.Step, o.Action, o.Attempt = "build", "compile", 1
		return &o
	}
	type variant struct {
		name    string
		opts    *v1alpha1.PipelineJobLogOptions
		kubectl []string
	}
	variants := []variant{
		{"plain", one(v1alpha1.PipelineJobLogOptions{}), nil},
		{"tail", one(v1alpha1.PipelineJobLogOptions{TailLines: ptr.To[int64](2)}), []string{"--tail=2"}},
		{"tail 0", one(v1alpha1.PipelineJobLogOptions{TailLines: ptr.To[int64](0)}), []string{"--tail=0"}},
		{"timestamps", one(v1alpha1.PipelineJobLogOptions{Timestamps: true}), []string{"--timestamps"}},
		{"since", one(v1alpha1.PipelineJobLogOptions{SinceSeconds: ptr.To[int64](3600)}), []string{"--since=1h"}},
		{"since, longer", one(v1alpha1.PipelineJobLogOptions{SinceSeconds: ptr.To[int64](3 * 3600)}), []string{"--since=3h"}},
		{"tail and timestamps", one(v1alpha1.PipelineJobLogOptions{TailLines: ptr.To[int64](1), Timestamps: true}), []string{"--tail=1", "--timestamps"}},
	}
	compare := func(when string) {
		for _, v := range variants {
			args := append([]string{"-n", ns, "logs", "web-1-build-1", "-c", "compile"}, v.kubectl...)
			require.Equal(t, kubectl(t, args...), jobLog(t, ns, "web-1", v.opts), "%s: %s", when, v.name)
		}
	}
	compare("with the Pods")
	require.Equal(t, "wrote bin/web (14 MiB)\n", jobLog(t, ns, "web-1", one(v1alpha1.PipelineJobLogOptions{TailLines: ptr.To[int64](1)})))
	require.Equal(t, "go bu", jobLog(t, ns, "web-1", one(v1alpha1.PipelineJobLogOptions{LimitBytes: ptr.To[int64](5)})), "limitBytes")
	require.Equal(t, "wrote", jobLog(t, ns, "web-1", one(v1alpha1.PipelineJobLogOptions{TailLines: ptr.To[int64](1), LimitBytes: ptr.To[int64](5)})), "limitBytes after the tail")

	// Every action is archived (the controller records it), so the
	// answers do not change when the Pods go.
	j := getJob(t, ns, "web-1")
	for _, st := range j.Status.Steps {
		for _, a := range st.Actions {
			require.NotNil(t, a.Log, "%s/%s has no log state", st.Name, a.Name)
			require.Equal(t, v1alpha1.LogArchived, a.Log.State, "%s/%s", st.Name, a.Name)
			require.Equal(t, int64(len(stampedText(t, ns, "web-1-"+st.Name+"-1", a.Name))), a.Log.Bytes, "%s/%s bytes", st.Name, a.Name)
		}
	}
	var kubectlAnswers []string
	for _, v := range variants {
		kubectlAnswers = append(kubectlAnswers, kubectl(t, append([]string{"-n", ns, "logs", "web-1-build-1", "-c", "compile"}, v.kubectl...)...))
	}
	kubectl(t, "-n", ns, "delete", "pods", "-l", v1alpha1.LabelJob+"=web-1", "--wait")
	require.Empty(t, jobPods(t, ns, "web-1"))
	require.Equal(t, want, jobLog(t, ns, "web-1", &v1alpha1.PipelineJobLogOptions{}), "without the Pods")
	for i, v := range variants {
		require.Equal(t, kubectlAnswers[i], jobLog(t, ns, "web-1", v.opts), "without the Pods: %s", v.name)
	}

	// Bad requests are 4xx with the field that is wrong.
	admin := sluiceAdmin(t).SluiceV1alpha1().RESTClient()
	for _, bad := range []struct {
		opts  *v1alpha1.PipelineJobLogOptions
		code  int32
		field string
	}{
		{&v1alpha1.PipelineJobLogOptions{Step: "publish"}, 422, "step"},
		{&v1alpha1.PipelineJobLogOptions{Step: "build", Action: "link"}, 422, "action"},
		{&v1alpha1.PipelineJobLogOptions{Action: "compile"}, 422, "step"},
		{&v1alpha1.PipelineJobLogOptions{TailLines: ptr.To[int64](-1)}, 422, "tailLines"},
	} {
		err := logRequest(admin, ns, "web-1", bad.opts).Do(ctx).Error()
		status := requireStatus(t, bad.code, err, fmt.Sprintf("%+v", bad.opts))
		require.NotNil(t, status.ErrStatus.Details, "%+v", bad.opts)
		require.Equal(t, bad.field, status.ErrStatus.Details.Causes[0].Field, "%+v", bad.opts)
	}
	requireStatus(t, 404, logRequest(admin, ns, "web-2", &v1alpha1.PipelineJobLogOptions{}).Do(ctx).Error(), "a job that does not exist")

	// RBAC: get on pipelinejobs/log, which sluice-view has; a user of
	// another namespace is refused; writing the archive is the
	// controller's alone, not even an admin's of the namespace.
	other := namespace(t, "joblog-other")
	bindRole(t, ns, "vera", "sluice-view")
	bindRole(t, other, "oscar", "sluice-admin")
	bindRole(t, ns, "ada", "sluice-admin")
	vera := sluiceAs(t, "vera").RESTClient()
	got := afterRBAC(t, "vera reads the log", func(ctx context.Context) ([]byte, error) {
		return logRequest(vera, ns, "web-1", &v1alpha1.PipelineJobLogOptions{}).DoRaw(ctx)
	})
	require.Equal(t, want, string(got))
	eventually(t, time.Minute, "oscar's binding to be seen", func(ctx context.Context) error {
		_, err := sluiceAs(t, "oscar").PipelineJobs(other).List(ctx, metav1.ListOptions{})
		return err
	})
	requireStatus(t, 403, logRequest(sluiceAs(t, "oscar").RESTClient(), ns, "web-1", &v1alpha1.PipelineJobLogOptions{}).Do(ctx).Error(), "a user of another namespace")
	afterRBAC(t, "ada reads the log", func(ctx context.Context) ([]byte, error) {
		return logRequest(sluiceAs(t, "ada").RESTClient(), ns, "web-1", &v1alpha1.PipelineJobLogOptions{}).DoRaw(ctx)
	})
	forged := sluiceAs(t, "ada").RESTClient().Post().Namespace(ns).Resource("pipelinejobs").Name("web-1").SubResource("log").
		Param("step", "build").Param("action", "compile").Param("attempt", "1").Body([]byte("forged\n")).Do(ctx).Error()
	requireStatus(t, 403, forged, "an admin of the namespace writing the archive")
	require.Equal(t, want, jobLog(t, ns, "web-1", &v1alpha1.PipelineJobLogOptions{}))
}

// stampedText is a container's output with the kubelet's timestamps, as
// the archive keeps it.
func stampedText(t *testing.T, ns, pod, container string) string {
	t.Helper()
	return kubectl(t, "-n", ns, "logs", pod, "-c", container, "--timestamps")
}

// TestJobLogFollow: a client follows a job from before it starts to its
// end. It sees every line exactly once: each action's output, a line
// appended while its container runs as it is written, and the next steps
// as the job reaches them; the stream ends when the job does, and is
// byte for byte the job's whole log read afterwards.
func TestJobLogFollow(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "joblog-follow")
	p, logs := threeSteps("web")
	// The build's main container runs long enough to append to it.
	p.Spec.Steps[0] = logStep("build", "checkout", "compile", "KWOK_DURATION", "20s")
	require.NoError(t, stack.SetContainerLogs(ctx, ns, logs))
	createPipelineAndJob(t, ns, p, testutil.Job("web-1", "web"))

	stream, err := logRequest(sluiceAdmin(t).SluiceV1alpha1().RESTClient(), ns, "web-1", &v1alpha1.PipelineJobLogOptions{Follow: true}).Stream(ctx)
	require.NoError(t, err)
	defer stream.Close()
	followed := make(chan string)
	var all strings.Builder
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		r := bufio.NewReader(stream)
		for {
			line, err := r.ReadString('\n')
			all.WriteString(line)
			if err != nil {
				return
			}
			select {
			case followed <- strings.TrimSuffix(line, "\n"):
			case <-ctx.Done():
				return
			}
		}
	}()
	next := func(want string) {
		t.Helper()
		select {
		case l := <-followed:
			require.Equal(t, want, l)
		case <-time.After(time.Minute):
			t.Fatalf("no line %q within a minute", want)
		}
	}
	next("==> build/checkout (attempt 1)")
	for _, l := range logs["checkout"] {
		next(l.Text)
	}
	next("==> build/compile (attempt 1)")
	for _, l := range logs["compile"] {
		next(l.Text)
	}
	// The container runs on: a line it writes now comes while it runs.
	require.NoError(t, stack.AppendContainerLog(ns, "compile", localstack.Lines("linked in 2.1s")...))
	next("linked in 2.1s")
	j := getJob(t, ns, "web-1")
	require.Nil(t, j.Status.Steps[0].Actions[1].ExitCode, "the line came live, while the container ran")

	// The rest comes as the job goes on, and the stream ends with it.
	go func() {
		for range followed {
		}
	}()
	select {
	case <-ended:
	case <-time.After(2 * time.Minute):
		t.Fatal("the stream did not end with the job")
	}
	j = getJob(t, ns, "web-1")
	require.Equal(t, v1alpha1.JobSucceeded, j.Status.Phase, "the stream ended before the job")
	logs["compile"] = append(logs["compile"], localstack.LogLine{Text: "linked in 2.1s"})
	require.Equal(t, fullLog(p, logs), all.String())
	require.Equal(t, all.String(), jobLog(t, ns, "web-1", &v1alpha1.PipelineJobLogOptions{}))
	_, _ = io.Copy(io.Discard, stream)
}

// TestJobLogPodRetention: with podRetention OnStepCompletion each step's
// Pod is deleted once its output is archived, while the next step runs,
// and the job's log stays whole; the default, OnJobCompletion, deletes
// the Pods when the job ends.
func TestJobLogPodRetention(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "joblog-retention")
	p, logs := threeSteps("web")
	p.Spec.Steps[1] = logStep("test", "fetch", "unit", "KWOK_DURATION", "10s")
	p.Spec.PodRetention = v1alpha1.PodRetentionOnStepCompletion
	byDefault, _ := threeSteps("default")
	require.NoError(t, stack.SetContainerLogs(ctx, ns, logs))
	createPipelineAndJob(t, ns, p, testutil.Job("web-1", "web"))
	createPipelineAndJob(t, ns, byDefault, testutil.Job("default-1", "default"))

	waitStep(t, ns, "web-1", 1, 1)
	eventually(t, time.Minute, "the build's Pod to go while the test step runs", func(ctx context.Context) error {
		if pods := jobPods(t, ns, "web-1"); !slices.Equal(pods, []string{"web-1-test-1"}) {
			return fmt.Errorf("pods %v", pods)
		}
		return nil
	})
	require.Equal(t, v1alpha1.StepRunning, getJob(t, ns, "web-1").Status.Steps[1].Phase, "the Pod went while the next step ran")
	require.Equal(t, logText(logs["compile"]), jobLog(t, ns, "web-1", &v1alpha1.PipelineJobLogOptions{Step: "build", Action: "compile", Attempt: 1}))

	waitJob(t, ns, "web-1", v1alpha1.JobSucceeded, 2*time.Minute)
	waitJob(t, ns, "default-1", v1alpha1.JobSucceeded, 2*time.Minute)
	for _, job := range []string{"web-1", "default-1"} {
		eventually(t, time.Minute, "the Pods of "+job+" to go", func(ctx context.Context) error {
			if pods := jobPods(t, ns, job); len(pods) > 0 {
				return fmt.Errorf("pods %v", pods)
			}
			return nil
		})
	}
	require.Equal(t, fullLog(p, logs), jobLog(t, ns, "web-1", &v1alpha1.PipelineJobLogOptions{}))
	require.Equal(t, fullLog(byDefault, logs), jobLog(t, ns, "default-1", &v1alpha1.PipelineJobLogOptions{}))
}
