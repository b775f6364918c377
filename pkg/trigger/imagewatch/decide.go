package imagewatch

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/trigger/imagepolicy"
	"github.com/sluice-dev/sluice/pkg/trigger/jobname"
	"github.com/sluice-dev/sluice/pkg/trigger/params"
)

// Plan is what a trigger does with an observation.
type Plan struct {
	// Record is the status.image to write: the observation, or the
	// baseline kept with the time of this read.
	Record v1alpha1.ImageObservation
	// Baseline is set when Record is a new baseline: the first read, or
	// the first of another repository or policy. Nothing fires.
	Baseline bool
	// Run starts the job of a new image; nil when nothing fires.
	Run *v1alpha1.RunRequest
	// Reason says why, for logs, Events and answers to notifications.
	Reason string
}

// Decide plans what tr, an image trigger, does with obs, read at now. The
// trigger's status.image is the last observation: it is a baseline to
// compare with while it was of the same repository and its tag still
// matches the policy. A policy widened to include the followed tag keeps
// it, so only what is newer fires.
func Decide(tr *v1alpha1.Trigger, obs Observation, now time.Time) (Plan, error) {
	src := tr.Spec.Image
	policy, err := Policy(src)
	if err != nil {
		return Plan{}, err
	}
	seen := metav1.NewTime(now)
	current := v1alpha1.ImageObservation{Repository: src.Repository, Tag: obs.Tag, Digest: obs.Digest, Time: &seen}
	last := tr.Status.Image
	if last == nil || last.Repository != src.Repository || (last.Tag != "" && !policy.Matches(last.Tag)) {
		reason := fmt.Sprintf("no tag of %s matches the policy: the first one pushed will fire", src.Repository)
		if obs.Found {
			reason = fmt.Sprintf("%s:%s (%s) recorded as the baseline; a newer tag will fire", src.Repository, obs.Tag, obs.Digest)
		}
		return Plan{Record: current, Baseline: true, Reason: reason}, nil
	}
	if !obs.Found {
		// The followed tag may have been deleted: what was seen stays the
		// baseline, so that pushing it again does not fire.
		kept := *last
		kept.Time = &seen
		return Plan{Record: kept, Reason: fmt.Sprintf("no tag of %s matches the policy", src.Repository)}, nil
	}
	var d imagepolicy.Decision
	if last.Tag == "" {
		d = imagepolicy.Decision{Fire: true, Record: true, Reason: fmt.Sprintf("first tag %s (%s)", obs.Tag, obs.Digest)}
	} else {
		d = policy.Decide(&imagepolicy.Image{Tag: last.Tag, Digest: last.Digest}, obs.Image)
	}
	plan := Plan{Reason: d.Reason}
	if !d.Record {
		kept := *last
		kept.Time = &seen
		plan.Record = kept
		return plan, nil
	}
	plan.Record = current
	if !d.Fire {
		return plan, nil
	}
	detail := fmt.Sprintf("image %s:%s (%s)", src.Repository, obs.Tag, shortDigest(obs.Digest))
	plan.Run, err = params.Run(tr, JobName(tr.Name, src.Repository, obs.Image), v1alpha1.TriggerImage, detail,
		params.ImageValues(src.Repository, obs.Tag, obs.Digest))
	return plan, err
}

// JobName is the name of the job an image starts: the trigger's name and
// a hash of the repository, tag and digest. The leader's poll and a
// notification taken by any replica name it alike, so it starts once; a
// tag moved to another digest is another image and starts another job.
func JobName(trigger, repository string, img imagepolicy.Image) string {
	return jobname.ForEvent(trigger, repository+":"+img.Tag+"@"+img.Digest)
}

// shortDigest is "sha256:" and the first 12 hex digits, as a detail shows it.
func shortDigest(d string) string {
	algo, hexDigits, ok := strings.Cut(d, ":")
	if !ok || len(hexDigits) <= 12 {
		return d
	}
	return algo + ":" + hexDigits[:12]
}
