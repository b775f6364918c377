package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/localstack"
)

// krewManifest is the krew plugin manifest template under artifacts/.
const krewManifest = "artifacts/krew/"

// sluiceUntilRBAC runs kubectl sluice until it no longer fails because
// RBAC bindings just made have not reached the authorizer yet.
func sluiceUntilRBAC(t *testing.T, kubeconfig string, args ...string) localstack.PluginResult {
	t.Helper()
	var res localstack.PluginResult
	eventually(t, time.Minute, "kubectl sluice "+strings.Join(args, " ")+" once RBAC allows it", func(ctx context.Context) error {
		res = kubectlSluice(t, kubeconfig, args...)
		if res.ExitCode != 0 {
			return fmt.Errorf("%+v", res)
		}
		return nil
	})
	return res
}

// TestCLIActApprove: the starter's approval is refused with the server's
// reason and exit 1; an approver passes the gate; --as a user without the
// approval verb is refused by RBAC.
func TestCLIActApprove(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "cli-approve")
	_, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).Create(ctx, gatedPipeline("release", v1alpha1.ApprovalGate{
		Approvers: []v1alpha1.Approver{{Kind: v1alpha1.ApproverUser, Name: "dora"}, {Kind: v1alpha1.ApproverUser, Name: "carl"}},
	}), metav1.CreateOptions{})
	require.NoError(t, err)
	bindRole(t, ns, "dora", "sluice-edit")
	allow(t, ns, "dora", []string{"pipelinejobs/approval"})
	allow(t, ns, "carl", []string{"pipelinejobs/approval"})
	dora, carl := userKubeconfig(t, "dora"), userKubeconfig(t, "carl")

	res := sluiceUntilRBAC(t, dora, "-n", ns, "run", "release", "-o", "name")
	job := strings.TrimPrefix(strings.TrimSpace(res.Stdout), "pipelinejob.sluice.dev/")
	require.Regexp(t, `^release-[a-z0-9]{5}$`, job)
	waitGate(t, ns, job, 1)

	res = kubectlSluice(t, dora, "-n", ns, "approve", job)
	require.Equal(t, 1, res.ExitCode, "%+v", res)
	require.Equal(t, fmt.Sprintf("Error: you cannot approve %s: user \"dora\" started this job, and step \"approve-production\" does not allow self-approval\n", job), res.Stderr)
	require.Empty(t, res.Stdout)

	res = kubectlSluice(t, stack.Kubeconfig, "-n", ns, "--as", "heidi", "approve", job)
	require.Equal(t, 1, res.ExitCode, "%+v", res)
	require.Equal(t, fmt.Sprintf("Error: you cannot approve %s: User \"heidi\" cannot create resource \"pipelinejobs/approval\" in API group \"sluice.dev\" in the namespace %q\n", job, ns), res.Stderr)

	res = sluiceUntilRBAC(t, carl, "-n", ns, "approve", job, "-m", "staging looks good")
	require.Equal(t, fmt.Sprintf("pipelinejob.sluice.dev/%s approved: step approve-production has 1 of 1 approvals; the job goes on\n", job), res.Stdout)
	j := waitJob(t, ns, job, v1alpha1.JobSucceeded, 2*time.Minute)
	require.Equal(t, "carl", j.Status.Steps[1].Approvals[0].User.Username)
	require.Equal(t, "staging looks good", j.Status.Steps[1].Approvals[0].Message)

	res = kubectlSluice(t, carl, "-n", ns, "reject", job)
	require.Equal(t, 2, res.ExitCode, "%+v", res)
}

// TestCLIActRollback: rollback creates the job that deploys the release
// before the current one; --context and -n choose where, as in kubectl.
func TestCLIActRollback(t *testing.T) {
	t.Parallel()
	ensureControllers(t, 1)
	ctx := testContext(t)
	ns := namespace(t, "cli-rollback")
	admin := sluiceAdmin(t).SluiceV1alpha1()
	_, err := admin.Pipelines(ns).Create(ctx, deployPipeline("deploy", "production"), metav1.CreateOptions{})
	require.NoError(t, err)
	deploy := func(version string) string {
		j, err := admin.Pipelines(ns).Run(ctx, "deploy", &v1alpha1.RunRequest{Params: []v1alpha1.Param{param("version", version)}}, metav1.CreateOptions{})
		require.NoError(t, err)
		waitJob(t, ns, j.Name, v1alpha1.JobSucceeded, 2*time.Minute)
		waitCurrent(t, ns, "deploy", "production", j.Name)
		return j.Name
	}
	v1 := deploy("v1")
	v2 := deploy("v2")

	// A kubeconfig of two contexts: the current one's namespace has no
	// such pipeline; "release" is in ns.
	cfg, err := clientcmd.LoadFromFile(stack.Kubeconfig)
	require.NoError(t, err)
	base := cfg.Contexts[cfg.CurrentContext]
	other := namespace(t, "cli-rollback-other")
	elsewhere, release := *base, *base
	elsewhere.Namespace, release.Namespace = other, ns
	cfg.Contexts["elsewhere"], cfg.Contexts["release"] = &elsewhere, &release
	cfg.CurrentContext = "elsewhere"
	kubeconfig := filepath.Join(t.TempDir(), "two-contexts.kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, kubeconfig))

	res := kubectlSluice(t, kubeconfig, "rollback", "deploy", "--env", "production")
	require.Equal(t, 1, res.ExitCode, "%+v", res)
	require.Equal(t, "Error: cannot roll back deploy: pipelines.sluice.dev \"deploy\" not found\n", res.Stderr, "the current context's namespace")

	res = kubectlSluice(t, kubeconfig, "--context", "release", "rollback", "deploy", "--env", "production", "-o", "name")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	back := strings.TrimPrefix(strings.TrimSpace(res.Stdout), "pipelinejob.sluice.dev/")
	j := getJob(t, ns, back)
	require.Equal(t, v1alpha1.TriggerRollback, j.Spec.Trigger.Type)
	require.Equal(t, []v1alpha1.Param{param("version", "v1")}, j.Spec.Params)
	require.Equal(t, v1, j.Labels[v1alpha1.LabelRerunOf])

	res = kubectlSluice(t, kubeconfig, "-n", ns, "rollback", "deploy", "--env", "production", "--to", v1)
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	require.Regexp(t, fmt.Sprintf(`^pipelinejob\.sluice\.dev/deploy-[a-z0-9]{5} created: rollback of production from (%s|%s) to %s\n$`, v2, back, v1), res.Stdout)

	jobs, err := admin.PipelineJobs(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.Set{v1alpha1.LabelRerunOf: v1}.String()})
	require.NoError(t, err)
	require.Len(t, jobs.Items, 2, "two rollbacks to v1, and nothing else")
	empty, err := admin.PipelineJobs(other).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, empty.Items)
}

// TestCLIActVersion: the client's version, sluice-apiserver's from its
// OpenAPI document, and kube-apiserver's.
func TestCLIActVersion(t *testing.T) {
	t.Parallel()
	res := kubectlSluice(t, stack.Kubeconfig, "version")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	// The plugin and sluice-apiserver are built together by make build,
	// which stamps both with the checkout's git describe: the server's
	// version, read through the aggregator, is the plugin's.
	m := regexp.MustCompile(`^Client Version: (\S+)\nSluice Server Version: (\S+)\nKubernetes Server Version: v1\.\d+\.\d+\S*\n$`).FindStringSubmatch(res.Stdout)
	require.NotNil(t, m, res.Stdout)
	require.Equal(t, m[1], m[2], "the server's version is the plugin's")

	res = kubectlSluice(t, stack.Kubeconfig, "version", "-o", "json")
	require.Equal(t, 0, res.ExitCode, "%+v", res)
	var v struct {
		ClientVersion struct {
			Version, GoVersion string
		}
		SluiceServerVersion, KubernetesServerVersion string
	}
	require.NoError(t, yaml.Unmarshal([]byte(res.Stdout), &v), res.Stdout)
	require.NotEmpty(t, v.ClientVersion.GoVersion)
	require.NotEmpty(t, v.SluiceServerVersion)
}

// TestCertManagerOverlay: artifacts/deploy/cert-manager builds with no
// certificate on disk, and asks cert-manager for the serving certificate
// the Deployment mounts and for the APIService's CA bundle.
func TestCertManagerOverlay(t *testing.T) {
	t.Parallel()
	// A copy without base/certs, as in a fresh clone.
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "artifacts"), os.DirFS(filepath.Join(repoRoot, "artifacts"))))
	require.NoError(t, os.RemoveAll(filepath.Join(root, "artifacts", "deploy", "base", "certs")))
	out, err := stack.Kubectl(testContext(t), "kustomize", filepath.Join(root, "artifacts", "deploy", "cert-manager"))
	require.NoError(t, err)

	objects := map[string]map[string]any{}
	for _, doc := range strings.Split(out, "\n---\n") {
		var o map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
		meta := o["metadata"].(map[string]any)
		objects[fmt.Sprintf("%s/%s", o["kind"], meta["name"])] = o
	}
	apiService := objects["APIService/v1alpha1.sluice.dev"]
	require.NotNil(t, apiService)
	require.Equal(t, map[string]any{"cert-manager.io/inject-ca-from": "sluice-system/sluice-apiserver"}, apiService["metadata"].(map[string]any)["annotations"])
	require.NotContains(t, apiService["spec"], "caBundle")
	require.NotContains(t, out, "caBundle")
	require.NotContains(t, objects, "Secret/sluice-apiserver-tls", "cert-manager writes the Secret")

	cert := objects["Certificate/sluice-apiserver"]
	require.NotNil(t, cert)
	spec := cert["spec"].(map[string]any)
	require.Equal(t, "sluice-apiserver-tls", spec["secretName"])
	require.Contains(t, spec["dnsNames"], "sluice-apiserver.sluice-system.svc")
	issuer := spec["issuerRef"].(map[string]any)["name"]
	require.Contains(t, objects, fmt.Sprintf("Issuer/%s", issuer))

	deployment, err := yaml.Marshal(objects["Deployment/sluice-apiserver"])
	require.NoError(t, err)
	require.Contains(t, string(deployment), "secretName: sluice-apiserver-tls", "the Deployment mounts the Certificate's Secret")
}

// krewPlugin mirrors krew's Plugin (krew.googlecontainertools.github.com/v1alpha2),
// for a strict parse: an unknown or misspelt field fails it.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Caveats          string `json:"caveats,omitempty"`
		Platforms        []struct {
			Selector *metav1.LabelSelector `json:"selector"`
			URI      string                `json:"uri"`
			Sha256   string                `json:"sha256"`
			Bin      string                `json:"bin"`
			Files    []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files,omitempty"`
		} `json:"platforms"`
	} `json:"spec"`
}

// TestKrewManifest: artifacts/krew/sluice.yaml is a krew Plugin whose
// placeholders, once filled in, make a manifest krew accepts: every field
// krew requires, and one platform for each of linux and darwin on amd64
// and arm64, each selected by a valid selector.
func TestKrewManifest(t *testing.T) {
	t.Parallel()
	tmpl, err := os.ReadFile(filepath.Join(repoRoot, krewManifest, "sluice.yaml"))
	require.NoError(t, err)
	filled := os.Expand(string(tmpl), func(name string) string {
		switch {
		case name == "VERSION":
			return "v0.3.0"
		case strings.HasPrefix(name, "SHA256_"):
			return strings.Repeat("0", 64)
		}
		t.Errorf("unknown placeholder ${%s}", name)
		return ""
	})
	var p krewPlugin
	require.NoError(t, yaml.UnmarshalStrict([]byte(filled), &p))

	require.Equal(t, "krew.googlecontainertools.github.com/v1alpha2", p.APIVersion)
	require.Equal(t, "Plugin", p.Kind)
	require.Equal(t, "sluice", p.Metadata.Name)
	require.Regexp(t, `^v\d+\.\d+\.\d+$`, p.Spec.Version)
	require.Regexp(t, `^https://`, p.Spec.Homepage)
	require.NotEmpty(t, p.Spec.ShortDescription)
	require.LessOrEqual(t, len(p.Spec.ShortDescription), 50, "krew's index wants a short one")
	require.NotEmpty(t, p.Spec.Description)

	seen := map[string]bool{}
	for i, pl := range p.Spec.Platforms {
		require.NotNil(t, pl.Selector, "platform %d", i)
		sel, err := metav1.LabelSelectorAsSelector(pl.Selector)
		require.NoError(t, err, "platform %d", i)
		goos, arch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		require.True(t, sel.Matches(labels.Set{"os": goos, "arch": arch}), "platform %d", i)
		key := goos + "/" + arch
		require.False(t, seen[key], "platform %s twice", key)
		seen[key] = true
		require.Regexp(t, `^https://.+\.tar\.gz$`, pl.URI, key)
		require.Contains(t, pl.URI, "v0.3.0", "%s: the release's archive", key)
		require.Contains(t, pl.URI, goos+"_"+arch, key)
		require.Regexp(t, `^[0-9a-f]{64}$`, pl.Sha256, key)
		require.Equal(t, "kubectl-sluice", pl.Bin, key)
	}
	require.Equal(t, map[string]bool{"linux/amd64": true, "linux/arm64": true, "darwin/amd64": true, "darwin/arm64": true}, seen)

	// The template itself names each archive's checksum apart.
	require.Len(t, regexp.MustCompile(`\$\{SHA256_[A-Z]+_[A-Z0-9]+\}`).FindAll(tmpl, -1), 4)
	require.False(t, bytes.Contains([]byte(filled), []byte("${")))
}
