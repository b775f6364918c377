package substitution

import (
	"strings"
	"testing"
)

// FuzzExpand checks $(...) substitution on any string: nothing panics; with
// no values, the string comes back unchanged and every reference is
// reported missing; with a value for every reference, none is missing and
// the result is the string with each "$(ref)" replaced, no more and no
// less.
func FuzzExpand(f *testing.F) {
	for _, seed := range []string{
		"", "plain", "$(params.version)", "$$(params.version)", "$(params.a)-$(job.name)/$(step.name)",
		"$(HOME) $(params.x", "$($(params.a))", "$(params.a)(params.b)", "$$$(params.a)", "$(params.)", "$()",
		"image:$(params.tag)@$(params.digest) $(JAVA_OPTS)", "\x00$(params.\xff)",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		refs := References(s)
		out, missing := Expand(s, nil)
		if out != s {
			t.Fatalf("Expand(%q, nil) = %q, want the string unchanged", s, out)
		}
		if strings.Join(missing, "\x00") != strings.Join(refs, "\x00") {
			t.Fatalf("Expand(%q, nil) reports missing %q, want every reference %q", s, missing, refs)
		}
		values := map[string]string{}
		removed := 0
		for _, r := range refs {
			values[r] = "V"
			removed += len("$(") + len(r) + len(")")
		}
		out, missing = Expand(s, values)
		if len(missing) != 0 {
			t.Fatalf("Expand(%q) with every value reports missing %q", s, missing)
		}
		if want := len(s) - removed + len(refs)*len("V"); len(out) != want {
			t.Fatalf("Expand(%q) = %q: length %d, want %d (each of %q replaced)", s, out, len(out), want, refs)
		}
		for _, r := range Unknown(s, Variables(nil)) {
			if !IsSluiceReference(r) {
				t.Fatalf("Unknown(%q) returned %q, not a Sluice reference", s, r)
			}
		}
	})
}
