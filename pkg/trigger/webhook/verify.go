package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names the receiver reads.
const (
	HeaderGitHubSignature = "X-Hub-Signature-256"
	HeaderGitHubEvent     = "X-GitHub-Event"
	HeaderGitHubDelivery  = "X-GitHub-Delivery"

	HeaderGitLabToken     = "X-Gitlab-Token"
	HeaderGitLabEvent     = "X-Gitlab-Event"
	HeaderGitLabEventUUID = "X-Gitlab-Event-UUID"

	// The names of pkg/controller's notifications, plus the timestamp.
	HeaderSluiceSignature = "X-Sluice-Signature"
	HeaderSluiceEvent     = "X-Sluice-Event"
	HeaderSluiceDelivery  = "X-Sluice-Delivery"
	HeaderSluiceTimestamp = "X-Sluice-Timestamp"

	HeaderSlackSignature = "X-Slack-Signature"
	HeaderSlackTimestamp = "X-Slack-Request-Timestamp"
)

// MaxSkew is how far a signed timestamp may be from now, either way.
const MaxSkew = 5 * time.Minute

var errNoSecret = errors.New("the trigger has no secret to check the signature with")

// VerifyGitHub checks X-Hub-Signature-256 against body.
func VerifyGitHub(h http.Header, body, secret []byte) error {
	if len(secret) == 0 {
		return errNoSecret
	}
	got, err := hexSignature(h, HeaderGitHubSignature, "sha256=")
	if err != nil {
		return err
	}
	if !hmac.Equal(got, mac(secret, body)) {
		return fmt.Errorf("%s does not match the body", HeaderGitHubSignature)
	}
	return nil
}

// VerifyGitLab checks X-Gitlab-Token.
func VerifyGitLab(h http.Header, secret []byte) error {
	if len(secret) == 0 {
		return errNoSecret
	}
	token := h.Get(HeaderGitLabToken)
	if token == "" {
		return fmt.Errorf("missing %s header", HeaderGitLabToken)
	}
	// Digests of equal length, so that the comparison takes the same time
	// whatever the token's length.
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return fmt.Errorf("%s does not match the trigger's secret", HeaderGitLabToken)
	}
	return nil
}

// VerifyBearer checks an "Authorization: Bearer <token>" header, the
// token a distribution registry's notification endpoint is configured to
// send, against secret, in constant time.
func VerifyBearer(h http.Header, secret []byte) error {
	if len(secret) == 0 {
		return errNoSecret
	}
	token, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return errors.New("missing Authorization: Bearer header")
	}
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return errors.New("the bearer token does not match the trigger's secret")
	}
	return nil
}

// VerifyGeneric checks X-Sluice-Signature over "<timestamp>.<body>", and
// the X-Sluice-Timestamp within MaxSkew of now.
func VerifyGeneric(h http.Header, body, secret []byte, now time.Time) error {
	if len(secret) == 0 {
		return errNoSecret
	}
	got, err := hexSignature(h, HeaderSluiceSignature, "sha256=")
	if err != nil {
		return err
	}
	ts := h.Get(HeaderSluiceTimestamp)
	if ts == "" {
		return fmt.Errorf("missing %s header", HeaderSluiceTimestamp)
	}
	if err := checkTimestamp(HeaderSluiceTimestamp, ts, now); err != nil {
		return err
	}
	signed := append([]byte(ts+"."), body...)
	if !hmac.Equal(got, mac(secret, signed)) {
		return fmt.Errorf("%s does not match the body", HeaderSluiceSignature)
	}
	return nil
}

// SignGeneric returns the X-Sluice-Signature of body sent at timestamp
// (Unix seconds), for senders and tests; an empty timestamp signs the body
// alone, as GitHub's X-Hub-Signature-256 does.
func SignGeneric(secret, body []byte, timestamp string) string {
	signed := body
	if timestamp != "" {
		signed = append([]byte(timestamp+"."), body...)
	}
	return "sha256=" + hex.EncodeToString(mac(secret, signed))
}

// VerifySlack checks a Slack request's v0 signature and its timestamp.
func VerifySlack(h http.Header, body, signingSecret []byte, now time.Time) error {
	if len(signingSecret) == 0 {
		return errNoSecret
	}
	ts := h.Get(HeaderSlackTimestamp)
	if ts == "" {
		return fmt.Errorf("missing %s header", HeaderSlackTimestamp)
	}
	if err := checkTimestamp(HeaderSlackTimestamp, ts, now); err != nil {
		return err
	}
	got, err := hexSignature(h, HeaderSlackSignature, "v0=")
	if err != nil {
		return err
	}
	if !hmac.Equal(got, mac(signingSecret, slackBase(ts, body))) {
		return fmt.Errorf("%s does not match the body", HeaderSlackSignature)
	}
	return nil
}

// SignSlack returns the X-Slack-Signature of body sent at timestamp, as
// Slack computes it, for tests.
func SignSlack(signingSecret, body []byte, timestamp string) string {
	return "v0=" + hex.EncodeToString(mac(signingSecret, slackBase(timestamp, body)))
}

func slackBase(ts string, body []byte) []byte {
	return append([]byte("v0:"+ts+":"), body...)
}

func mac(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// hexSignature reads header as prefix + hex of a SHA-256 MAC.
func hexSignature(h http.Header, header, prefix string) ([]byte, error) {
	v := h.Get(header)
	if v == "" {
		return nil, fmt.Errorf("missing %s header", header)
	}
	hexPart, ok := strings.CutPrefix(v, prefix)
	if !ok {
		return nil, fmt.Errorf("%s is not %s<hex>", header, prefix)
	}
	sig, err := hex.DecodeString(hexPart)
	if err != nil || len(sig) != sha256.Size {
		return nil, fmt.Errorf("%s is not %s and %d hex digits", header, prefix, 2*sha256.Size)
	}
	return sig, nil
}

// checkTimestamp checks ts, Unix seconds, is within MaxSkew of now.
func checkTimestamp(header, ts string, now time.Time) error {
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || secs <= 0 || secs > 1<<40 {
		return fmt.Errorf("%s is not a Unix time in seconds", header)
	}
	// Bounded above, so that neither the difference nor the Duration overflows.
	skew := now.Unix() - secs
	switch {
	case skew > int64(MaxSkew/time.Second):
		return fmt.Errorf("%s is %s old, more than %s: a replay or a wrong clock", header, time.Duration(skew)*time.Second, MaxSkew)
	case -skew > int64(MaxSkew/time.Second):
		return fmt.Errorf("%s is %s in the future, more than %s: a wrong clock", header, time.Duration(-skew)*time.Second, MaxSkew)
	}
	return nil
}
