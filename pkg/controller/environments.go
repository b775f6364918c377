package controller

import (
	"context"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// recordRelease records a job of a pipeline that succeeded in an
// environment in the pipeline's status.environments, which says what each
// environment runs and what pipelines/rollback goes back to.
//
// Every sync of such a job calls it, not only the one that finished it: a
// controller that stopped between writing the job and the pipeline records
// the release when it next syncs the job, as a new leader syncs every job.
// The pipeline cache tells whether there is anything to do, so a release
// already recorded costs no request; the write starts from the cache and
// reads the pipeline from the API after a conflict (updatePipelineStatus).
func (c *Controller) recordRelease(ctx context.Context, job *v1alpha1.PipelineJob) error {
	if job.Spec.PipelineRef == nil || job.Spec.Environment == "" || job.Status.Phase != v1alpha1.JobSucceeded {
		return nil
	}
	name, env, rel := job.Spec.PipelineRef.Name, job.Spec.Environment, releaseOf(job)
	cached, err := c.pipelines.Pipelines(job.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil // deleted: there is nothing to record the release in
	}
	if err == nil && !setRelease(cached.Status.DeepCopy(), env, rel) {
		return nil
	}
	return c.updatePipelineStatus(ctx, job.Namespace, name, func(p *v1alpha1.Pipeline) bool {
		return setRelease(&p.Status, env, rel)
	})
}

// releaseOf is the release a job that succeeded is.
func releaseOf(job *v1alpha1.PipelineJob) *v1alpha1.Release {
	rel := &v1alpha1.Release{
		Job:            job.Name,
		Params:         slices.Clone(job.Spec.Params),
		CompletionTime: job.Status.CompletionTime.DeepCopy(),
		Trigger:        job.Spec.Trigger.Type,
	}
	if job.Spec.StartedBy != nil {
		rel.StartedBy = job.Spec.StartedBy.Username
	}
	return rel
}

// setRelease records rel in environment env of status, and reports
// whether that changed anything. The release that completed last is the
// current one, and the one before it the previous one: a release that
// completed before the current one (seen late) never replaces it, and
// becomes the previous one only if it completed after that. A release
// already recorded changes nothing.
func setRelease(status *v1alpha1.PipelineStatus, env string, rel *v1alpha1.Release) bool {
	i := slices.IndexFunc(status.Environments, func(e v1alpha1.EnvironmentStatus) bool { return e.Name == env })
	if i < 0 {
		// Kept in order of name, so the list reads the same every time.
		at := len(status.Environments)
		for k, e := range status.Environments {
			if e.Name > env {
				at = k
				break
			}
		}
		status.Environments = slices.Insert(status.Environments, at, v1alpha1.EnvironmentStatus{Name: env, Current: rel})
		return true
	}
	e := &status.Environments[i]
	switch {
	case e.Current != nil && e.Current.Job == rel.Job, e.Previous != nil && e.Previous.Job == rel.Job:
		return false
	case e.Current == nil || !completed(rel).Before(completed(e.Current)):
		e.Previous, e.Current = e.Current, rel
	case e.Previous == nil || completed(e.Previous).Before(completed(rel)):
		e.Previous = rel
	default:
		return false
	}
	return true
}

func completed(r *v1alpha1.Release) time.Time {
	if r.CompletionTime == nil {
		return time.Time{}
	}
	return r.CompletionTime.Time
}
