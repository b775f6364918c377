package controller

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	// Registers the workqueue metrics (depth, adds, latency) for client-go queues.
	_ "k8s.io/component-base/metrics/prometheus/workqueue"
)

var (
	jobsStarted = metrics.NewCounter(&metrics.CounterOpts{
		Namespace: "sluice", Subsystem: "controller", Name: "jobs_started_total",
		Help: "PipelineJobs started.", StabilityLevel: metrics.ALPHA,
	})
	jobsFinished = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "sluice", Subsystem: "controller", Name: "jobs_finished_total",
		Help: "PipelineJobs finished, by phase.", StabilityLevel: metrics.ALPHA,
	}, []string{"phase"})
	stepDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace: "sluice", Subsystem: "controller", Name: "step_duration_seconds",
		Help:    "How long steps took, from their first attempt to their end, by result.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600}, StabilityLevel: metrics.ALPHA,
	}, []string{"phase"})
	reconcileErrors = metrics.NewCounter(&metrics.CounterOpts{
		Namespace: "sluice", Subsystem: "controller", Name: "reconcile_errors_total",
		Help: "Syncs of a PipelineJob that failed and were retried.", StabilityLevel: metrics.ALPHA,
	})
	reconcileDuration = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace: "sluice", Subsystem: "controller", Name: "reconcile_duration_seconds",
		Help: "How long one sync of a PipelineJob took.", StabilityLevel: metrics.ALPHA,
		Buckets: metrics.ExponentialBuckets(0.001, 2, 14),
	})
	notificationAttempts = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "sluice", Subsystem: "controller", Name: "notification_attempts_total",
		Help: "Webhook delivery attempts, by event and resulting state.", StabilityLevel: metrics.ALPHA,
	}, []string{"event", "state"})
	logsArchived = metrics.NewCounter(&metrics.CounterOpts{
		Namespace: "sluice", Subsystem: "controller", Name: "logs_archived_total",
		Help: "Action outputs copied from their Pod to the log archive.", StabilityLevel: metrics.ALPHA,
	})
	logBytesArchived = metrics.NewCounter(&metrics.CounterOpts{
		Namespace: "sluice", Subsystem: "controller", Name: "log_archived_bytes_total",
		Help: "Bytes of action output copied to the log archive, before the archive's limit.", StabilityLevel: metrics.ALPHA,
	})
	logArchiveFailures = metrics.NewCounter(&metrics.CounterOpts{
		Namespace: "sluice", Subsystem: "controller", Name: "log_archive_failures_total",
		Help: "Copies of an action's output to the log archive that failed and are retried.", StabilityLevel: metrics.ALPHA,
	})
	logsLost = metrics.NewCounter(&metrics.CounterOpts{
		Namespace: "sluice", Subsystem: "controller", Name: "logs_lost_total",
		Help: "Action outputs recorded Lost: their Pod went before they were archived.", StabilityLevel: metrics.ALPHA,
	})
)

var registerOnce sync.Once

func init() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(jobsStarted, jobsFinished, stepDuration, reconcileErrors, reconcileDuration, notificationAttempts,
			logsArchived, logBytesArchived, logArchiveFailures, logsLost)
	})
}
