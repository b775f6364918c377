package e2e

import (
	"bufio"
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/controller"
	"github.com/sluice-dev/sluice/pkg/testing/localstack"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// These tests run jobs with the sluice-controller replicas of the stack.
// Step Pods are scheduled onto kwok nodes, where the Stages of
// test/e2e/kwok/sluice-stages.yaml end them as the env of their last
// action asks: KWOK_DURATION, KWOK_EXIT_CODE, KWOK_FAIL_FIRST_ATTEMPT.

// runStep is a step of two actions; env goes on the last one, the Pod's
// main container, which the kwok Stages read.
func runStep(name string, env ...string) v1alpha1.Step {
	last := v1alpha1.Action{Name: "run", Image: "alpine:3.20", Command: []string{"sh", "-c", "echo $(step.name)"}}
	for i := 0; i+1 < len(env); i += 2 {
		last.Env = append(last.Env, corev1.EnvVar{Name: env[i], Value: env[i+1]})
	}
	return v1alpha1.Step{Name: name, Actions: []v1alpha1.Action{
		{Name: "prepare", Image: "alpine:3.20", Command: []string{"true"}},
		last,
	}}
}

// keepPods keeps the step Pods of the pipeline's jobs until the jobs are
// deleted (podRetention Never), for tests that look at them after a job
// has ended.
func keepPods(p *v1alpha1.Pipeline) *v1alpha1.Pipeline {
	p.Spec.PodRetention = v1alpha1.PodRetentionNever
	return p
}

func createPipelineAndJob(t *testing.T, ns string, p *v1alpha1.Pipeline, jobs ...*v1alpha1.PipelineJob) {
	t.Helper()
	ctx := testContext(t)
	c := sluiceAdmin(t).SluiceV1alpha1()
	_, err := c.Pipelines(ns).Create(ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)
	for _, j := range jobs {
		_, err := c.PipelineJobs(ns).Create(ctx, j, metav1.CreateOptions{})
		require.NoError(t, err)
	}
}

func getJob(t *testing.T, ns, name string) *v1alpha1.PipelineJob {
	t.Helper()
	j, err := sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns).Get(testContext(t), name, metav1.GetOptions{})
	require.NoError(t, err)
	return j
}

// waitJob waits for the job to reach phase.
func waitJob(t *testing.T, ns, name string, phase v1alpha1.JobPhase, timeout time.Duration) *v1alpha1.PipelineJob {
	t.Helper()
	var j *v1alpha1.PipelineJob
	eventually(t, timeout, fmt.Sprintf("job %s/%s to be %s", ns, name, phase), func(ctx context.Context) error {
		var err error
		j, err = sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if j.Status.Phase != phase {
			return fmt.Errorf("phase %s, steps %s, message %q", j.Status.Phase, stepSummary(j), j.Status.Message)
		}
		return nil
	})
	return j
}

// waitStep waits for step i of the job to run the Pod of the given attempt.
func waitStep(t *testing.T, ns, name string, i int, attempt int32) *v1alpha1.PipelineJob {
	t.Helper()
	var j *v1alpha1.PipelineJob
	eventually(t, 2*time.Minute, fmt.Sprintf("step %d of %s to run attempt %d", i, name, attempt), func(ctx context.Context) error {
		var err error
		j, err = sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(j.Status.Steps) <= i || j.Status.Steps[i].Phase != v1alpha1.StepRunning || j.Status.Steps[i].Attempts != attempt {
			return fmt.Errorf("steps %s", stepSummary(j))
		}
		return nil
	})
	return j
}

func stepSummary(j *v1alpha1.PipelineJob) string {
	var out []string
	for _, s := range j.Status.Steps {
		out = append(out, fmt.Sprintf("%s=%s/%d", s.Name, s.Phase, s.Attempts))
	}
	return strings.Join(out, " ")
}

// jobPods are the names of the job's Pods.
func jobPods(t *testing.T, ns, job string) []string {
	t.Helper()
	pods, err := kube(t).CoreV1().Pods(ns).List(testContext(t), metav1.ListOptions{LabelSelector: v1alpha1.LabelJob + "=" + job})
	require.NoError(t, err)
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// jobEvents waits for Events of the job with the given type and reason
// (recorded asynchronously) and returns all of the job's Events as
// "Type Reason Message" lines.
func jobEvents(t *testing.T, ns, job string, want ...string) []string {
	t.Helper()
	var out []string
	eventually(t, time.Minute, fmt.Sprintf("events %v of %s", want, job), func(ctx context.Context) error {
		list, err := kube(t).CoreV1().Events(ns).List(ctx, metav1.ListOptions{
			FieldSelector: "involvedObject.kind=PipelineJob,involvedObject.name=" + job,
		})
		if err != nil {
			return err
		}
		out = out[:0]
		for _, e := range list.Items {
			out = append(out, e.Type+" "+e.Reason+" "+e.Message)
		}
		for _, w := range want {
			if !slices.ContainsFunc(out, func(l string) bool { return strings.HasPrefix(l, w) }) {
				return fmt.Errorf("no %q among %q", w, out)
			}
		}
		return nil
	})
	return out
}

// liveControllers are the stack's default-instance controllers that run.
func liveControllers() []*localstack.Controller {
	var live []*localstack.Controller
	for _, c := range stack.Controllers {
		if !c.Exited() && !strings.HasPrefix(c.Identity, "canary") {
			live = append(live, c)
		}
	}
	return live
}

var controllersMu sync.Mutex

// ensureControllers restarts replicas until n run, as a Deployment would
// (a replica exits when it loses its Lease).
func ensureControllers(t *testing.T, n int) {
	t.Helper()
	// Parallel tests (the release tests) call it at once.
	controllersMu.Lock()
	defer controllersMu.Unlock()
	for len(liveControllers()) < n {
		c, err := stack.StartController(testContext(t))
		require.NoError(t, err)
		t.Logf("started %s", c.Identity)
	}
}

// leader waits for a live controller to hold the Lease and returns it.
func leader(t *testing.T) *localstack.Controller {
	t.Helper()
	var l *localstack.Controller
	eventually(t, time.Minute, "a live controller to hold the Lease", func(ctx context.Context) error {
		lease, err := kube(t).CoordinationV1().Leases("sluice-system").Get(ctx, "sluice-controller", metav1.GetOptions{})
		if err != nil {
			return err
		}
		holder := ""
		if lease.Spec.HolderIdentity != nil {
			holder = *lease.Spec.HolderIdentity
		}
		for _, c := range liveControllers() {
			if c.Identity == holder {
				l = c
				return nil
			}
		}
		return fmt.Errorf("the Lease is held by %q", holder)
	})
	return l
}

// metric reads one sample of a controller's /metrics: 0 when absent.
func metric(t *testing.T, c *localstack.Controller, sample string) float64 {
	t.Helper()
	v, _ := readMetric(t, c, sample)
	return v
}

// hasMetric says whether a controller's /metrics has the sample.
func hasMetric(t *testing.T, c *localstack.Controller, sample string) bool {
	t.Helper()
	_, ok := readMetric(t, c, sample)
	return ok
}

func readMetric(t *testing.T, c *localstack.Controller, sample string) (float64, bool) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, c.MetricsURL+"/metrics", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f, true
		}
	}
	require.NoError(t, sc.Err())
	return 0, false
}

// TestJobSucceeds (scenario 1): a 3-step pipeline of 2 actions per step,
// driven with kubectl: `kubectl wait --for=condition=Succeeded` returns, and
// every step shows its Pod and times, in order.
func TestJobSucceeds(t *testing.T) {
	ensureControllers(t, 1)
	ns := namespace(t, "run")
	kubectlIn(t, `
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  podRetention: Never
  params: [{name: revision, default: main}]
  steps:
  - name: test
    actions:
    - {name: clone, image: alpine/git, args: [clone, --branch=$(params.revision), https://example.com/repo.git, /workspace/src]}
    - {name: unit, image: golang:1.26, command: [go, test, ./...], env: [{name: KWOK_DURATION, value: 300ms}]}
  - name: build
    actions:
    - {name: clone, image: alpine/git, args: [clone, https://example.com/repo.git, /workspace/src]}
    - {name: image, image: kaniko, args: [--destination=registry.example.com/web:$(params.revision)], env: [{name: KWOK_DURATION, value: 300ms}]}
  - name: deploy
    actions:
    - {name: render, image: alpine, command: ["true"]}
    - {name: rollout, image: kubectl, args: [rollout, status, deployment/web, -n, $(job.namespace)], env: [{name: KWOK_DURATION, value: 300ms}]}
`, "-n", ns, "apply", "-f", "-")
	kubectlIn(t, `
apiVersion: sluice.dev/v1alpha1
kind: PipelineJob
metadata: {name: release-1}
spec:
  pipelineRef: {name: release}
  params: [{name: revision, value: v1.2.3}]
`, "-n", ns, "create", "-f", "-")

	kubectl(t, "-n", ns, "wait", "pipelinejob/release-1", "--for=condition=Succeeded", "--timeout=2m")

	j := getJob(t, ns, "release-1")
	require.Equal(t, v1alpha1.JobSucceeded, j.Status.Phase)
	require.NotNil(t, j.Status.StartTime)
	require.NotNil(t, j.Status.CompletionTime)
	require.Equal(t, "admin", j.Spec.StartedBy.Username)
	c := meta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded)
	require.Equal(t, metav1.ConditionTrue, c.Status)
	require.Equal(t, "test=Succeeded build=Succeeded deploy=Succeeded", testutil.StepPhases(j))
	var previousEnd time.Time
	for _, st := range j.Status.Steps {
		require.Equal(t, "release-1-"+st.Name+"-1", st.PodName)
		require.EqualValues(t, 1, st.Attempts)
		require.NotNil(t, st.StartTime, st.Name)
		require.NotNil(t, st.CompletionTime, st.Name)
		require.False(t, st.StartTime.Time.Before(previousEnd.Truncate(time.Second)), "step %s started before the previous one ended", st.Name)
		require.False(t, st.CompletionTime.Before(st.StartTime), st.Name)
		previousEnd = st.CompletionTime.Time
		require.Len(t, st.Actions, 2)
		for _, a := range st.Actions {
			require.NotNil(t, a.ExitCode, "%s/%s", st.Name, a.Name)
			require.EqualValues(t, 0, *a.ExitCode)
		}
	}

	// One Pod per step, on a kwok node, shaped as the step says.
	require.Equal(t, []string{"release-1-build-1", "release-1-deploy-1", "release-1-test-1"}, jobPods(t, ns, "release-1"))
	pod, err := kube(t).CoreV1().Pods(ns).Get(testContext(t), "release-1-build-1", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, corev1.PodSucceeded, pod.Status.Phase)
	require.True(t, strings.HasPrefix(pod.Spec.NodeName, "kwok-node-"), pod.Spec.NodeName)
	require.Equal(t, "clone", pod.Spec.InitContainers[0].Name)
	require.Equal(t, "image", pod.Spec.Containers[0].Name)
	require.Equal(t, []string{"--destination=registry.example.com/web:v1.2.3"}, pod.Spec.Containers[0].Args, "params substituted")
	require.Equal(t, map[string]string{v1alpha1.LabelJob: "release-1", v1alpha1.LabelStep: "build", v1alpha1.LabelPipeline: "release", controller.LabelAttempt: "1"}, pod.Labels)
	require.Equal(t, j.UID, pod.OwnerReferences[0].UID)
	deploy, err := kube(t).CoreV1().Pods(ns).Get(testContext(t), "release-1-deploy-1", metav1.GetOptions{})
	require.NoError(t, err)
	require.Contains(t, deploy.Spec.Containers[0].Args, ns, "$(job.namespace) substituted")

	jobEvents(t, ns, "release-1", "Normal Started", "Normal StepStarted", "Normal StepSucceeded", "Normal Succeeded")
	out := lines(kubectl(t, "-n", ns, "get", "pipelinejobs"))
	require.Equal(t, []string{"release-1", "release", "<none>", "Succeeded", "3/3", "deploy", "admin"}, strings.Fields(out[1])[:7])

	p, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Get(testContext(t), "release", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "release-1", p.Status.LastJob.Name)
	require.Equal(t, v1alpha1.JobSucceeded, p.Status.LastJob.Phase)
}

// webhookReceiver is an HTTP server standing in for a team's alerting
// endpoint: it verifies each delivery's signature and answers 503 to the
// first one, so the controller has to retry.
type webhookReceiver struct {
	*httptest.Server
	key []byte

	mu         sync.Mutex
	deliveries []webhookDelivery
}

type webhookDelivery struct {
	header      http.Header
	payload     controller.Payload
	signatureOK bool
}

func newWebhookReceiver(t *testing.T, key []byte) *webhookReceiver {
	r := &webhookReceiver{key: key}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := webhookDelivery{header: req.Header.Clone()}
		d.signatureOK = hmac.Equal([]byte(req.Header.Get(controller.HeaderSignature)), []byte(controller.Sign(r.key, req.Header.Get(controller.HeaderTimestamp), body)))
		if err := json.Unmarshal(body, &d.payload); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.deliveries = append(r.deliveries, d)
		first := len(r.deliveries) == 1
		r.mu.Unlock()
		if first {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *webhookReceiver) received() []webhookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deliveries)
}

// TestFailedStepAlerts (scenario 2): a failing middle step fails the job,
// the last step is Skipped, Warning Events are recorded, and the webhook
// receiver gets a signed notification, retried after a 503, whose delivery
// is recorded in the job's status.
func TestFailedStepAlerts(t *testing.T) {
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "fail")
	key := []byte("team-a-signing-key")
	hook := newWebhookReceiver(t, key)
	_, err := kube(t).CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "alerts"},
		Data:       map[string][]byte{"hmac": key},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	p := keepPods(testutil.Pipeline("release",
		runStep("test", "KWOK_DURATION", "200ms"),
		runStep("build", "KWOK_DURATION", "200ms", "KWOK_EXIT_CODE", "3"),
		runStep("deploy")))
	p.Spec.Notify = []v1alpha1.Notification{{
		Events:  []v1alpha1.NotifyEvent{v1alpha1.NotifyFailed},
		Webhook: &v1alpha1.Webhook{URL: hook.URL + "/alerts", SecretRef: &v1alpha1.SecretKeyRef{Name: "alerts", Key: "hmac"}},
	}}
	createPipelineAndJob(t, ns, p, testutil.Job("release-1", "release"))

	j := waitJob(t, ns, "release-1", v1alpha1.JobFailed, 2*time.Minute)
	require.Equal(t, "test=Succeeded build=Failed deploy=Skipped", testutil.StepPhases(j))
	require.Equal(t, []string{"release-1-build-1", "release-1-test-1"}, jobPods(t, ns, "release-1"), "no Pod for the skipped step")
	require.True(t, strings.HasSuffix(jobLog(t, ns, "release-1", &v1alpha1.PipelineJobLogOptions{}), "==> deploy (skipped)\n"),
		"the job's log says the step was skipped")
	build := j.Status.Steps[1]
	require.Equal(t, controller.ReasonStepFailed, build.Reason)
	require.EqualValues(t, 3, *build.Actions[1].ExitCode)
	require.Contains(t, j.Status.Message, `step "build" failed: action "run" exited with code 3`)
	c := meta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded)
	require.Equal(t, metav1.ConditionFalse, c.Status)
	require.Equal(t, controller.ReasonStepFailed, c.Reason)
	require.Equal(t, j.Status.Message, c.Message)

	jobEvents(t, ns, "release-1", "Warning StepFailed", "Warning Failed")

	// Delivered on the second attempt, and recorded in status.
	j = func() *v1alpha1.PipelineJob {
		var j *v1alpha1.PipelineJob
		eventually(t, time.Minute, "the notification to be delivered", func(ctx context.Context) error {
			j = getJob(t, ns, "release-1")
			if len(j.Status.Notifications) != 1 || j.Status.Notifications[0].State != v1alpha1.NotificationDelivered {
				return fmt.Errorf("notifications %+v", j.Status.Notifications)
			}
			return nil
		})
		return j
	}()
	n := j.Status.Notifications[0]
	require.Equal(t, v1alpha1.NotifyFailed, n.Event)
	require.Equal(t, hook.URL+"/alerts", n.URL)
	require.EqualValues(t, 2, n.Attempts)
	require.EqualValues(t, http.StatusNoContent, n.ResponseCode)

	got := hook.received()
	require.Len(t, got, 2)
	for _, d := range got {
		require.True(t, d.signatureOK, "X-Sluice-Signature verifies with the Secret's key")
		require.Equal(t, "Failed", d.header.Get(controller.HeaderEvent))
		require.Equal(t, "application/json", d.header.Get("Content-Type"))
	}
	require.Equal(t, got[0].header.Get(controller.HeaderDelivery), got[1].header.Get(controller.HeaderDelivery), "one delivery id across attempts")
	pl := got[1].payload
	require.Equal(t, v1alpha1.NotifyFailed, pl.Event)
	require.Equal(t, controller.JobRef{Name: "release-1", Namespace: ns, UID: string(j.UID)}, pl.Job)
	require.Equal(t, "release", pl.Pipeline)
	require.Equal(t, v1alpha1.JobFailed, pl.Phase)
	require.Equal(t, "build", pl.FailedStep)
	require.Equal(t, "run", pl.FailedAction)
	require.EqualValues(t, 3, *pl.ExitCode)
	require.Equal(t, "admin", pl.StartedBy)
	require.Equal(t, fmt.Sprintf("kubectl get --raw '/apis/sluice.dev/v1alpha1/namespaces/%s/pipelinejobs/release-1/log?step=build&action=run'", ns), pl.Logs)
	require.Equal(t, j.Status.Message, pl.Message)
}

// TestRetry (scenario 3): the first attempt of a step fails, the second,
// after the backoff, succeeds.
func TestRetry(t *testing.T) {
	ensureControllers(t, 1)
	ns := namespace(t, "retry")
	flaky := runStep("flaky", "KWOK_DURATION", "200ms", "KWOK_FAIL_FIRST_ATTEMPT", "true")
	flaky.Retries = 2
	createPipelineAndJob(t, ns, keepPods(testutil.Pipeline("p", flaky, runStep("after", "KWOK_DURATION", "200ms"))), testutil.Job("j", "p"))

	j := waitJob(t, ns, "j", v1alpha1.JobSucceeded, 2*time.Minute)
	st := j.Status.Steps[0]
	require.EqualValues(t, 2, st.Attempts)
	require.Equal(t, "j-flaky-2", st.PodName)
	require.Nil(t, st.NextAttemptTime)
	require.Equal(t, []string{"j-after-1", "j-flaky-1", "j-flaky-2"}, jobPods(t, ns, "j"))
	first, err := kube(t).CoreV1().Pods(ns).Get(testContext(t), "j-flaky-1", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, corev1.PodFailed, first.Status.Phase)
	events := jobEvents(t, ns, "j", "Warning StepRetrying", "Normal Succeeded")
	require.True(t, slices.ContainsFunc(events, func(e string) bool {
		return strings.HasPrefix(e, "Warning StepRetrying") && strings.Contains(e, `action "run" exited with code 1; attempt 2 of 3`)
	}), "%q", events)
}

// TestStepTimeout (scenario 4): a step that outlives its timeout has its
// Pod deleted and fails the job with reason Timeout.
func TestStepTimeout(t *testing.T) {
	ensureControllers(t, 1)
	ns := namespace(t, "timeout")
	slow := runStep("slow", "KWOK_DURATION", "1h")
	slow.Timeout = &metav1.Duration{Duration: 3 * time.Second}
	createPipelineAndJob(t, ns, testutil.Pipeline("p", slow, runStep("after")), testutil.Job("j", "p"))

	j := waitJob(t, ns, "j", v1alpha1.JobFailed, 2*time.Minute)
	require.Equal(t, "slow=Failed after=Skipped", testutil.StepPhases(j))
	require.Equal(t, controller.ReasonTimeout, j.Status.Steps[0].Reason)
	require.Contains(t, j.Status.Steps[0].Message, "timed out after 3s")
	st := j.Status.Steps[0]
	require.GreaterOrEqual(t, st.CompletionTime.Sub(st.StartTime.Time), 3*time.Second, "not cut short")
	require.Equal(t, controller.ReasonTimeout, meta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded).Reason)
	eventually(t, time.Minute, "the timed-out Pod to be deleted", func(ctx context.Context) error {
		if pods := jobPods(t, ns, "j"); len(pods) > 0 {
			return fmt.Errorf("pods %v", pods)
		}
		return nil
	})
}

// TestCancel (scenario 5): spec.cancel on a running job deletes its Pod;
// the job is Cancelled and its later steps Skipped.
func TestCancel(t *testing.T) {
	ensureControllers(t, 1)
	ns := namespace(t, "cancel")
	createPipelineAndJob(t, ns, keepPods(testutil.Pipeline("p", runStep("first", "KWOK_DURATION", "200ms"), runStep("long", "KWOK_DURATION", "1h"), runStep("last"))), testutil.Job("j", "p"))
	waitStep(t, ns, "j", 1, 1)
	eventually(t, time.Minute, "the long step's Pod to run", func(ctx context.Context) error {
		p, err := kube(t).CoreV1().Pods(ns).Get(ctx, "j-long-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})

	kubectl(t, "-n", ns, "patch", "pipelinejob", "j", "--type=merge", "-p", `{"spec":{"cancel":true}}`)
	j := waitJob(t, ns, "j", v1alpha1.JobCancelled, time.Minute)
	require.Equal(t, "first=Succeeded long=Cancelled last=Skipped", testutil.StepPhases(j))
	require.Equal(t, controller.ReasonCancelled, meta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded).Reason)
	eventually(t, time.Minute, "the cancelled step's Pod to be deleted", func(ctx context.Context) error {
		if pods := jobPods(t, ns, "j"); !slices.Equal(pods, []string{"j-first-1"}) {
			return fmt.Errorf("pods %v", pods)
		}
		return nil
	})
	jobEvents(t, ns, "j", "Normal Cancelled")
}

// TestControllerRestart (scenario 6): every controller is killed while a
// step runs; the step's Pod finishes meanwhile; a new controller picks the
// job up and completes it without creating any Pod twice.
func TestControllerRestart(t *testing.T) {
	ensureControllers(t, 1)
	ns := namespace(t, "restart")
	output := map[string][]localstack.LogLine{
		"prepare": localstack.Lines("fetched 12 modules"),
		"run":     localstack.Lines("step output, line 1", "step output, line 2"),
	}
	require.NoError(t, stack.SetContainerLogs(testContext(t), ns, output))
	createPipelineAndJob(t, ns, keepPods(testutil.Pipeline("p",
		runStep("a", "KWOK_DURATION", "200ms"), runStep("b", "KWOK_DURATION", "3s"), runStep("c", "KWOK_DURATION", "200ms"))),
		testutil.Job("j", "p"))
	waitStep(t, ns, "j", 1, 1)

	for _, c := range liveControllers() {
		require.NoError(t, c.Kill())
	}
	eventually(t, time.Minute, "step b's Pod to finish without a controller", func(ctx context.Context) error {
		p, err := kube(t).CoreV1().Pods(ns).Get(ctx, "j-b-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodSucceeded {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	require.Equal(t, "a=Succeeded b=Running c=Pending", testutil.StepPhases(getJob(t, ns, "j")), "nothing ran the job meanwhile")

	ensureControllers(t, 1)
	j := waitJob(t, ns, "j", v1alpha1.JobSucceeded, 2*time.Minute)
	require.Equal(t, "a=Succeeded b=Succeeded c=Succeeded", testutil.StepPhases(j))
	require.Equal(t, []string{"j-a-1", "j-b-1", "j-c-1"}, jobPods(t, ns, "j"), "one Pod per step: none created twice")
	for _, st := range j.Status.Steps {
		require.EqualValues(t, 1, st.Attempts)
	}

	// No output is lost with the controller: step b's, which ended while
	// none ran, was archived by the new one, and the job's log reads the
	// same once the Pods are gone.
	var want strings.Builder
	for _, step := range []string{"a", "b", "c"} {
		for _, action := range []string{"prepare", "run"} {
			fmt.Fprintf(&want, "==> %s/%s (attempt 1)\n%s", step, action, logText(output[action]))
		}
	}
	require.Equal(t, want.String(), jobLog(t, ns, "j", &v1alpha1.PipelineJobLogOptions{}))
	kubectl(t, "-n", ns, "delete", "pods", "-l", v1alpha1.LabelJob+"=j", "--wait")
	require.Equal(t, want.String(), jobLog(t, ns, "j", &v1alpha1.PipelineJobLogOptions{}), "without the Pods")
}

// TestLeaderElection (scenario 7): of two replicas only the Lease holder
// runs jobs; when it is killed with SIGKILL mid-job (so it does not release
// the Lease, which must expire), the other takes the Lease over and carries
// on from the jobs' status: a job whose step was running, one whose first
// attempt failed while no leader ran, and one created meanwhile all finish,
// with exactly one Pod per step attempt, and no Pod that existed at the
// kill created again. How long the takeover took is logged, not asserted:
// it is about the Lease duration (6s here; 15s by default).
func TestLeaderElection(t *testing.T) {
	ensureControllers(t, 2)
	ctx := testContext(t)
	ns := namespace(t, "leader")
	first := leader(t)
	var standby *localstack.Controller
	for _, c := range liveControllers() {
		if c != first {
			standby = c
		}
	}
	require.NotNil(t, standby)

	createPipelineAndJob(t, ns, testutil.Pipeline("p", runStep("a", "KWOK_DURATION", "200ms")), testutil.Job("warm-up", "p"))
	waitJob(t, ns, "warm-up", v1alpha1.JobSucceeded, 2*time.Minute)
	require.Positive(t, metric(t, first, "sluice_controller_jobs_started_total"), "the leader ran the job")
	require.Positive(t, metric(t, first, `sluice_controller_jobs_finished_total{phase="Succeeded"}`))
	require.Positive(t, metric(t, first, `sluice_controller_step_duration_seconds_count{phase="Succeeded"}`))
	require.Positive(t, metric(t, first, `workqueue_adds_total{name="pipelinejobs"}`), "the workqueue's metrics are served")
	require.True(t, hasMetric(t, first, `workqueue_depth{name="pipelinejobs"}`))
	require.True(t, hasMetric(t, first, "sluice_controller_reconcile_errors_total"))
	require.Zero(t, metric(t, standby, "sluice_controller_jobs_started_total"), "the standby ran nothing")
	require.Zero(t, metric(t, standby, `sluice_controller_jobs_finished_total{phase="Succeeded"}`))

	jobs := sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns)
	_, err := jobs.Create(ctx, testutil.Job("j", "p"), metav1.CreateOptions{})
	require.NoError(t, err)
	// failover's first step runs for 3s: the kill comes while it runs.
	// retrying's first attempt fails after 3s, while no leader runs: the
	// new leader must run its second attempt once, after the backoff.
	flaky := runStep("a", "KWOK_DURATION", "3s", "KWOK_FAIL_FIRST_ATTEMPT", "true")
	flaky.Retries = 1
	for _, p := range []*v1alpha1.Pipeline{
		keepPods(testutil.Pipeline("slow", runStep("a", "KWOK_DURATION", "3s"), runStep("b", "KWOK_DURATION", "200ms"))),
		keepPods(testutil.Pipeline("flaky", flaky, runStep("b", "KWOK_DURATION", "200ms"))),
	} {
		_, err = sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	for name, pipeline := range map[string]string{"failover": "slow", "retrying": "flaky"} {
		_, err = jobs.Create(ctx, testutil.Job(name, pipeline), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	waitStep(t, ns, "failover", 0, 1)
	waitStep(t, ns, "retrying", 0, 1)
	before := podUIDs(t, ns)

	killed := time.Now()
	require.NoError(t, first.Kill(), "SIGKILL: the Lease is not released and must expire")
	_, err = jobs.Create(ctx, testutil.Job("meanwhile", "p"), metav1.CreateOptions{})
	require.NoError(t, err)

	require.Equal(t, standby, leader(t), "the standby took the Lease over")
	lease, err := kube(t).CoordinationV1().Leases("sluice-system").Get(ctx, "sluice-controller", metav1.GetOptions{})
	require.NoError(t, err)
	takeover := lease.Spec.AcquireTime.Sub(killed)
	var firstStart time.Duration
	eventually(t, 2*time.Minute, "the new leader to start the job created while none ran", func(ctx context.Context) error {
		j, err := jobs.Get(ctx, "meanwhile", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if j.Status.Phase == v1alpha1.JobPending {
			return fmt.Errorf("phase %s", j.Status.Phase)
		}
		firstStart = time.Since(killed)
		return nil
	})

	for _, name := range []string{"failover", "retrying", "meanwhile"} {
		waitJob(t, ns, name, v1alpha1.JobSucceeded, 2*time.Minute)
	}
	require.Equal(t, []string{"failover-a-1", "failover-b-1"}, jobPods(t, ns, "failover"))
	require.Equal(t, []string{"retrying-a-1", "retrying-a-2", "retrying-b-1"}, jobPods(t, ns, "retrying"))
	require.EqualValues(t, 1, getJob(t, ns, "failover").Status.Steps[0].Attempts)
	require.EqualValues(t, 2, getJob(t, ns, "retrying").Status.Steps[0].Attempts)
	// A Pod that existed at the kill and exists now (the jobs of p delete
	// theirs once finished) is the same Pod, not one created again.
	after := podUIDs(t, ns)
	for name, uid := range before {
		if now, ok := after[name]; ok {
			require.Equal(t, uid, now, "Pod %s, which existed at the kill, is the same Pod", name)
		}
	}
	// One Pod per step attempt of every job, by the labels the controller
	// gives them, whatever their names.
	pods, err := kube(t).CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelJob})
	require.NoError(t, err)
	attempts := map[string][]string{}
	for _, p := range pods.Items {
		key := p.Labels[v1alpha1.LabelJob] + "/" + p.Labels[v1alpha1.LabelStep] + "/" + p.Labels[controller.LabelAttempt]
		attempts[key] = append(attempts[key], p.Name)
	}
	for key, names := range attempts {
		require.Len(t, names, 1, "step attempt %s has Pods %v", key, names)
	}
	require.Positive(t, metric(t, standby, `sluice_controller_jobs_finished_total{phase="Succeeded"}`), "the new leader finished the jobs")
	t.Logf("the leading sluice-controller killed with SIGKILL; the standby acquired the Lease %s later (Lease duration 6s, retry period 1s) "+
		"and started the job created meanwhile %s after the kill; %d step attempts, one Pod each, none created twice",
		takeover.Round(time.Millisecond), firstStart.Round(100*time.Millisecond), len(attempts))
	ensureControllers(t, 2)
}

// podUIDs are the UIDs of the namespace's Pods by name.
func podUIDs(t *testing.T, ns string) map[string]types.UID {
	t.Helper()
	pods, err := kube(t).CoreV1().Pods(ns).List(testContext(t), metav1.ListOptions{})
	require.NoError(t, err)
	uids := map[string]types.UID{}
	for _, p := range pods.Items {
		uids[p.Name] = p.UID
	}
	return uids
}

// TestJobDeletionCollectsPods (scenario 8): deleting a job deletes its Pods
// through the garbage collector, which follows their ownerReferences.
func TestJobDeletionCollectsPods(t *testing.T) {
	ensureControllers(t, 1)
	ns := namespace(t, "gcjob")
	createPipelineAndJob(t, ns, keepPods(testutil.Pipeline("p", runStep("a", "KWOK_DURATION", "200ms"), runStep("b", "KWOK_DURATION", "200ms"))), testutil.Job("j", "p"))
	waitJob(t, ns, "j", v1alpha1.JobSucceeded, 2*time.Minute)
	require.Len(t, jobPods(t, ns, "j"), 2)
	kubectl(t, "-n", ns, "delete", "pipelinejob", "j", "--wait=true")
	eventually(t, 2*time.Minute, "the job's Pods to be garbage-collected", func(ctx context.Context) error {
		if pods := jobPods(t, ns, "j"); len(pods) > 0 {
			return fmt.Errorf("pods %v", pods)
		}
		return nil
	})
}

// TestControllerInstance: a job labelled sluice.dev/controller-instance is
// left alone by the default controllers and run by the controller started
// with that --instance.
func TestControllerInstance(t *testing.T) {
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "instance")
	canaryJob := testutil.Job("canary-1", "p")
	canaryJob.Labels = map[string]string{v1alpha1.LabelControllerInstance: "canary"}
	createPipelineAndJob(t, ns, testutil.Pipeline("p", runStep("a", "KWOK_DURATION", "200ms")), testutil.Job("default-1", "p"), canaryJob)

	waitJob(t, ns, "default-1", v1alpha1.JobSucceeded, 2*time.Minute)
	require.Equal(t, v1alpha1.JobPending, getJob(t, ns, "canary-1").Status.Phase, "not for the default controllers")

	canary, err := stack.StartController(ctx, "--instance=canary", "--leader-elect-identity=canary-1")
	require.NoError(t, err)
	t.Cleanup(func() { _ = canary.Stop(10 * time.Second) })
	waitJob(t, ns, "canary-1", v1alpha1.JobSucceeded, 2*time.Minute)
	lease, err := kube(t).CoordinationV1().Leases("sluice-system").Get(ctx, "sluice-controller-canary", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "canary-1", *lease.Spec.HolderIdentity, "an instance elects its own leader")
}

// TestForbiddenPodWaits: a step whose ServiceAccount does not exist yet
// waits with reason FailedCreatePod and runs once the account is created.
func TestForbiddenPodWaits(t *testing.T) {
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "sa")
	deploy := runStep("deploy", "KWOK_DURATION", "200ms")
	deploy.PodTemplate = &v1alpha1.PodTemplate{ServiceAccountName: "deployer"}
	createPipelineAndJob(t, ns, keepPods(testutil.Pipeline("p", deploy)), testutil.Job("j", "p"))
	eventually(t, time.Minute, "the step to report why it waits", func(ctx context.Context) error {
		j := getJob(t, ns, "j")
		if len(j.Status.Steps) == 0 || j.Status.Steps[0].Reason != controller.ReasonFailedCreatePod {
			return fmt.Errorf("steps %+v", j.Status.Steps)
		}
		return nil
	})
	j := getJob(t, ns, "j")
	require.Contains(t, j.Status.Steps[0].Message, `serviceaccount "deployer" not found`)
	require.Equal(t, v1alpha1.JobRunning, j.Status.Phase)
	jobEvents(t, ns, "j", "Warning FailedCreatePod")

	_, err := kube(t).CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	j = waitJob(t, ns, "j", v1alpha1.JobSucceeded, 2*time.Minute)
	require.Empty(t, j.Status.Steps[0].Reason)
	pod, err := kube(t).CoreV1().Pods(ns).Get(ctx, "j-deploy-1", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "deployer", pod.Spec.ServiceAccountName)
}

// TestManyJobs (scenario 9): 200 jobs of a 2-step pipeline submitted at
// once all succeed, each with exactly its two Pods. The rate is logged for
// docs/benchmarks.md; it is not asserted.
func TestManyJobs(t *testing.T) {
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "many")
	const jobs = 200
	_, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(ctx,
		keepPods(testutil.Pipeline("p", runStep("a", "KWOK_DURATION", "100ms"), runStep("b", "KWOK_DURATION", "100ms"))), metav1.CreateOptions{})
	require.NoError(t, err)

	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				if _, err := sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns).Create(ctx, testutil.Job(fmt.Sprintf("j-%03d", i), "p"), metav1.CreateOptions{}); err != nil {
					t.Errorf("create j-%03d: %v", i, err)
				}
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	submitted := time.Since(start)

	var succeeded int
	eventually(t, 10*time.Minute, "every job to finish", func(ctx context.Context) error {
		list, err := sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		succeeded = 0
		finished := 0
		for _, j := range list.Items {
			switch j.Status.Phase {
			case v1alpha1.JobSucceeded:
				succeeded++
				finished++
			case v1alpha1.JobFailed, v1alpha1.JobCancelled:
				finished++
			}
		}
		if finished < jobs {
			return fmt.Errorf("%d of %d finished", finished, jobs)
		}
		return nil
	})
	elapsed := time.Since(start)
	require.Equal(t, jobs, succeeded)
	pods, err := kube(t).CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelJob})
	require.NoError(t, err)
	require.Len(t, pods.Items, 2*jobs, "two Pods per job, none twice")
	t.Logf("%d jobs (2 steps each) submitted in %s, all succeeded after %s: %.0f jobs/min",
		jobs, submitted.Round(time.Millisecond), elapsed.Round(time.Millisecond), float64(jobs)/elapsed.Minutes())
}

// TestRecreatedJobRunsItsOwnPods: a job deleted and created again under the
// same name, while the old job's Pod still exists, never takes that Pod for
// its own. The old Pod is held by a finalizer after the garbage collector
// deleted it; the new job waits for the name with reason PodConflict, then
// runs its own Pod and gets its own result.
func TestRecreatedJobRunsItsOwnPods(t *testing.T) {
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "recreate")
	jobs := sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns)
	pods := kube(t).CoreV1().Pods(ns)
	inline := func(env ...string) *v1alpha1.PipelineJob {
		return &v1alpha1.PipelineJob{
			ObjectMeta: metav1.ObjectMeta{Name: "j"},
			Spec: v1alpha1.PipelineJobSpec{PipelineSpec: &v1alpha1.PipelineSpec{
				Steps: []v1alpha1.Step{runStep("s", env...)}, PodRetention: v1alpha1.PodRetentionNever,
			}},
		}
	}

	old, err := jobs.Create(ctx, inline("KWOK_DURATION", "200ms", "KWOK_EXIT_CODE", "1"), metav1.CreateOptions{})
	require.NoError(t, err)
	waitJob(t, ns, "j", v1alpha1.JobFailed, 2*time.Minute)
	const hold = "sluice.dev/e2e-hold"
	_, err = pods.Patch(ctx, "j-s-1", types.MergePatchType, []byte(`{"metadata":{"finalizers":["`+hold+`"]}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	release := func() {
		_, err := pods.Patch(context.Background(), "j-s-1", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("releasing the old Pod: %v", err)
		}
	}
	t.Cleanup(release)

	require.NoError(t, jobs.Delete(ctx, "j", metav1.DeleteOptions{}))
	eventually(t, 2*time.Minute, "the garbage collector to delete the old job's Pod", func(ctx context.Context) error {
		if _, err := jobs.Get(ctx, "j", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("old job still there: %v", err)
		}
		p, err := pods.Get(ctx, "j-s-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.DeletionTimestamp == nil {
			return fmt.Errorf("pod j-s-1 not terminating yet")
		}
		return nil
	})

	created, err := jobs.Create(ctx, inline("KWOK_DURATION", "200ms"), metav1.CreateOptions{})
	require.NoError(t, err)
	require.NotEqual(t, old.UID, created.UID)
	eventually(t, time.Minute, "the new job to wait for the old Pod's name", func(ctx context.Context) error {
		j, err := jobs.Get(ctx, "j", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if finished := j.Status.Phase == v1alpha1.JobSucceeded || j.Status.Phase == v1alpha1.JobFailed; finished {
			t.Fatalf("the new job finished while the old job's Pod still exists: %s: %s", j.Status.Phase, j.Status.Message)
		}
		if len(j.Status.Steps) == 0 || j.Status.Steps[0].Reason != controller.ReasonPodConflict {
			return fmt.Errorf("phase %s, steps %+v", j.Status.Phase, j.Status.Steps)
		}
		return nil
	})
	p, err := pods.Get(ctx, "j-s-1", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, old.UID, metav1.GetControllerOf(p).UID, "the old Pod is still there, untouched")
	jobEvents(t, ns, "j", "Warning PodConflict")

	release()
	j := waitJob(t, ns, "j", v1alpha1.JobSucceeded, 2*time.Minute)
	require.Equal(t, created.UID, j.UID)
	require.Equal(t, "s=Succeeded", testutil.StepPhases(j))
	require.EqualValues(t, 1, j.Status.Steps[0].Attempts)
	require.Empty(t, j.Status.Steps[0].Reason)
	p, err = pods.Get(ctx, "j-s-1", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, created.UID, metav1.GetControllerOf(p).UID, "the step ran in the new job's own Pod")
	require.Equal(t, corev1.PodSucceeded, p.Status.Phase)
}
