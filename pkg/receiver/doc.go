// Package receiver is the HTTP endpoint of the Triggers whose events come
// from outside: a Git host's webhook, a generic signed webhook and a Slack
// slash command. It serves POST /hooks/<namespace>/<trigger> in every
// sluice-controller replica, not only the leader, so that a Service can
// spread calls over all of them; it needs no leadership because the job it
// starts is named after the event, and the API's AlreadyExists makes a
// second start of the same event, by any replica, a no-op.
//
// A request goes through, in order: the method (405), the path and the
// Trigger, read from an informer's cache (404, the same body whether the
// trigger does not exist or has no webhook or slack source), the per
// trigger rate limit (429), the body's size (413 over 1 MiB), the Secret
// (503 while it is missing), the signature (401), then suspend, the
// event's kind and the filter (202, "ignored" with the reason), the
// params (400), and pipelines/run (201 "started", 200 "duplicate").
// Nothing is created before the signature is checked.
//
// The Secret holding a trigger's key is read with a GET by name on each
// request: the controller's RBAC grants get on secrets and neither list
// nor watch, so that it cannot read every Secret of the cluster, only the
// ones that triggers (and notifications) name.
//
// Secrets and bodies are never logged; a log line names the trigger, the
// delivery and the result. The Trigger's status is the leader's to write;
// the receiver records an Event on the Trigger instead (Normal Fired,
// Warning Rejected).
//
// A Slack run command that starts a job is owed the job's result: the
// replica that took it keeps the command's response_url in memory
// (SlackReplies, never anywhere a reader of jobs could see it) and posts
// the result there when an informer of jobs sees the job end, or that it
// still runs when the URL's 30 minutes are nearly over. Best effort: a
// restart loses what is owed.
package receiver
