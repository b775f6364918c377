package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/controller"
	sluicev1alpha1 "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/typed/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// These tests drive the release actions (pipelines/run and rollback,
// pipelinejobs/cancel, rerun and approval) through kube-apiserver as real
// users: impersonated by the admin, with groups, and held to the RBAC the
// tests bind. They share the stack's controllers and run in parallel
// with each other, each in its own namespace.

// sluiceAs is a client that acts as user, a member of groups.
func sluiceAs(t *testing.T, user string, groups ...string) sluicev1alpha1.SluiceV1alpha1Interface {
	cfg := rest.CopyConfig(stack.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
	return sluiceFor(t, cfg).SluiceV1alpha1()
}

// allow lets subject (a User, or a Group when it starts with "group:")
// create the given subresources in ns, limited to names when any are
// given, through a Role of its own.
func allow(t *testing.T, ns, subject string, subresources []string, names ...string) {
	t.Helper()
	ctx := testContext(t)
	kind, name := rbacv1.UserKind, subject
	if g, ok := strings.CutPrefix(subject, "group:"); ok {
		kind, name = rbacv1.GroupKind, g
	}
	roleName := "allow-" + strings.NewReplacer(":", "-", "/", "-").Replace(name+"-"+strings.Join(subresources, "-"))
	_, err := kube(t).RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: roleName},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupName}, Resources: subresources, ResourceNames: names, Verbs: []string{"create"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = kube(t).RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: roleName},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: roleName},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: kind, Name: name}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

// bindRole gives subject (as in allow) a cluster role in ns.
func bindRole(t *testing.T, ns, subject, clusterRole string) {
	t.Helper()
	kind, name := rbacv1.UserKind, subject
	if g, ok := strings.CutPrefix(subject, "group:"); ok {
		kind, name = rbacv1.GroupKind, g
	}
	_, err := kube(t).RbacV1().RoleBindings(ns).Create(testContext(t), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(name, ":", "-") + "-" + clusterRole},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: kind, Name: name}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

// requireStatus fails unless err is an API error with the given code.
func requireStatus(t *testing.T, code int32, err error, what string) *apierrors.StatusError {
	t.Helper()
	var status *apierrors.StatusError
	require.ErrorAs(t, err, &status, "%s: want %d", what, code)
	require.Equal(t, code, status.ErrStatus.Code, "%s: %v", what, err)
	return status
}

// afterRBAC retries an action while the authorizer's cache has not yet
// seen the bindings just made, then returns its result.
func afterRBAC[T any](t *testing.T, what string, action func(ctx context.Context) (T, error)) T {
	t.Helper()
	var out T
	eventually(t, time.Minute, what+" once RBAC allows it", func(ctx context.Context) error {
		var err error
		out, err = action(ctx)
		return err
	})
	return out
}

// param is one param value.
func param(name, value string) v1alpha1.Param { return v1alpha1.Param{Name: name, Value: value} }

// deployPipeline is a pipeline of one quick step that takes a version.
func deployPipeline(name, environment string) *v1alpha1.Pipeline {
	p := testutil.Pipeline(name, runStep("deploy", "KWOK_DURATION", "100ms"))
	p.Spec.Params = []v1alpha1.ParamSpec{{Name: "version"}}
	p.Spec.Environment = environment
	return p
}

// TestRunVerb: pipelines/run, limited by resourceNames, lets a user run one
// pipeline and nothing else: not another pipeline, not a job with an
// inline pipeline of their own.
func TestRunVerb(t *testing.T) {
	t.Parallel() // resumes once the package's serial tests, which stop controllers, are done
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "run")
	admin := sluiceAdmin(t).SluiceV1alpha1()
	for _, name := range []string{"release", "other"} {
		_, err := admin.Pipelines(ns).Create(ctx, deployPipeline(name, "staging"), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	allow(t, ns, "runner", []string{"pipelines/run"}, "release")
	runner := sluiceAs(t, "runner")

	run := &v1alpha1.RunRequest{Params: []v1alpha1.Param{param("version", "1.2.3")}}
	j := afterRBAC(t, "runner to run release", func(ctx context.Context) (*v1alpha1.PipelineJob, error) {
		return runner.Pipelines(ns).Run(ctx, "release", run, metav1.CreateOptions{})
	})
	require.True(t, strings.HasPrefix(j.Name, "release-"), j.Name)
	require.Equal(t, "runner", j.Spec.StartedBy.Username, "the job is the caller's")
	require.Equal(t, "staging", j.Spec.Environment, "the pipeline's environment is the default")
	require.Equal(t, map[string]string{v1alpha1.LabelPipeline: "release", v1alpha1.LabelEnvironment: "staging"}, j.Labels)
	require.Equal(t, v1alpha1.TriggerManual, j.Spec.Trigger.Type)
	waitJob(t, ns, j.Name, v1alpha1.JobSucceeded, 2*time.Minute)

	_, err := runner.Pipelines(ns).Run(ctx, "other", run, metav1.CreateOptions{})
	requireStatus(t, 403, err, "run another pipeline")
	inline := testutil.Job("mine", "")
	inline.Spec.PipelineRef = nil
	inline.Spec.PipelineSpec = &testutil.Pipeline("x", runStep("anything")).Spec
	_, err = runner.PipelineJobs(ns).Create(ctx, inline, metav1.CreateOptions{})
	requireStatus(t, 403, err, "create a job with an inline pipeline")
	_, err = runner.PipelineJobs(ns).Create(ctx, testutil.Job("direct", "release"), metav1.CreateOptions{})
	requireStatus(t, 403, err, "create a job of the pipeline directly")

	// A job created any other way gets the pipeline's environment too,
	// with server-side apply as well.
	kubectlIn(t, `{"apiVersion": "sluice.dev/v1alpha1", "kind": "PipelineJob", "metadata": {"name": "applied"},
		"spec": {"pipelineRef": {"name": "release"}, "params": [{"name": "version", "value": "1"}]}}`,
		"-n", ns, "apply", "--server-side", "-f", "-")
	applied, err := admin.PipelineJobs(ns).Get(ctx, "applied", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "staging", applied.Spec.Environment)
	require.Equal(t, "staging", applied.Labels[v1alpha1.LabelEnvironment])
	created, err := admin.PipelineJobs(ns).Create(ctx, testutil.Job("created", "release", param("version", "1")), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, "staging", created.Spec.Environment)

	// The params are checked against the pipeline when it runs, with field paths.
	_, err = runner.Pipelines(ns).Run(ctx, "release", &v1alpha1.RunRequest{Params: []v1alpha1.Param{param("versoin", "1")}}, metav1.CreateOptions{})
	status := requireStatus(t, 422, err, "run with a misspelt param")
	require.Contains(t, err.Error(), "params[0].name")
	require.Equal(t, "RunRequest", status.ErrStatus.Details.Kind)
	_, err = runner.Pipelines(ns).Run(ctx, "release", &v1alpha1.RunRequest{Environment: "Not A Label"}, metav1.CreateOptions{})
	requireStatus(t, 422, err, "run in an invalid environment")
	_, err = admin.Pipelines(ns).Run(ctx, "missing", run, metav1.CreateOptions{})
	requireStatus(t, 404, err, "run a pipeline that does not exist")

	// A dry run creates nothing.
	dry, err := runner.Pipelines(ns).Run(ctx, "release", &v1alpha1.RunRequest{Params: run.Params, Environment: "production"},
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	require.NoError(t, err)
	require.Equal(t, "production", dry.Spec.Environment)
	jobs, err := admin.PipelineJobs(ns).List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelEnvironment + "=production"})
	require.NoError(t, err)
	require.Empty(t, jobs.Items)

	// kubectl create --raw, as docs/api.md shows it.
	req := filepath.Join(t.TempDir(), "run.json")
	require.NoError(t, os.WriteFile(req, []byte(`{"apiVersion":"sluice.dev/v1alpha1","kind":"RunRequest","params":[{"name":"version","value":"1.2.4"}]}`), 0o644))
	out := kubectl(t, "create", "--raw", "/apis/sluice.dev/v1alpha1/namespaces/"+ns+"/pipelines/release/run", "-f", req)
	require.Contains(t, out, `"kind":"PipelineJob"`)
	require.Contains(t, out, `"value":"1.2.4"`)

	// Discovery lists every action with its verb and request kind.
	resources, err := kube(t).Discovery().ServerResourcesForGroupVersion(v1alpha1.SchemeGroupVersion.String())
	require.NoError(t, err)
	actions := map[string]string{}
	for _, r := range resources.APIResources {
		if strings.Contains(r.Name, "/") && !strings.HasSuffix(r.Name, "/status") {
			actions[r.Name] = r.Kind + " " + strings.Join(r.Verbs, ",")
		}
	}
	require.Equal(t, map[string]string{
		"pipelines/run":         "RunRequest create",
		"pipelines/rollback":    "RollbackRequest create",
		"pipelinejobs/cancel":   "CancelRequest create",
		"pipelinejobs/rerun":    "RerunRequest create",
		"pipelinejobs/approval": "ApprovalRequest create",
		// Read (get) and archived (create, the controller's), listed
		// with its resource's kind as pods/log is.
		"pipelinejobs/log": "PipelineJob create,get",
	}, actions)

	// OpenAPI describes each action: its request body and the job it answers with.
	raw, err := kube(t).Discovery().RESTClient().Get().AbsPath("/openapi/v3/apis/sluice.dev/v1alpha1").DoRaw(ctx)
	require.NoError(t, err)
	type content map[string]struct {
		Schema struct {
			Ref string `json:"$ref"`
		} `json:"schema"`
	}
	var doc struct {
		Paths map[string]struct {
			Post *struct {
				RequestBody struct {
					Content content `json:"content"`
				} `json:"requestBody"`
				Responses map[string]struct {
					Content content `json:"content"`
				} `json:"responses"`
			} `json:"post"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	for path, kind := range map[string]string{
		"pipelines/{name}/run":         "RunRequest",
		"pipelines/{name}/rollback":    "RollbackRequest",
		"pipelinejobs/{name}/cancel":   "CancelRequest",
		"pipelinejobs/{name}/rerun":    "RerunRequest",
		"pipelinejobs/{name}/approval": "ApprovalRequest",
	} {
		post := doc.Paths["/apis/sluice.dev/v1alpha1/namespaces/{namespace}/"+path].Post
		require.NotNil(t, post, "OpenAPI has no POST %s", path)
		require.True(t, strings.HasSuffix(post.RequestBody.Content["*/*"].Schema.Ref, ".v1alpha1."+kind), "%s body: %+v", path, post.RequestBody)
		require.True(t, strings.HasSuffix(post.Responses["200"].Content["application/json"].Schema.Ref, ".v1alpha1.PipelineJob"), "%s answer: %+v", path, post.Responses)
	}
}

// gatedPipeline deploys to staging, waits at a gate, then deploys to
// production.
func gatedPipeline(name string, gate v1alpha1.ApprovalGate) *v1alpha1.Pipeline {
	p := testutil.Pipeline(name,
		runStep("deploy-staging", "KWOK_DURATION", "100ms"),
		v1alpha1.Step{Name: "approve-production", Approval: &gate},
		runStep("deploy-production", "KWOK_DURATION", "100ms"))
	p.Spec.Environment = "production"
	return p
}

// waitGate waits until the job waits at step i.
func waitGate(t *testing.T, ns, name string, i int) *v1alpha1.PipelineJob {
	t.Helper()
	var j *v1alpha1.PipelineJob
	eventually(t, 2*time.Minute, fmt.Sprintf("%s to wait for approval at step %d", name, i), func(ctx context.Context) error {
		var err error
		j, err = sluiceAdmin(t).SluiceV1alpha1().PipelineJobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(j.Status.Steps) <= i || j.Status.Steps[i].Phase != v1alpha1.StepWaitingForApproval {
			return fmt.Errorf("phase %s, steps %s", j.Status.Phase, stepSummary(j))
		}
		return nil
	})
	return j
}

// TestApprovalGate: a staging -> gate -> production release. The gate is
// decided by the server from the caller's identity: the starter cannot
// approve, nor can someone the gate does not name, nor someone without
// the approval verb; two approvers pass it; a rejection fails another job;
// an unattended gate times out.
func TestApprovalGate(t *testing.T) {
	t.Parallel() // resumes once the package's serial tests, which stop controllers, are done
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "gate")
	admin := sluiceAdmin(t).SluiceV1alpha1()
	// The release pipeline asks for approval in chat: a signed webhook.
	key := []byte("release-signing-key")
	hook := newWebhookReceiver(t, key)
	_, err := kube(t).CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "chat"},
		Data:       map[string][]byte{"hmac": key},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	release := gatedPipeline("release", v1alpha1.ApprovalGate{
		Approvers: []v1alpha1.Approver{{Kind: v1alpha1.ApproverGroup, Name: "release-managers"}, {Kind: v1alpha1.ApproverUser, Name: "carol"},
			{Kind: v1alpha1.ApproverUser, Name: "edna"}},
		Required: 2,
	})
	release.Spec.Notify = []v1alpha1.Notification{{
		Events:  []v1alpha1.NotifyEvent{v1alpha1.NotifyWaitingForApproval},
		Webhook: &v1alpha1.Webhook{URL: hook.URL + "/chat", SecretRef: &v1alpha1.SecretKeyRef{Name: "chat", Key: "hmac"}},
	}}
	_, err = admin.Pipelines(ns).Create(ctx, release, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = admin.Pipelines(ns).Create(ctx, gatedPipeline("quorum", v1alpha1.ApprovalGate{
		Approvers: []v1alpha1.Approver{{Kind: v1alpha1.ApproverGroup, Name: "release-managers"}},
		Required:  5,
	}), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = admin.Pipelines(ns).Create(ctx, gatedPipeline("hotfix", v1alpha1.ApprovalGate{
		Approvers: []v1alpha1.Approver{{Kind: v1alpha1.ApproverUser, Name: "carol"}},
		Timeout:   &metav1.Duration{Duration: 3 * time.Second},
	}), metav1.CreateOptions{})
	require.NoError(t, err)

	// dave, a release manager, may run releases and decide gates; so may
	// frank. carol decides gates; erin may decide gates but is named by
	// none; heidi is named nowhere and holds no approval verb; edna is
	// named by the gate but holds only sluice-edit, which does not grant
	// the approval verb.
	bindRole(t, ns, "group:release-managers", "sluice-approver")
	bindRole(t, ns, "carol", "sluice-approver")
	bindRole(t, ns, "erin", "sluice-approver")
	bindRole(t, ns, "edna", "sluice-edit")
	allow(t, ns, "dave", []string{"pipelines/run"})
	dave, frank := sluiceAs(t, "dave", "release-managers"), sluiceAs(t, "frank", "release-managers")
	carol, erin, heidi, edna := sluiceAs(t, "carol"), sluiceAs(t, "erin"), sluiceAs(t, "heidi"), sluiceAs(t, "edna")

	job := afterRBAC(t, "dave to run release", func(ctx context.Context) (*v1alpha1.PipelineJob, error) {
		return dave.Pipelines(ns).Run(ctx, "release", &v1alpha1.RunRequest{}, metav1.CreateOptions{})
	}).Name
	approve := &v1alpha1.ApprovalRequest{Decision: v1alpha1.Approve, Message: "looks good"}

	j := waitGate(t, ns, job, 1)
	require.Equal(t, "deploy-staging=Succeeded approve-production=WaitingForApproval deploy-production=Pending", testutil.StepPhases(j))
	require.Equal(t, v1alpha1.JobRunning, j.Status.Phase)
	require.Len(t, jobPods(t, ns, job), 1, "a gate runs no Pod")
	require.Contains(t, kubectl(t, "-n", ns, "get", "pipelinejob", job), "2/3 approve-production (waiting for approval 0/2)")
	jobEvents(t, ns, job, "Normal ApprovalRequested")
	eventually(t, time.Minute, "the request for approval to reach the chat webhook", func(ctx context.Context) error {
		for _, d := range hook.received() {
			p := d.payload
			if d.signatureOK && p.Event == v1alpha1.NotifyWaitingForApproval && p.Job.Name == job && p.Step == "approve-production" &&
				p.Required == 2 && len(p.Approvers) == 3 && p.StartedBy == "dave" && p.Environment == "production" {
				return nil
			}
		}
		return fmt.Errorf("deliveries %+v", hook.received())
	})

	_, err = dave.PipelineJobs(ns).Decide(ctx, job, approve, metav1.CreateOptions{})
	status := requireStatus(t, 403, err, "the starter approves")
	require.Contains(t, status.ErrStatus.Message, "self-approval")
	eventually(t, time.Minute, "erin, once RBAC lets her ask, to be refused by the gate", func(ctx context.Context) error {
		_, err := erin.PipelineJobs(ns).Decide(ctx, job, approve, metav1.CreateOptions{})
		if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "is not an approver") {
			return nil
		}
		return fmt.Errorf("want 403 naming the approvers, got %v", err)
	})
	_, err = heidi.PipelineJobs(ns).Decide(ctx, job, approve, metav1.CreateOptions{})
	status = requireStatus(t, 403, err, "a user without the approval verb")
	require.Contains(t, status.ErrStatus.Message, `cannot create resource "pipelinejobs/approval"`, "refused by RBAC, not by the gate")
	afterRBAC(t, "edna's edit role", func(ctx context.Context) (*v1alpha1.PipelineJob, error) {
		return edna.PipelineJobs(ns).Get(ctx, job, metav1.GetOptions{})
	})
	_, err = edna.PipelineJobs(ns).Decide(ctx, job, approve, metav1.CreateOptions{})
	status = requireStatus(t, 403, err, "an approver who holds only sluice-edit")
	require.Contains(t, status.ErrStatus.Message, `cannot create resource "pipelinejobs/approval"`, "sluice-edit does not grant approval")
	_, err = frank.PipelineJobs(ns).Decide(ctx, job, &v1alpha1.ApprovalRequest{Decision: "Maybe"}, metav1.CreateOptions{})
	status = requireStatus(t, 422, err, "an unknown decision")
	require.Contains(t, status.Error(), "decision")

	j = afterRBAC(t, "frank to approve", func(ctx context.Context) (*v1alpha1.PipelineJob, error) {
		return frank.PipelineJobs(ns).Decide(ctx, job, approve, metav1.CreateOptions{})
	})
	require.Len(t, j.Status.Steps[1].Approvals, 1)
	require.Equal(t, "frank", j.Status.Steps[1].Approvals[0].User.Username)
	require.Equal(t, "looks good", j.Status.Steps[1].Approvals[0].Message)
	_, err = frank.PipelineJobs(ns).Decide(ctx, job, approve, metav1.CreateOptions{})
	requireStatus(t, 409, err, "frank approves twice")
	require.Equal(t, v1alpha1.StepWaitingForApproval, getJob(t, ns, job).Status.Steps[1].Phase, "one approval of two does not pass")

	afterRBAC(t, "carol to approve", func(ctx context.Context) (*v1alpha1.PipelineJob, error) {
		return carol.PipelineJobs(ns).Decide(ctx, job, &v1alpha1.ApprovalRequest{Decision: v1alpha1.Approve}, metav1.CreateOptions{})
	})
	j = waitJob(t, ns, job, v1alpha1.JobSucceeded, 2*time.Minute)
	require.Equal(t, "deploy-staging=Succeeded approve-production=Succeeded deploy-production=Succeeded", testutil.StepPhases(j))
	var deciders []string
	for _, d := range j.Status.Steps[1].Approvals {
		deciders = append(deciders, d.User.Username+"="+string(d.Decision))
	}
	require.Equal(t, []string{"frank=Approve", "carol=Approve"}, deciders)
	_, err = carol.PipelineJobs(ns).Decide(ctx, job, approve, metav1.CreateOptions{})
	requireStatus(t, 409, err, "approve a finished job")

	// One rejection fails the job, with the rejecter's message.
	rejected, err := dave.Pipelines(ns).Run(ctx, "release", &v1alpha1.RunRequest{}, metav1.CreateOptions{})
	require.NoError(t, err)
	waitGate(t, ns, rejected.Name, 1)
	_, err = carol.PipelineJobs(ns).Decide(ctx, rejected.Name, &v1alpha1.ApprovalRequest{Decision: v1alpha1.Reject, Message: "freeze week"}, metav1.CreateOptions{})
	require.NoError(t, err)
	j = waitJob(t, ns, rejected.Name, v1alpha1.JobFailed, time.Minute)
	require.Equal(t, controller.ReasonRejected, meta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded).Reason)
	require.Contains(t, j.Status.Message, "carol")
	require.Contains(t, j.Status.Message, "freeze week")
	require.Equal(t, "deploy-staging=Succeeded approve-production=Failed deploy-production=Skipped", testutil.StepPhases(j))

	// Five release managers approve at the same moment: the server records
	// every decision, one update after another, and none is lost.
	quorum, err := dave.Pipelines(ns).Run(ctx, "quorum", &v1alpha1.RunRequest{}, metav1.CreateOptions{})
	require.NoError(t, err)
	waitGate(t, ns, quorum.Name, 1)
	errs := make(chan error, 5)
	for i := range 5 {
		go func() {
			_, err := sluiceAs(t, fmt.Sprintf("manager-%d", i), "release-managers").PipelineJobs(ns).Decide(ctx, quorum.Name, approve, metav1.CreateOptions{})
			errs <- err
		}()
	}
	for range 5 {
		require.NoError(t, <-errs)
	}
	j = waitJob(t, ns, quorum.Name, v1alpha1.JobSucceeded, time.Minute)
	deciders = nil
	for _, d := range j.Status.Steps[1].Approvals {
		deciders = append(deciders, d.User.Username)
	}
	slices.Sort(deciders)
	require.Equal(t, []string{"manager-0", "manager-1", "manager-2", "manager-3", "manager-4"}, deciders)

	// Nobody decides the hotfix gate in time.
	unattended, err := dave.Pipelines(ns).Run(ctx, "hotfix", &v1alpha1.RunRequest{}, metav1.CreateOptions{})
	require.NoError(t, err)
	j = waitJob(t, ns, unattended.Name, v1alpha1.JobFailed, time.Minute)
	require.Equal(t, controller.ReasonApprovalTimeout, meta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded).Reason)
	require.Equal(t, "deploy-staging=Succeeded approve-production=Failed deploy-production=Skipped", testutil.StepPhases(j))
}

// environmentOf is the named environment of a pipeline's status.
func environmentOf(p *v1alpha1.Pipeline, name string) v1alpha1.EnvironmentStatus {
	for _, e := range p.Status.Environments {
		if e.Name == name {
			return e
		}
	}
	return v1alpha1.EnvironmentStatus{}
}

// waitCurrent waits until the environment's current release is job.
func waitCurrent(t *testing.T, ns, pipeline, environment, job string) *v1alpha1.Pipeline {
	t.Helper()
	var p *v1alpha1.Pipeline
	eventually(t, time.Minute, fmt.Sprintf("%s to be the current release of %s", job, environment), func(ctx context.Context) error {
		var err error
		p, err = sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Get(ctx, pipeline, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if e := environmentOf(p, environment); e.Current == nil || e.Current.Job != job {
			return fmt.Errorf("environments %+v", p.Status.Environments)
		}
		return nil
	})
	return p
}

// TestRollback: v1 then v2 go to production; rollback reruns v1's job,
// with v1's params and snapshot, and status.environments follows.
func TestRollback(t *testing.T) {
	t.Parallel() // resumes once the package's serial tests, which stop controllers, are done
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "rollback")
	admin := sluiceAdmin(t).SluiceV1alpha1()
	_, err := admin.Pipelines(ns).Create(ctx, deployPipeline("deploy", "production"), metav1.CreateOptions{})
	require.NoError(t, err)
	bindRole(t, ns, "olga", "sluice-edit")
	olga := sluiceAs(t, "olga")

	eventually(t, time.Minute, "olga, once RBAC lets her, to find nothing to roll back to", func(ctx context.Context) error {
		_, err := olga.Pipelines(ns).Rollback(ctx, "deploy", &v1alpha1.RollbackRequest{}, metav1.CreateOptions{})
		if apierrors.IsConflict(err) {
			return nil
		}
		return fmt.Errorf("want 409, got %v", err)
	})

	deploy := func(version string) *v1alpha1.PipelineJob {
		j, err := olga.Pipelines(ns).Run(ctx, "deploy", &v1alpha1.RunRequest{Params: []v1alpha1.Param{param("version", version)}}, metav1.CreateOptions{})
		require.NoError(t, err)
		waitJob(t, ns, j.Name, v1alpha1.JobSucceeded, 2*time.Minute)
		return j
	}
	v1 := deploy("v1")
	p := waitCurrent(t, ns, "deploy", "production", v1.Name)
	_, err = olga.Pipelines(ns).Rollback(ctx, "deploy", &v1alpha1.RollbackRequest{}, metav1.CreateOptions{})
	status := requireStatus(t, 409, err, "roll back the only release")
	require.Contains(t, status.ErrStatus.Message, "only release")
	v2 := deploy("v2")
	p = waitCurrent(t, ns, "deploy", "production", v2.Name)
	env := environmentOf(p, "production")
	require.Equal(t, v1.Name, env.Previous.Job)
	require.Equal(t, []v1alpha1.Param{param("version", "v2")}, env.Current.Params)
	require.Equal(t, "olga", env.Current.StartedBy)
	require.Contains(t, kubectl(t, "-n", ns, "get", "pipeline", "deploy", "-o", "wide"), "production="+v2.Name)

	// Edit the pipeline: a rollback must not pick the edit up.
	editPipeline(t, ns, "deploy", func(p *v1alpha1.Pipeline) { p.Spec.Steps = append(p.Spec.Steps, runStep("smoke-test")) })

	back, err := olga.Pipelines(ns).Rollback(ctx, "deploy", &v1alpha1.RollbackRequest{Environment: "production"}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, v1alpha1.TriggerRollback, back.Spec.Trigger.Type)
	require.Contains(t, back.Spec.Trigger.Detail, v1.Name)
	require.Equal(t, []v1alpha1.Param{param("version", "v1")}, back.Spec.Params)
	require.Equal(t, v1.Name, back.Labels[v1alpha1.LabelRerunOf])
	require.Equal(t, "olga", back.Spec.StartedBy.Username)
	j := waitJob(t, ns, back.Name, v1alpha1.JobSucceeded, 2*time.Minute)
	require.Equal(t, "deploy=Succeeded", testutil.StepPhases(j), "the rollback runs v1's snapshot, not the edited pipeline")
	p = waitCurrent(t, ns, "deploy", "production", back.Name)
	require.Equal(t, []v1alpha1.Param{param("version", "v1")}, environmentOf(p, "production").Current.Params)
	require.Equal(t, v2.Name, environmentOf(p, "production").Previous.Job)

	// A named job must be a release of that environment.
	_, err = olga.Pipelines(ns).Rollback(ctx, "deploy", &v1alpha1.RollbackRequest{ToJob: "no-such-job"}, metav1.CreateOptions{})
	status = requireStatus(t, 422, err, "roll back to a missing job")
	require.Contains(t, status.Error(), "toJob")
	_, err = olga.Pipelines(ns).Rollback(ctx, "deploy", &v1alpha1.RollbackRequest{Environment: "staging", ToJob: v1.Name}, metav1.CreateOptions{})
	requireStatus(t, 422, err, "roll back staging to a production job")

	// The verb is RBAC's to grant: a viewer may not.
	bindRole(t, ns, "victor", "sluice-view")
	victor := sluiceAs(t, "victor")
	afterRBAC(t, "victor's view role", func(ctx context.Context) (*v1alpha1.Pipeline, error) {
		return victor.Pipelines(ns).Get(ctx, "deploy", metav1.GetOptions{})
	})
	_, err = victor.Pipelines(ns).Rollback(ctx, "deploy", &v1alpha1.RollbackRequest{}, metav1.CreateOptions{})
	requireStatus(t, 403, err, "a viewer rolls back")
}

// editPipeline changes a pipeline's spec, on its latest version: the
// controller writes its status meanwhile.
func editPipeline(t *testing.T, ns, name string, edit func(p *v1alpha1.Pipeline)) {
	t.Helper()
	pipelines := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns)
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := pipelines.Get(testContext(t), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		edit(p)
		_, err = pipelines.Update(testContext(t), p, metav1.UpdateOptions{})
		return err
	}))
}

// TestRerunRunsTheSnapshot: rerun reproduces what ran, even after the
// pipeline was edited; fromCurrentPipeline runs the edit.
func TestRerunRunsTheSnapshot(t *testing.T) {
	t.Parallel() // resumes once the package's serial tests, which stop controllers, are done
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "rerun")
	admin := sluiceAdmin(t).SluiceV1alpha1()
	_, err := admin.Pipelines(ns).Create(ctx, deployPipeline("build", ""), metav1.CreateOptions{})
	require.NoError(t, err)
	first, err := admin.PipelineJobs(ns).Create(ctx, testutil.Job("build-1", "build", param("version", "v1")), metav1.CreateOptions{})
	require.NoError(t, err)

	_, err = admin.PipelineJobs(ns).Rerun(ctx, first.Name, &v1alpha1.RerunRequest{}, metav1.CreateOptions{})
	if err != nil { // the job may already have finished on a fast machine
		requireStatus(t, 409, err, "rerun an unfinished job")
	}
	waitJob(t, ns, first.Name, v1alpha1.JobSucceeded, 2*time.Minute)

	editPipeline(t, ns, "build", func(p *v1alpha1.Pipeline) { p.Spec.Steps = []v1alpha1.Step{runStep("compile"), runStep("package")} })

	bindRole(t, ns, "rita", "sluice-edit")
	rita := sluiceAs(t, "rita")
	again := afterRBAC(t, "rita to rerun", func(ctx context.Context) (*v1alpha1.PipelineJob, error) {
		return rita.PipelineJobs(ns).Rerun(ctx, first.Name, &v1alpha1.RerunRequest{}, metav1.CreateOptions{})
	})
	require.Equal(t, v1alpha1.TriggerRerun, again.Spec.Trigger.Type)
	require.Equal(t, first.Name, again.Labels[v1alpha1.LabelRerunOf])
	require.Equal(t, "build", again.Labels[v1alpha1.LabelPipeline])
	require.Equal(t, "rita", again.Spec.StartedBy.Username)
	require.Equal(t, first.Spec.Params, again.Spec.Params)
	j := waitJob(t, ns, again.Name, v1alpha1.JobSucceeded, 2*time.Minute)
	require.Equal(t, "deploy=Succeeded", testutil.StepPhases(j), "the snapshot runs, not the edit")

	current, err := rita.PipelineJobs(ns).Rerun(ctx, first.Name, &v1alpha1.RerunRequest{FromCurrentPipeline: true}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Nil(t, current.Spec.PipelineSpec)
	j = waitJob(t, ns, current.Name, v1alpha1.JobSucceeded, 2*time.Minute)
	require.Equal(t, "compile=Succeeded package=Succeeded", testutil.StepPhases(j))

	// Only the server creates a job that carries both a pipelineRef and a spec.
	forged := testutil.Job("forged", "build")
	forged.Spec.PipelineSpec = &testutil.Pipeline("x", runStep("anything")).Spec
	_, err = admin.PipelineJobs(ns).Create(ctx, forged, metav1.CreateOptions{})
	status := requireStatus(t, 422, err, "a job with both pipelineRef and pipelineSpec")
	require.Contains(t, status.Error(), "spec.pipelineSpec")

	_, err = rita.PipelineJobs(ns).Rerun(ctx, "missing", &v1alpha1.RerunRequest{}, metav1.CreateOptions{})
	requireStatus(t, 404, err, "rerun a job that does not exist")
}

// TestQueue: with concurrencyPolicy Queue, three jobs of one environment
// run one after another, in the order they were submitted, while a job of
// another environment runs beside them.
func TestQueue(t *testing.T) {
	t.Parallel() // resumes once the package's serial tests, which stop controllers, are done
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "queue")
	admin := sluiceAdmin(t).SluiceV1alpha1()
	p := testutil.Pipeline("deploy", runStep("deploy", "KWOK_DURATION", "3s"))
	p.Spec.ConcurrencyPolicy = v1alpha1.QueueConcurrent
	_, err := admin.Pipelines(ns).Create(ctx, p, metav1.CreateOptions{})
	require.NoError(t, err)

	var production []string
	for range 3 {
		j, err := admin.Pipelines(ns).Run(ctx, "deploy", &v1alpha1.RunRequest{Environment: "production"}, metav1.CreateOptions{})
		require.NoError(t, err)
		production = append(production, j.Name)
	}
	staging, err := admin.Pipelines(ns).Run(ctx, "deploy", &v1alpha1.RunRequest{Environment: "staging"}, metav1.CreateOptions{})
	require.NoError(t, err)

	eventually(t, time.Minute, "the last production job to be queued", func(ctx context.Context) error {
		j, err := admin.PipelineJobs(ns).Get(ctx, production[2], metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c := meta.FindStatusCondition(j.Status.Conditions, v1alpha1.ConditionSucceeded); c == nil || c.Reason != v1alpha1.ReasonQueued {
			return fmt.Errorf("phase %s, conditions %+v", j.Status.Phase, j.Status.Conditions)
		}
		return nil
	})
	require.Contains(t, kubectl(t, "-n", ns, "get", "pipelinejob", production[2]), "queued")

	var done []*v1alpha1.PipelineJob
	for _, name := range production {
		done = append(done, waitJob(t, ns, name, v1alpha1.JobSucceeded, 2*time.Minute))
	}
	s := waitJob(t, ns, staging.Name, v1alpha1.JobSucceeded, 2*time.Minute)
	for i := 1; i < len(done); i++ {
		prev, next := done[i-1], done[i]
		require.False(t, next.Status.StartTime.Before(prev.Status.CompletionTime),
			"%s started at %s, before %s ended at %s", next.Name, next.Status.StartTime, prev.Name, prev.Status.CompletionTime)
	}
	require.True(t, s.Status.StartTime.Before(done[0].Status.CompletionTime),
		"staging started at %s, not beside production's first job (ended %s)", s.Status.StartTime, done[0].Status.CompletionTime)
}

// TestCancelVerb: pipelinejobs/cancel records who cancelled and why; a
// finished job cannot be cancelled; the verb is RBAC's to grant.
func TestCancelVerb(t *testing.T) {
	t.Parallel() // resumes once the package's serial tests, which stop controllers, are done
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "cancelverb")
	createPipelineAndJob(t, ns, testutil.Pipeline("p", runStep("long", "KWOK_DURATION", "1h")), testutil.Job("j", "p"), testutil.Job("k", "p"))
	waitStep(t, ns, "j", 0, 1)

	bindRole(t, ns, "victor", "sluice-view")
	victor := sluiceAs(t, "victor")
	afterRBAC(t, "victor's view role", func(ctx context.Context) (*v1alpha1.PipelineJob, error) {
		return victor.PipelineJobs(ns).Get(ctx, "j", metav1.GetOptions{})
	})
	_, err := victor.PipelineJobs(ns).Cancel(ctx, "j", &v1alpha1.CancelRequest{}, metav1.CreateOptions{})
	requireStatus(t, 403, err, "a viewer cancels")

	bindRole(t, ns, "ivan", "sluice-edit")
	ivan := sluiceAs(t, "ivan")
	j := afterRBAC(t, "ivan to cancel", func(ctx context.Context) (*v1alpha1.PipelineJob, error) {
		return ivan.PipelineJobs(ns).Cancel(ctx, "j", &v1alpha1.CancelRequest{Reason: "wrong branch"}, metav1.CreateOptions{})
	})
	require.True(t, j.Spec.Cancel)
	require.Equal(t, "ivan", j.Status.CancelledBy.Username)
	require.Equal(t, "wrong branch", j.Status.CancelReason)
	j = waitJob(t, ns, "j", v1alpha1.JobCancelled, time.Minute)
	require.Contains(t, j.Status.Message, "ivan")
	require.Contains(t, j.Status.Message, "wrong branch")
	require.Equal(t, "ivan", j.Status.CancelledBy.Username, "the controller's status writes keep the record")

	_, err = ivan.PipelineJobs(ns).Cancel(ctx, "j", &v1alpha1.CancelRequest{}, metav1.CreateOptions{})
	requireStatus(t, 409, err, "cancel a finished job")
	_, err = ivan.PipelineJobs(ns).Cancel(ctx, "j", &v1alpha1.CancelRequest{Reason: strings.Repeat("x", 2000)}, metav1.CreateOptions{})
	requireStatus(t, 422, err, "a reason that is too long")

	// spec.cancel keeps working, and records who set it.
	_, err = ivan.PipelineJobs(ns).Patch(ctx, "k", types.MergePatchType, []byte(`{"spec":{"cancel":true}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	j = waitJob(t, ns, "k", v1alpha1.JobCancelled, time.Minute)
	require.Equal(t, "ivan", j.Status.CancelledBy.Username)
	require.True(t, slices.Contains(j.Status.CancelledBy.Groups, "system:authenticated"))
}
