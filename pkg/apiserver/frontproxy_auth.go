package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"time"
	"weak"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/utils/clock"
)

// The front-proxy client certificate, verified once per TLS connection.
//
// Every request kube-apiserver proxies here carries its front-proxy client
// certificate, and k8s.io/apiserver's request-header authenticator
// (x509request.Verifier, built by headerrequest.NewDynamicVerifyOptionsSecure)
// verifies that certificate's chain again on every request: an ECDSA
// signature check per request, 10% of sluice-apiserver's CPU in a create
// profile (docs/benchmarks.md). kube-apiserver keeps few, long-lived
// connections to an aggregated server, so nearly all of that work repeats a
// verification already done on the same connection.
//
// frontProxyAuthenticator remembers, per TLS connection, that the upstream
// verifier accepted that connection's certificate, and reuses that only while
// the verification would still give the same answer.
//
// # Upstream discussion
//
// kubernetes/kubernetes#90533 ("API Server package does per-request mTLS")
// asked for this; kubernetes/kubernetes#100902 (a per-connection cache in
// x509request, a draft that was closed unmerged) tried it. The points
// raised there, and how this design answers each:
//
//   - Verifying in the TLS handshake instead (tls.VerifyClientCertIfGiven and
//     the connection's VerifiedChains, the reporter's patch) breaks clients
//     that present an unrelated client certificate on every connection (a
//     browser, or a client set up for a corporate proxy) and authenticate
//     with a bearer token: a failed verification must not fail the
//     connection, only leave the request to the other authenticators
//     (liggitt). Here the handshake is untouched (the server still asks for
//     a certificate without verifying it), and a certificate that does not
//     verify goes on, exactly as before, to the unchanged upstream
//     authenticator, tokens included. Only successes are remembered.
//   - The reporter's patch assumed one CA and no intermediates; the
//     request-header CA is not the client CA, and both are reloaded while
//     the server runs. Here the miss path is the upstream verifier itself,
//     with the same options and the same intermediates (those the peer sent),
//     and a remembered success is tied to the exact options, CA pool
//     included, it was obtained with.
//   - #100902 invalidated its cache when the CA provider notified its
//     listeners (a generation number). Here a success is reused only while
//     the provider still returns the very same verify options: its Roots
//     pool is the same *x509.CertPool. k8s.io/apiserver's providers
//     (dynamiccertificates.ConfigMapCAController, DynamicFileCAContent)
//     build a new pool whenever the bundle's content changes and keep it
//     while it does not, so a rotation is seen on the next request, with no
//     listener to race with. A provider that built a new pool on every call
//     would only make every request a miss.
//   - #100902 bounded a success by the chain's NotBefore and NotAfter
//     "excluding anchors for now". Here the bound is taken over every
//     certificate of every chain that verified, roots included, and is
//     checked on each request against the clock: after a NotAfter the
//     request is a miss, and the upstream verifier refuses it. Clients rely
//     on that per-request check (kubernetes/kubernetes#120621: a certificate
//     that expires on a kept-alive connection is refused on its next
//     request).
//   - The allowed common names (--requestheader-allowed-names, also
//     reloaded) are checked again on every request, cached or not.
//   - What is remembered is that the certificate verified, never the user:
//     the user, groups and extra are read from each request's
//     X-Remote-User / X-Remote-Group / X-Remote-Extra- headers, as upstream
//     does.
//   - Entries must live no longer than their connection, and one
//     connection's success must never be found by another. The key is a
//     weak.Pointer to the request's *tls.ConnectionState and a cleanup
//     (runtime.AddCleanup) deletes the entry once that state is collected.
//     A weak pointer compares equal only to weak pointers made from the same
//     object (weak package documentation), so even before the cleanup has
//     run, a new connection whose state happens to reuse the old address
//     never matches the old entry; and the entry also holds the peer's
//     certificates, compared by identity on each request.
//
// # One *tls.ConnectionState per connection
//
// The key works because every request of a connection carries the same
// req.TLS pointer, allocated once when the connection is set up:
//
//   - HTTP/1.x, net/http (Go 1.26) server.go: (*conn).serve allocates
//     c.tlsState after the handshake (lines 1941-1942: `c.tlsState =
//     new(tls.ConnectionState)`, `*c.tlsState = tlsConn.ConnectionState()`)
//     and readRequest hands it to each request (line 1036: `req.TLS =
//     c.tlsState`).
//   - HTTP/2, golang.org/x/net v0.58.0 http2/server.go, which
//     k8s.io/apiserver's secure serving installs with http2.ConfigureServer:
//     the server connection allocates sc.tlsState once (lines 338-339) and
//     newWriterAndRequestNoBody gives it to every stream's request (lines
//     2197-2199 and 2221, `TLS: tlsState`; the field is documented "shared by
//     all handlers, like net/http", line 432). net/http's bundled copy
//     (h2_bundle.go lines 4481-4482, 6288-6312) does the same. From Go 1.27
//     x/net wraps net/http's own HTTP/2 server (server_wrap.go); the tests
//     below speak HTTP/1.1 and HTTP/2 through x/net and fail if a request
//     ever gets a state of its own.
//
// The cost: a connection's first request builds the chain twice, once in
// the upstream verifier, which decides, and once more to learn the validity
// of the chains it verified to, which the upstream verifier does not return.
// Every later request on the connection verifies nothing.
//
// A request whose req.TLS is shared with nothing else (a new state per
// request) would only miss every time: the cost of today, never a wider
// trust.

// frontProxyVerifications counts requests that presented a client
// certificate to the front-proxy authenticator, by how it was checked.
var frontProxyVerifications = metrics.NewCounterVec(&metrics.CounterOpts{
	Namespace: "sluice", Subsystem: "front_proxy", Name: "certificate_checks_total",
	Help: "Requests presenting a client certificate to the request-header (front-proxy) authenticator, by result: " +
		"cached (verified earlier on the same TLS connection, not verified again), verified (verified now), " +
		"unverified (not verified: left to the other authenticators).",
	StabilityLevel: metrics.ALPHA,
}, []string{"result"})

func init() {
	legacyregistry.MustRegister(frontProxyVerifications)
}

// frontProxyAuthenticator authenticates the front proxy's requests, with
// the certificate verification remembered per TLS connection, and hands
// every other request, and every one it does not authenticate, to next: the
// authenticator k8s.io/apiserver built, unchanged.
type frontProxyAuthenticator struct {
	// verifyOptions, allowedNames and headers are the request-header
	// configuration's, as k8s.io/apiserver's DelegatingAuthenticatorConfig
	// uses them.
	verifyOptions x509request.VerifyOptionFunc
	allowedNames  x509request.StringSliceProvider
	headers       authenticator.Request
	// frontProxy is this authenticator's own path, with the
	// system:authenticated group added as upstream adds it.
	frontProxy authenticator.Request
	next       authenticator.Request
	clock      clock.PassiveClock
	// connections maps weak.Pointer[tls.ConnectionState] to
	// *verifiedConnection.
	connections sync.Map
}

// verifiedConnection is what a connection's successful verification was
// obtained with, and how long it holds.
type verifiedConnection struct {
	// peers are the certificates the peer sent, compared by identity.
	peers []*x509.Certificate
	// options are the verify options as the CA provider returned them.
	options x509.VerifyOptions
	// notBefore and notAfter bound the validity of every certificate of
	// every verified chain.
	notBefore, notAfter time.Time
}

// newFrontProxyAuthenticator returns next with the front proxy's requests
// authenticated first, as k8s.io/apiserver orders them, from rh (the
// request-header configuration next was built with).
func newFrontProxyAuthenticator(rh *authenticatorfactory.RequestHeaderConfig, next authenticator.Request, clock clock.PassiveClock) *frontProxyAuthenticator {
	a := &frontProxyAuthenticator{
		verifyOptions: rh.CAContentProvider.VerifyOptions,
		allowedNames:  rh.AllowedClientNames,
		headers:       headerrequest.NewDynamic(rh.UsernameHeaders, rh.UIDHeaders, rh.GroupHeaders, rh.ExtraHeaderPrefixes),
		next:          next,
		clock:         clock,
	}
	a.frontProxy = group.NewAuthenticatedGroupAdder(authenticator.RequestFunc(a.authenticateFrontProxy))
	return a
}

// AuthenticateRequest implements authenticator.Request.
func (a *frontProxyAuthenticator) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	if req.TLS != nil && len(req.TLS.PeerCertificates) > 0 {
		if resp, ok, err := a.frontProxy.AuthenticateRequest(req); ok && err == nil {
			return resp, true, nil
		}
	}
	// Not the front proxy, a certificate that does not verify, or no user
	// in the headers: upstream's authenticator decides, its request-header
	// authenticator first, as if this one were not there.
	return a.next.AuthenticateRequest(req)
}

// authenticateFrontProxy is the request-header authenticator: a verified
// front-proxy certificate, then the user from the request's headers.
func (a *frontProxyAuthenticator) authenticateFrontProxy(req *http.Request) (*authenticator.Response, bool, error) {
	key := weak.Make(req.TLS)
	if a.verifiedBefore(key, req.TLS) {
		frontProxyVerifications.WithLabelValues("cached").Inc()
		return a.headers.AuthenticateRequest(req)
	}
	return a.verify(key, req)
}

// verifiedBefore reports whether the certificate of this connection was
// verified before, and that verification still holds now.
func (a *frontProxyAuthenticator) verifiedBefore(key weak.Pointer[tls.ConnectionState], state *tls.ConnectionState) bool {
	v, found := a.connections.Load(key)
	if !found {
		return false
	}
	c := v.(*verifiedConnection)
	if !slices.Equal(c.peers, state.PeerCertificates) {
		return false
	}
	// The CA bundle has not changed (or been unloaded) since.
	options, ok := a.verifyOptions()
	if !ok || !sameVerifyOptions(c.options, options) {
		return false
	}
	// Every certificate of the chain is still valid, as x509's
	// isValid tells it.
	now := a.clock.Now()
	if now.Before(c.notBefore) || now.After(c.notAfter) {
		return false
	}
	// The allowed names, which may have changed, still allow it.
	return commonNameAllowed(a.allowedNames.Value(), state.PeerCertificates[0].Subject.CommonName)
}

// verify has the upstream verifier, unchanged, verify the certificate, and
// remembers for the connection that it did.
func (a *frontProxyAuthenticator) verify(key weak.Pointer[tls.ConnectionState], req *http.Request) (*authenticator.Response, bool, error) {
	var providerOptions x509.VerifyOptions
	var verifiedAt time.Time
	options := func() (x509.VerifyOptions, bool) {
		o, ok := a.verifyOptions()
		providerOptions = o
		// The verification's "now" is this authenticator's clock, the
		// one a remembered verification's validity is checked against.
		if o.CurrentTime.IsZero() {
			o.CurrentTime = a.clock.Now()
		}
		verifiedAt = o.CurrentTime
		return o, ok
	}
	verified := false
	headers := authenticator.RequestFunc(func(req *http.Request) (*authenticator.Response, bool, error) {
		// The upstream verifier calls this only once the certificate
		// verified and its common name is allowed.
		verified = true
		return a.headers.AuthenticateRequest(req)
	})
	resp, ok, err := x509request.NewDynamicCAVerifier(options, headers, a.allowedNames).AuthenticateRequest(req)
	if !verified {
		frontProxyVerifications.WithLabelValues("unverified").Inc()
		return resp, ok, err
	}
	frontProxyVerifications.WithLabelValues("verified").Inc()
	a.remember(key, req.TLS, providerOptions, verifiedAt)
	return resp, ok, err
}

// remember records that the connection's certificate verified with
// options at verifiedAt, with the validity of the chains it verified to.
func (a *frontProxyAuthenticator) remember(key weak.Pointer[tls.ConnectionState], state *tls.ConnectionState, options x509.VerifyOptions, verifiedAt time.Time) {
	if options.Roots == nil {
		// The system roots: on some platforms the system verifier
		// answers from more than the chain (revocation, say). The
		// request-header CA is never that; do not remember it.
		return
	}
	// The verified chains, built with the options the upstream verifier
	// used (the intermediates as it adds them), to bound the validity.
	verifying := options
	verifying.CurrentTime = verifiedAt
	if verifying.Intermediates == nil && len(state.PeerCertificates) > 1 {
		verifying.Intermediates = x509.NewCertPool()
		for _, intermediate := range state.PeerCertificates[1:] {
			verifying.Intermediates.AddCert(intermediate)
		}
	}
	chains, err := state.PeerCertificates[0].Verify(verifying)
	if err != nil || len(chains) == 0 {
		return
	}
	c := &verifiedConnection{peers: state.PeerCertificates, options: options}
	for _, chain := range chains {
		for _, cert := range chain {
			if c.notBefore.IsZero() || cert.NotBefore.After(c.notBefore) {
				c.notBefore = cert.NotBefore
			}
			if c.notAfter.IsZero() || cert.NotAfter.Before(c.notAfter) {
				c.notAfter = cert.NotAfter
			}
		}
	}
	if _, loaded := a.connections.Swap(key, c); !loaded {
		// The entry goes with the connection: its state is collected
		// once the connection is closed and its last request done.
		connections := &a.connections
		runtime.AddCleanup(state, func(key weak.Pointer[tls.ConnectionState]) { connections.Delete(key) }, key)
	}
}

// sameVerifyOptions reports whether a and b verify the same way: the same
// pools (by identity: a new CA bundle is a new pool) and the same
// constraints. Every exported field of x509.VerifyOptions is compared
// (TestSameVerifyOptionsComparesEveryField keeps it so).
func sameVerifyOptions(a, b x509.VerifyOptions) bool {
	return a.Roots == b.Roots &&
		a.Intermediates == b.Intermediates &&
		a.DNSName == b.DNSName &&
		a.CurrentTime.Equal(b.CurrentTime) &&
		slices.Equal(a.KeyUsages, b.KeyUsages) &&
		a.MaxConstraintComparisions == b.MaxConstraintComparisions &&
		slices.EqualFunc(a.CertificatePolicies, b.CertificatePolicies, x509.OID.Equal)
}

// commonNameAllowed is x509request.Verifier's check: no names allow all.
func commonNameAllowed(allowed []string, commonName string) bool {
	return len(allowed) == 0 || slices.Contains(allowed, commonName)
}
