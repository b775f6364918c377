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
	o, err := parseFlags(t)
	require.NoError(t, err)
	var refused *egress.RefusedError
	require.ErrorAs(t, o.Egress.Check(netip.MustParseAddr("127.0.0.1")), &refused, "loopback refused by default")

	o, err = parseFlags(t, "--egress-allow-cidrs=127.0.0.0/8,10.96.0.0/12", "--egress-deny-cidrs=10.96.0.1/32")
	require.NoError(t, err)
	require.NoError(t, o.Egress.Check(netip.MustParseAddr("127.0.0.1")))
	require.NoError(t, o.Egress.Check(netip.MustParseAddr("10.96.5.5")))
	require.ErrorAs(t, o.Egress.Check(netip.MustParseAddr("10.96.0.1")), &refused, "deny wins")
	require.ErrorAs(t, o.Egress.Check(netip.MustParseAddr("169.254.169.254")), &refused)

	_, err = parseFlags(t, "--egress-allow-cidrs=10.0.0.0/8,10.0.0.1")
	require.ErrorContains(t, err, "--egress-allow-cidrs")
	require.ErrorContains(t, err, `"10.0.0.1"`)
	_, err = parseFlags(t, "--egress-deny-cidrs=nonsense")
	require.ErrorContains(t, err, `deny list: "nonsense"`)
}

// TestKubeAPIContentType: protobuf by default, as kube-controller-manager;
// JSON for a sluice-apiserver older than the controller; anything else
// stops the start with an error that names the flag.
func TestKubeAPIContentType(t *testing.T) {
	o, err := parseFlags(t)
	require.NoError(t, err)
	require.Equal(t, "application/vnd.kubernetes.protobuf", o.KubeAPIContentType)
	o, err = parseFlags(t, "--kube-api-content-type=application/json")
	require.NoError(t, err)
	require.Equal(t, "application/json", o.KubeAPIContentType)
	_, err = parseFlags(t, "--kube-api-content-type=application/cbor")
	require.ErrorContains(t, err, `--kube-api-content-type: "application/cbor" is not application/vnd.kubernetes.protobuf or application/json`)
}

// parseFlags parses sluice-controller's flags from args and validates them.
func parseFlags(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	o := NewOptions()
	fs := pflag.NewFlagSet("sluice-controller", pflag.ContinueOnError)
	o.AddFlags(fs)
	require.NoError(t, fs.Parse(args))
	return o, o.Validate()
}
