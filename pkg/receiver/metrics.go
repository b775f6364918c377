package receiver

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Results of a request, the result label of sluice_trigger_events_total.
const (
	resultStarted      = "started"      // a job was started
	resultDuplicate    = "duplicate"    // the event's job exists already
	resultIgnored      = "ignored"      // suspended, filtered out, or not an event to fire on
	resultAnswered     = "answered"     // a Slack status command was answered
	resultUnauthorized = "unauthorized" // bad or missing signature, or a Slack user not allowed
	resultRejected     = "rejected"     // bad request: method, path, size, body, params, command
	resultLimited      = "limited"      // over the trigger's rate limit
	resultError        = "error"        // the receiver could not do its part: Secret, API
)

// Sources, the source label; "none" when no trigger was found.
const (
	sourceWebhook = "webhook"
	sourceSlack   = "slack"
	sourceNone    = "none"
)

var (
	triggerEvents = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "sluice", Name: "trigger_events_total",
		Help:           "Requests to the trigger receiver, by source (webhook, slack, none) and result (started, duplicate, ignored, answered, unauthorized, rejected, limited, error).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"source", "result"})
)

var registerOnce sync.Once

func init() {
	registerOnce.Do(func() { legacyregistry.MustRegister(triggerEvents) })
}
