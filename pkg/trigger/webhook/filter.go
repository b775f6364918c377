package webhook

import (
	"fmt"
	"path"
	"slices"
)

// Filter selects the events a trigger fires on.
type Filter struct {
	// Events are the kinds that fire; empty is every kind. A Generic
	// event has no kind and passes only an empty list.
	Events []Kind
	// Branches and Tags are path.Match globs ("main", "release/*",
	// "v*"). Empty lets every branch, or every tag, pass.
	Branches []string
	Tags     []string
}

// ValidateGlob reports a pattern that path.Match cannot use.
func ValidateGlob(pattern string) error {
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Errorf("invalid glob %q: %v", pattern, err)
	}
	return nil
}

// Match reports whether e passes the filter, and when not, why.
func (f Filter) Match(e *Event) (bool, string) {
	if len(f.Events) > 0 && !slices.Contains(f.Events, e.Kind) {
		if e.Kind == "" {
			return false, fmt.Sprintf("a %s webhook has no event kind; the trigger fires only on %v", e.Provider, f.Events)
		}
		return false, fmt.Sprintf("%s events do not fire this trigger; it fires on %v", e.Kind, f.Events)
	}
	switch e.Kind {
	case KindPush:
		if !matchAny(f.Branches, e.Branch) {
			return false, fmt.Sprintf("branch %q matches none of %q", e.Branch, f.Branches)
		}
	case KindTag:
		if !matchAny(f.Tags, e.Tag) {
			return false, fmt.Sprintf("tag %q matches none of %q", e.Tag, f.Tags)
		}
	}
	return true, ""
}

// matchAny: no patterns let everything pass. A malformed pattern matches
// nothing (validation rejects it first).
func matchAny(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, err := path.Match(p, name); err == nil && ok {
			return true
		}
	}
	return false
}
