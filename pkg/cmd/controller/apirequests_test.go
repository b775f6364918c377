package controller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/component-base/metrics/testutil"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
)

// TestAPIRequestsCounted: every request of a client wrapped with
// countRequests is counted once by RBAC verb, group, resource,
// subresource and code, so that a status write, a Pod create, an Event
// and a list are told apart.
func TestAPIRequestsCounted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/namespaces/ns/pods":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns"}}`))
		case r.Method == http.MethodPut && r.URL.Path == "/apis/sluice.dev/v1alpha1/namespaces/ns/pipelinejobs/j/status":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"Status","status":"Failure","reason":"Conflict","code":409}`))
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/pods":
			_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"PodList","metadata":{}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	apiRequests.Reset()
	cfg := &rest.Config{Host: srv.URL}
	cfg.Wrap(countRequests)
	kube, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	sluice, err := sluiceclient.NewForConfig(cfg)
	require.NoError(t, err)
	ctx := context.Background()

	_, err = kube.CoreV1().Pods("ns").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	for range 2 {
		_, err = sluice.SluiceV1alpha1().PipelineJobs("ns").UpdateStatus(ctx,
			&v1alpha1.PipelineJob{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns"}}, metav1.UpdateOptions{})
		require.Error(t, err)
	}
	_, err = kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "sluice.dev/job"})
	require.NoError(t, err)
	_, err = kube.CoreV1().Events("ns").Get(ctx, "e", metav1.GetOptions{})
	require.Error(t, err)
	_, err = kube.Discovery().ServerVersion()
	require.Error(t, err)

	require.NoError(t, testutil.GatherAndCompare(legacyregistry.DefaultGatherer, strings.NewReader(`
# HELP sluice_controller_api_requests_total [ALPHA] Requests sluice-controller made to the API, by verb (as RBAC names it), group, resource, subresource and HTTP code ("error" when no response came).
# TYPE sluice_controller_api_requests_total counter
sluice_controller_api_requests_total{code="201",group="",resource="pods",subresource="",verb="create"} 1
sluice_controller_api_requests_total{code="409",group="sluice.dev",resource="pipelinejobs",subresource="status",verb="update"} 2
sluice_controller_api_requests_total{code="200",group="",resource="pods",subresource="",verb="list"} 1
sluice_controller_api_requests_total{code="404",group="",resource="events",subresource="",verb="get"} 1
sluice_controller_api_requests_total{code="404",group="",resource="-",subresource="",verb="get"} 1
`), "sluice_controller_api_requests_total"))
}
