package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var (
	secret = []byte("It's a Secret to Everybody")
	now    = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// assertRejected checks err is a rejection that names the problem and
// shows neither the secret nor the body.
func assertRejected(t *testing.T, err error, want string, body []byte, name string) {
	t.Helper()
	if !assert.Error(t, err, name) {
		return
	}
	assert.Contains(t, err.Error(), want, name)
	assert.NotContains(t, err.Error(), string(secret), name)
	if len(body) > 0 {
		assert.NotContains(t, err.Error(), string(body), name)
	}
}

func TestVerifyGitHub(t *testing.T) {
	// GitHub's documented example: secret "It's a Secret to Everybody",
	// payload "Hello, World!".
	body := []byte("Hello, World!")
	const documented = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	assert.NoError(t, VerifyGitHub(header(HeaderGitHubSignature, documented), body, secret))

	cases := []struct {
		name   string
		h      http.Header
		body   []byte
		secret []byte
		want   string
	}{
		{"tampered body", header(HeaderGitHubSignature, documented), []byte("Hello, World?"), secret, "does not match the body"},
		{"wrong key", header(HeaderGitHubSignature, documented), body, []byte("another secret"), "does not match the body"},
		{"missing", header(), body, secret, "missing X-Hub-Signature-256"},
		{"sha1 only", header("X-Hub-Signature", "sha1=01234"), body, secret, "missing X-Hub-Signature-256"},
		{"no prefix", header(HeaderGitHubSignature, documented[7:]), body, secret, "is not sha256=<hex>"},
		{"not hex", header(HeaderGitHubSignature, "sha256=zz"), body, secret, "64 hex digits"},
		{"short", header(HeaderGitHubSignature, documented[:40]), body, secret, "64 hex digits"},
		{"no secret configured", header(HeaderGitHubSignature, documented), body, nil, "no secret"},
	}
	for _, c := range cases {
		assertRejected(t, VerifyGitHub(c.h, c.body, c.secret), c.want, c.body, c.name)
	}
}

func TestVerifyGitLab(t *testing.T) {
	assert.NoError(t, VerifyGitLab(header(HeaderGitLabToken, string(secret)), secret))
	for name, token := range map[string]string{
		"wrong":  "It's a Secret to Everybodz",
		"prefix": "It's a Secret",
		"longer": string(secret) + "!",
	} {
		assertRejected(t, VerifyGitLab(header(HeaderGitLabToken, token), secret), "does not match", nil, name)
	}
	assertRejected(t, VerifyGitLab(header(), secret), "missing X-Gitlab-Token", nil, "missing")
	assertRejected(t, VerifyGitLab(header(HeaderGitLabToken, ""), nil), "no secret", nil, "no secret configured")
}

func TestVerifyGeneric(t *testing.T) {
	body := []byte(`{"event":"Succeeded"}`)
	ts := strconv.FormatInt(now.Unix(), 10)

	// The signature covers the timestamp.
	timed := header(HeaderSluiceSignature, SignGeneric(secret, body, ts), HeaderSluiceTimestamp, ts)
	assert.NoError(t, VerifyGeneric(timed, body, secret, now))
	assert.NoError(t, VerifyGeneric(timed, body, secret, now.Add(MaxSkew)), "5 minutes late is in time")
	assert.NoError(t, VerifyGeneric(timed, body, secret, now.Add(-MaxSkew)), "5 minutes early is in time")

	cases := []struct {
		name string
		h    http.Header
		body []byte
		now  time.Time
		want string
	}{
		{"no timestamp", header(HeaderSluiceSignature, SignGeneric(secret, body, "")), body, now, "missing X-Sluice-Timestamp"},
		{"tampered body", timed, []byte(`{"event":"Failed"}`), now, "does not match the body"},
		{"stale", timed, body, now.Add(MaxSkew + time.Second), "5m1s old"},
		{"future", timed, body, now.Add(-MaxSkew - time.Second), "5m1s in the future"},
		// A timestamp changed, or added to a signature of another, breaks
		// it: the timestamp cannot be moved to replay a request.
		{"timestamp added to a signature without one", header(HeaderSluiceSignature, SignGeneric(secret, body, ""), HeaderSluiceTimestamp, ts), body, now, "does not match"},
		{"timestamp changed", header(HeaderSluiceSignature, SignGeneric(secret, body, ts), HeaderSluiceTimestamp, strconv.FormatInt(now.Unix()+1, 10)), body, now, "does not match"},
		{"timestamp not a number", header(HeaderSluiceSignature, SignGeneric(secret, body, "x"), HeaderSluiceTimestamp, "x"), body, now, "not a Unix time"},
		{"timestamp far in the past", header(HeaderSluiceSignature, SignGeneric(secret, body, "-9223372036854775808"), HeaderSluiceTimestamp, "-9223372036854775808"), body, now, "not a Unix time"},
		{"timestamp far in the future", header(HeaderSluiceSignature, SignGeneric(secret, body, "9223372036854775807"), HeaderSluiceTimestamp, "9223372036854775807"), body, now, "not a Unix time"},
		{"missing signature", header(HeaderSluiceTimestamp, ts), body, now, "missing X-Sluice-Signature"},
	}
	for _, c := range cases {
		assertRejected(t, VerifyGeneric(c.h, c.body, secret, c.now), c.want, c.body, c.name)
	}
	assertRejected(t, VerifyGeneric(timed, body, []byte("wrong key"), now), "does not match", body, "wrong key")
}

func TestVerifySlack(t *testing.T) {
	// Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
	slackSecret := []byte("8f742231b10e8888abcd99yyyzzz85a5")
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
	const ts = "1531420618"
	documented := header(HeaderSlackSignature, "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", HeaderSlackTimestamp, ts)
	then := time.Unix(1531420618, 0)
	assert.NoError(t, VerifySlack(documented, body, slackSecret, then))
	assert.Equal(t, documented.Get(HeaderSlackSignature), SignSlack(slackSecret, body, ts))

	cases := []struct {
		name string
		h    http.Header
		body []byte
		now  time.Time
		key  []byte
		want string
	}{
		{"replayed an hour later", documented, body, then.Add(time.Hour), slackSecret, "1h0m0s old"},
		{"from the future", documented, body, then.Add(-6 * time.Minute), slackSecret, "in the future"},
		{"tampered body", documented, append(body, '&'), then, slackSecret, "does not match the body"},
		{"wrong key", documented, body, then, secret, "does not match the body"},
		{"timestamp changed", header(HeaderSlackSignature, documented.Get(HeaderSlackSignature), HeaderSlackTimestamp, "1531420619"), body, then, slackSecret, "does not match"},
		{"no timestamp", header(HeaderSlackSignature, documented.Get(HeaderSlackSignature)), body, then, slackSecret, "missing X-Slack-Request-Timestamp"},
		{"no signature", header(HeaderSlackTimestamp, ts), body, then, slackSecret, "missing X-Slack-Signature"},
		{"v1 signature", header(HeaderSlackSignature, "v1=a2114d", HeaderSlackTimestamp, ts), body, then, slackSecret, "is not v0=<hex>"},
		{"no secret configured", documented, body, then, nil, "no secret"},
	}
	for _, c := range cases {
		assertRejected(t, VerifySlack(c.h, c.body, c.key, c.now), c.want, c.body, c.name)
		if c.key != nil {
			assert.NotContains(t, VerifySlack(c.h, c.body, c.key, c.now).Error(), string(c.key), c.name)
		}
	}
}

// TestSignGenericIsHMAC pins the scheme independently of the code under test.
func TestSignGenericIsHMAC(t *testing.T) {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("1700000000.{}"))
	assert.Equal(t, "sha256="+hex.EncodeToString(m.Sum(nil)), SignGeneric(secret, []byte("{}"), "1700000000"))
}
