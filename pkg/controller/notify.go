package controller

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/egress"
	"github.com/sluice-dev/sluice/pkg/secretkey"
)

// Header names of a webhook notification.
const (
	HeaderSignature = "X-Sluice-Signature" // "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body))
	HeaderTimestamp = "X-Sluice-Timestamp" // Unix seconds when the attempt was signed
	HeaderEvent     = "X-Sluice-Event"
	HeaderDelivery  = "X-Sluice-Delivery" // the same for every attempt of one notification
)

// Payload is the JSON body of a webhook notification.
type Payload struct {
	Event          v1alpha1.NotifyEvent `json:"event"`
	Job            JobRef               `json:"job"`
	Pipeline       string               `json:"pipeline,omitempty"`
	Phase          v1alpha1.JobPhase    `json:"phase"`
	Message        string               `json:"message,omitempty"`
	FailedStep     string               `json:"failedStep,omitempty"`
	FailedAction   string               `json:"failedAction,omitempty"`
	ExitCode       *int32               `json:"exitCode,omitempty"`
	StartedBy      string               `json:"startedBy,omitempty"`
	StartTime      *metav1.Time         `json:"startTime,omitempty"`
	CompletionTime *metav1.Time         `json:"completionTime,omitempty"`
	// Logs is a kubectl command that shows what to look at next: the
	// output of the action that failed (pipelinejobs/log, which keeps it
	// after its Pod is gone), or the job's description.
	Logs string `json:"logs"`
	// Environment is the job's environment, if it has one.
	Environment string `json:"environment,omitempty"`
	// Step, Approvers and Required describe the approval gate of a
	// WaitingForApproval notification: who may decide it, and how many
	// distinct approvals pass it.
	Step      string              `json:"step,omitempty"`
	Approvers []v1alpha1.Approver `json:"approvers,omitempty"`
	Required  int32               `json:"required,omitempty"`
}

// JobRef names a job.
type JobRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
}

// Sign is the X-Sluice-Signature of body sent at timestamp (Unix seconds,
// the X-Sluice-Timestamp) under key: the HMAC-SHA256 of
// "<timestamp>.<body>". The timestamp is signed so that a receiver can
// refuse a captured notification replayed later; it is the scheme of the
// receiver's Generic webhooks, so one Sluice's notifications can start
// another's pipelines.
func Sign(key []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

type notification struct {
	event v1alpha1.NotifyEvent
	url   string
}

// deliveryKey names a delivery. The job's UID is part of it, so that a job
// deleted and created again under the same name never gets the results of
// the earlier job's deliveries.
type deliveryKey struct {
	job string // namespace/name
	uid types.UID
	notification
}

type delivery struct {
	namespace string
	// secret is the webhook's signing key, or the Slack URL's key.
	secret v1alpha1.SecretKeyRef
	// slack posts an unsigned message to the URL in secret.
	slack  bool
	body   []byte
	id     string
	result v1alpha1.NotificationStatus
}

// slackTargetPrefix starts the target of a Slack notification in
// status.notifications[].url: the Secret that holds its URL, never the URL,
// which carries a token.
const slackTargetPrefix = "slack:"

// notificationTarget is how status.notifications names n's target: the
// webhook's URL, or slack:<secret>/<key>; "" for neither.
func notificationTarget(n v1alpha1.Notification) string {
	switch {
	case n.Webhook != nil:
		return n.Webhook.URL
	case n.Slack != nil:
		return slackTargetPrefix + n.Slack.URLSecretRef.Name + "/" + n.Slack.URLSecretRef.Key
	}
	return ""
}

// Notifier delivers webhook notifications off the reconcile loop. It keeps
// each delivery's latest result in memory and asks the controller to sync
// the job, whose sync merges the result into status.notifications: the
// controller stays the only writer of job status.
//
// What it keeps in memory is only a cache of work under way (and of work
// done, until the informer's copy of the job holds its result): what must be
// delivered is in status.notifications (written Pending with the status
// change that caused it), and every sync hands the job to Dispatch. A new
// leader, or a restarted controller, syncs every job once its caches are
// filled and so starts again every notification still Pending, counting
// attempts on from the status. A result not yet written is lost with the
// process and the attempt is made again, with the same X-Sluice-Delivery
// id: delivery is at least once.
type Notifier struct {
	kube        kubernetes.Interface
	client      *http.Client
	clock       clock.Clock
	maxAttempts int32
	backoff     time.Duration
	queue       workqueue.TypedDelayingInterface[deliveryKey]
	onResult    func(job string)

	mu         sync.Mutex
	deliveries map[deliveryKey]*delivery
}

// NotifierOptions configure webhook delivery.
type NotifierOptions struct {
	// Timeout of one attempt. Default 10s.
	Timeout time.Duration
	// MaxAttempts before a notification is Failed. Default 5.
	MaxAttempts int32
	// Backoff before the second attempt; it doubles after each. Default 2s.
	Backoff time.Duration
	Clock   clock.Clock
	// Egress decides which addresses deliveries may connect to: the
	// webhook URLs come from whoever may edit a pipeline. A delivery to a
	// refused address fails at once, without retries. Default
	// egress.Default().
	Egress *egress.Policy
}

// NewNotifier returns a notifier that reads signing keys with kube.
func NewNotifier(kube kubernetes.Interface, o NotifierOptions) *Notifier {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff == 0 {
		o.Backoff = 2 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Egress == nil {
		o.Egress = egress.Default()
	}
	return &Notifier{
		kube:        kube,
		client:      &http.Client{Timeout: o.Timeout, Transport: o.Egress.Transport()},
		clock:       o.Clock,
		maxAttempts: o.MaxAttempts,
		backoff:     o.Backoff,
		queue:       workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[deliveryKey]{Name: "notifications"}),
		deliveries:  map[deliveryKey]*delivery{},
	}
}

// Run delivers notifications with the given number of workers until ctx ends.
func (n *Notifier) Run(ctx context.Context, workers int) {
	defer n.queue.ShutDown()
	for range workers {
		go func() {
			for {
				k, quit := n.queue.Get()
				if quit {
					return
				}
				n.attempt(ctx, k)
				n.queue.Done(k)
			}
		}()
	}
	<-ctx.Done()
}

// Dispatch starts delivering the job's Pending notifications that are not
// already under way or done. A delivery that is done stays known until
// Settled: a sync may still read a copy of the job from before its result
// was written (the informer lags behind the controller's own writes), and
// that copy's Pending must not start it again.
func (n *Notifier) Dispatch(job *v1alpha1.PipelineJob) {
	key := job.Namespace + "/" + job.Name
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ns := range job.Status.Notifications {
		k := deliveryKey{key, job.UID, notification{ns.Event, ns.URL}}
		d, known := n.deliveries[k]
		switch {
		case ns.State != v1alpha1.NotificationPending && ns.State != "":
			// Written as Delivered or Failed: done, kept until Settled.
		case !known:
			d = newDelivery(job, ns)
			if d == nil {
				continue
			}
			n.deliveries[k] = d
			n.queue.Add(k)
		}
	}
}

// Settled forgets the deliveries whose result the informer's copy of the
// job holds: the informer never goes back to an older copy of an object, so
// no sync can see those notifications Pending again.
func (n *Notifier) Settled(cached *v1alpha1.PipelineJob) {
	key := cached.Namespace + "/" + cached.Name
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ns := range cached.Status.Notifications {
		if ns.State != v1alpha1.NotificationPending && ns.State != "" {
			delete(n.deliveries, deliveryKey{key, cached.UID, notification{ns.Event, ns.URL}})
		}
	}
}

// newDelivery builds the delivery of a notification of the job, or nil
// when the job's snapshot has no such notification.
func newDelivery(job *v1alpha1.PipelineJob, ns v1alpha1.NotificationStatus) *delivery {
	target := notificationFor(job, ns.Event, ns.URL)
	if target == nil {
		return nil
	}
	d := &delivery{namespace: job.Namespace, result: ns,
		id: fmt.Sprintf("%s-%s-%x", job.UID, ns.Event, sha256.Sum256([]byte(ns.URL)))[:64]}
	var err error
	switch {
	case target.Webhook != nil && target.Webhook.SecretRef != nil:
		d.secret = *target.Webhook.SecretRef
		d.body, err = json.Marshal(payload(job, ns.Event))
	case target.Slack != nil:
		d.secret, d.slack = target.Slack.URLSecretRef, true
		d.body, err = json.Marshal(slackMessage(payload(job, ns.Event)))
	default:
		return nil
	}
	if err != nil {
		klog.ErrorS(err, "encoding a notification", "job", klog.KObj(job))
		return nil
	}
	return d
}

// Merge copies the latest delivery results into the job's notification statuses.
func (n *Notifier) Merge(job *v1alpha1.PipelineJob) {
	key := job.Namespace + "/" + job.Name
	list := job.Status.Notifications
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range list {
		if d, ok := n.deliveries[deliveryKey{key, job.UID, notification{list[i].Event, list[i].URL}}]; ok && d.result.Attempts >= list[i].Attempts {
			list[i] = d.result
		}
	}
}

// Forget drops a deleted job's deliveries.
func (n *Notifier) Forget(job *v1alpha1.PipelineJob) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k := range n.deliveries {
		if k.uid == job.UID {
			delete(n.deliveries, k)
		}
	}
}

// attempt makes one delivery attempt and records its result.
func (n *Notifier) attempt(ctx context.Context, k deliveryKey) {
	n.mu.Lock()
	d, ok := n.deliveries[k]
	if !ok || d.result.State != v1alpha1.NotificationPending {
		n.mu.Unlock()
		return
	}
	attempt := d.result.Attempts + 1
	n.mu.Unlock()

	code, err := n.post(ctx, k.url, d)
	now := metav1.NewTime(n.clock.Now())
	result := v1alpha1.NotificationStatus{Event: k.event, URL: k.url, Attempts: attempt, LastAttemptTime: &now, ResponseCode: int32(code)}
	var retryIn time.Duration
	var refused *egress.RefusedError
	switch {
	case err == nil:
		result.State = v1alpha1.NotificationDelivered
		result.Message = fmt.Sprintf("delivered (HTTP %d)", code)
	case errors.As(err, &refused):
		// The same URL would be refused again: only the operator's
		// policy or the pipeline's notify can change that.
		result.State = v1alpha1.NotificationFailed
		result.Message = "not sent: " + refused.Error()
	case attempt >= n.maxAttempts:
		result.State = v1alpha1.NotificationFailed
		result.Message = fmt.Sprintf("gave up after %d attempts: %v", attempt, err)
	default:
		retryIn = n.backoff << (attempt - 1)
		result.State = v1alpha1.NotificationPending
		result.Message = fmt.Sprintf("attempt %d failed: %v; retrying in %s", attempt, err, retryIn)
	}
	notificationAttempts.WithLabelValues(string(k.event), string(result.State)).Inc()

	n.mu.Lock()
	if cur, ok := n.deliveries[k]; ok && cur == d {
		d.result = result
	}
	n.mu.Unlock()
	if retryIn > 0 {
		n.queue.AddAfter(k, retryIn)
	}
	if n.onResult != nil {
		n.onResult(k.job)
	}
}

// post signs and sends one attempt; it fails unless the answer is 2xx.
func (n *Notifier) post(ctx context.Context, url string, d *delivery) (int, error) {
	what := "the signing key"
	if d.slack {
		what = "the Slack webhook URL"
	}
	key, err := secretkey.Read(ctx, n.kube.CoreV1(), d.namespace, d.secret)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", what, err)
	}
	if d.slack {
		// The URL is the secret; the target is named for it in status.
		url = strings.TrimSpace(string(key))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.body))
	if err != nil {
		if d.slack {
			return 0, fmt.Errorf("the Slack webhook URL in secret %s/%s is not a URL", d.namespace, d.secret.Name)
		}
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sluice-controller")
	if !d.slack {
		// Each attempt is signed when it is sent: a retry is not a replay.
		ts := strconv.FormatInt(n.clock.Now().Unix(), 10)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, Sign(key, ts, d.body))
		var p struct {
			Event string `json:"event"`
		}
		_ = json.Unmarshal(d.body, &p)
		req.Header.Set(HeaderEvent, p.Event)
		req.Header.Set(HeaderDelivery, d.id)
	}
	resp, err := n.client.Do(req)
	var refused *egress.RefusedError
	if errors.As(err, &refused) {
		// The refusal alone: the *url.Error around it quotes the URL, and
		// a Slack URL carries a token.
		return 0, refused
	}
	if err != nil && d.slack {
		// A *url.Error quotes the URL, and with it the token.
		return 0, errors.New("posting to the Slack webhook failed: " + redactURL(err))
	}
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// notificationFor finds the notification of event ev and target in the
// job's snapshot.
func notificationFor(job *v1alpha1.PipelineJob, ev v1alpha1.NotifyEvent, target string) *v1alpha1.Notification {
	if job.Status.PipelineSpec == nil {
		return nil
	}
	for i, n := range job.Status.PipelineSpec.Notify {
		if notificationTarget(n) == target && slices.Contains(n.Events, ev) {
			return &job.Status.PipelineSpec.Notify[i]
		}
	}
	return nil
}

// payload describes the job for a notification of event ev.
func payload(job *v1alpha1.PipelineJob, ev v1alpha1.NotifyEvent) Payload {
	s := &job.Status
	p := Payload{
		Event:          ev,
		Job:            JobRef{Name: job.Name, Namespace: job.Namespace, UID: string(job.UID)},
		Phase:          s.Phase,
		Message:        s.Message,
		StartTime:      s.StartTime,
		CompletionTime: s.CompletionTime,
		Logs:           fmt.Sprintf("kubectl -n %s describe pipelinejob %s", job.Namespace, job.Name),
	}
	if job.Spec.PipelineRef != nil {
		p.Pipeline = job.Spec.PipelineRef.Name
	}
	if job.Spec.StartedBy != nil {
		p.StartedBy = job.Spec.StartedBy.Username
	}
	p.Environment = job.Spec.Environment
	if i := waitingGate(job); ev == v1alpha1.NotifyWaitingForApproval && i >= 0 {
		gate := s.PipelineSpec.Steps[i].Approval
		p.Step, p.Approvers, p.Required = s.Steps[i].Name, gate.Approvers, max(gate.Required, 1)
	}
	for _, st := range s.Steps {
		if st.Phase != v1alpha1.StepFailed {
			continue
		}
		p.FailedStep = st.Name
		for _, a := range st.Actions {
			if a.ExitCode != nil && *a.ExitCode != 0 {
				p.FailedAction, p.ExitCode = a.Name, a.ExitCode
				p.Logs = fmt.Sprintf("kubectl get --raw '/apis/sluice.dev/v1alpha1/namespaces/%s/pipelinejobs/%s/log?step=%s&action=%s'",
					job.Namespace, job.Name, st.Name, a.Name)
				break
			}
		}
	}
	return p
}

// slackMessage is the Slack message of a notification: what happened to
// which job, where it failed, who started it and the command that shows
// its output, in Slack's mrkdwn.
func slackMessage(p Payload) map[string]string {
	var b strings.Builder
	icon := map[v1alpha1.NotifyEvent]string{
		v1alpha1.NotifyStarted: ":arrow_forward:", v1alpha1.NotifySucceeded: ":white_check_mark:",
		v1alpha1.NotifyFailed: ":x:", v1alpha1.NotifyCancelled: ":no_entry_sign:", v1alpha1.NotifyWaitingForApproval: ":raised_hand:",
	}[p.Event]
	what := map[v1alpha1.NotifyEvent]string{
		v1alpha1.NotifyStarted: "started", v1alpha1.NotifySucceeded: "succeeded", v1alpha1.NotifyFailed: "failed",
		v1alpha1.NotifyCancelled: "was cancelled", v1alpha1.NotifyWaitingForApproval: "is waiting for approval",
	}[p.Event]
	fmt.Fprintf(&b, "%s Job *%s/%s*", icon, p.Job.Namespace, p.Job.Name)
	if p.Pipeline != "" {
		fmt.Fprintf(&b, " of pipeline *%s*", p.Pipeline)
	}
	if p.Environment != "" {
		fmt.Fprintf(&b, " in *%s*", p.Environment)
	}
	fmt.Fprintf(&b, " %s (phase %s).", what, p.Phase)
	if p.FailedStep != "" {
		fmt.Fprintf(&b, "\nFailed at step *%s*", p.FailedStep)
		if p.FailedAction != "" && p.ExitCode != nil {
			fmt.Fprintf(&b, ", action *%s*, exit code %d", p.FailedAction, *p.ExitCode)
		}
		b.WriteString(".")
	} else if p.Message != "" {
		fmt.Fprintf(&b, "\n%s", p.Message)
	}
	if p.Event == v1alpha1.NotifyWaitingForApproval && p.Step != "" {
		var who []string
		for _, a := range p.Approvers {
			who = append(who, strings.ToLower(string(a.Kind))+" "+a.Name)
		}
		fmt.Fprintf(&b, "\nStep *%s* needs %d approval(s) from %s.", p.Step, p.Required, strings.Join(who, ", "))
	}
	if p.StartedBy != "" {
		fmt.Fprintf(&b, "\nStarted by %s.", p.StartedBy)
	}
	fmt.Fprintf(&b, "\n`%s`", p.Logs)
	return map[string]string{"text": b.String()}
}

// redactURL is err's message without the URL a *url.Error quotes.
func redactURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return "request failed"
}
