package imagepolicy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSemverLatest(t *testing.T) {
	tags := []string{"latest", "1.2.0", "1.3.0", "2.0.0", "1.10.1-rc.1", "v1.4.2", "1.5", "20240101", "main-abc1234", "1.4.2+build.7", "v01.9.0"}
	cases := []struct {
		constraint string
		want       string
		found      bool
	}{
		{">=1.2.0 <2", "v1.4.2", true},         // 1.4.2+build.7 and v1.4.2 tie; the tag string decides
		{">=1.2.0, <2", "v1.4.2", true},        // comma is "and" too
		{"~1.3", "1.3.0", true},                // 1.3.x
		{"^2", "2.0.0", true},                  // 2.x
		{">=1.10.0-0 <2", "1.10.1-rc.1", true}, // a pre-release constraint admits pre-releases
		{">=1.10.0 <2", "", false},             // and only then
		{">=3", "", false},
		{"*", "2.0.0", true}, // 20240101 and 1.5 are not versions
	}
	for _, c := range cases {
		p, err := NewSemver(c.constraint)
		require.NoError(t, err, c.constraint)
		got, found := p.Latest(tags)
		assert.Equal(t, c.found, found, c.constraint)
		assert.Equal(t, c.want, got, c.constraint)
	}
	p, _ := NewSemver(">=1.2.0 <2")
	assert.Equal(t, []string{"v1.4.2", "1.4.2+build.7", "1.3.0", "1.2.0"}, p.Sorted(tags))
	for _, notVersion := range []string{"1.5", "1", "20240101", "v1.2", "1.2.3.4", "latest", "01.2.3", "v01.9.0"} {
		assert.False(t, p.Matches(notVersion), notVersion)
	}
}

func TestPatternLatest(t *testing.T) {
	cases := []struct {
		pattern string
		tags    []string
		want    string
	}{
		{`^main-(\d+)-[0-9a-f]{7}$`, []string{"main-9-aaaaaaa", "main-10-bbbbbbb", "main-2-ccccccc", "dev-99-ddddddd"}, "main-10-bbbbbbb"}, // numerically
		{`^(\d{8}T\d{6}Z)$`, []string{"20250101T120000Z", "20250301T080000Z", "20241231T235959Z"}, "20250301T080000Z"},
		{`^release-.*$`, []string{"release-b", "release-a", "release-c", "other"}, "release-c"},          // alphabetically, no group
		{`^v(\d+)$`, []string{"v9", "v10", "v10"}, "v10"},                                                // duplicates
		{`^build-(\d+|x)$`, []string{"build-2", "build-x", "build-10"}, "build-x"},                       // mixed: "x" sorts after digits by bytes
		{`^main-[0-9a-f]{7}$`, []string{"main-1234567", "main-abcdef0", "main-0fedcba"}, "main-abcdef0"}, // no order but bytes
	}
	for _, c := range cases {
		p, err := NewPattern(c.pattern)
		require.NoError(t, err, c.pattern)
		got, found := p.Latest(c.tags)
		assert.True(t, found, c.pattern)
		assert.Equal(t, c.want, got, c.pattern)
	}
	p, _ := NewPattern(`^main-`)
	_, found := p.Latest([]string{"dev", "latest"})
	assert.False(t, found)
}

func TestPolicyErrors(t *testing.T) {
	_, err := NewSemver("")
	assert.ErrorContains(t, err, "a semver constraint is required")
	_, err = NewSemver(">=banana")
	assert.ErrorContains(t, err, `invalid semver constraint ">=banana"`)
	_, err = NewPattern("")
	assert.ErrorContains(t, err, "a pattern is required")
	_, err = NewPattern("^main-(")
	assert.ErrorContains(t, err, `invalid pattern "^main-("`)
}

func TestDecide(t *testing.T) {
	semver, _ := NewSemver(">=1.2.0 <2")
	img := func(tag, digest string) *Image { return &Image{Tag: tag, Digest: digest} }
	cases := []struct {
		name    string
		last    *Image
		current Image
		fire    bool
		record  bool
	}{
		{"first observation is a baseline", nil, *img("1.2.0", "sha256:a"), false, true},
		{"the same again", img("1.2.0", "sha256:a"), *img("1.2.0", "sha256:a"), false, false},
		// The example: 1.3.0 fires, 2.0.0 does not.
		{"1.3.0 is newer and matches", img("1.2.0", "sha256:a"), *img("1.3.0", "sha256:b"), true, true},
		{"2.0.0 does not match", img("1.3.0", "sha256:b"), *img("2.0.0", "sha256:c"), false, false},
		{"a moved tag fires", img("1.3.0", "sha256:b"), *img("1.3.0", "sha256:d"), true, true},
		{"an older tag neither fires nor records", img("1.3.0", "sha256:b"), *img("1.2.0", "sha256:a"), false, false},
		{"the same version under another tag is not newer", img("1.3.0", "sha256:b"), *img("v1.3.0", "sha256:e"), false, false},
		{"a pre-release is not selected", img("1.3.0", "sha256:b"), *img("1.4.0-rc.1", "sha256:f"), false, false},
		{"a non-matching first observation is no baseline", nil, *img("latest", "sha256:z"), false, false},
	}
	for _, c := range cases {
		d := semver.Decide(c.last, c.current)
		assert.Equal(t, c.fire, d.Fire, "%s: %s", c.name, d.Reason)
		assert.Equal(t, c.record, d.Record, "%s: %s", c.name, d.Reason)
		assert.NotEmpty(t, d.Reason, c.name)
	}

	// The sequence, as a poll sees it: 1.3.0 then 2.0.0 pushed.
	var last *Image
	digests := map[string]string{"1.2.0": "sha256:a", "1.3.0": "sha256:b", "2.0.0": "sha256:c"}
	var fired []string
	for _, tags := range [][]string{{"1.2.0"}, {"1.2.0", "1.3.0"}, {"1.2.0", "1.3.0", "2.0.0"}} {
		tag, ok := semver.Latest(tags)
		require.True(t, ok)
		cur := Image{Tag: tag, Digest: digests[tag]}
		d := semver.Decide(last, cur)
		if d.Fire {
			fired = append(fired, cur.Tag+"@"+cur.Digest)
		}
		if d.Record {
			last = &cur
		}
	}
	assert.Equal(t, []string{"1.3.0@sha256:b"}, fired)

	pattern, _ := NewPattern(`^main-(\d+)$`)
	d := pattern.Decide(img("main-9", "sha256:a"), *img("main-10", "sha256:b"))
	assert.True(t, d.Fire, d.Reason)
	d = pattern.Decide(img("main-10", "sha256:b"), *img("main-9", "sha256:a"))
	assert.False(t, d.Fire, d.Reason)
}
