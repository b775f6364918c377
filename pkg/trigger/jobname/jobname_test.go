package jobname

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestFor(t *testing.T) {
	assert.Equal(t, "nightly-1764730800", For("nightly", "1764730800"))
	long := strings.Repeat("a", 70)
	for _, prefix := range []string{long, "web.hooks", "-x-", "..", "Team_A"} {
		name := For(prefix, "0123456789ab")
		assert.Empty(t, validation.IsDNS1123Label(name), "%q gave %q", prefix, name)
		assert.True(t, strings.HasSuffix(name, "-0123456789ab"), name)
		assert.Equal(t, name, For(prefix, "0123456789ab"), "the same event, the same name")
	}
	assert.NotEqual(t, For(long+"1", "e"), For(long+"2", "e"), "a cut prefix keeps a hash of the whole")
}

func TestForEvent(t *testing.T) {
	assert.Equal(t, ForEvent("web", "a"), ForEvent("web", "a"))
	assert.NotEqual(t, ForEvent("web", "a"), ForEvent("web", "b"))
	assert.Regexp(t, `^web-[0-9a-f]{12}$`, ForEvent("web", "a"))
	for _, tr := range []string{"my.trigger", strings.Repeat("a", 63), "..."} {
		n := ForEvent(tr, "id")
		assert.LessOrEqual(t, len(n), MaxLength, tr)
		assert.Empty(t, validation.IsDNS1123Label(n), tr)
	}
	assert.NotEqual(t, ForEvent("my.trigger", "id"), ForEvent("my-trigger", "id"))
}
