package apiserver

import (
	"errors"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/apiserver/pkg/server/healthz"
)

// The front-proxy CA: until it is loaded, no request kube-apiserver proxies
// can be authenticated.
//
// kube-apiserver's aggregator proxies a request with its front-proxy client
// certificate and names the user in X-Remote-User. This server trusts those
// headers only from a certificate signed by the request-header CA, which
// k8s.io/apiserver reads from the ConfigMap
// kube-system/extension-apiserver-authentication with an informer. That
// informer starts with the server, after it listens, and its first read at
// start-up is from its empty cache: for the first tens of milliseconds of a
// (re)started server the CA is empty, and every proxied request is served
// as system:anonymous, which RBAC forbids. Clients get a 403 they do not
// retry, for a request they may make (seen in test/faults: writes through
// kube-apiserver right after sluice-apiserver restarted).
//
// So until the CA is loaded, /readyz fails (a Service sends this replica
// nothing), and every request but the health checks is answered 503 with
// Retry-After, which clients retry, rather than served as anonymous.

// frontProxyCA reports whether the request-header CA is loaded.
type frontProxyCA struct {
	ca dynamiccertificates.CAContentProvider
}

var errFrontProxyCANotLoaded = errors.New("the front-proxy CA (requestheader-client-ca-file in kube-system/extension-apiserver-authentication) is not loaded yet")

func (f frontProxyCA) loaded() error {
	if len(f.ca.CurrentCABundleContent()) == 0 {
		return errFrontProxyCANotLoaded
	}
	return nil
}

// check is the /readyz check.
func (f frontProxyCA) check() healthz.HealthChecker {
	return healthz.NamedCheck("front-proxy-ca", func(*http.Request) error { return f.loaded() })
}

// healthPaths are answered while the CA loads: kubelet's probes and the
// operator's look at them.
var healthPaths = []string{"/healthz", "/livez", "/readyz"}

// wait wraps the handler chain: until the CA is loaded, a request other than
// a health check gets 503 with Retry-After: 1.
func (f frontProxyCA) wait(handler http.Handler, serializer runtime.NegotiatedSerializer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := f.loaded(); err != nil && !isHealthPath(req.URL.Path) {
			status := apierrors.NewServiceUnavailable("sluice-apiserver is starting: " + err.Error())
			status.ErrStatus.Details = &metav1.StatusDetails{RetryAfterSeconds: 1} // sets Retry-After
			responsewriters.ErrorNegotiated(status, serializer, schema.GroupVersion{}, w, req)
			return
		}
		handler.ServeHTTP(w, req)
	})
}

func isHealthPath(path string) bool {
	for _, p := range healthPaths {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}
