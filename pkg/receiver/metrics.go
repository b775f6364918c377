package receiver

// Sources, the source label of sluice_trigger_events_total
// (pkg/trigger/metrics); "none" when no trigger was found.
const (
	sourceWebhook = "webhook"
	sourceSlack   = "slack"
	sourceImage   = "image"
	sourceNone    = "none"
)
