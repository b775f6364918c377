package controller

import (
	"net/netip"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/sluice-dev/sluice/pkg/egress"
)

// TestEgressFlags: --egress-allow-cidrs and --egress-deny-cidrs make the
// policy; without them it is the default one; a bad CIDR stops the start
// with an error that names it.
func TestEgressFlags(t *testing.T) {
	parse := func(args ...string) (*Options, error) {
		t.Helper()
		o := NewOptions()
		fs := pflag.NewFlagSet("sluice-controller", pflag.ContinueOnError)
		o.AddFlags(fs)
		require.NoError(t, fs.Parse(args))
		return o, o.Validate()
	}
	o, err := parse()
	require.NoError(t, err)
	var refused *egress.RefusedError
	require.ErrorAs(t, o.Egress.Check(netip.MustParseAddr("127.0.0.1")), &refused, "loopback refused by default")

	o, err = parse("--egress-allow-cidrs=127.0.0.0/8,10.96.0.0/12", "--egress-deny-cidrs=10.96.0.1/32")
	require.NoError(t, err)
	require.NoError(t, o.Egress.Check(netip.MustParseAddr("127.0.0.1")))
	require.NoError(t, o.Egress.Check(netip.MustParseAddr("10.96.5.5")))
	require.ErrorAs(t, o.Egress.Check(netip.MustParseAddr("10.96.0.1")), &refused, "deny wins")
	require.ErrorAs(t, o.Egress.Check(netip.MustParseAddr("169.254.169.254")), &refused)

	_, err = parse("--egress-allow-cidrs=10.0.0.0/8,10.0.0.1")
	require.ErrorContains(t, err, "--egress-allow-cidrs")
	require.ErrorContains(t, err, `"10.0.0.1"`)
	_, err = parse("--egress-deny-cidrs=nonsense")
	require.ErrorContains(t, err, `deny list: "nonsense"`)
}
