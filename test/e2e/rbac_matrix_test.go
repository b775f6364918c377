package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// matrixRole is one column of the RBAC matrix: a user, and the ClusterRole
// bound to them in the namespace asked about (or in another one).
type matrixRole struct {
	column string // the column's heading in docs/security.md
	user   string
	role   string // the ClusterRole bound; "" for none
	other  bool   // bound in another namespace, not the one asked about
}

var matrixRoles = []matrixRole{
	{"no binding", "rbac-nobody", "", false},
	{"sluice-view", "rbac-viewer", "sluice-view", false},
	{"sluice-edit", "rbac-editor", "sluice-edit", false},
	{"sluice-admin", "rbac-admin", "sluice-admin", false},
	{"sluice-approver", "rbac-approver", "sluice-approver", false},
	{"sluice-edit of another namespace", "rbac-stranger", "sluice-edit", true},
}

// servedVerbs are the verbs each resource and subresource of
// sluice.dev/v1alpha1 serves. The matrix must say who may do each, once.
var servedVerbs = map[string][]string{
	"pipelines":             {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
	"pipelinejobs":          {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
	"triggers":              {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
	"pipelines/status":      {"get", "update", "patch"},
	"pipelinejobs/status":   {"get", "update", "patch"},
	"triggers/status":       {"get", "update", "patch"},
	"pipelines/run":         {"create"},
	"pipelines/rollback":    {"create"},
	"pipelinejobs/log":      {"get", "create"},
	"pipelinejobs/cancel":   {"create"},
	"pipelinejobs/rerun":    {"create"},
	"pipelinejobs/approval": {"create"},
}

// matrixRow says, for every verb of every resource in it, which roles are
// allowed: one bool per matrixRoles column.
type matrixRow struct {
	resources []string
	verbs     []string
	allowed   [6]bool
	note      string
}

// rbacMatrix is the expected answer of every cell, and the table in
// docs/security.md "RBAC".
var rbacMatrix = []matrixRow{
	{[]string{"pipelines", "pipelinejobs", "triggers"}, []string{"get", "list", "watch"},
		[6]bool{false, true, true, true, false, false}, ""},
	{[]string{"pipelines", "pipelinejobs", "triggers"}, []string{"create", "update", "patch", "delete", "deletecollection"},
		[6]bool{false, false, true, true, false, false}, ""},
	{[]string{"pipelines/status", "pipelinejobs/status", "triggers/status"}, []string{"get"},
		[6]bool{false, true, true, true, false, false}, ""},
	{[]string{"pipelines/status", "pipelinejobs/status", "triggers/status"}, []string{"update", "patch"},
		[6]bool{false, false, false, true, false, false}, "normally the controller's"},
	{[]string{"pipelinejobs/log"}, []string{"get"},
		[6]bool{false, true, true, true, false, false}, ""},
	{[]string{"pipelinejobs/log"}, []string{"create"},
		[6]bool{false, false, false, false, false, false}, "the controller's alone: it archives output"},
	{[]string{"pipelines/run", "pipelines/rollback", "pipelinejobs/cancel", "pipelinejobs/rerun"}, []string{"create"},
		[6]bool{false, false, true, true, false, false}, ""},
	{[]string{"pipelinejobs/approval"}, []string{"create"},
		[6]bool{false, false, false, true, true, false}, "the gate's approvers then decide who may"},
}

// renderRBACMatrix is rbacMatrix as the Markdown table of docs/security.md.
func renderRBACMatrix() string {
	var b strings.Builder
	b.WriteString("| resources | verbs |")
	for _, r := range matrixRoles {
		fmt.Fprintf(&b, " %s |", r.column)
	}
	b.WriteString(" note |\n|---|---|")
	for range matrixRoles {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	for _, row := range rbacMatrix {
		fmt.Fprintf(&b, "| %s | %s |", strings.Join(row.resources, ", "), strings.Join(row.verbs, ", "))
		for _, ok := range row.allowed {
			if ok {
				b.WriteString(" yes |")
			} else {
				b.WriteString(" no |")
			}
		}
		fmt.Fprintf(&b, " %s |\n", row.note)
	}
	return b.String()
}

// TestRBACMatrixCoversEveryVerb: the matrix says who may do each verb each
// resource serves exactly once, and docs/security.md shows the same table.
// It needs no cluster.
func TestRBACMatrixCoversEveryVerb(t *testing.T) {
	seen := map[string]int{}
	for _, row := range rbacMatrix {
		for _, res := range row.resources {
			for _, verb := range row.verbs {
				require.Contains(t, servedVerbs[res], verb, "%s does not serve %s", res, verb)
				seen[res+" "+verb]++
			}
		}
	}
	for res, verbs := range servedVerbs {
		for _, verb := range verbs {
			require.Equal(t, 1, seen[res+" "+verb], "rows saying who may %s %s", verb, res)
		}
	}
	doc, err := os.ReadFile("../../docs/security.md")
	require.NoError(t, err)
	require.Contains(t, string(doc), renderRBACMatrix(), "docs/security.md shows rbacMatrix as renderRBACMatrix renders it")
}

// TestRBACMatrix asks kube-apiserver's authorizer (SubjectAccessReview)
// about every cell of the matrix, as each role, and then makes real
// requests for some cells of each role, through kube-apiserver to
// sluice-apiserver, to show the server enforces what the authorizer says.
func TestRBACMatrix(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns, elsewhere := namespace(t, "rbac-matrix"), namespace(t, "rbac-elsewhere")
	for _, r := range matrixRoles {
		if r.role == "" {
			continue
		}
		in := ns
		if r.other {
			in = elsewhere
		}
		bind(t, in, r.user, r.role)
	}

	review := func(ctx context.Context, user, ns, verb, resource string) (bool, error) {
		res, sub, _ := strings.Cut(resource, "/")
		sar, err := kube(t).AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   user,
				Groups: []string{"system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: verb, Group: v1alpha1.GroupName, Version: "v1alpha1", Resource: res, Subresource: sub,
				},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return sar.Status.Allowed, nil
	}
	// Bindings reach the authorizer's cache quickly, but not at once: wait
	// until each role is allowed what all its roles' bindings allow.
	for _, r := range matrixRoles {
		if r.role == "" {
			continue
		}
		in := ns
		if r.other {
			in = elsewhere
		}
		eventually(t, time.Minute, r.user+"'s binding to take effect", func(ctx context.Context) error {
			ok, err := review(ctx, r.user, in, "create", "pipelinejobs/approval")
			if r.role == "sluice-view" {
				ok, err = review(ctx, r.user, in, "get", "pipelines")
			}
			if r.role == "sluice-edit" {
				ok, err = review(ctx, r.user, in, "create", "pipelines/run")
			}
			if err == nil && !ok {
				err = fmt.Errorf("not allowed yet")
			}
			return err
		})
	}

	var wrong []string
	cells := 0
	for _, row := range rbacMatrix {
		for _, res := range row.resources {
			for _, verb := range row.verbs {
				for i, r := range matrixRoles {
					got, err := review(ctx, r.user, ns, verb, res)
					require.NoError(t, err)
					cells++
					if got != row.allowed[i] {
						wrong = append(wrong, fmt.Sprintf("%s %s as %s: allowed=%v, want %v", verb, res, r.column, got, row.allowed[i]))
					}
				}
			}
		}
	}
	require.Empty(t, wrong, "cells of the RBAC matrix that differ from the expected table")
	require.Equal(t, 6*(3*8+3*3+5+2), cells, "every verb of every resource, as every role")

	// Real requests. The job is kept off the controllers, so it stays
	// Pending: it waits at no gate, and approving it is a 409 Conflict for
	// whoever RBAC lets ask.
	admin := sluiceAdmin(t).SluiceV1alpha1()
	_, err := admin.Pipelines(ns).Create(ctx, pipeline("p", "a"), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = admin.PipelineJobs(ns).Create(ctx, job("j", "p"), metav1.CreateOptions{})
	require.NoError(t, err)

	denied := func(who, what string, err error) {
		t.Helper()
		require.True(t, apierrors.IsForbidden(err), "%s %s: want 403, got %v", who, what, err)
		require.Contains(t, err.Error(), "cannot ", "%s %s: refused by RBAC, not by the server's own checks", who, what)
	}
	passed := func(who, what string, err error) {
		t.Helper()
		require.False(t, apierrors.IsForbidden(err), "%s %s: want RBAC to allow it, got %v", who, what, err)
	}
	approve := func(as string) error {
		_, err := sluiceFor(t, userConfig(t, as)).SluiceV1alpha1().PipelineJobs(ns).Decide(ctx, "j",
			&v1alpha1.ApprovalRequest{Decision: v1alpha1.Approve}, metav1.CreateOptions{})
		return err
	}
	cancel := func(as, name string) error {
		_, err := sluiceFor(t, userConfig(t, as)).SluiceV1alpha1().PipelineJobs(ns).Cancel(ctx, name,
			&v1alpha1.CancelRequest{Reason: "rbac matrix"}, metav1.CreateOptions{})
		return err
	}
	updateStatus := func(as string) error {
		c := sluiceFor(t, userConfig(t, as)).SluiceV1alpha1()
		j, err := admin.PipelineJobs(ns).Get(ctx, "j", metav1.GetOptions{})
		require.NoError(t, err)
		_, err = c.PipelineJobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{})
		return err
	}

	// No binding: nothing.
	nobody := sluiceFor(t, userConfig(t, "rbac-nobody")).SluiceV1alpha1()
	_, err = nobody.Pipelines(ns).List(ctx, metav1.ListOptions{})
	denied("nobody", "list pipelines", err)
	_, err = nobody.PipelineJobs(ns).Get(ctx, "j", metav1.GetOptions{})
	denied("nobody", "get a job", err)

	// sluice-view reads, and nothing else.
	viewer := sluiceFor(t, userConfig(t, "rbac-viewer")).SluiceV1alpha1()
	_, err = viewer.PipelineJobs(ns).Get(ctx, "j", metav1.GetOptions{})
	passed("viewer", "get a job", err)
	require.NoError(t, err)
	w, err := viewer.Triggers(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err, "viewer watches triggers")
	w.Stop()
	_, err = viewer.Pipelines(ns).Create(ctx, pipeline("by-viewer", "a"), metav1.CreateOptions{})
	denied("viewer", "create a pipeline", err)
	denied("viewer", "cancel a job", cancel("rbac-viewer", "j"))
	denied("viewer", "approve a job", approve("rbac-viewer"))
	denied("viewer", "write a job's status", updateStatus("rbac-viewer"))

	// sluice-edit creates and runs jobs, but neither writes status nor
	// decides gates.
	editor := sluiceFor(t, userConfig(t, "rbac-editor")).SluiceV1alpha1()
	_, err = editor.PipelineJobs(ns).Create(ctx, job("by-editor", "p"), metav1.CreateOptions{})
	require.NoError(t, err, "editor creates a job")
	require.NoError(t, cancel("rbac-editor", "by-editor"), "editor cancels a job")
	denied("editor", "write a job's status", updateStatus("rbac-editor"))
	denied("editor", "approve a job", approve("rbac-editor"))
	require.NoError(t, editor.PipelineJobs(ns).Delete(ctx, "by-editor", metav1.DeleteOptions{}), "editor deletes a job")

	// sluice-admin also writes status and may ask to decide a gate.
	require.NoError(t, updateStatus("rbac-admin"), "admin writes a job's status")
	err = approve("rbac-admin")
	passed("admin", "approve a job", err)
	require.True(t, apierrors.IsConflict(err), "admin: the job waits at no gate: %v", err)

	// sluice-approver may ask to decide a gate, and nothing else.
	err = approve("rbac-approver")
	passed("approver", "approve a job", err)
	require.True(t, apierrors.IsConflict(err), "approver: the job waits at no gate: %v", err)
	approver := sluiceFor(t, userConfig(t, "rbac-approver")).SluiceV1alpha1()
	_, err = approver.PipelineJobs(ns).Get(ctx, "j", metav1.GetOptions{})
	denied("approver", "get a job", err)
	denied("approver", "cancel a job", cancel("rbac-approver", "j"))

	// An editor of another namespace edits there, not here.
	stranger := sluiceFor(t, userConfig(t, "rbac-stranger")).SluiceV1alpha1()
	_, err = stranger.Pipelines(elsewhere).Create(ctx, pipeline("p", "a"), metav1.CreateOptions{})
	require.NoError(t, err, "the stranger edits their own namespace")
	_, err = stranger.PipelineJobs(ns).Create(ctx, job("by-stranger", "p"), metav1.CreateOptions{})
	denied("stranger", "create a job", err)
	_, err = stranger.PipelineJobs(ns).List(ctx, metav1.ListOptions{})
	denied("stranger", "list jobs", err)
	denied("stranger", "cancel a job", cancel("rbac-stranger", "j"))
}

// grants flattens a SelfSubjectRulesReview's rules into one "verb
// group/resource [name]" or "verb url" entry per verb and resource.
func grants(status authorizationv1.SubjectRulesReviewStatus) map[string]bool {
	out := map[string]bool{}
	for _, r := range status.ResourceRules {
		for _, verb := range r.Verbs {
			for _, group := range r.APIGroups {
				for _, res := range r.Resources {
					names := r.ResourceNames
					if len(names) == 0 {
						names = []string{""}
					}
					for _, name := range names {
						out[strings.TrimSpace(fmt.Sprintf("%s %s/%s %s", verb, group, res, name))] = true
					}
				}
			}
		}
	}
	for _, r := range status.NonResourceRules {
		for _, verb := range r.Verbs {
			for _, url := range r.NonResourceURLs {
				out[verb+" "+url] = true
			}
		}
	}
	return out
}

// rulesOf is what the service account may do in ns beyond what every
// service account may (discovery, self reviews), as its own
// SelfSubjectRulesReview says.
func rulesOf(t *testing.T, ns, serviceAccountNamespace, serviceAccount string) map[string]bool {
	t.Helper()
	review := func(namespace, name string) map[string]bool {
		cfg := rest.CopyConfig(stack.Config)
		cfg.Impersonate.UserName = "system:serviceaccount:" + namespace + ":" + name
		cfg.Impersonate.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}
		c, err := kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
		r, err := c.AuthorizationV1().SelfSubjectRulesReviews().Create(testContext(t), &authorizationv1.SelfSubjectRulesReview{
			Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		require.False(t, r.Status.Incomplete, "rules review of %s/%s: %s", namespace, name, r.Status.EvaluationError)
		return grants(r.Status)
	}
	own := review(serviceAccountNamespace, serviceAccount)
	for g := range review("rbac-baseline", "nobody") {
		delete(own, g)
	}
	return own
}

// sluiceGrants are what sluice-controller and sluice-apiserver may do
// (artifacts/deploy/rbac), each with the code path that needs it, in a
// namespace of users and in the namespaces of their own.
var sluiceGrants = map[string]map[string]map[string]string{
	"sluice-controller": {
		"user namespace": {
			"get sluice.dev/pipelinejobs":               "Slack `status <job>` (pkg/receiver/slack.go); the informers' caches",
			"list sluice.dev/pipelinejobs":              "the job informer (pkg/controller/controller.go), concurrency groups (concurrency.go), history limits (history.go)",
			"watch sluice.dev/pipelinejobs":             "the job informer, and the receiver's Slack replies (pkg/receiver/slackreply.go)",
			"delete sluice.dev/pipelinejobs":            "ttlSecondsAfterFinished and history limits (pkg/controller/history.go)",
			"update sluice.dev/pipelinejobs/status":     "every job's progress (pkg/controller/sync.go UpdateStatus)",
			"create sluice.dev/pipelinejobs/cancel":     "concurrencyPolicy Replace (pkg/controller/sync.go Cancel)",
			"create sluice.dev/pipelinejobs/log":        "archiving each action's output (pkg/controller/logcopier.go)",
			"update sluice.dev/pipelinejobs/finalizers": "blockOwnerDeletion on Pods and PVCs under OwnerReferencesPermissionEnforcement (pkg/controller/pods.go)",
			"get sluice.dev/pipelines":                  "reading a job's pipeline as it is now (pkg/controller/sync.go, history.go)",
			"list sluice.dev/pipelines":                 "the pipeline informer (pkg/controller/controller.go)",
			"watch sluice.dev/pipelines":                "the pipeline informer",
			"update sluice.dev/pipelines/status":        "a pipeline's lastJob (pkg/controller/sync.go updatePipelineStatus)",
			"create sluice.dev/pipelines/run":           "triggers start jobs: schedules and images (pkg/controller/triggers.go, images.go), hooks (pkg/receiver/receiver.go)",
			"get sluice.dev/triggers":                   "the trigger informer's cache (pkg/controller/triggers.go, pkg/receiver/receiver.go)",
			"list sluice.dev/triggers":                  "the trigger informers of the controller and the receiver",
			"watch sluice.dev/triggers":                 "the trigger informers of the controller and the receiver",
			"update sluice.dev/triggers/status":         "what a trigger did (pkg/controller/triggers.go UpdateStatus)",
			"get /pods":                                 "a Pod the cache has not seen yet (pkg/controller/sync.go)",
			"list /pods":                                "the Pod informer (pkg/controller/controller.go)",
			"watch /pods":                               "the Pod informer",
			"create /pods":                              "one Pod per step attempt (pkg/controller/sync.go)",
			"delete /pods":                              "timeouts, cancellation and podRetention (pkg/controller/sync.go, retention.go)",
			"get /pods/log":                             "copying each action's output to the archive (pkg/controller/logcopier.go)",
			"get /persistentvolumeclaims":               "a claim the cache has not seen yet (pkg/controller/sync.go)",
			"list /persistentvolumeclaims":              "the PVC informer (pkg/controller/controller.go)",
			"watch /persistentvolumeclaims":             "the PVC informer",
			"create /persistentvolumeclaims":            "a job's workspace (pkg/controller/sync.go)",
			"get /secrets":                              "signing keys and Slack URLs of notifications (pkg/controller/notify.go), trigger and registry credentials (pkg/controller/triggers.go, pkg/receiver/receiver.go, pkg/trigger/imagewatch)",
			"create /events":                            "the Events of jobs and triggers (record.EventSinkImpl Create)",
			"patch /events":                             "a repeated Event's count (record.EventSinkImpl Patch)",
		},
		"sluice-system": {
			"get coordination.k8s.io/leases":    "leader election (pkg/cmd/controller/run.go LeaseLock)",
			"create coordination.k8s.io/leases": "leader election: the first leader",
			"update coordination.k8s.io/leases": "leader election: renewing and taking over",
		},
	},
	"sluice-apiserver": {
		"user namespace": {
			"get /namespaces":   "the NamespaceLifecycle admission plugin",
			"list /namespaces":  "the NamespaceLifecycle admission plugin's informer",
			"watch /namespaces": "the NamespaceLifecycle admission plugin's informer",
			"get /pods/log":     "pipelinejobs/log of a running job (pkg/registry/pipelinejob/log.go)",
			"create authentication.k8s.io/tokenreviews":        "delegated authentication (system:auth-delegator)",
			"create authorization.k8s.io/subjectaccessreviews": "delegated authorization (system:auth-delegator)",
		},
		"kube-system": {
			"get /configmaps extension-apiserver-authentication":   "the front proxy's CA and names (extension-apiserver-authentication-reader)",
			"list /configmaps extension-apiserver-authentication":  "the same, through an informer",
			"watch /configmaps extension-apiserver-authentication": "the same, through an informer",
		},
	},
}

func init() {
	// The API server's informers: admission webhooks and policies, and API
	// priority and fairness, all read-only.
	user := sluiceGrants["sluice-apiserver"]["user namespace"]
	for _, res := range []string{
		"admissionregistration.k8s.io/mutatingwebhookconfigurations", "admissionregistration.k8s.io/validatingwebhookconfigurations",
		"admissionregistration.k8s.io/validatingadmissionpolicies", "admissionregistration.k8s.io/validatingadmissionpolicybindings",
		"admissionregistration.k8s.io/mutatingadmissionpolicies", "admissionregistration.k8s.io/mutatingadmissionpolicybindings",
		"flowcontrol.apiserver.k8s.io/flowschemas", "flowcontrol.apiserver.k8s.io/prioritylevelconfigurations",
	} {
		for _, verb := range []string{"get", "list", "watch"} {
			user[verb+" "+res] = "the generic API server's admission plugins and API priority and fairness (k8s.io/apiserver RecommendedOptions)"
		}
	}
}

// TestLeastPrivilege: sluice-controller and sluice-apiserver, as the local
// stack runs them with artifacts/deploy/rbac, may do exactly what
// sluiceGrants lists, each grant for a reason in the code.
func TestLeastPrivilege(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "least-privilege")
	for sa, byNamespace := range sluiceGrants {
		for where, want := range byNamespace {
			in := where
			if where == "user namespace" {
				in = ns
			}
			got := rulesOf(t, in, "sluice-system", sa)
			if where != "user namespace" {
				// Cluster-wide grants show in every namespace: keep only this
				// namespace's own.
				for g := range rulesOf(t, ns, "sluice-system", sa) {
					delete(got, g)
				}
			}
			var extra, missing []string
			for g := range got {
				if _, ok := want[g]; !ok {
					extra = append(extra, g)
				}
			}
			for g := range want {
				if !got[g] {
					missing = append(missing, g)
				}
			}
			slices.Sort(extra)
			slices.Sort(missing)
			require.Empty(t, extra, "%s in %s may do what sluiceGrants does not list", sa, where)
			require.Empty(t, missing, "%s in %s may not do what sluiceGrants lists", sa, where)
		}
	}
}
