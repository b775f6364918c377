package receiver

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/trigger/imagewatch"
	triggermetrics "github.com/sluice-dev/sluice/pkg/trigger/metrics"
	"github.com/sluice-dev/sluice/pkg/trigger/webhook"
)

// serveRegistry answers a distribution registry's notification to an
// image trigger whose push token is known.
//
// The notification is only a prompt: what it says was pushed is not
// trusted, and does not fire anything by itself. The receiver reads the
// registry as the trigger's poll does and decides the same way, against
// the baseline in the trigger's status, so a notification fires exactly
// what the next poll would have, under the same job name, only sooner. It
// writes no status: the leader's loop sees the job start and records the
// image.
func (r *Receiver) serveRegistry(q *request, body, secret []byte) {
	tr, src := q.trigger, q.trigger.Spec.Image
	if err := webhook.VerifyBearer(q.r.Header, secret); err != nil {
		r.recorder.Eventf(tr, corev1.EventTypeWarning, ReasonRejected, "a registry notification failed the token check: %v", err)
		r.reply(q, http.StatusUnauthorized, answer{Result: triggermetrics.Unauthorized, Reason: err.Error()})
		return
	}
	events, err := webhook.ParseRegistry(body)
	if err != nil {
		r.reply(q, http.StatusBadRequest, answer{Result: triggermetrics.Rejected, Reason: err.Error()})
		return
	}
	repo, err := name.NewRepository(src.Repository)
	if err != nil {
		// Validation keeps such a repository out.
		r.reply(q, http.StatusAccepted, answer{Result: triggermetrics.Ignored, Reason: "the trigger's repository does not parse"})
		return
	}
	tags, id := webhook.TagPushes(events, repo.RepositoryStr())
	q.delivery = id
	if len(tags) == 0 {
		// Layers, pulls, other repositories: registries notify of them all.
		r.reply(q, http.StatusAccepted, answer{Result: triggermetrics.Ignored, Reason: "no tag of " + repo.RepositoryStr() + " was pushed"})
		return
	}
	if tr.Spec.Suspend {
		r.reply(q, http.StatusAccepted, answer{Result: triggermetrics.Ignored, Reason: "suspended"})
		return
	}
	policy, err := imagewatch.Policy(src)
	if err != nil {
		r.reply(q, http.StatusAccepted, answer{Result: triggermetrics.Ignored, Reason: "the trigger's policy does not parse"})
		return
	}
	matching := false
	for _, tag := range tags {
		matching = matching || policy.Matches(tag)
	}
	if !matching {
		r.reply(q, http.StatusAccepted, answer{Result: triggermetrics.Ignored, Reason: fmt.Sprintf("no tag pushed (%v) matches the policy", tags)})
		return
	}

	obs, err := r.images.Latest(q.r.Context(), tr.Namespace, src)
	if err != nil {
		// The trigger's owner learns why from its Events and its Ready
		// condition; the registry retries the notification, and the poll
		// reads again at its interval.
		var failed *imagewatch.Error
		if errors.As(err, &failed) {
			r.recorder.Eventf(tr, corev1.EventTypeWarning, ReasonNotReady, "a registry notification could not be acted on: %s: %v", failed.Reason, err)
		} else {
			klog.ErrorS(err, "reading a registry for a notification", "trigger", klog.KObj(tr), "delivery", q.delivery)
		}
		r.reply(q, http.StatusServiceUnavailable, answer{Result: triggermetrics.Error, Reason: "the registry could not be read; try again"})
		return
	}
	plan, err := imagewatch.Decide(tr, obs, r.opts.Clock.Now())
	switch {
	case err != nil:
		r.reply(q, http.StatusAccepted, answer{Result: triggermetrics.Ignored, Reason: err.Error()})
		return
	case plan.Baseline:
		r.reply(q, http.StatusAccepted, answer{Result: triggermetrics.Ignored, Reason: "the trigger has no baseline yet: its first read records one"})
		return
	case plan.Run == nil:
		r.reply(q, http.StatusAccepted, answer{Result: triggermetrics.Ignored, Reason: plan.Reason})
		return
	}
	r.answerStart(q, plan.Run)
}
