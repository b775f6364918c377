// Package webhook checks and reads the requests of a Trigger's `webhook` and
// `slack` sources. It does no I/O: the receiver reads the body (at most
// 1 MiB) and passes it in with the headers and the current time.
//
// # Signatures
//
// Every check fails closed: an empty secret, a missing header or a
// malformed one is an error, and the receiver answers 401 to any error.
// Errors say what is wrong with the request and never contain the secret,
// the expected signature or the body.
//
//   - VerifyGitHub: X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256 of
//     the raw body, compared with hmac.Equal.
//   - VerifyGitLab: X-Gitlab-Token equals the secret, compared in constant
//     time over SHA-256 digests of both, so neither the content nor the
//     length of the secret leaks through timing.
//   - VerifyGeneric: Sluice's own notification scheme (pkg/controller's
//     notify.go), so a Sluice notification can trigger another Sluice:
//     X-Sluice-Signature is "sha256=" + hex HMAC-SHA256 of
//     "<timestamp>.<body>", where the timestamp is X-Sluice-Timestamp (Unix
//     seconds) and must be within MaxSkew of now, so a captured request
//     cannot be replayed later; X-Sluice-Event and X-Sluice-Delivery are
//     beside them.
//   - VerifySlack: X-Slack-Signature is "v0=" + hex HMAC-SHA256 of
//     "v0:<X-Slack-Request-Timestamp>:<body>" under the signing secret, and
//     the timestamp within MaxSkew of now, in either direction, as Slack
//     specifies.
//
// # Events
//
// ParseGitHub and ParseGitLab turn a GitHub "push" or a GitLab "Push Hook"
// or "Tag Push Hook" into an Event: push (a branch) or tag, the full ref,
// the branch or tag, the commit, the repository, the sender and the
// delivery id, plus the decoded body for $(webhook.body.<jsonpath>). A
// GitHub ping, a deleted branch or tag and any other event kind are not
// errors but Ignored, with the reason the receiver answers with 202.
// ParseGeneric reads any JSON body. Filter selects events by kind and by
// branch and tag globs (path.Match).
//
// # Slack
//
// ParseSlashCommand reads a slash command's form body; ParseCommand the
// grammar of its text:
//
//	run <pipeline> [env=<environment>] [key=value ...]
//	status <job>
package webhook
