package e2e

import (
	"bufio"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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

// TestFrontProxyCertificateVerifiedOncePerConnection: requests through
// kube-apiserver reuse the verification of its front-proxy client
// certificate made earlier on their connection (pkg/apiserver/frontproxy_auth.go):
// kube-apiserver's proxy keeps its connections to sluice-apiserver.
func TestFrontProxyCertificateVerifiedOncePerConnection(t *testing.T) {
	ctx := testContext(t)
	direct, err := kubernetes.NewForConfig(stack.DirectConfig(stack.APIServers[0], "admin", "system:masters"))
	require.NoError(t, err)
	checks := func() map[string]float64 {
		b, err := direct.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		require.NoError(t, err)
		m := map[string]float64{}
		scanner := bufio.NewScanner(strings.NewReader(string(b)))
		for scanner.Scan() {
			name, value, found := strings.Cut(scanner.Text(), " ")
			result, isCheck := strings.CutPrefix(name, `sluice_front_proxy_certificate_checks_total{result="`)
			if !found || !isCheck {
				continue
			}
			v, err := strconv.ParseFloat(value, 64)
			require.NoError(t, err)
			m[strings.TrimSuffix(result, `"}`)] = v
		}
		require.NoError(t, scanner.Err())
		return m
	}
	ns := namespace(t, "front-proxy")
	before := checks()
	const requests = 20
	for range requests {
		_, err := sluiceAdmin(t).SluiceV1alpha1().Pipelines(ns).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
	}
	after := checks()
	cached := after["cached"] - before["cached"]
	verified := after["verified"] - before["verified"]
	t.Logf("front-proxy certificate checks during %d requests (other tests' too): cached %.0f, verified %.0f", requests, cached, verified)
	require.GreaterOrEqual(t, cached, float64(requests-2), "kube-apiserver's requests reuse their connection's verification")
}
