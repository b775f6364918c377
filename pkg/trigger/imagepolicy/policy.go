package imagepolicy

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Policy selects and orders the tags of a repository.
type Policy struct {
	constraint *semver.Constraints
	pattern    *regexp.Regexp
}

// NewSemver is a policy of the tags whose version satisfies constraint.
func NewSemver(constraint string) (*Policy, error) {
	if strings.TrimSpace(constraint) == "" {
		return nil, errors.New("a semver constraint is required, e.g. \">=1.2.0 <2\"")
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return nil, fmt.Errorf("invalid semver constraint %q: %v", constraint, err)
	}
	return &Policy{constraint: c}, nil
}

// NewPattern is a policy of the tags that match expr.
func NewPattern(expr string) (*Policy, error) {
	if expr == "" {
		return nil, errors.New("a pattern is required, e.g. \"^main-(\\\\d+)$\"")
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid pattern %q: %v", expr, err)
	}
	return &Policy{pattern: re}, nil
}

// fullVersion is MAJOR.MINOR.PATCH with an optional v, pre-release and
// build metadata; StrictNewVersion checks the rest.
var fullVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([-+].*)?$`)

// version parses a tag as a version, or returns nil.
func version(tag string) *semver.Version {
	if !fullVersion.MatchString(tag) {
		return nil
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v"))
	if err != nil {
		return nil
	}
	return v
}

// Matches reports whether the policy selects tag.
func (p *Policy) Matches(tag string) bool {
	if p.pattern != nil {
		return p.pattern.MatchString(tag)
	}
	v := version(tag)
	return v != nil && p.constraint.Check(v)
}

// Newer reports whether a is newer than b under the policy, tags of equal
// precedence ordered by the tag string. Both should match the policy.
func (p *Policy) Newer(a, b string) bool {
	if c := p.compare(a, b); c != 0 {
		return c > 0
	}
	return a > b
}

// compare orders two tags by the policy alone, 0 for equal precedence.
func (p *Policy) compare(a, b string) int {
	if p.pattern == nil {
		va, vb := version(a), version(b)
		switch {
		case va == nil && vb == nil:
			return 0
		case va == nil:
			return -1
		case vb == nil:
			return 1
		}
		return va.Compare(vb)
	}
	ka, kb := p.key(a), p.key(b)
	na, errA := strconv.ParseUint(ka, 10, 64)
	nb, errB := strconv.ParseUint(kb, 10, 64)
	if errA == nil && errB == nil {
		switch {
		case na < nb:
			return -1
		case na > nb:
			return 1
		}
		return 0
	}
	return strings.Compare(ka, kb)
}

// key is what a pattern orders tag by: its first capture group, or itself.
func (p *Policy) key(tag string) string {
	if p.pattern.NumSubexp() == 0 {
		return tag
	}
	m := p.pattern.FindStringSubmatch(tag)
	if len(m) < 2 {
		return tag
	}
	return m[1]
}

// Latest returns the newest tag the policy selects, false if none.
func (p *Policy) Latest(tags []string) (string, bool) {
	var best string
	found := false
	for _, t := range tags {
		if !p.Matches(t) {
			continue
		}
		if !found || p.Newer(t, best) {
			best, found = t, true
		}
	}
	return best, found
}

// Sorted returns the tags the policy selects, newest first.
func (p *Policy) Sorted(tags []string) []string {
	var out []string
	for _, t := range tags {
		if p.Matches(t) {
			out = append(out, t)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return p.Newer(out[i], out[j]) })
	return out
}

// Image is a tag and the digest it pointed at.
type Image struct {
	Tag    string
	Digest string
}

// Decision is what to do with an observation.
type Decision struct {
	// Fire: start a job for the observation.
	Fire bool
	// Record: store the observation as the last seen. Fire implies it.
	Record bool
	// Reason says why, for events and status.
	Reason string
}

// Decide compares what a poll or a push found with the last seen (nil
// when there is none yet); see doc.go.
func (p *Policy) Decide(last *Image, current Image) Decision {
	switch {
	case !p.Matches(current.Tag):
		return Decision{Reason: fmt.Sprintf("tag %q does not match the policy", current.Tag)}
	case last == nil:
		return Decision{Record: true, Reason: fmt.Sprintf("first observation: %s@%s recorded as the baseline without firing", current.Tag, current.Digest)}
	case current.Tag == last.Tag && current.Digest == last.Digest:
		return Decision{Reason: fmt.Sprintf("%s@%s is the last seen", current.Tag, current.Digest)}
	case current.Tag == last.Tag:
		return Decision{Fire: true, Record: true, Reason: fmt.Sprintf("tag %s moved from %s to %s", current.Tag, last.Digest, current.Digest)}
	case p.compare(current.Tag, last.Tag) > 0:
		return Decision{Fire: true, Record: true, Reason: fmt.Sprintf("new tag %s (%s), newer than %s", current.Tag, current.Digest, last.Tag)}
	default:
		return Decision{Reason: fmt.Sprintf("tag %s is not newer than the last seen %s", current.Tag, last.Tag)}
	}
}
