package webhook

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The envelopes are what Debian's docker-registry sent when
// go-containerregistry pushed team/web:1.3.0: a layer, then the manifest.
func TestParseRegistry(t *testing.T) {
	body, err := os.ReadFile("testdata/registry-push-tag.json")
	require.NoError(t, err)
	events, err := ParseRegistry(body)
	require.NoError(t, err)
	require.Len(t, events, 1)
	e := events[0]
	assert.Equal(t, "push", e.Action)
	assert.Equal(t, "team/web", e.Target.Repository)
	assert.Equal(t, "1.3.0", e.Target.Tag)
	assert.Equal(t, "sha256:9cce1dcf8e414a34e67d96614728777b23c8c6b9a03dd25f2d429457c6aabb22", e.Target.Digest)
	assert.Equal(t, "83085736-0009-4ade-b34b-8c52892e1cc8", e.ID)

	tags, id := TagPushes(events, "team/web")
	assert.Equal(t, []string{"1.3.0"}, tags)
	assert.Equal(t, e.ID, id)
	tags, _ = TagPushes(events, "team/api")
	assert.Empty(t, tags, "another repository")

	layer, err := os.ReadFile("testdata/registry-push-layer.json")
	require.NoError(t, err)
	events, err = ParseRegistry(layer)
	require.NoError(t, err)
	tags, id = TagPushes(events, "team/web")
	assert.Empty(t, tags, "a layer push has no tag")
	assert.Empty(t, id)

	events = append(events, e, e)
	pull := e
	pull.Action = "pull"
	pull.Target.Tag = "9.9.9"
	events = append(events, pull)
	tags, _ = TagPushes(events, "team/web")
	assert.Equal(t, []string{"1.3.0"}, tags, "each tag once, pulls ignored")

	for _, bad := range []string{"", "[]", `{"events": {}}`, "not json"} {
		_, err := ParseRegistry([]byte(bad))
		assert.Error(t, err, bad)
	}
	events, err = ParseRegistry([]byte(`{"events": []}`))
	require.NoError(t, err)
	assert.Empty(t, events)
}

func TestVerifyBearer(t *testing.T) {
	assert.NoError(t, VerifyBearer(header("Authorization", "Bearer "+string(secret)), secret))
	for name, value := range map[string]string{
		"wrong":     "Bearer It's a Secret to Everybodz",
		"prefix":    "Bearer It's a Secret",
		"longer":    "Bearer " + string(secret) + "!",
		"basic":     "Basic " + string(secret),
		"no scheme": string(secret),
		"empty":     "Bearer ",
	} {
		err := VerifyBearer(header("Authorization", value), secret)
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), string(secret), name)
	}
	assert.ErrorContains(t, VerifyBearer(header(), secret), "missing Authorization")
	assert.ErrorContains(t, VerifyBearer(header("Authorization", "Bearer x"), nil), "no secret")
}
