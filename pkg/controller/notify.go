package controller

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
)

// Header names of a webhook notification.
const (
	HeaderSignature = "X-Sluice-Signature" // "sha256=" + hex(HMAC-SHA256(secret, body))
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

// Sign is the X-Sluice-Signature of body under key.
func Sign(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
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
	secret    v1alpha1.SecretKeyRef
	body      []byte
	id        string
	result    v1alpha1.NotificationStatus
}

// Notifier delivers webhook notifications off the reconcile loop. It keeps
// each delivery's latest result in memory and asks the controller to sync
// the job, whose sync merges the result into status.notifications: the
// controller stays the only writer of job status.
//
// What it keeps in memory is only a cache of work under way: what must be
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
	return &Notifier{
		kube:        kube,
		client:      &http.Client{Timeout: o.Timeout},
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
// already under way, and forgets results the job's status now holds.
func (n *Notifier) Dispatch(job *v1alpha1.PipelineJob) {
	key := job.Namespace + "/" + job.Name
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ns := range job.Status.Notifications {
		k := deliveryKey{key, job.UID, notification{ns.Event, ns.URL}}
		d, known := n.deliveries[k]
		switch {
		case ns.State != v1alpha1.NotificationPending && ns.State != "":
			// Written as Delivered or Failed: done.
			delete(n.deliveries, k)
		case !known:
			hook := webhookFor(job, ns.Event, ns.URL)
			if hook == nil || hook.SecretRef == nil {
				continue
			}
			body, err := json.Marshal(payload(job, ns.Event))
			if err != nil {
				klog.ErrorS(err, "encoding a notification", "job", key)
				continue
			}
			d = &delivery{namespace: job.Namespace, secret: *hook.SecretRef, body: body,
				id: fmt.Sprintf("%s-%s-%x", job.UID, ns.Event, sha256.Sum256([]byte(ns.URL)))[:64], result: ns}
			n.deliveries[k] = d
			n.queue.Add(k)
		}
	}
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
	switch {
	case err == nil:
		result.State = v1alpha1.NotificationDelivered
		result.Message = fmt.Sprintf("delivered (HTTP %d)", code)
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
	secret, err := n.kube.CoreV1().Secrets(d.namespace).Get(ctx, d.secret.Name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("reading the signing key: %w", err)
	}
	key, ok := secret.Data[d.secret.Key]
	if !ok {
		return 0, fmt.Errorf("secret %s/%s has no key %q", d.namespace, d.secret.Name, d.secret.Key)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sluice-controller")
	req.Header.Set(HeaderSignature, Sign(key, d.body))
	var p struct {
		Event string `json:"event"`
	}
	_ = json.Unmarshal(d.body, &p)
	req.Header.Set(HeaderEvent, p.Event)
	req.Header.Set(HeaderDelivery, d.id)
	resp, err := n.client.Do(req)
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

// webhookFor finds the webhook of a notification in the job's snapshot.
func webhookFor(job *v1alpha1.PipelineJob, ev v1alpha1.NotifyEvent, url string) *v1alpha1.Webhook {
	if job.Status.PipelineSpec == nil {
		return nil
	}
	for _, n := range job.Status.PipelineSpec.Notify {
		if n.Webhook != nil && n.Webhook.URL == url {
			for _, on := range n.Events {
				if on == ev {
					return n.Webhook
				}
			}
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
