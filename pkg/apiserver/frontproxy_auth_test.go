package apiserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	apiserverconfig "k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	metricstestutil "k8s.io/component-base/metrics/testutil"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

const frontProxyName = "front-proxy-client"

// testCA is a CA the tests issue client certificates from.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial atomic.Int64

func newTestCA(t testing.TB, name string, notBefore, notAfter time.Time) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key}
}

// issue returns a client certificate for commonName.
func (ca *testCA) issue(t testing.TB, commonName string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	template := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// rotatingCA is a request-header CA provider whose bundle the test sets,
// as the ConfigMap controller does: each new bundle is a new pool.
type rotatingCA struct {
	current atomic.Pointer[caBundle]
}

type caBundle struct {
	pem     []byte
	options x509.VerifyOptions
}

func (c *rotatingCA) set(cas ...*testCA) {
	b := &caBundle{options: x509.VerifyOptions{Roots: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}}
	for _, ca := range cas {
		b.pem = append(b.pem, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})...)
		b.options.Roots.AddCert(ca.cert)
	}
	c.current.Store(b)
}

func (c *rotatingCA) Name() string { return "test-request-header-ca" }
func (c *rotatingCA) CurrentCABundleContent() []byte {
	if b := c.current.Load(); b != nil {
		return b.pem
	}
	return nil
}
func (c *rotatingCA) VerifyOptions() (x509.VerifyOptions, bool) {
	if b := c.current.Load(); b != nil {
		return b.options, true
	}
	return x509.VerifyOptions{}, false
}
func (c *rotatingCA) AddListener(dynamiccertificates.Listener) {}

// clockedCA is the same CA verifying at the clock's time: the upstream
// authenticator the tests put behind the cache then shares its "now", as
// it does in production, where both read the real time.
type clockedCA struct {
	*rotatingCA
	clock clock.PassiveClock
}

func (c clockedCA) VerifyOptions() (x509.VerifyOptions, bool) {
	o, ok := c.rotatingCA.VerifyOptions()
	o.CurrentTime = c.clock.Now()
	return o, ok
}

// frontProxyRig is a TLS server, speaking HTTP/1.1 and HTTP/2 (through
// x/net, as k8s.io/apiserver serves), that authenticates each request as
// sluice-apiserver does and answers with the user, or 401.
type frontProxyRig struct {
	ca     *rotatingCA
	names  atomic.Pointer[[]string]
	clock  *clocktesting.FakeClock
	auth   *frontProxyAuthenticator
	server *httptest.Server

	mu     sync.Mutex
	states []*tls.ConnectionState
}

type answeredUser struct {
	Name   string
	Groups []string
	Extra  map[string][]string
}

func newFrontProxyRig(t *testing.T, now time.Time, cas ...*testCA) *frontProxyRig {
	r := &frontProxyRig{ca: &rotatingCA{}, clock: clocktesting.NewFakeClock(now)}
	r.ca.set(cas...)
	r.setAllowedNames(frontProxyName)
	rh := authenticatorfactory.RequestHeaderConfig{
		UsernameHeaders:     headerrequest.StaticStringSlice{"X-Remote-User"},
		UIDHeaders:          headerrequest.StaticStringSlice{"X-Remote-Uid"},
		GroupHeaders:        headerrequest.StaticStringSlice{"X-Remote-Group"},
		ExtraHeaderPrefixes: headerrequest.StaticStringSlice{"X-Remote-Extra-"},
		CAContentProvider:   r.ca,
		AllowedClientNames:  headerrequest.StringSliceProviderFunc(func() []string { return *r.names.Load() }),
	}
	upstreamRH := rh
	upstreamRH.CAContentProvider = clockedCA{rotatingCA: r.ca, clock: r.clock}
	next, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:           &apiserverconfig.AnonymousAuthConfig{Enabled: true},
		RequestHeaderConfig: &upstreamRH,
	}.New()
	require.NoError(t, err)
	r.auth = newFrontProxyAuthenticator(&rh, next, r.clock)

	r.server = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	require.NoError(t, http2.ConfigureServer(r.server.Config, &http2.Server{}))
	// As k8s.io/apiserver's secure serving: a client certificate is asked
	// for, not verified in the handshake.
	r.server.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, NextProtos: []string{"h2", "http/1.1"}}
	r.server.StartTLS()
	t.Cleanup(r.server.Close)
	return r
}

func (r *frontProxyRig) setAllowedNames(names ...string) { r.names.Store(&names) }

func (r *frontProxyRig) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.states = append(r.states, req.TLS)
	r.mu.Unlock()
	resp, ok, err := r.auth.AuthenticateRequest(req)
	if err != nil || !ok {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprint(w, err)
		return
	}
	_ = json.NewEncoder(w).Encode(answeredUser{Name: resp.User.GetName(), Groups: resp.User.GetGroups(), Extra: resp.User.GetExtra()})
}

// lastState is the TLS state of the last request served.
func (r *frontProxyRig) lastState() *tls.ConnectionState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.states[len(r.states)-1]
}

// client is a new client, with a connection of its own, presenting cert.
func (r *frontProxyRig) client(t *testing.T, cert tls.Certificate, useHTTP2 bool) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(r.server.Certificate())
	config := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}
	if !useHTTP2 {
		config.NextProtos = []string{"http/1.1"}
	}
	transport := &http.Transport{TLSClientConfig: config, ForceAttemptHTTP2: useHTTP2}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}
}

type answer struct {
	code  int
	proto int
	user  answeredUser
	body  string
	state *tls.ConnectionState
}

// get makes a request as the front proxy does, naming userName and groups
// in the headers.
func (r *frontProxyRig) get(t *testing.T, c *http.Client, userName string, groups ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.server.URL+"/apis/sluice.dev/v1alpha1/pipelines", nil)
	require.NoError(t, err)
	req.Header.Set("X-Remote-User", userName)
	for _, g := range groups {
		req.Header.Add("X-Remote-Group", g)
	}
	req.Header.Set("X-Remote-Extra-Scopes", "s1")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	a := answer{code: resp.StatusCode, proto: resp.ProtoMajor, state: r.lastState()}
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&a.user))
	} else {
		var body [4096]byte
		n, _ := resp.Body.Read(body[:])
		a.body = string(body[:n])
	}
	return a
}

// checks returns the count of front-proxy certificate checks by result.
func checks(t *testing.T) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	for _, result := range []string{"cached", "verified", "unverified"} {
		v, err := metricstestutil.GetCounterMetricValue(frontProxyVerifications.WithLabelValues(result))
		require.NoError(t, err)
		m[result] = v
	}
	return m
}

// checksSince returns the checks made since before.
func checksSince(t *testing.T, before map[string]float64) map[string]float64 {
	t.Helper()
	now := checks(t)
	for k := range now {
		now[k] -= before[k]
	}
	return now
}

type protocol struct {
	name    string
	http2   bool
	version int
}

var protocols = []protocol{{"HTTP/1.1", false, 1}, {"HTTP/2", true, 2}}

// TestFrontProxyCertificateVerifiedOncePerConnection: requests on one
// kept-alive connection share its TLS state, and its certificate is
// verified on the first only; a new connection verifies again.
func TestFrontProxyCertificateVerifiedOncePerConnection(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "front-proxy-ca", now.Add(-time.Hour), now.Add(24*time.Hour))
	cert := ca.issue(t, frontProxyName, now.Add(-time.Hour), now.Add(time.Hour))
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			r := newFrontProxyRig(t, now, ca)
			c := r.client(t, cert, p.http2)
			before := checks(t)
			var first *tls.ConnectionState
			for i := range 3 {
				a := r.get(t, c, "alice")
				require.Equal(t, http.StatusOK, a.code, a.body)
				require.Equal(t, p.version, a.proto)
				require.Equal(t, "alice", a.user.Name)
				if i == 0 {
					first = a.state
				}
				require.Same(t, first, a.state, "every request of a connection carries the same *tls.ConnectionState")
			}
			require.Equal(t, map[string]float64{"verified": 1, "cached": 2, "unverified": 0}, checksSince(t, before))

			before = checks(t)
			a := r.get(t, r.client(t, cert, p.http2), "alice")
			require.Equal(t, http.StatusOK, a.code, a.body)
			require.NotSame(t, first, a.state)
			require.Equal(t, map[string]float64{"verified": 1, "cached": 0, "unverified": 0}, checksSince(t, before),
				"a new connection's certificate is verified")
		})
	}
}

// TestFrontProxyUserFromEachRequest: only the verification is remembered;
// each request's user, groups and extra are its own headers'.
func TestFrontProxyUserFromEachRequest(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "front-proxy-ca", now.Add(-time.Hour), now.Add(24*time.Hour))
	cert := ca.issue(t, frontProxyName, now.Add(-time.Hour), now.Add(time.Hour))
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			r := newFrontProxyRig(t, now, ca)
			c := r.client(t, cert, p.http2)
			before := checks(t)
			alice := r.get(t, c, "alice", "team-a")
			bob := r.get(t, c, "bob", "team-b")
			require.Same(t, alice.state, bob.state, "one connection")
			require.Equal(t, http.StatusOK, alice.code, alice.body)
			require.Equal(t, http.StatusOK, bob.code, bob.body)
			require.Equal(t, answeredUser{Name: "alice", Groups: []string{"team-a", user.AllAuthenticated}, Extra: map[string][]string{"scopes": {"s1"}}}, alice.user)
			require.Equal(t, answeredUser{Name: "bob", Groups: []string{"team-b", user.AllAuthenticated}, Extra: map[string][]string{"scopes": {"s1"}}}, bob.user)
			require.Equal(t, 1.0, checksSince(t, before)["cached"], "bob's request reused the verification")
		})
	}
}

// TestFrontProxyWrongCARefused: a certificate from another CA, with the
// front proxy's name, is refused on a connection of its own, while
// another connection's good certificate is remembered.
func TestFrontProxyWrongCARefused(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "front-proxy-ca", now.Add(-time.Hour), now.Add(24*time.Hour))
	other := newTestCA(t, "front-proxy-ca", now.Add(-time.Hour), now.Add(24*time.Hour))
	good := ca.issue(t, frontProxyName, now.Add(-time.Hour), now.Add(time.Hour))
	forged := other.issue(t, frontProxyName, now.Add(-time.Hour), now.Add(time.Hour))
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			r := newFrontProxyRig(t, now, ca)
			forger := r.client(t, forged, p.http2)
			a := r.get(t, forger, "system:admin", "system:masters")
			require.Equal(t, http.StatusUnauthorized, a.code, "a fresh connection")
			require.Contains(t, a.body, "certificate signed by unknown authority")

			proxy := r.client(t, good, p.http2)
			for range 2 {
				require.Equal(t, http.StatusOK, r.get(t, proxy, "alice").code)
			}
			before := checks(t)
			for range 2 {
				a := r.get(t, forger, "system:admin", "system:masters")
				require.Equal(t, http.StatusUnauthorized, a.code, "after another connection's certificate was verified")
				require.Contains(t, a.body, "certificate signed by unknown authority")
			}
			require.Equal(t, map[string]float64{"verified": 0, "cached": 0, "unverified": 2}, checksSince(t, before),
				"a refusal is not remembered")
			require.Equal(t, http.StatusOK, r.get(t, proxy, "alice").code)
		})
	}
}

// TestFrontProxyExpiredCertificateRefused: an expired certificate is
// refused; one that was valid when verified is refused on the same
// connection once the clock passes its NotAfter, or its CA's.
func TestFrontProxyExpiredCertificateRefused(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "front-proxy-ca", now.Add(-2*time.Hour), now.Add(24*time.Hour))
	shortCA := newTestCA(t, "short-lived-front-proxy-ca", now.Add(-2*time.Hour), now.Add(30*time.Minute))
	expired := ca.issue(t, frontProxyName, now.Add(-2*time.Hour), now.Add(-time.Hour))
	cert := ca.issue(t, frontProxyName, now.Add(-time.Hour), now.Add(time.Hour))
	certOfShortCA := shortCA.issue(t, frontProxyName, now.Add(-time.Hour), now.Add(time.Hour))
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			r := newFrontProxyRig(t, now, ca, shortCA)
			a := r.get(t, r.client(t, expired, p.http2), "alice")
			require.Equal(t, http.StatusUnauthorized, a.code)
			require.Contains(t, a.body, "certificate has expired")

			c := r.client(t, cert, p.http2)
			cached := r.get(t, c, "alice")
			require.Equal(t, http.StatusOK, cached.code, cached.body)
			require.Equal(t, http.StatusOK, r.get(t, c, "alice").code)
			r.clock.SetTime(now.Add(time.Hour + time.Second))
			a = r.get(t, c, "alice")
			require.Same(t, cached.state, a.state, "the same connection")
			require.Equal(t, http.StatusUnauthorized, a.code, "past the certificate's NotAfter")
			require.Contains(t, a.body, "certificate has expired")

			// The root's validity bounds it too.
			r.clock.SetTime(now)
			c = r.client(t, certOfShortCA, p.http2)
			cached = r.get(t, c, "alice")
			require.Equal(t, http.StatusOK, cached.code, cached.body)
			require.Equal(t, http.StatusOK, r.get(t, c, "alice").code)
			r.clock.SetTime(now.Add(45 * time.Minute))
			a = r.get(t, c, "alice")
			require.Same(t, cached.state, a.state, "the same connection")
			require.Equal(t, http.StatusUnauthorized, a.code, "past the CA's NotAfter")
			require.Contains(t, a.body, "certificate has expired")
		})
	}
}

// TestFrontProxyCARotation: once the request-header CA bundle changes, a
// connection verified against the old one is verified again: refused if
// the new bundle does not have its CA, accepted if it does.
func TestFrontProxyCARotation(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "front-proxy-ca", now.Add(-time.Hour), now.Add(24*time.Hour))
	next := newTestCA(t, "front-proxy-ca-2", now.Add(-time.Hour), now.Add(24*time.Hour))
	cert := ca.issue(t, frontProxyName, now.Add(-time.Hour), now.Add(time.Hour))
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			r := newFrontProxyRig(t, now, ca)
			c := r.client(t, cert, p.http2)
			cached := r.get(t, c, "alice")
			require.Equal(t, http.StatusOK, cached.code, cached.body)
			require.Equal(t, http.StatusOK, r.get(t, c, "alice").code)

			r.ca.set(next)
			a := r.get(t, c, "alice")
			require.Same(t, cached.state, a.state, "the same connection")
			require.Equal(t, http.StatusUnauthorized, a.code, "the new bundle does not have its CA")
			require.Contains(t, a.body, "certificate signed by unknown authority")

			r.ca.set(ca, next)
			before := checks(t)
			require.Equal(t, http.StatusOK, r.get(t, c, "alice").code)
			require.Equal(t, http.StatusOK, r.get(t, c, "alice").code)
			require.Equal(t, map[string]float64{"verified": 1, "cached": 1, "unverified": 0}, checksSince(t, before),
				"verified again against the new bundle, then remembered")
		})
	}
}

// TestFrontProxyAllowedNamesRechecked: a name the allowed names no longer
// have is refused on a connection whose certificate was verified.
func TestFrontProxyAllowedNamesRechecked(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "front-proxy-ca", now.Add(-time.Hour), now.Add(24*time.Hour))
	cert := ca.issue(t, frontProxyName, now.Add(-time.Hour), now.Add(time.Hour))
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			r := newFrontProxyRig(t, now, ca)
			c := r.client(t, cert, p.http2)
			cached := r.get(t, c, "alice")
			require.Equal(t, http.StatusOK, cached.code, cached.body)
			require.Equal(t, http.StatusOK, r.get(t, c, "alice").code)

			r.setAllowedNames("another-front-proxy")
			a := r.get(t, c, "alice")
			require.Same(t, cached.state, a.state, "the same connection")
			require.Equal(t, http.StatusUnauthorized, a.code)
			require.Contains(t, a.body, "not in the allowed list")

			r.setAllowedNames("another-front-proxy", frontProxyName)
			require.Equal(t, http.StatusOK, r.get(t, c, "alice").code)
		})
	}
}

// TestFrontProxyOtherRequestsUnchanged: a request without a client
// certificate, or with the front proxy's but no user, is decided by the
// upstream authenticator (here: anonymous).
func TestFrontProxyOtherRequestsUnchanged(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "front-proxy-ca", now.Add(-time.Hour), now.Add(24*time.Hour))
	cert := ca.issue(t, frontProxyName, now.Add(-time.Hour), now.Add(time.Hour))
	r := newFrontProxyRig(t, now, ca)
	a := r.get(t, r.client(t, tls.Certificate{}, true), "alice")
	require.Equal(t, http.StatusOK, a.code, a.body)
	require.Equal(t, user.Anonymous, a.user.Name, "no certificate: the headers are not trusted")

	c := r.client(t, cert, true)
	require.Equal(t, "alice", r.get(t, c, "alice").user.Name)
	a = r.get(t, c, "")
	require.Equal(t, http.StatusOK, a.code, a.body)
	require.Equal(t, user.Anonymous, a.user.Name)
}

// TestFrontProxyEntryGoesWithConnection: a connection's entry is deleted
// once its TLS state is no longer reachable.
func TestFrontProxyEntryGoesWithConnection(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "front-proxy-ca", now.Add(-time.Hour), now.Add(24*time.Hour))
	cert := ca.issue(t, frontProxyName, now.Add(-time.Hour), now.Add(time.Hour))
	r := newFrontProxyRig(t, now, ca)
	entries := func() int {
		n := 0
		r.auth.connections.Range(func(any, any) bool { n++; return true })
		return n
	}
	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("X-Remote-User", "alice")
		req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf}}
		_, ok, err := r.auth.AuthenticateRequest(req)
		require.NoError(t, err)
		require.True(t, ok)
	}
	require.Equal(t, 3, entries())
	require.Eventually(t, func() bool {
		runtime.GC()
		return entries() == 0
	}, 30*time.Second, 10*time.Millisecond)
}

// TestSameVerifyOptionsComparesEveryField fails when x509.VerifyOptions
// gains an exported field sameVerifyOptions does not compare.
func TestSameVerifyOptionsComparesEveryField(t *testing.T) {
	compared := []string{"DNSName", "Intermediates", "Roots", "CurrentTime", "KeyUsages", "MaxConstraintComparisions", "CertificatePolicies"}
	var exported []string
	for f := range reflect.TypeFor[x509.VerifyOptions]().Fields() {
		if f.IsExported() {
			exported = append(exported, f.Name)
		}
	}
	require.ElementsMatch(t, compared, exported)

	base := x509.VerifyOptions{Roots: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	require.True(t, sameVerifyOptions(base, base))
	oid, err := x509.OIDFromInts([]uint64{1, 2, 3})
	require.NoError(t, err)
	for name, change := range map[string]func(*x509.VerifyOptions){
		"DNSName":                   func(o *x509.VerifyOptions) { o.DNSName = "a" },
		"Intermediates":             func(o *x509.VerifyOptions) { o.Intermediates = x509.NewCertPool() },
		"Roots":                     func(o *x509.VerifyOptions) { o.Roots = x509.NewCertPool() },
		"CurrentTime":               func(o *x509.VerifyOptions) { o.CurrentTime = time.Now() },
		"KeyUsages":                 func(o *x509.VerifyOptions) { o.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} },
		"MaxConstraintComparisions": func(o *x509.VerifyOptions) { o.MaxConstraintComparisions = 1 },
		"CertificatePolicies":       func(o *x509.VerifyOptions) { o.CertificatePolicies = []x509.OID{oid} },
	} {
		changed := base
		change(&changed)
		require.False(t, sameVerifyOptions(base, changed), name)
	}
}

// BenchmarkFrontProxyAuthentication: a front-proxy request on a connection
// that has made one before, through k8s.io/apiserver's authenticator
// (uncached: verified on every request) and through sluice-apiserver's
// (cached).
func BenchmarkFrontProxyAuthentication(b *testing.B) {
	now := time.Now()
	ca := newTestCA(b, "front-proxy-ca", now.Add(-time.Hour), now.Add(24*time.Hour))
	cert := ca.issue(b, frontProxyName, now.Add(-time.Hour), now.Add(time.Hour))
	provider := &rotatingCA{}
	provider.set(ca)
	rh := &authenticatorfactory.RequestHeaderConfig{
		UsernameHeaders:     headerrequest.StaticStringSlice{"X-Remote-User"},
		UIDHeaders:          headerrequest.StaticStringSlice{"X-Remote-Uid"},
		GroupHeaders:        headerrequest.StaticStringSlice{"X-Remote-Group"},
		ExtraHeaderPrefixes: headerrequest.StaticStringSlice{"X-Remote-Extra-"},
		CAContentProvider:   provider,
		AllowedClientNames:  headerrequest.StaticStringSlice{frontProxyName},
	}
	upstream, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:           &apiserverconfig.AnonymousAuthConfig{Enabled: true},
		RequestHeaderConfig: rh,
	}.New()
	require.NoError(b, err)
	for _, bench := range []struct {
		name string
		auth authenticator.Request
	}{
		{"uncached", upstream},
		{"cached", newFrontProxyAuthenticator(rh, upstream, clock.RealClock{})},
	} {
		b.Run(bench.name, func(b *testing.B) {
			state := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf}}
			req := httptest.NewRequest(http.MethodPost, "/apis/sluice.dev/v1alpha1/namespaces/a/pipelinejobs", nil)
			req.TLS = state
			b.ReportAllocs()
			for b.Loop() {
				// The authenticator takes the user headers off the request.
				req.Header.Set("X-Remote-User", "alice")
				req.Header.Set("X-Remote-Group", "team-a")
				resp, ok, err := bench.auth.AuthenticateRequest(req)
				if err != nil || !ok || resp.User.GetName() != "alice" {
					b.Fatalf("not authenticated: %v", err)
				}
			}
		})
	}
}
