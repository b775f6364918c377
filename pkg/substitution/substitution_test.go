package substitution

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestReferences(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"plain", nil},
		{"$(params.a)", []string{"params.a"}},
		{"x-$(params.a)-$(job.name)/$(step.name)", []string{"params.a", "job.name", "step.name"}},
		{"$(HOME) and $(PATH)", nil},              // the kubelet's env references
		{"$$(params.a)", nil},                     // escaped
		{"$$$(params.a)", []string{"params.a"}},   // escaped $ then a reference
		{"$(params.a", nil},                       // unterminated
		{"$(params.ünï)", []string{"params.ünï"}}, // reported as written; validation rejects it
		{"$(job.name)$(job.name)", []string{"job.name", "job.name"}},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, References(c.in), c.in)
	}
}

func TestUnknown(t *testing.T) {
	vars := Variables([]string{"version"})
	assert.Empty(t, Unknown("$(params.version) $(job.name) $(job.namespace) $(step.name) $(HOME)", vars))
	assert.Equal(t, []string{"job.uid", "params.nope"}, Unknown("$(params.nope) $(job.uid) $(params.nope)", vars))
}

func TestExpand(t *testing.T) {
	values := map[string]string{"params.v": "1.2", "job.name": "build-7"}
	out, missing := Expand("img:$(params.v) for $(job.name) in $(HOME) $$(params.v)", values)
	assert.Equal(t, "img:1.2 for build-7 in $(HOME) $$(params.v)", out)
	assert.Empty(t, missing)

	out, missing = Expand("$(params.v)-$(params.w)", values)
	assert.Equal(t, "1.2-$(params.w)", out)
	assert.Equal(t, []string{"params.w"}, missing)

	// A value that itself looks like a reference is not expanded again.
	out, _ = Expand("$(params.v)", map[string]string{"params.v": "$(job.name)"})
	assert.Equal(t, "$(job.name)", out)
}

func TestResolveParams(t *testing.T) {
	def := func(s string) *string { return &s }
	declared := []Declared{{Name: "version"}, {Name: "env", Default: def("staging")}, {Name: "empty", Default: def("")}}
	path := field.NewPath("spec", "params")
	cases := []struct {
		name  string
		given []Given
		want  map[string]string
		errs  []string
	}{
		{"defaults fill in", []Given{{"version", "1.2"}},
			map[string]string{"params.version": "1.2", "params.env": "staging", "params.empty": ""}, nil},
		{"a given value wins over the default", []Given{{"version", "1.2"}, {"env", "prod"}, {"empty", "x"}},
			map[string]string{"params.version": "1.2", "params.env": "prod", "params.empty": "x"}, nil},
		{"an empty value is a value", []Given{{"version", ""}},
			map[string]string{"params.version": "", "params.env": "staging", "params.empty": ""}, nil},
		{"required and missing", nil, nil,
			[]string{`spec.params: Required value: param "version" has no default and must be set`}},
		{"unknown, then missing", []Given{{"colour", "blue"}}, nil, []string{
			`spec.params[0].name: Unsupported value: "colour": supported values: "version", "env", "empty"`,
			`spec.params: Required value: param "version" has no default and must be set`,
		}},
	}
	for _, c := range cases {
		got, errs := ResolveParams(declared, c.given, path)
		assert.Equal(t, c.want, got, c.name)
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		assert.Equal(t, c.errs, msgs, c.name)
	}
	got, errs := ResolveParams(nil, nil, path)
	assert.Empty(t, errs)
	assert.Empty(t, got, "a pipeline without params")
}

func TestOtherNamespaces(t *testing.T) {
	isImage := func(expr string) bool { return strings.HasPrefix(expr, "image.") }
	assert.Equal(t, []string{"image.tag"}, ReferencesOf("$(image.tag) $(params.a) $$(image.digest)", isImage))
	out, missing := ExpandOf("$(image.tag)-$(image.nope)-$(params.a)", isImage, func(expr string) (string, bool) {
		return "1.3.0", expr == "image.tag"
	})
	assert.Equal(t, "1.3.0-$(image.nope)-$(params.a)", out)
	assert.Equal(t, []string{"image.nope"}, missing)
}
