package controller

import (
	"net/http"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// apiRequests counts the controller's own API requests by what they do.
// client-go's rest_client_requests_total has only the HTTP method and the
// host, which cannot tell a status write from a Pod create or an Event: an
// operator sizing --kube-api-qps, or the controller benchmark counting the
// writes a job costs, needs the verb and the resource.
var apiRequests = metrics.NewCounterVec(&metrics.CounterOpts{
	Namespace: "sluice", Subsystem: "controller", Name: "api_requests_total",
	Help: "Requests sluice-controller made to the API, by verb (as RBAC names it), group, resource, subresource and HTTP code " +
		"(\"error\" when no response came).",
	StabilityLevel: metrics.ALPHA,
}, []string{"verb", "group", "resource", "subresource", "code"})

func init() {
	legacyregistry.MustRegister(apiRequests)
}

// requestInfos parses request paths as kube-apiserver does, so the verbs
// are RBAC's (list and watch apart from get, deletecollection).
var requestInfos = &request.RequestInfoFactory{
	APIPrefixes:          sets.NewString("api", "apis"),
	GrouplessAPIPrefixes: sets.NewString("api"),
}

// countRequests wraps a client's transport to count each request in
// apiRequests.
func countRequests(rt http.RoundTripper) http.RoundTripper {
	return &countingTransport{next: rt}
}

type countingTransport struct{ next http.RoundTripper }

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	verb, group, resource, subresource := describeRequest(req)
	apiRequests.WithLabelValues(verb, group, resource, subresource, code).Inc()
	return resp, err
}

// describeRequest names a request by verb, group, resource and subresource; a
// request that is not for a resource (discovery, /version) is its
// lower-case method with the resource "-".
func describeRequest(req *http.Request) (verb, group, resource, subresource string) {
	info, err := requestInfos.NewRequestInfo(req)
	if err != nil || info == nil || !info.IsResourceRequest {
		return strings.ToLower(req.Method), "", "-", ""
	}
	return info.Verb, info.APIGroup, info.Resource, info.Subresource
}
