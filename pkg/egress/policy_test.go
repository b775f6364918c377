package egress

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheck: every default range is refused and named, the public internet
// is not, IPv4 written as IPv6 is checked as IPv4, allow overrides a default
// refusal and deny wins over allow.
func TestCheck(t *testing.T) {
	custom, err := Parse([]string{"10.1.0.0/16", "127.0.0.0/8", "fd00:1::/32", " 192.168.7.0/24 ", ""},
		[]string{"10.1.2.0/24", "203.0.113.0/24", "::ffff:198.51.100.0/120"})
	require.NoError(t, err)
	for _, tc := range []struct {
		policy *Policy
		ip     string
		refuse string // the RefusedError's Range; "" = allowed
		denied bool
	}{
		// Every range refused by default, with its name.
		{Default(), "0.0.0.0", "unspecified", false},
		{Default(), "::", "unspecified", false},
		{Default(), "0.1.2.3", "this network 0.0.0.0/8", false},
		{Default(), "127.0.0.1", "loopback", false},
		{Default(), "127.255.255.254", "loopback", false},
		{Default(), "::1", "loopback", false},
		{Default(), "169.254.169.254", "link-local", false},
		{Default(), "fe80::1", "link-local", false},
		{Default(), "fe80::1%eth0", "link-local", false},
		{Default(), "10.0.0.1", "private 10.0.0.0/8", false},
		{Default(), "172.16.0.1", "private 172.16.0.0/12", false},
		{Default(), "172.31.255.255", "private 172.16.0.0/12", false},
		{Default(), "192.168.1.1", "private 192.168.0.0/16", false},
		{Default(), "fd12:3456::1", "private fc00::/7", false},
		{Default(), "100.64.0.1", "CGNAT 100.64.0.0/10", false},
		{Default(), "100.127.255.255", "CGNAT 100.64.0.0/10", false},
		{Default(), "224.0.0.1", "multicast", false},
		{Default(), "239.255.255.250", "multicast", false},
		{Default(), "ff02::1", "multicast", false},
		{Default(), "255.255.255.255", "broadcast", false},
		// The edges of the ranges, and the public internet.
		{Default(), "1.1.1.1", "", false},
		{Default(), "8.8.8.8", "", false},
		{Default(), "172.15.255.255", "", false},
		{Default(), "172.32.0.0", "", false},
		{Default(), "100.63.255.255", "", false},
		{Default(), "100.128.0.0", "", false},
		{Default(), "169.253.255.255", "", false},
		{Default(), "2606:4700::1111", "", false},
		// IPv4 written as IPv6 is the IPv4 address.
		{Default(), "::ffff:127.0.0.1", "loopback", false},
		{Default(), "::ffff:169.254.169.254", "link-local", false},
		{Default(), "::ffff:10.0.0.1", "private 10.0.0.0/8", false},
		{Default(), "::ffff:8.8.8.8", "", false},
		{Default(), "64:ff9b::a9fe:a9fe", "link-local, 169.254.169.254 through NAT64", false},
		{Default(), "64:ff9b::808:808", "", false},
		{Default(), "2002:0a00:0001::1", "private 10.0.0.0/8, 10.0.0.1 through 6to4", false},
		// Nothing to dial.
		{Default(), "", "not an IP address", false},
		// The same as Default.
		{nil, "127.0.0.1", "loopback", false},
		// allow overrides the default refusals; the rest stay refused.
		{custom, "10.1.200.3", "", false},
		{custom, "10.2.0.1", "private 10.0.0.0/8", false},
		{custom, "127.0.0.1", "", false},
		{custom, "::ffff:127.0.0.1", "", false},
		{custom, "::1", "loopback", false},
		{custom, "192.168.7.9", "", false},
		{custom, "fd00:1::5", "", false},
		{custom, "fd00:2::5", "private fc00::/7", false},
		{custom, "169.254.169.254", "link-local", false},
		// deny wins over allow, and adds refusals to the public internet.
		{custom, "10.1.2.3", "denied 10.1.2.0/24", true},
		{custom, "203.0.113.9", "denied 203.0.113.0/24", true},
		{custom, "::ffff:203.0.113.9", "denied 203.0.113.0/24", true},
		{custom, "198.51.100.1", "denied 198.51.100.0/24", true},
		{custom, "64:ff9b::cb00:7109", "denied 203.0.113.0/24, 203.0.113.9 through NAT64", true},
		{custom, "8.8.8.8", "", false},
	} {
		var ip netip.Addr
		if tc.ip != "" {
			ip = netip.MustParseAddr(tc.ip)
		}
		err := tc.policy.Check(ip)
		if tc.refuse == "" {
			require.NoError(t, err, tc.ip)
			continue
		}
		var refused *RefusedError
		require.ErrorAs(t, err, &refused, tc.ip)
		require.Equal(t, tc.refuse, refused.Range, tc.ip)
		require.Equal(t, tc.denied, refused.Denied, tc.ip)
		require.Equal(t, ip.WithZone("").Unmap(), refused.Addr, "the address is named unmapped: %s", tc.ip)
	}
}

func TestRefusedErrorMessage(t *testing.T) {
	require.EqualError(t, Default().Check(netip.MustParseAddr("169.254.169.254")),
		"egress policy refuses 169.254.169.254 (link-local); allow it with --egress-allow-cidrs")
	require.EqualError(t, Default().Check(netip.MustParseAddr("::ffff:10.0.0.1")),
		"egress policy refuses 10.0.0.1 (private 10.0.0.0/8); allow it with --egress-allow-cidrs")
	p, err := Parse([]string{"10.0.0.0/8"}, []string{"10.9.0.0/16"})
	require.NoError(t, err)
	require.EqualError(t, p.Check(netip.MustParseAddr("10.9.0.1")),
		"egress policy refuses 10.9.0.1 (denied 10.9.0.0/16 by --egress-deny-cidrs)")
}

// TestParseErrors: a bad CIDR is an error that names it and its list.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		allow, deny []string
		want        []string
	}{
		{[]string{"10.0.0.1"}, nil, []string{"allow list", `"10.0.0.1"`, "not a CIDR"}},
		{[]string{"10.0.0.0/8", "10.0.0.0/33"}, nil, []string{"allow list", `"10.0.0.0/33"`}},
		{nil, []string{"example.com/24"}, []string{"deny list", `"example.com/24"`}},
		{nil, []string{"fe80::/64%eth0"}, []string{"deny list", `"fe80::/64%eth0"`}},
	} {
		_, err := Parse(tc.allow, tc.deny)
		require.Error(t, err, "%v %v", tc.allow, tc.deny)
		for _, w := range tc.want {
			require.Contains(t, err.Error(), w)
		}
	}
	p, err := Parse(nil, nil)
	require.NoError(t, err)
	require.Equal(t, Default().Check(netip.MustParseAddr("10.0.0.1")), p.Check(netip.MustParseAddr("10.0.0.1")))
}

// counter is an HTTP server on 127.0.0.1 that counts its requests.
func counter(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

// TestTransportChecksTheDialledAddress: a request by name is checked at the
// address the name resolves to, and an allowed address is reached.
func TestTransportChecksTheDialledAddress(t *testing.T) {
	srv, hits := counter(t, ok)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	byName := "http://localhost:" + strconv.Itoa(port) + "/hook"

	_, err := (&http.Client{Transport: Default().Transport()}).Get(byName)
	var refused *RefusedError
	require.ErrorAs(t, err, &refused, "localhost resolves to loopback")
	var ue *url.Error
	require.ErrorAs(t, err, &ue, "the refusal comes through the client's *url.Error")
	require.Equal(t, "loopback", refused.Range)
	require.True(t, refused.Addr.IsLoopback())
	_, err = (&http.Client{Transport: Default().Transport()}).Get(srv.URL)
	require.ErrorAs(t, err, &refused, "by address")
	require.Zero(t, hits.Load(), "no request reached the server")

	allowLoopback, err := Parse([]string{"127.0.0.0/8", "::1/128"}, nil)
	require.NoError(t, err)
	client := &http.Client{Transport: allowLoopback.Transport()}
	for _, u := range []string{srv.URL, byName} {
		resp, err := client.Get(u)
		require.NoError(t, err, u)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		_ = resp.Body.Close()
	}
	require.EqualValues(t, 2, hits.Load())
}

// TestTransportRefusesRedirects: a redirect from an allowed server to a
// refused address is refused when it is dialled.
func TestTransportRefusesRedirects(t *testing.T) {
	target, targetHits := counter(t, ok)
	// Two loopback addresses stand for an allowed server and a refused
	// one: 127.0.0.1 is denied, the rest of 127.0.0.0/8 allowed.
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address to serve on: %v", err)
	}
	redirector := httptest.NewUnstartedServer(http.RedirectHandler(target.URL+"/metadata", http.StatusFound))
	redirector.Listener.Close()
	redirector.Listener = l
	redirector.Start()
	t.Cleanup(redirector.Close)
	p, err := Parse([]string{"127.0.0.0/8"}, []string{"127.0.0.1/32"})
	require.NoError(t, err)

	_, err = (&http.Client{Transport: p.Transport()}).Get(redirector.URL)
	var refused *RefusedError
	require.ErrorAs(t, err, &refused)
	require.Equal(t, netip.MustParseAddr("127.0.0.1"), refused.Addr)
	require.True(t, refused.Denied)
	require.Zero(t, targetHits.Load(), "the redirect's target got no request")

	// Without the deny, the same redirect is followed: the refusal was
	// the policy's.
	p, err = Parse([]string{"127.0.0.0/8"}, nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: p.Transport()}).Get(redirector.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.EqualValues(t, 1, targetHits.Load())
}

// TestTransportIgnoresProxies: a proxy in the environment is not used, as
// its address, not the target's, would be the one checked.
func TestTransportIgnoresProxies(t *testing.T) {
	proxy, proxyHits := counter(t, ok)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "")
	allowLoopback, err := Parse([]string{"127.0.0.0/8"}, nil)
	require.NoError(t, err)
	tr := allowLoopback.Transport()
	require.Nil(t, tr.Proxy)
	// Through a proxy, this would reach it and be answered 204.
	_, err = (&http.Client{Transport: tr}).Get("http://169.254.169.254/latest/meta-data/")
	var refused *RefusedError
	require.ErrorAs(t, err, &refused)
	require.Equal(t, "link-local", refused.Range)
	require.Zero(t, proxyHits.Load())
}

// TestTransportIsFresh: each Transport is a new one with the default
// transport's settings, so that callers may change their own.
func TestTransportIsFresh(t *testing.T) {
	a, b := Default().Transport(), Default().Transport()
	require.NotSame(t, a, b)
	require.NotSame(t, http.DefaultTransport, a)
	def := http.DefaultTransport.(*http.Transport)
	require.Equal(t, def.TLSHandshakeTimeout, a.TLSHandshakeTimeout)
	require.Equal(t, def.MaxIdleConns, a.MaxIdleConns)
	require.Equal(t, def.ForceAttemptHTTP2, a.ForceAttemptHTTP2)
	require.NotNil(t, a.DialContext)
}
