package substitution

import (
	"sort"
	"strings"
)

// Namespaces of the references Sluice expands.
const (
	ParamsPrefix = "params."
	JobPrefix    = "job."
	StepPrefix   = "step."
)

// Context variables every step can refer to, besides its params.
var contextVariables = []string{"job.name", "job.namespace", "step.name"}

// IsSluiceReference reports whether the expression inside $(...) belongs to
// Sluice rather than to the kubelet's environment expansion.
func IsSluiceReference(expr string) bool {
	return strings.HasPrefix(expr, ParamsPrefix) || strings.HasPrefix(expr, JobPrefix) || strings.HasPrefix(expr, StepPrefix)
}

// References returns the Sluice expressions s refers to, in order of
// appearance, e.g. ["params.version", "job.name"]. $$( escapes are skipped.
func References(s string) []string {
	return ReferencesOf(s, IsSluiceReference)
}

// ReferencesOf returns the expressions in s's $(...) that isReference
// claims, in order of appearance; $$( escapes are skipped. Triggers use it
// with their own namespaces ($(image.tag), $(webhook.ref), ...).
func ReferencesOf(s string, isReference func(expr string) bool) []string {
	var refs []string
	scan(s, isReference, func(expr string) (string, bool) {
		refs = append(refs, expr)
		return "", false
	})
	return refs
}

// Variables returns the set of expressions valid in a pipeline that declares
// the given params.
func Variables(paramNames []string) map[string]bool {
	vars := make(map[string]bool, len(paramNames)+len(contextVariables))
	for _, p := range paramNames {
		vars[ParamsPrefix+p] = true
	}
	for _, v := range contextVariables {
		vars[v] = true
	}
	return vars
}

// Unknown returns the Sluice references in s that are not in vars, sorted and
// without duplicates.
func Unknown(s string, vars map[string]bool) []string {
	seen := map[string]bool{}
	for _, ref := range References(s) {
		if !vars[ref] {
			seen[ref] = true
		}
	}
	out := make([]string, 0, len(seen))
	for ref := range seen {
		out = append(out, ref)
	}
	sort.Strings(out)
	return out
}

// Expand replaces every Sluice reference in s with its value from values. It
// returns the references that had no value; the caller must treat them as an
// error. Non-Sluice $(VAR) and $$(VAR) are returned unchanged.
func Expand(s string, values map[string]string) (string, []string) {
	return ExpandOf(s, IsSluiceReference, func(expr string) (string, bool) {
		v, ok := values[expr]
		return v, ok
	})
}

// ExpandOf replaces every reference in s that isReference claims with its
// value from value, and returns the references value had none for. Other
// $(VAR) and $$(VAR) are returned unchanged; values are not expanded again.
func ExpandOf(s string, isReference func(expr string) bool, value func(expr string) (string, bool)) (string, []string) {
	var missing []string
	out := scan(s, isReference, func(expr string) (string, bool) {
		v, ok := value(expr)
		if !ok {
			missing = append(missing, expr)
		}
		return v, ok
	})
	return out, missing
}

// scan walks s, calls fn for each reference isReference claims, and
// returns s with each reference replaced by fn's value where fn reports ok.
func scan(s string, isReference func(expr string) bool, fn func(expr string) (string, bool)) string {
	if !strings.Contains(s, "$(") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '$' {
			// "$$" is the kubelet's escape for a literal "$": keep both.
			b.WriteString("$$")
			i += 2
			continue
		}
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '(' {
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				expr := s[i+2 : i+2+end]
				if isReference(expr) {
					if v, ok := fn(expr); ok {
						b.WriteString(v)
					} else {
						b.WriteString(s[i : i+3+end])
					}
					i += 3 + end
					continue
				}
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}
