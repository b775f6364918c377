package receiver

import (
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/trigger/jobname"
	triggermetrics "github.com/sluice-dev/sluice/pkg/trigger/metrics"
	"github.com/sluice-dev/sluice/pkg/trigger/params"
	"github.com/sluice-dev/sluice/pkg/trigger/webhook"
)

// serveWebhook answers a GitHub, GitLab or Generic webhook whose body is
// read and whose trigger's secret is known.
func (r *Receiver) serveWebhook(q *request, body, secret []byte) {
	tr, src := q.trigger, q.trigger.Spec.Webhook
	h := q.r.Header
	var err error
	switch src.Provider {
	case v1alpha1.WebhookGitHub:
		err = webhook.VerifyGitHub(h, body, secret)
	case v1alpha1.WebhookGitLab:
		err = webhook.VerifyGitLab(h, secret)
	case v1alpha1.WebhookGeneric:
		// The timestamp is required: without it a captured request could
		// be replayed at any time later. Sluice's own notifications carry
		// none, so they cannot call a Generic trigger directly.
		err = webhook.VerifyGeneric(h, body, secret, r.opts.Clock.Now())
	default:
		err = fmt.Errorf("unknown provider %q", src.Provider)
	}
	if err != nil {
		// The check's errors say what is wrong with the request, never
		// the secret or the expected signature.
		r.recorder.Eventf(tr, corev1.EventTypeWarning, ReasonRejected, "a webhook request failed the signature check: %v", err)
		r.reply(q, http.StatusUnauthorized, answer{Result: triggermetrics.Unauthorized, Reason: err.Error()})
		return
	}
	if tr.Spec.Suspend {
		r.reply(q, http.StatusAccepted, answer{Result: triggermetrics.Ignored, Reason: "suspended"})
		return
	}
	var ev *webhook.Event
	switch src.Provider {
	case v1alpha1.WebhookGitHub:
		ev, err = webhook.ParseGitHub(h, body)
	case v1alpha1.WebhookGitLab:
		ev, err = webhook.ParseGitLab(h, body)
	default:
		ev, err = webhook.ParseGeneric(h, body)
	}
	if reason, ok := webhook.IsIgnored(err); ok {
		r.reply(q, http.StatusAccepted, answer{Result: triggermetrics.Ignored, Reason: reason})
		return
	}
	if err != nil {
		r.reply(q, http.StatusBadRequest, answer{Result: triggermetrics.Rejected, Reason: err.Error()})
		return
	}
	q.delivery = deliveryID(ev, h)
	if ok, reason := filterOf(src).Match(ev); !ok {
		r.reply(q, http.StatusAccepted, answer{Result: triggermetrics.Ignored, Reason: reason})
		return
	}
	run, err := params.Run(tr, jobname.ForEvent(tr.Name, q.delivery), v1alpha1.TriggerWebhook, detailOf(ev), params.WebhookValues(ev))
	if err != nil {
		r.reply(q, http.StatusBadRequest, answer{Result: triggermetrics.Rejected, Reason: err.Error()})
		return
	}
	r.answerStart(q, run)
}

// answerStart starts run's job and answers with the outcome: 201 started,
// 200 when the event's job exists already, 422 refused, 503 when the API
// could not be reached (the sender retries).
func (r *Receiver) answerStart(q *request, run *v1alpha1.RunRequest) {
	tr := q.trigger
	result, err := r.start(q.r.Context(), tr, run)
	switch result {
	case triggermetrics.Started:
		r.reply(q, http.StatusCreated, answer{Result: triggermetrics.Started, Job: run.Name})
	case triggermetrics.Duplicate:
		r.reply(q, http.StatusOK, answer{Result: triggermetrics.Duplicate, Job: run.Name, Reason: "this event has started its job already"})
	case triggermetrics.Rejected:
		r.reply(q, http.StatusUnprocessableEntity, answer{Result: triggermetrics.Rejected, Reason: err.Error()})
	default:
		klog.ErrorS(err, "starting a job", "trigger", klog.KObj(tr), "delivery", q.delivery, "job", run.Name)
		r.reply(q, http.StatusServiceUnavailable, answer{Result: triggermetrics.Error, Reason: "the job could not be started; try again"})
	}
}

// deliveryID identifies the event, to name its job: the provider's
// delivery id, the same for a redelivery. Without one (an old GitLab, a
// Generic sender without X-Sluice-Delivery) a Git event is its ref and
// commit, and a Generic event its signature: it covers the timestamp and
// the body, so a retry of the same signed request starts nothing twice,
// and a request signed again later is a new event.
func deliveryID(ev *webhook.Event, h http.Header) string {
	switch {
	case ev.DeliveryID != "":
		return ev.DeliveryID
	case ev.Ref != "":
		return ev.Ref + "@" + ev.Commit
	default:
		return "signature:" + h.Get(webhook.HeaderSluiceSignature)
	}
}

func filterOf(src *v1alpha1.WebhookSource) webhook.Filter {
	f := webhook.Filter{}
	for _, e := range src.Events {
		f.Events = append(f.Events, webhook.Kind(e))
	}
	if src.Filter != nil {
		f.Branches, f.Tags = src.Filter.Branches, src.Filter.Tags
	}
	return f
}

// detailOf describes ev for the job's spec.trigger.detail:
// "github push to main by alice (abc1234)".
func detailOf(ev *webhook.Event) string {
	provider := strings.ToLower(string(ev.Provider))
	commit := ev.Commit
	if len(commit) > 7 {
		commit = commit[:7]
	}
	switch ev.Kind {
	case webhook.KindPush:
		return fmt.Sprintf("%s push to %s by %s (%s)", provider, ev.Branch, ev.Sender, commit)
	case webhook.KindTag:
		return fmt.Sprintf("%s tag %s by %s (%s)", provider, ev.Tag, ev.Sender, commit)
	}
	if ev.DeliveryID != "" {
		return fmt.Sprintf("%s webhook delivery %s", provider, ev.DeliveryID)
	}
	return provider + " webhook"
}
