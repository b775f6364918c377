package postgres

import (
	"sync"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	queryDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace:      "sluice",
		Subsystem:      "storage",
		Name:           "query_duration_seconds",
		Help:           "Latency of PostgreSQL queries made by the storage, by operation.",
		Buckets:        []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		StabilityLevel: metrics.ALPHA,
	}, []string{"operation", "result"})
	watchers = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "sluice", Subsystem: "storage", Name: "watchers",
		Help:           "Watches currently served by the storage.",
		StabilityLevel: metrics.ALPHA,
	})
	publishedRevision = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "sluice", Subsystem: "storage", Name: "published_revision",
		Help:           "The highest revision visible to readers and watchers.",
		StabilityLevel: metrics.ALPHA,
	})
	compactionLag = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace: "sluice", Subsystem: "storage", Name: "compaction_lag_revisions",
		Help:           "Revisions of history kept: the published revision minus the compacted revision.",
		StabilityLevel: metrics.ALPHA,
	})
	compactedEvents = metrics.NewCounter(&metrics.CounterOpts{
		Namespace: "sluice", Subsystem: "storage", Name: "compacted_events_total",
		Help:           "History rows deleted by compaction.",
		StabilityLevel: metrics.ALPHA,
	})
	holesClosed = metrics.NewCounter(&metrics.CounterOpts{
		Namespace: "sluice", Subsystem: "storage", Name: "revision_holes_closed_total",
		Help:           "Revisions drawn by writes that never committed, closed with gap rows.",
		StabilityLevel: metrics.ALPHA,
	})
	slowWatchersClosed = metrics.NewCounter(&metrics.CounterOpts{
		Namespace: "sluice", Subsystem: "storage", Name: "slow_watchers_closed_total",
		Help:           "Watches closed with 410 Gone because they fell too far behind.",
		StabilityLevel: metrics.ALPHA,
	})
)

var registerMetrics sync.Once

func init() {
	registerMetrics.Do(func() {
		legacyregistry.MustRegister(queryDuration, watchers, publishedRevision, compactionLag, compactedEvents, holesClosed, slowWatchersClosed)
	})
}

// timed runs a query and records its latency under op.
func (b *Backend) timed(op string, fn func() error) error {
	start := time.Now()
	err := fn()
	result := "ok"
	if err != nil {
		result = "error"
	}
	queryDuration.WithLabelValues(op, result).Observe(time.Since(start).Seconds())
	return err
}
