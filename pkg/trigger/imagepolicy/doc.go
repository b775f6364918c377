// Package imagepolicy decides what an `image` source of a Trigger fires on:
// the newest tag of a repository that its policy selects, and whether an
// observation of that tag and its digest fires a job.
//
// # Semver policies
//
// A semver policy is a github.com/Masterminds/semver/v3 constraint, e.g.
// ">=1.2.0 <2" (space or comma is "and", "||" is "or"). Only tags that are
// a full MAJOR.MINOR.PATCH version, optionally prefixed with "v" and
// followed by a pre-release and build metadata, are versions: "1.3.0",
// "v1.3.0", "1.3.0-rc.1", "1.3.0+build.5". "latest", "1.3", "20240101" and
// "main-abc1234" are ignored, so that a date or a short number is never
// taken for a major version. The "v" does not count: "v1.3.0" and "1.3.0"
// are the same version.
//
// Pre-releases follow Masterminds' rule: a pre-release tag matches only a
// constraint that itself names a pre-release in the same comparison group,
// so ">=1.2.0 <2" never picks "1.3.0-rc.1", and ">=1.3.0-0 <2" does.
//
// The newest is the highest version. Tags of equal precedence ("1.3.0" and
// "v1.3.0", or two build metadata) are ordered by the tag string, so the
// choice is the same on every poll.
//
// # Pattern policies
//
// A pattern policy is a Go regexp (RE2). Tags it matches are candidates.
// They are ordered by the regexp's first capture group if it has one, else
// by the whole tag: as integers when both values are decimal integers,
// otherwise by byte order. So "^main-(\d+)-[0-9a-f]{7}$" orders
// "main-<build number>-<sha>" builds numerically, "^(\d{8}T\d{6}Z)$" orders
// timestamps, and a pattern without a group orders tags alphabetically,
// as Flux's alphabetical and numerical policies do. Ties are broken by the
// whole tag.
//
// A pattern like "^main-[0-9a-f]{7}$" matches tags with no order: the
// newest by byte order is arbitrary. Such a policy works with registry
// push notifications, which name the tag pushed (use Matches), and fires on
// digest changes of a followed tag; for polling, put a sortable part in a
// capture group.
//
// # Deciding
//
// Decide compares what a poll found, the newest tag and its digest, with
// the last seen. The first observation records a baseline without firing.
// A newer tag fires; the same tag with a new digest fires (a moved tag is a
// new image); an older tag than the last seen (deleted, or a policy that
// changed) does neither: the caller keeps the last seen, and should reset
// it when the policy changes.
package imagepolicy
