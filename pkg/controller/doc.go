// Package controller runs PipelineJobs, in the sample-controller shape:
// informers on PipelineJobs and Pipelines, and on Pods and PVCs carrying
// the sluice.dev/job label, feed a rate-limited workqueue of job keys; one
// sync per key starts the job (or holds it in its pipeline and
// environment's queue), runs each step as one Pod (its actions as init
// containers then the main container) or waits at its approval gate,
// retries with backoff, enforces timeouts and cancellation, writes the
// status once per sync, records Events, keeps the Pipeline's lastJob and
// environments, and hands webhook notifications to the Notifier. It deletes
// finished jobs once their ttlSecondsAfterFinished has passed, and, in a
// workqueue of its own, those beyond their pipeline's history limits.
//
// Each action's output is copied to the log archive (pipelinejobs/log) by
// the controller's own copy queue and workers, through a LogCopier, as its
// container ends; a step moves on only once the output of its attempt is
// archived, and its Pods are deleted as the pipeline's podRetention says,
// only after that.
//
// The trigger loop (triggers.go) runs in the same process, so only the
// leader schedules: an informer on Triggers feeds a workqueue of trigger
// keys, and one sync per key starts the jobs of a schedule trigger's due
// slots through pipelines/run, under names derived from the slots, writes
// the trigger's status once and wakes the trigger at its next slot.
package controller
