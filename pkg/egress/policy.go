package egress

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Policy decides which addresses Sluice connects to on a user's behalf.
// It is immutable, so one Policy may be shared by any number of clients.
type Policy struct {
	allow []netip.Prefix
	deny  []netip.Prefix
}

// namedRange is one of the ranges a Policy refuses by default.
type namedRange struct {
	prefix netip.Prefix
	name   string
}

// refusedByDefault are the ranges that are not the public internet. The
// first that holds an address names it, so the narrower come first.
var refusedByDefault = []namedRange{
	{netip.MustParsePrefix("0.0.0.0/32"), "unspecified"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("0.0.0.0/8"), "this network 0.0.0.0/8"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private 10.0.0.0/8"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private 172.16.0.0/12"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private 192.168.0.0/16"},
	{netip.MustParsePrefix("fc00::/7"), "private fc00::/7"},
	{netip.MustParsePrefix("100.64.0.0/10"), "CGNAT 100.64.0.0/10"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
}

// IPv6 ranges whose addresses stand for an IPv4 address: a gateway or relay
// connects to that IPv4 address, so it is checked too.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: the IPv4 address is the last 32 bits
	sixToFour = netip.MustParsePrefix("2002::/16")    // RFC 3056: the IPv4 address follows the prefix
)

var defaultPolicy = &Policy{}

// Parse builds a policy from CIDR lists: allow overrides the default
// refusals; deny adds refusals (deny wins over allow for the same address).
// A bad CIDR is an error naming it. IPv4-mapped IPv6 CIDRs
// (::ffff:10.0.0.0/104) are taken as the IPv4 CIDR they stand for.
func Parse(allow, deny []string) (*Policy, error) {
	p := &Policy{}
	var err error
	if p.allow, err = parseCIDRs("allow", allow); err != nil {
		return nil, err
	}
	if p.deny, err = parseCIDRs("deny", deny); err != nil {
		return nil, err
	}
	return p, nil
}

func parseCIDRs(list string, cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range cidrs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("egress %s list: %q is not a CIDR such as 10.0.0.0/8 or fd00::/8 (%v)", list, s, err)
		}
		if prefix.Addr().Zone() != "" {
			return nil, fmt.Errorf("egress %s list: %q has an IPv6 zone; give the CIDR without it", list, s)
		}
		if prefix.Addr().Is4In6() && prefix.Bits() >= 96 {
			prefix = netip.PrefixFrom(prefix.Addr().Unmap(), prefix.Bits()-96)
		}
		out = append(out, prefix.Masked())
	}
	return out, nil
}

// Default refuses what Parse(nil, nil) refuses.
func Default() *Policy {
	return defaultPolicy
}

// Check returns a *RefusedError when ip may not be dialled. A nil Policy is
// the Default one.
func (p *Policy) Check(ip netip.Addr) error {
	if p == nil {
		p = defaultPolicy
	}
	if !ip.IsValid() {
		return &RefusedError{Addr: ip, Range: "not an IP address"}
	}
	// A zone (fe80::1%eth0) would keep the address out of every prefix.
	ip = ip.WithZone("").Unmap()
	targets := []target{{addr: ip}}
	if v4, via, ok := embeddedIPv4(ip); ok {
		targets = append(targets, target{addr: v4, via: via})
	}
	for _, t := range targets {
		for _, d := range p.deny {
			if d.Contains(t.addr) {
				return &RefusedError{Addr: ip, Range: t.describe("denied " + d.String()), Denied: true}
			}
		}
	}
	for _, t := range targets {
		for _, a := range p.allow {
			if a.Contains(t.addr) {
				return nil
			}
		}
	}
	for _, t := range targets {
		for _, r := range refusedByDefault {
			if r.prefix.Contains(t.addr) {
				return &RefusedError{Addr: ip, Range: t.describe(r.name)}
			}
		}
	}
	return nil
}

// target is an address a dial reaches: the one dialled, or the IPv4
// address it stands for.
type target struct {
	addr netip.Addr
	via  string // "NAT64" or "6to4" for an embedded IPv4 address
}

func (t target) describe(rng string) string {
	if t.via == "" {
		return rng
	}
	return fmt.Sprintf("%s, %s through %s", rng, t.addr, t.via)
}

// embeddedIPv4 is the IPv4 address that a NAT64 or 6to4 address stands for.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	b := ip.As16()
	switch {
	case !ip.Is6():
		return netip.Addr{}, "", false
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64", true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true
	}
	return netip.Addr{}, "", false
}

// Transport returns a new *http.Transport, with http.DefaultTransport's
// settings, whose dialer checks the IP actually dialled, after name
// resolution: a name that resolves to a refused address, DNS rebinding and
// redirects to a refused address are caught. It uses no proxy (see the
// package documentation for why).
func (p *Policy) Transport() *http.Transport {
	if p == nil {
		p = defaultPolicy
	}
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{ForceAttemptHTTP2: true, MaxIdleConns: 100, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second, ExpectContinueTimeout: time.Second}
	}
	t.Proxy = nil
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, ControlContext: p.control}
	t.DialContext = dialer.DialContext
	t.DialTLSContext = nil
	return t
}

// control runs after the socket is created and before it connects, with
// the address being dialled: a literal IP and port, whatever name the
// request used.
func (p *Policy) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress policy: cannot check the address %q: %w", address, err)
	}
	return p.Check(ap.Addr())
}

// RefusedError says which address was refused and why, e.g.
// "egress policy refuses 169.254.169.254 (link-local); allow it with --egress-allow-cidrs".
type RefusedError struct {
	Addr netip.Addr
	// Range is the refused range that holds Addr, e.g. "loopback",
	// "private 10.0.0.0/8", or "denied 203.0.113.0/24".
	Range string
	// Denied says the operator's deny list refused Addr, which no allowed
	// CIDR overrides.
	Denied bool
}

func (e *RefusedError) Error() string {
	if e.Denied {
		return fmt.Sprintf("egress policy refuses %s (%s by --egress-deny-cidrs)", e.Addr, e.Range)
	}
	return fmt.Sprintf("egress policy refuses %s (%s); allow it with --egress-allow-cidrs", e.Addr, e.Range)
}
