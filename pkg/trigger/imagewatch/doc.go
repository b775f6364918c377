// Package imagewatch reads what an image source follows from its registry
// and decides what the trigger does with it.
//
// A Reader lists the repository's tags with go-containerregistry, picks the
// newest one the source's policy selects (pkg/trigger/imagepolicy) and
// resolves that tag's digest, authenticating with the source's pull Secret
// and dialling only through the transport it is given, which carries the
// controller's egress policy. Decide compares the observation with the one
// the trigger's status holds: a first observation is a baseline and fires
// nothing; a newer tag, or a new digest under the followed tag, fires one
// job, named after the repository, tag and digest so that the poll of the
// leader and a registry notification taken by any replica start it once.
//
// The controller's trigger loop polls with it; the hook receiver reads the
// registry with it when a notification says something was pushed. Neither
// trusts what a notification says was pushed: the registry is read again.
package imagewatch
