package webhook

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func payload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

func TestParseRecordedPayloads(t *testing.T) {
	cases := []struct {
		file string
		h    []string
		want Event
	}{
		{"github-push.json", []string{HeaderGitHubEvent, "push", HeaderGitHubDelivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958"}, Event{
			Provider: GitHub, Kind: KindPush, Ref: "refs/heads/main", Branch: "main",
			Commit: "abc1234d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", Repository: "octo-org/web",
			CloneURL: "https://github.com/octo-org/web.git", Sender: "alice", DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958"}},
		{"github-push-tag.json", []string{HeaderGitHubEvent, "push", HeaderGitHubDelivery, "d1"}, Event{
			Provider: GitHub, Kind: KindTag, Ref: "refs/tags/v1.3.0", Tag: "v1.3.0",
			Commit: "4f5e6d7c8b9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c", Repository: "octo-org/web",
			CloneURL: "https://github.com/octo-org/web.git", Sender: "bob", DeliveryID: "d1"}},
		{"gitlab-push.json", []string{HeaderGitLabEvent, "Push Hook", HeaderGitLabEventUUID, "13792a34-cac6-4fda-95a8-c58e00a3954e"}, Event{
			Provider: GitLab, Kind: KindPush, Ref: "refs/heads/main", Branch: "main",
			Commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Repository: "mike/diaspora",
			CloneURL: "http://example.com/mike/diaspora.git", Sender: "jsmith", DeliveryID: "13792a34-cac6-4fda-95a8-c58e00a3954e"}},
		{"gitlab-tag-push.json", []string{HeaderGitLabEvent, "Tag Push Hook", HeaderGitLabEventUUID, "u2"}, Event{
			Provider: GitLab, Kind: KindTag, Ref: "refs/tags/v1.0.0", Tag: "v1.0.0",
			Commit: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7", Repository: "jsmith/example",
			CloneURL: "http://example.com/jsmith/example.git", Sender: "jsmith", DeliveryID: "u2"}},
	}
	for _, c := range cases {
		h := header(c.h...)
		var e *Event
		var err error
		if c.want.Provider == GitHub {
			e, err = ParseGitHub(h, payload(t, c.file))
		} else {
			e, err = ParseGitLab(h, payload(t, c.file))
		}
		require.NoError(t, err, c.file)
		assert.NotNil(t, e.Body, c.file)
		e.Body = nil
		assert.Equal(t, c.want, *e, c.file)
	}
}

func TestParseIgnored(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"github ping", second(ParseGitHub(header(HeaderGitHubEvent, "ping"), payload(t, "github-ping.json"))), "GitHub ping"},
		{"github deleted branch", second(ParseGitHub(header(HeaderGitHubEvent, "push"), payload(t, "github-push-deleted.json"))), "refs/heads/feature/old was deleted"},
		{"github issues", second(ParseGitHub(header(HeaderGitHubEvent, "issues"), []byte(`{}`))), `GitHub "issues" events do not trigger`},
		{"gitlab deleted branch", second(ParseGitLab(header(HeaderGitLabEvent, "Push Hook"), payload(t, "gitlab-push-deleted.json"))), "refs/heads/feature/old was deleted"},
		{"gitlab merge request", second(ParseGitLab(header(HeaderGitLabEvent, "Merge Request Hook"), []byte(`{}`))), `GitLab "Merge Request Hook" events do not trigger`},
		{"github notes ref", second(ParseGitHub(header(HeaderGitHubEvent, "push"), []byte(`{"ref":"refs/notes/commits","after":"abc"}`))), "neither a branch nor a tag"},
	}
	for _, c := range cases {
		reason, ok := IsIgnored(c.err)
		assert.True(t, ok, "%s: %v", c.name, c.err)
		assert.Contains(t, reason, c.want, c.name)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"no event header", second(ParseGitHub(header(), payload(t, "github-push.json"))), "missing X-GitHub-Event"},
		{"not JSON", second(ParseGitHub(header(HeaderGitHubEvent, "push"), []byte("ref=main"))), "not JSON"},
		{"two values", second(ParseGitHub(header(HeaderGitHubEvent, "push"), []byte("{} {}"))), "more than one JSON value"},
		{"wrong shape", second(ParseGitHub(header(HeaderGitHubEvent, "push"), []byte(`{"ref":1}`))), "not a push event's JSON"},
		{"no ref", second(ParseGitHub(header(HeaderGitHubEvent, "push"), []byte(`{"after":"abc"}`))), "no ref"},
		{"no commit", second(ParseGitHub(header(HeaderGitHubEvent, "push"), []byte(`{"ref":"refs/heads/main"}`))), "no commit"},
		{"gitlab no header", second(ParseGitLab(header(), payload(t, "gitlab-push.json"))), "missing X-Gitlab-Event"},
		{"gitlab tag hook with a branch", second(ParseGitLab(header(HeaderGitLabEvent, "Tag Push Hook"), payload(t, "gitlab-push.json"))), `"Tag Push Hook" has ref "refs/heads/main"`},
		{"generic not JSON", second(ParseGeneric(header(), []byte("<xml/>"))), "not JSON"},
	}
	for _, c := range cases {
		if assert.Error(t, c.err, c.name) {
			_, ignored := IsIgnored(c.err)
			assert.False(t, ignored, c.name)
			assert.Contains(t, c.err.Error(), c.want, c.name)
		}
	}
}

func second(_ *Event, err error) error { return err }

func TestLookup(t *testing.T) {
	e, err := ParseGitHub(header(HeaderGitHubEvent, "push"), payload(t, "github-push.json"))
	require.NoError(t, err)
	cases := map[string]string{
		"head_commit.id":          "abc1234d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
		"repository.id":           "186853002", // as written, not 1.86853002e+08
		"repository.private":      "true",
		"base_ref":                "null",
		"commits[0].modified":     `["web/login.go"]`,
		"commits[*].author.name":  "Alice",
		"pusher":                  `{"email":"alice@example.com","name":"alice"}`,
		"head_commit.author.name": "Alice",
	}
	for path, want := range cases {
		got, err := e.Lookup(path)
		if assert.NoError(t, err, path) {
			assert.Equal(t, want, got, path)
		}
	}
	_, err = e.Lookup("head_commit.nope")
	assert.ErrorContains(t, err, "webhook.body.head_commit.nope")
	_, err = e.Lookup("commits[")
	assert.ErrorContains(t, err, "invalid JSONPath")
	_, err = BodyPath("")
	assert.Error(t, err)
	_, err = BodyPath("head_commit.id")
	assert.NoError(t, err)
}

func TestFilter(t *testing.T) {
	push := &Event{Provider: GitHub, Kind: KindPush, Ref: "refs/heads/release/1.x", Branch: "release/1.x"}
	tag := &Event{Provider: GitHub, Kind: KindTag, Ref: "refs/tags/v1.3.0", Tag: "v1.3.0"}
	generic := &Event{Provider: Generic}
	cases := []struct {
		name   string
		f      Filter
		e      *Event
		ok     bool
		reason string
	}{
		{"empty filter passes all", Filter{}, push, true, ""},
		{"empty filter passes generic", Filter{}, generic, true, ""},
		{"events", Filter{Events: []Kind{KindTag}}, push, false, "push events do not fire this trigger"},
		{"generic with events", Filter{Events: []Kind{KindPush}}, generic, false, "a Generic webhook has no event kind"},
		{"branch glob", Filter{Branches: []string{"main", "release/*"}}, push, true, ""},
		{"branch glob does not cross /", Filter{Branches: []string{"*"}}, push, false, `branch "release/1.x" matches none of ["*"]`},
		{"branch filter leaves tags alone", Filter{Branches: []string{"main"}}, tag, true, ""},
		{"tag glob", Filter{Tags: []string{"v*"}}, tag, true, ""},
		{"tag glob misses", Filter{Tags: []string{"v2.*"}}, tag, false, `tag "v1.3.0" matches none of ["v2.*"]`},
		{"both", Filter{Events: []Kind{KindPush, KindTag}, Branches: []string{"main"}, Tags: []string{"v*"}}, tag, true, ""},
	}
	for _, c := range cases {
		ok, reason := c.f.Match(c.e)
		assert.Equal(t, c.ok, ok, c.name)
		assert.Contains(t, reason, c.reason, c.name)
		if c.ok {
			assert.Empty(t, reason, c.name)
		}
	}
	assert.NoError(t, ValidateGlob("release/*"))
	assert.ErrorContains(t, ValidateGlob("[a-"), `invalid glob "[a-"`)
}
