package apiserver

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// caContent is a CA provider whose content the test sets, as the ConfigMap
// informer does once it has synced.
type caContent struct{ bundle atomic.Pointer[[]byte] }

func (c *caContent) Name() string { return "test-ca" }
func (c *caContent) CurrentCABundleContent() []byte {
	if b := c.bundle.Load(); b != nil {
		return *b
	}
	return nil
}
func (c *caContent) VerifyOptions() (x509.VerifyOptions, bool) { return x509.VerifyOptions{}, false }
func (c *caContent) AddListener(dynamiccertificates.Listener)  {}

// TestRequestsWaitForTheFrontProxyCA: until the front-proxy CA is loaded,
// every request but the health checks is a 503 with Retry-After, not
// served (where it would be anonymous), and /readyz's check fails; once it
// is loaded, requests are served.
func TestRequestsWaitForTheFrontProxyCA(t *testing.T) {
	content := &caContent{}
	ca := frontProxyCA{ca: content}
	served := 0
	handler := ca.wait(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served++
		w.WriteHeader(http.StatusOK)
	}), Codecs)
	do := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
		return rec
	}

	rec := do("/apis/sluice.dev/v1alpha1/namespaces/a/pipelines")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	var status metav1.Status
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &status))
	require.Equal(t, metav1.StatusReasonServiceUnavailable, status.Reason)
	require.Contains(t, status.Message, "front-proxy CA")
	require.Zero(t, served, "not served while the CA is not loaded")
	require.Error(t, ca.check().Check(nil))
	for _, path := range []string{"/readyz", "/livez", "/healthz", "/readyz/postgres"} {
		require.Equal(t, http.StatusOK, do(path).Code, path)
	}
	require.Equal(t, 4, served, "the health checks are answered")

	bundle := []byte("-----BEGIN CERTIFICATE-----")
	content.bundle.Store(&bundle)
	require.Equal(t, http.StatusOK, do("/apis/sluice.dev/v1alpha1/namespaces/a/pipelines").Code)
	require.NoError(t, ca.check().Check(nil))
}
