// Package params is the substitution of a Trigger's params: the references
// each source fills in, their validation when a Trigger is created, and
// their expansion when it fires.
//
//	image:    $(image.repository) $(image.tag) $(image.digest)
//	schedule: $(schedule.time)  (the slot, RFC 3339 in UTC)
//	webhook:  $(webhook.ref) $(webhook.commit) $(webhook.repository)
//	          $(webhook.sender) $(webhook.body.<jsonpath>)
//	slack:    $(slack.user) $(slack.text)
//
// $(webhook.body.head_commit.id) is the JSONPath {.head_commit.id} in the
// request's JSON body; it is checked to parse when the Trigger is created.
//
// The syntax and escapes are pkg/substitution's. A trigger's param is the
// value of a job's param, and the controller does not expand values again,
// so Sluice's own references ($(params.x), $(job.name), $(step.name)) mean
// nothing there and are rejected as unknown too, as is a reference of
// another source. Any other $(VAR) is left alone, for the kubelet.
package params
