// Package metrics holds the one metric of Triggers that the controller's
// trigger loop (schedule and image sources) and the hook receiver (webhook
// and Slack) both count, so that it is defined, and registered, once in
// the sluice-controller binary that runs both.
package metrics

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Results, the result label of sluice_trigger_events_total.
const (
	Started      = "started"      // a job was started
	Duplicate    = "duplicate"    // the event's job exists already: seen before, or by another replica
	Skipped      = "skipped"      // a schedule slot missed beyond catchUp or the deadline, or while suspended
	Refused      = "refused"      // pipelines/run refused the job (422)
	Ignored      = "ignored"      // suspended, filtered out, or not an event to fire on
	Answered     = "answered"     // a Slack status command was answered
	Unauthorized = "unauthorized" // a bad or missing signature, or a Slack user not allowed
	Rejected     = "rejected"     // a bad request: method, path, size, body, params, command
	Limited      = "limited"      // over the trigger's rate limit
	Error        = "error"        // the receiver could not do its part: a Secret, the API
)

// Events counts trigger events by source (schedule, image, webhook,
// slack, or none for a request that names no trigger) and result.
var Events = metrics.NewCounterVec(&metrics.CounterOpts{
	Namespace: "sluice", Subsystem: "trigger", Name: "events_total",
	Help: "Trigger events, by source (schedule, image, webhook, slack, none) and result (started, duplicate, skipped, refused, " +
		"ignored, answered, unauthorized, rejected, limited, error).",
	StabilityLevel: metrics.ALPHA,
}, []string{"source", "result"})

var registerOnce sync.Once

func init() {
	registerOnce.Do(func() { legacyregistry.MustRegister(Events) })
}
