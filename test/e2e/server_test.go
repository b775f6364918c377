package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// TestReplicas: two sluice-apiserver replicas over one database. A watch
// served by one replica sees the writes made through the other, both ways.
// Replica 0 is behind the APIService; replica 1 is reached directly, as the
// aggregator would reach it, with the front-proxy certificate.
func TestReplicas(t *testing.T) {
	ctx := testContext(t)
	ns := namespace(t, "replicas")
	viaAggregator := sluiceAdmin(t).SluiceV1alpha1()
	direct := sluiceFor(t, stack.DirectConfig(stack.APIServers[1], "admin", "system:masters")).SluiceV1alpha1()
	_, err := viaAggregator.Pipelines(ns).Create(ctx, pipeline("p", "a"), metav1.CreateOptions{})
	require.NoError(t, err)

	expectAdded := func(w watch.Interface, name string) {
		t.Helper()
		for {
			select {
			case ev := <-w.ResultChan():
				if ev.Type == watch.Added && ev.Object.(*v1alpha1.PipelineJob).Name == name {
					return
				}
			case <-ctx.Done():
				t.Fatalf("the watch never saw %s", name)
			}
		}
	}

	// Watch on replica 1, write through the aggregator (replica 0).
	w1, err := direct.PipelineJobs(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	defer w1.Stop()
	_, err = viaAggregator.PipelineJobs(ns).Create(ctx, job("through-0", "p"), metav1.CreateOptions{})
	require.NoError(t, err)
	expectAdded(w1, "through-0")

	// Watch through the aggregator (replica 0), write on replica 1.
	w0, err := viaAggregator.PipelineJobs(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	defer w0.Stop()
	created, err := direct.PipelineJobs(ns).Create(ctx, job("through-1", "p"), metav1.CreateOptions{})
	require.NoError(t, err)
	expectAdded(w0, "through-1")

	// A consistent read on either replica sees a write acknowledged by the other.
	got, err := viaAggregator.PipelineJobs(ns).Get(ctx, "through-1", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, created.ResourceVersion, got.ResourceVersion)
	list, err := direct.PipelineJobs(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 2)
}

// TestBadInput: an invalid object is a 422 naming every bad field, and
// nothing is stored; a 20 MiB object is refused with 413; a 5 MiB one, which
// no CRD could hold, is stored.
func TestBadInput(t *testing.T) {
	ctx := testContext(t)
	ns := namespace(t, "bad")
	c := sluiceAdmin(t).SluiceV1alpha1()

	bad := pipeline("bad", "Build", "build")
	bad.Spec.Steps[1].Actions[0].Image = ""
	bad.Spec.Steps[1].Retries = 11
	bad.Spec.Steps[1].Actions[0].Args = []string{"$(params.missing)"}
	_, err := c.Pipelines(ns).Create(ctx, bad, metav1.CreateOptions{})
	require.True(t, apierrors.IsInvalid(err), "got %v", err)
	status := err.(apierrors.APIStatus).Status()
	require.EqualValues(t, 422, status.Code)
	var fields []string
	for _, cause := range status.Details.Causes {
		fields = append(fields, cause.Field)
	}
	require.ElementsMatch(t, []string{"spec.steps[0].name", "spec.steps[1].actions[0].image", "spec.steps[1].actions[0].args[0]", "spec.steps[1].retries"}, fields)
	_, err = c.Pipelines(ns).Get(ctx, "bad", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "nothing stored: %v", err)

	// A job with both pipelineRef and pipelineSpec, and a bad trigger.
	j := job("j", "p")
	j.Spec.PipelineSpec = &pipeline("x", "a").Spec
	j.Spec.Trigger.Type = "Push"
	_, err = c.PipelineJobs(ns).Create(ctx, j, metav1.CreateOptions{})
	require.True(t, apierrors.IsInvalid(err), "got %v", err)
	require.Contains(t, err.Error(), "spec.pipelineSpec: Forbidden")
	require.Contains(t, err.Error(), `spec.trigger.type: Unsupported value: "Push"`)

	big := func(name string, size int) *v1alpha1.Pipeline {
		p := pipeline(name, "a")
		p.Spec.Description = strings.Repeat("x", size)
		return p
	}
	_, err = c.Pipelines(ns).Create(ctx, big("huge", 20<<20), metav1.CreateOptions{})
	require.True(t, apierrors.IsRequestEntityTooLargeError(err), "20 MiB: %v", err)
	require.Contains(t, err.Error(), "Request entity too large")

	created, err := c.Pipelines(ns).Create(ctx, big("five-mib", 5<<20), metav1.CreateOptions{})
	require.NoError(t, err, "a 5 MiB object")
	got, err := c.Pipelines(ns).Get(ctx, "five-mib", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, got.Spec.Description, 5<<20)
	require.Equal(t, created.ResourceVersion, got.ResourceVersion)
}

// TestServerEndpoints: readiness with the PostgreSQL check, metrics with
// the storage's own, aggregated discovery and OpenAPI v3 through
// kube-apiserver.
func TestServerEndpoints(t *testing.T) {
	ctx := testContext(t)
	direct, err := kubernetes.NewForConfig(stack.DirectConfig(stack.APIServers[0], "admin", "system:masters"))
	require.NoError(t, err)
	raw := func(path string) string {
		b, err := direct.Discovery().RESTClient().Get().AbsPath(path).Param("verbose", "true").DoRaw(ctx)
		require.NoError(t, err, path)
		return string(b)
	}
	require.Contains(t, raw("/readyz"), "[+]postgres ok")
	require.Contains(t, raw("/livez"), "ok")
	metrics := raw("/metrics")
	for _, m := range []string{"sluice_storage_query_duration_seconds_bucket", "sluice_storage_watchers", "sluice_storage_compaction_lag_revisions", "apiserver_request_total"} {
		require.Contains(t, metrics, m)
	}

	// Aggregated discovery, as kubectl asks for it.
	b, err := kube(t).Discovery().RESTClient().Get().AbsPath("/apis").
		SetHeader("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList").DoRaw(ctx)
	require.NoError(t, err)
	require.Contains(t, string(b), `"name":"sluice.dev"`)
	require.Contains(t, string(b), `"resource":"pipelinejobs"`)

	b, err = kube(t).Discovery().RESTClient().Get().AbsPath("/openapi/v3/apis/sluice.dev/v1alpha1").DoRaw(ctx)
	require.NoError(t, err)
	require.Contains(t, string(b), "com.github.sluice-dev.sluice.pkg.apis.sluice.v1alpha1.PipelineJob")

	// The server answers a list with a Table when asked, as kubectl asks.
	b, err = kube(t).Discovery().RESTClient().Get().AbsPath("/apis/sluice.dev/v1alpha1/pipelinejobs").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	require.NoError(t, err)
	require.Contains(t, string(b), `"kind":"Table"`)
	require.Contains(t, string(b), `"name":"Started-By"`)
}
