package controller

import (
	"sync"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// ownWrites remembers the job each status write of this controller
// returned, until the job informer has caught up with it.
//
// A write wakes the job again (its own update event, and the Pod events
// that follow a Pod create), and that sync often runs before the informer
// has delivered the write: from the cache it would see the status before
// its own write, and decide again what it already did. It would then write
// with the old resourceVersion and get a conflict, to be retried with the
// workqueue's backoff, or try to create the Pod it just created. The
// object the write returned is the job as the server has it right after
// that write, so a sync starts from it while the cache still holds the
// version the write replaced. Any other version in the cache is the write
// or a later one (a write by someone else in between would have made ours
// fail), and then the cache is used and the entry dropped.
type ownWrites struct {
	mu   sync.Mutex
	jobs map[string]ownWrite
}

type ownWrite struct {
	// replaced is the resourceVersion the write replaced.
	replaced string
	job      *v1alpha1.PipelineJob
}

// remember records that key was written from the version replaced and is
// now job.
func (w *ownWrites) remember(key, replaced string, job *v1alpha1.PipelineJob) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.jobs == nil {
		w.jobs = map[string]ownWrite{}
	}
	w.jobs[key] = ownWrite{replaced: replaced, job: job}
}

// newest is the newer of the cached job and this controller's last write
// of it. The result is shared: callers copy it before changing it.
func (w *ownWrites) newest(key string, cached *v1alpha1.PipelineJob) *v1alpha1.PipelineJob {
	w.mu.Lock()
	defer w.mu.Unlock()
	own, ok := w.jobs[key]
	if !ok {
		return cached
	}
	// A write that did not change the resourceVersion (no real API
	// server does that) tells nothing of which is newer: the cache wins.
	if own.replaced != "" && own.job.ResourceVersion != own.replaced &&
		own.job.UID == cached.UID && own.replaced == cached.ResourceVersion {
		return own.job
	}
	delete(w.jobs, key)
	return cached
}

// forget drops what is remembered of key: its job is deleted.
func (w *ownWrites) forget(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.jobs, key)
}
