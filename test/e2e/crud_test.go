package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/controlplane"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// pipeline is a pipeline of steps of one action each.
func pipeline(name string, steps ...string) *v1alpha1.Pipeline {
	p := testutil.Pipeline(name)
	for _, s := range steps {
		p.Spec.Steps = append(p.Spec.Steps, v1alpha1.Step{Name: s, Actions: []v1alpha1.Action{{Name: "run", Image: "alpine:3.20"}}})
	}
	return p
}

// job is a job for the API tests, which play the controller's part by
// hand: its controller-instance label keeps the stack's controllers off it.
func job(name, pipelineName string) *v1alpha1.PipelineJob {
	j := testutil.Job(name, pipelineName)
	j.Labels = map[string]string{v1alpha1.LabelControllerInstance: "none"}
	return j
}

// TestCRUD creates, reads, lists, watches, updates and deletes both kinds
// with the generated clientset, through kube-apiserver.
func TestCRUD(t *testing.T) {
	ctx := testContext(t)
	ns := namespace(t, "crud")
	c := sluiceAdmin(t).SluiceV1alpha1()

	w, err := c.PipelineJobs(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	defer w.Stop()

	p, err := c.Pipelines(ns).Create(ctx, pipeline("build", "test", "build"), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, v1alpha1.AllowConcurrent, p.Spec.ConcurrencyPolicy, "defaults are applied")
	require.EqualValues(t, 1, p.Generation)

	j, err := c.PipelineJobs(ns).Create(ctx, job("build-1", "build"), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, v1alpha1.JobPending, j.Status.Phase)
	require.Equal(t, "build", j.Labels[v1alpha1.LabelPipeline])
	require.Equal(t, v1alpha1.TriggerManual, j.Spec.Trigger.Type)

	got, err := c.PipelineJobs(ns).Get(ctx, "build-1", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, j.ResourceVersion, got.ResourceVersion)

	list, err := c.PipelineJobs(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)

	// Only spec.cancel may change.
	got.Spec.Cancel = true
	updated, err := c.PipelineJobs(ns).Update(ctx, got, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.True(t, updated.Spec.Cancel)
	require.EqualValues(t, 2, updated.Generation)
	updated.Spec.Params = []v1alpha1.Param{{Name: "x", Value: "y"}}
	_, err = c.PipelineJobs(ns).Update(ctx, updated, metav1.UpdateOptions{})
	require.True(t, apierrors.IsInvalid(err), "params are immutable: %v", err)

	// An update with a stale resourceVersion conflicts.
	_, err = c.PipelineJobs(ns).Update(ctx, got, metav1.UpdateOptions{})
	require.True(t, apierrors.IsConflict(err), "stale update: %v", err)

	require.NoError(t, c.PipelineJobs(ns).Delete(ctx, "build-1", metav1.DeleteOptions{}))
	_, err = c.PipelineJobs(ns).Get(ctx, "build-1", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err))

	var types []watch.EventType
	for len(types) < 3 {
		select {
		case ev := <-w.ResultChan():
			types = append(types, ev.Type)
		case <-ctx.Done():
			t.Fatalf("watch saw only %v", types)
		}
	}
	require.Equal(t, []watch.EventType{watch.Added, watch.Modified, watch.Deleted}, types)

	require.NoError(t, c.Pipelines(ns).Delete(ctx, "build", metav1.DeleteOptions{}))
}

// TestStatusSubresource checks the strategy split: the main resource
// ignores status, the status subresource ignores spec.
func TestStatusSubresource(t *testing.T) {
	ctx := testContext(t)
	ns := namespace(t, "status")
	c := sluiceAdmin(t).SluiceV1alpha1()
	_, err := c.Pipelines(ns).Create(ctx, pipeline("p", "a"), metav1.CreateOptions{})
	require.NoError(t, err)
	j, err := c.PipelineJobs(ns).Create(ctx, job("j", "p"), metav1.CreateOptions{})
	require.NoError(t, err)

	j.Status.Phase = v1alpha1.JobRunning
	j.Spec.Cancel = true
	afterStatus, err := c.PipelineJobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, v1alpha1.JobRunning, afterStatus.Status.Phase)
	require.False(t, afterStatus.Spec.Cancel, "the status subresource ignores spec")

	afterStatus.Status.Phase = v1alpha1.JobSucceeded
	afterMain, err := c.PipelineJobs(ns).Update(ctx, afterStatus, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, v1alpha1.JobRunning, afterMain.Status.Phase, "the main resource ignores status")
}

// TestPatches applies JSON, merge and strategic-merge patches with kubectl;
// strategic merge merges steps, actions and env by name.
func TestPatches(t *testing.T) {
	ns := namespace(t, "patch")
	kubectlIn(t, `
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: p}
spec:
  steps:
  - name: test
    actions:
    - name: unit
      image: golang:1.26
      env: [{name: A, value: "1"}]
  - name: build
    actions: [{name: image, image: kaniko}]
`, "-n", ns, "apply", "-f", "-")

	kubectl(t, "-n", ns, "patch", "pipeline", "p", "--type=strategic", "-p",
		`{"spec":{"steps":[{"name":"test","retries":2,"actions":[{"name":"unit","env":[{"name":"B","value":"2"}]}]}]}}`)
	var p v1alpha1.Pipeline
	require.NoError(t, json.Unmarshal([]byte(kubectl(t, "-n", ns, "get", "pipeline", "p", "-o", "json")), &p))
	require.Len(t, p.Spec.Steps, 2, "strategic merge keeps the other step")
	require.EqualValues(t, 2, p.Spec.Steps[0].Retries)
	require.Equal(t, "golang:1.26", p.Spec.Steps[0].Actions[0].Image)
	require.Len(t, p.Spec.Steps[0].Actions[0].Env, 2, "env merged by name")

	kubectl(t, "-n", ns, "patch", "pipeline", "p", "--type=merge", "-p", `{"spec":{"description":"merged"}}`)
	kubectl(t, "-n", ns, "patch", "pipeline", "p", "--type=json", "-p", `[{"op":"replace","path":"/spec/steps/1/actions/0/image","value":"kaniko:v1"}]`)
	require.NoError(t, json.Unmarshal([]byte(kubectl(t, "-n", ns, "get", "pipeline", "p", "-o", "json")), &p))
	require.Equal(t, "merged", p.Spec.Description)
	require.Equal(t, "kaniko:v1", p.Spec.Steps[1].Actions[0].Image)

	// A patch that makes the object invalid is rejected with the path.
	out, err := kubectlErr(t, "", "-n", ns, "patch", "pipeline", "p", "--type=json", "-p", `[{"op":"remove","path":"/spec/steps/0/actions/0/image"}]`)
	require.Error(t, err, out)
	require.Contains(t, err.Error(), "spec.steps[0].actions[0].image: Required value")
}

// TestServerSideApply: two field managers conflict on a field, and the
// conflict is resolved by --force-conflicts; lists merge by name.
func TestServerSideApply(t *testing.T) {
	ns := namespace(t, "ssa")
	alice := `
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: p}
spec:
  steps:
  - name: test
    actions: [{name: unit, image: "golang:1.25"}]
`
	bob := `
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: p}
spec:
  steps:
  - name: test
    actions: [{name: unit, image: "golang:1.26"}]
  - name: deploy
    actions: [{name: rollout, image: kubectl}]
`
	kubectlIn(t, alice, "-n", ns, "apply", "--server-side", "--field-manager=alice", "-f", "-")
	_, err := kubectlErr(t, bob, "-n", ns, "apply", "--server-side", "--field-manager=bob", "-f", "-")
	require.Error(t, err)
	require.Contains(t, err.Error(), "conflict")
	require.Contains(t, err.Error(), "alice")

	kubectlIn(t, bob, "-n", ns, "apply", "--server-side", "--field-manager=bob", "--force-conflicts", "-f", "-")
	var p v1alpha1.Pipeline
	require.NoError(t, json.Unmarshal([]byte(kubectl(t, "-n", ns, "get", "pipeline", "p", "-o", "json", "--show-managed-fields")), &p))
	require.Equal(t, "golang:1.26", p.Spec.Steps[0].Actions[0].Image)
	require.Len(t, p.Spec.Steps, 2)
	managers := map[string]bool{}
	for _, m := range p.ManagedFields {
		managers[m.Manager] = true
	}
	require.True(t, managers["bob"], "managedFields: %v", managers)

	// Alice's next apply only touches what she manages: bob's step stays.
	kubectlIn(t, strings.Replace(alice, "golang:1.25", "golang:1.26", 1), "-n", ns, "apply", "--server-side", "--field-manager=alice", "-f", "-")
	require.NoError(t, json.Unmarshal([]byte(kubectl(t, "-n", ns, "get", "pipeline", "p", "-o", "json")), &p))
	require.Len(t, p.Spec.Steps, 2, "steps are merged by name")
}

// TestExplain reads the published OpenAPI through kubectl explain.
func TestExplain(t *testing.T) {
	out := kubectl(t, "explain", "pipelinejob.spec.params")
	require.Contains(t, out, "KIND:       PipelineJob")
	require.Contains(t, out, "Params are the values passed to the pipeline's params.")
	out = kubectl(t, "explain", "pipeline.spec.steps.actions")
	require.Contains(t, out, "Actions run in order inside the step's Pod")
}

// TestColumns checks the server-computed table columns of kubectl get.
func TestColumns(t *testing.T) {
	ctx := testContext(t)
	ns := namespace(t, "columns")
	c := sluiceAdmin(t).SluiceV1alpha1()
	p, err := c.Pipelines(ns).Create(ctx, pipeline("release", "test", "build", "deploy"), metav1.CreateOptions{})
	require.NoError(t, err)
	j := job("release-1", "release")
	j.Spec.Trigger = v1alpha1.JobTrigger{Type: v1alpha1.TriggerWebhook, Detail: "push to main"}
	j, err = c.PipelineJobs(ns).Create(ctx, j, metav1.CreateOptions{})
	require.NoError(t, err)

	out := lines(kubectl(t, "-n", ns, "get", "pipelinejobs"))
	require.Equal(t, []string{"NAME", "PIPELINE", "ENVIRONMENT", "PHASE", "STEP", "STARTED-BY", "DURATION", "AGE"}, strings.Fields(out[0]))
	require.Equal(t, []string{"release-1", "release", "<none>", "Pending", "-", "admin", "-"}, strings.Fields(out[1])[:7])

	// The controller's part, played by hand: a running job on step 2.
	start := metav1.NewTime(time.Now().Add(-90 * time.Second))
	j.Status = v1alpha1.PipelineJobStatus{
		Phase:        v1alpha1.JobRunning,
		StartTime:    &start,
		PipelineSpec: p.Spec.DeepCopy(),
		Message:      "building the image",
		Steps: []v1alpha1.StepStatus{
			{Name: "test", Phase: v1alpha1.StepSucceeded},
			{Name: "build", Phase: v1alpha1.StepRunning},
			{Name: "deploy", Phase: v1alpha1.StepPending},
		},
	}
	_, err = c.PipelineJobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{})
	require.NoError(t, err)
	out = lines(kubectl(t, "-n", ns, "get", "pipelinejobs", "-o", "wide"))
	require.Equal(t, []string{"NAME", "PIPELINE", "ENVIRONMENT", "PHASE", "STEP", "STARTED-BY", "DURATION", "AGE", "TRIGGER", "MESSAGE"}, strings.Fields(out[0]))
	require.Contains(t, out[1], "Running   2/3 build   admin")
	require.Contains(t, out[1], "Webhook: push to main")
	require.Contains(t, out[1], "building the image")
	require.Regexp(t, `admin\s+(89|9\d)s\s`, out[1], "duration of a running job")

	out = lines(kubectl(t, "-n", ns, "get", "pipelines"))
	require.Equal(t, []string{"NAME", "STEPS", "LAST-JOB", "LAST-PHASE", "AGE"}, strings.Fields(out[0]))
	require.Equal(t, []string{"release", "3", "<none>", "<none>"}, strings.Fields(out[1])[:4])
	out = lines(kubectl(t, "-n", ns, "get", "pipelines", "-o", "wide"))
	require.Equal(t, []string{"NAME", "STEPS", "LAST-JOB", "LAST-PHASE", "DEPLOYED", "DESCRIPTION", "AGE"}, strings.Fields(out[0]))
}

// TestKubectlWait waits on a jsonpath condition, then on a condition, that a
// status update makes true. The update is written only once kubectl's watch
// is open (its -v=6 request log shows the watch request answered 200), so
// the test proves that the watch delivers the change rather than that a
// first GET happened to see it.
func TestKubectlWait(t *testing.T) {
	ctx := testContext(t)
	ns := namespace(t, "wait")
	c := sluiceAdmin(t).SluiceV1alpha1()
	_, err := c.Pipelines(ns).Create(ctx, pipeline("p", "a"), metav1.CreateOptions{})
	require.NoError(t, err)
	j, err := c.PipelineJobs(ns).Create(ctx, job("j", "p"), metav1.CreateOptions{})
	require.NoError(t, err)

	bin, err := controlplane.BinDir()
	require.NoError(t, err)
	waitFor := func(condition string) (watching <-chan struct{}, done <-chan error) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), "--kubeconfig="+stack.Kubeconfig, "-v=6",
			"-n", ns, "wait", "pipelinejob/j", "--for="+condition, "--timeout=60s")
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		w, d := make(chan struct{}), make(chan error, 1)
		var log strings.Builder
		go func() {
			opened := false
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				line := sc.Text()
				log.WriteString(line + "\n")
				if !opened && strings.Contains(line, "watch=true") && strings.Contains(line, "200 OK") {
					opened = true
					close(w)
				}
			}
			if err := cmd.Wait(); err != nil {
				d <- fmt.Errorf("kubectl wait --for=%s: %w\n%s", condition, err, log.String())
			}
			close(d)
		}()
		return w, d
	}
	opened := func(watching <-chan struct{}, done <-chan error) {
		t.Helper()
		select {
		case <-watching:
		case err := <-done:
			t.Fatalf("kubectl wait ended before it opened a watch: %v", err)
		case <-ctx.Done():
			t.Fatal("kubectl wait opened no watch")
		}
	}

	watching, done := waitFor("jsonpath={.status.phase}=Succeeded")
	opened(watching, done)
	j.Status.Phase = v1alpha1.JobSucceeded
	j, err = c.PipelineJobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NoError(t, <-done)

	watching, done = waitFor("condition=Succeeded")
	opened(watching, done)
	j.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionSucceeded, Status: metav1.ConditionTrue, Reason: "Completed", LastTransitionTime: metav1.Now()}}
	_, err = c.PipelineJobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NoError(t, <-done)
}

// TestGenerateName creates jobs the way the README does.
func TestGenerateName(t *testing.T) {
	ns := namespace(t, "gen")
	example := func(file string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", "artifacts", "examples", file))
		require.NoError(t, err)
		return strings.ReplaceAll(string(b), "namespace: default", "namespace: "+ns)
	}
	kubectlIn(t, example("deployer.yaml"), "apply", "-f", "-")
	kubectlIn(t, example("pipeline.yaml"), "apply", "-f", "-")
	for range 3 {
		out := kubectlIn(t, example("pipelinejob.yaml"), "create", "-f", "-", "-o", "name")
		require.Regexp(t, `^pipelinejob.sluice.dev/release-[a-z0-9]{5}\n$`, out)
	}
	require.Len(t, lines(kubectl(t, "-n", ns, "get", "pj", "-o", "name")), 3)
}
