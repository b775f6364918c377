package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/controlplane"
)

// bind gives user the cluster role in namespace ns.
func bind(t *testing.T, ns, user, clusterRole string) {
	_, err := kube(t).RbacV1().RoleBindings(ns).Create(testContext(t), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-" + clusterRole},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

// userConfig authenticates as user with a client certificate.
func userConfig(t *testing.T, user string) *rest.Config {
	cfg, err := stack.UserConfig(user)
	require.NoError(t, err)
	return cfg
}

// userKubeconfig writes a kubeconfig for user, for kubectl.
func userKubeconfig(t *testing.T, user string) string {
	path := t.TempDir() + "/" + user + ".kubeconfig"
	require.NoError(t, controlplane.WriteKubeconfig(path, userConfig(t, user), user))
	return path
}

func kubectlAs(t *testing.T, kubeconfig string, args ...string) (string, error) {
	return stack.KubectlAs(testContext(t), kubeconfig, "", args...)
}

// TestRBAC: alice edits in team-a, bob in team-b, carol views team-a. Each
// is held to their namespace by the cluster's RBAC, through sluice-apiserver's
// delegated authorization, and kubectl auth can-i agrees.
func TestRBAC(t *testing.T) {
	ctx := testContext(t)
	teamA, teamB := namespace(t, "team-a"), namespace(t, "team-b")
	bind(t, teamA, "alice", "sluice-edit")
	bind(t, teamB, "bob", "sluice-edit")
	bind(t, teamA, "carol", "view") // the built-in role; sluice-view aggregates into it

	alice := sluiceFor(t, userConfig(t, "alice")).SluiceV1alpha1()
	bob := sluiceFor(t, userConfig(t, "bob")).SluiceV1alpha1()
	carol := sluiceFor(t, userConfig(t, "carol")).SluiceV1alpha1()

	// RBAC changes reach the authorizer's cache quickly, but not at once.
	eventually(t, time.Minute, "alice's binding to take effect", func(ctx context.Context) error {
		_, err := alice.Pipelines(teamA).List(ctx, metav1.ListOptions{})
		return err
	})
	_, err := alice.Pipelines(teamA).Create(ctx, pipeline("p", "a"), metav1.CreateOptions{})
	require.NoError(t, err)

	// startedBy records alice, even when she tries to set it herself.
	forged := job("j", "p")
	forged.Spec.StartedBy = &v1alpha1.UserInfo{Username: "mallory", Groups: []string{"system:masters"}}
	j, err := alice.PipelineJobs(teamA).Create(ctx, forged, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, "alice", j.Spec.StartedBy.Username)
	require.NotContains(t, j.Spec.StartedBy.Groups, "system:masters")
	// ...and it never changes: the server keeps its value on update, as it
	// does for metadata.uid, so a client replacing the object from a file
	// without the field is not refused.
	j.Spec.StartedBy.Username = "mallory"
	j, err = alice.PipelineJobs(teamA).Update(ctx, j, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, "alice", j.Spec.StartedBy.Username)
	j.Spec.StartedBy = nil
	j, err = alice.PipelineJobs(teamA).Update(ctx, j, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, "alice", j.Spec.StartedBy.Username)

	// bob is forbidden everything in team-a, and a cluster-wide list.
	forbidden := func(what string, err error) {
		t.Helper()
		require.True(t, apierrors.IsForbidden(err), "%s: want 403, got %v", what, err)
	}
	_, err = bob.PipelineJobs(teamA).Get(ctx, "j", metav1.GetOptions{})
	forbidden("bob get", err)
	_, err = bob.PipelineJobs(teamA).List(ctx, metav1.ListOptions{})
	forbidden("bob list", err)
	_, err = bob.PipelineJobs(teamA).Watch(ctx, metav1.ListOptions{})
	forbidden("bob watch", err)
	_, err = bob.PipelineJobs(teamA).Update(ctx, j, metav1.UpdateOptions{})
	forbidden("bob update", err)
	forbidden("bob delete", bob.PipelineJobs(teamA).Delete(ctx, "j", metav1.DeleteOptions{}))
	_, err = bob.PipelineJobs(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	forbidden("bob cluster-wide list", err)
	// bob works in his own namespace.
	eventually(t, time.Minute, "bob's binding to take effect", func(ctx context.Context) error {
		_, err := bob.Pipelines(teamB).Create(ctx, pipeline("p", "a"), metav1.CreateOptions{})
		return err
	})

	// carol, a viewer, reads but does not write.
	eventually(t, time.Minute, "carol's binding and role aggregation to take effect", func(ctx context.Context) error {
		_, err := carol.PipelineJobs(teamA).Get(ctx, "j", metav1.GetOptions{})
		return err
	})
	_, err = carol.PipelineJobs(teamA).Create(ctx, job("j2", "p"), metav1.CreateOptions{})
	forbidden("carol create", err)

	// kubectl auth can-i agrees with the API.
	canI := func(kubeconfig string, args ...string) string {
		out, _ := kubectlAs(t, kubeconfig, append([]string{"auth", "can-i"}, args...)...)
		return strings.TrimSpace(out)
	}
	aliceCfg, bobCfg, carolCfg := userKubeconfig(t, "alice"), userKubeconfig(t, "bob"), userKubeconfig(t, "carol")
	require.Equal(t, "yes", canI(aliceCfg, "create", "pipelinejobs.sluice.dev", "-n", teamA))
	require.Equal(t, "no", canI(aliceCfg, "create", "pipelinejobs.sluice.dev", "-n", teamB))
	require.Equal(t, "no", canI(bobCfg, "get", "pipelinejobs.sluice.dev", "-n", teamA))
	require.Equal(t, "no", canI(bobCfg, "list", "pipelinejobs.sluice.dev", "--all-namespaces"))
	require.Equal(t, "yes", canI(carolCfg, "watch", "pipelinejobs.sluice.dev", "-n", teamA))
	require.Equal(t, "no", canI(carolCfg, "create", "pipelinejobs.sluice.dev", "-n", teamA))
	require.Equal(t, "no", canI(aliceCfg, "update", "pipelinejobs.sluice.dev", "--subresource=status", "-n", teamA), "status is the controller's")

	// And kubectl itself is refused the same way.
	_, err = kubectlAs(t, bobCfg, "-n", teamA, "get", "pipelinejobs")
	require.Error(t, err)
	require.Contains(t, err.Error(), "Forbidden")
}
