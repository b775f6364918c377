package localstack

import (
	encbase64 "encoding/base64"
	"net/http"
)

func base64(b []byte) string { return encbase64.StdEncoding.EncodeToString(b) }

// frontProxyHeaders adds the headers kube-apiserver's aggregator sends to
// name the user of a proxied request.
func frontProxyHeaders(user string, groups []string) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			req = req.Clone(req.Context())
			req.Header.Set("X-Remote-User", user)
			req.Header.Del("X-Remote-Group")
			for _, g := range groups {
				req.Header.Add("X-Remote-Group", g)
			}
			return rt.RoundTrip(req)
		})
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
