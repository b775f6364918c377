// Package egress decides which addresses Sluice connects to on a user's
// behalf: a Pipeline's notification webhooks and Slack incoming webhooks,
// and the registries image Triggers read. Their URLs come from anyone who may edit a Pipeline or a
// Trigger, and the request leaves from inside the cluster, so without a
// policy a URL could reach the cloud metadata service, the node, or any
// in-cluster Service (server-side request forgery).
//
// A Policy refuses, by default, the addresses that are not the public
// internet: unspecified, "this network" (0.0.0.0/8), loopback, link-local
// (which holds the metadata service at 169.254.169.254), private
// (RFC 1918 and IPv6 unique local), the shared address space 100.64.0.0/10
// (CGNAT, often a cluster's Pod or Service range), multicast and broadcast.
// An operator allows CIDRs back (--egress-allow-cidrs) and refuses more
// (--egress-deny-cidrs); a denied address stays refused whatever allows it.
//
// The check is made in the dialer (Policy.Transport), on the IP address
// actually dialled after name resolution, not on the URL's host: a name
// that resolves to a refused address, a DNS answer that changes between a
// check and the dial (rebinding), and a redirect to a refused address are
// all caught. IPv4 addresses written as IPv6 (::ffff:a.b.c.d, and the
// NAT64 and 6to4 forms that embed one) are checked as the IPv4 address
// they stand for.
//
// The Transport never uses a proxy, whatever HTTP_PROXY, HTTPS_PROXY and
// NO_PROXY say: through a proxy the dial goes to the proxy's address, and
// the proxy, not Sluice, would then connect to wherever the URL says, so a
// policy checking the proxy's address would check nothing about the target.
package egress
