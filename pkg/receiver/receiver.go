package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	sluiceinformers "github.com/sluice-dev/sluice/pkg/generated/informers/externalversions/sluice/v1alpha1"
	sluicelisters "github.com/sluice-dev/sluice/pkg/generated/listers/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/secretkey"
	"github.com/sluice-dev/sluice/pkg/trigger/imagewatch"
	triggermetrics "github.com/sluice-dev/sluice/pkg/trigger/metrics"
)

// MaxBodyBytes is the largest body the receiver reads; a larger one is
// answered 413. GitHub caps its payloads at 25 MB but a push's is a few
// kilobytes; a Slack command's is smaller still.
const MaxBodyBytes = 1 << 20

// PathPrefix starts the receiver's URLs: /hooks/<namespace>/<trigger>.
const PathPrefix = "/hooks/"

// Event reasons recorded on a Trigger.
const (
	ReasonFired    = "Fired"    // Normal: a job was started
	ReasonRejected = "Rejected" // Warning: a request failed the signature check or made a job the API refused
	ReasonNotReady = "NotReady" // Warning: the trigger's Secret cannot be read
)

// Options tune a Receiver.
type Options struct {
	// RateLimit is how many requests per second one trigger accepts,
	// sustained, and Burst how many at once; more are answered 429.
	RateLimit rate.Limit
	Burst     int
	// Clock is the time signatures' timestamps are checked against.
	Clock clock.PassiveClock
	// RegistryTransport carries the reads of an image trigger's registry
	// that a push notification prompts; the controller gives it its
	// egress policy's. Nil is http.DefaultTransport.
	RegistryTransport http.RoundTripper
	// SlackReplies, when set, posts the result of a job a Slack command
	// started to the command's response_url once the job ends; nil: the
	// command is answered once, when the job starts.
	SlackReplies *SlackReplies
}

// DefaultOptions: 10 requests per second per trigger, 20 at once, far
// above what a Git host or a Slack channel sends.
func DefaultOptions() Options {
	return Options{RateLimit: 10, Burst: 20, Clock: clock.RealClock{}}
}

// Receiver serves POST /hooks/<namespace>/<trigger>.
type Receiver struct {
	triggers sluicelisters.TriggerLister
	synced   cache.InformerSynced
	kube     kubernetes.Interface
	sluice   sluiceclient.Interface
	recorder record.EventRecorder
	images   *imagewatch.Reader
	opts     Options

	mu       sync.Mutex
	limiters map[types.NamespacedName]*rate.Limiter
}

// New returns a Receiver that finds triggers in informer's cache; the
// caller starts the informer. It reads Secrets and starts jobs with kube
// and sluice, and records Events on triggers with recorder.
func New(informer sluiceinformers.TriggerInformer, kube kubernetes.Interface, sluice sluiceclient.Interface,
	recorder record.EventRecorder, opts Options) (*Receiver, error) {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	r := &Receiver{
		triggers: informer.Lister(),
		synced:   informer.Informer().HasSynced,
		kube:     kube,
		sluice:   sluice,
		recorder: recorder,
		images:   &imagewatch.Reader{Kube: kube, Transport: opts.RegistryTransport},
		opts:     opts,
		limiters: map[types.NamespacedName]*rate.Limiter{},
	}
	// A deleted trigger's bucket goes with it, so the map holds only
	// triggers that exist.
	_, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if tr, ok := obj.(*v1alpha1.Trigger); ok {
				r.mu.Lock()
				delete(r.limiters, types.NamespacedName{Namespace: tr.Namespace, Name: tr.Name})
				r.mu.Unlock()
			}
		},
	})
	return r, err
}

// Ready reports whether the trigger cache has synced, for /readyz: until
// then every trigger would be answered 404.
func (r *Receiver) Ready() error {
	if !r.synced() {
		return errors.New("the trigger cache has not synced yet")
	}
	return nil
}

// Handler serves the receiver's paths and /readyz.
func (r *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(PathPrefix, r)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := r.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	return mux
}

// answer is the JSON body of a webhook's answer.
type answer struct {
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
	Job    string `json:"job,omitempty"`
}

// notFound is the one answer to a path that names no trigger the receiver
// serves, whether the trigger does not exist, exists in no such namespace,
// or has another source: nothing in it tells them apart.
var notFound = answer{Result: triggermetrics.Rejected, Reason: "no such trigger"}

// request is one request being answered.
type request struct {
	w        http.ResponseWriter
	r        *http.Request
	trigger  *v1alpha1.Trigger // nil until found
	source   string
	delivery string // the event's id, for the log
}

// ServeHTTP answers one request to /hooks/<namespace>/<trigger>.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	q := &request{w: w, r: req, source: sourceNone}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.reply(q, http.StatusMethodNotAllowed, answer{Result: triggermetrics.Rejected, Reason: "only POST is served"})
		return
	}
	tr := r.lookup(req.URL.Path)
	if tr == nil {
		r.reply(q, http.StatusNotFound, notFound)
		return
	}
	q.trigger = tr
	switch {
	case tr.Spec.Slack != nil:
		q.source = sourceSlack
	case tr.Spec.Image != nil:
		q.source = sourceImage
	default:
		q.source = sourceWebhook
	}
	if !r.limiter(tr).Allow() {
		w.Header().Set("Retry-After", "1")
		r.reply(q, http.StatusTooManyRequests, answer{Result: triggermetrics.Limited, Reason: "too many requests for this trigger; try again later"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			r.reply(q, http.StatusRequestEntityTooLarge, answer{Result: triggermetrics.Rejected, Reason: fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes)})
			return
		}
		r.reply(q, http.StatusBadRequest, answer{Result: triggermetrics.Rejected, Reason: "the body could not be read"})
		return
	}
	ref := secretRefOf(tr)
	secret, err := r.secret(req.Context(), tr.Namespace, ref)
	if err != nil {
		// The reason goes to the log and the Trigger's Events, for its
		// owner; the caller, maybe anyone, learns only that it cannot work.
		klog.InfoS("trigger not ready", "trigger", klog.KObj(tr), "reason", err.Error())
		r.recorder.Eventf(tr, corev1.EventTypeWarning, ReasonNotReady, "cannot check the request's signature: %v", err)
		r.reply(q, http.StatusServiceUnavailable, answer{Result: triggermetrics.Error, Reason: "trigger not ready"})
		return
	}
	switch q.source {
	case sourceSlack:
		r.serveSlack(q, body, secret)
	case sourceImage:
		r.serveRegistry(q, body, secret)
	default:
		r.serveWebhook(q, body, secret)
	}
}

// lookup returns the trigger path names, if it has a source the receiver
// serves.
func (r *Receiver) lookup(path string) *v1alpha1.Trigger {
	rest, ok := strings.CutPrefix(path, PathPrefix)
	if !ok {
		return nil
	}
	ns, name, ok := strings.Cut(rest, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return nil
	}
	tr, err := r.triggers.Triggers(ns).Get(name)
	if err != nil || (tr.Spec.Webhook == nil && tr.Spec.Slack == nil && (tr.Spec.Image == nil || tr.Spec.Image.Push == nil)) {
		return nil
	}
	return tr
}

// limiter returns the token bucket of tr.
func (r *Receiver) limiter(tr *v1alpha1.Trigger) *rate.Limiter {
	key := types.NamespacedName{Namespace: tr.Namespace, Name: tr.Name}
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.limiters[key]
	if !ok {
		l = rate.NewLimiter(r.opts.RateLimit, r.opts.Burst)
		r.limiters[key] = l
	}
	return l
}

func secretRefOf(tr *v1alpha1.Trigger) v1alpha1.SecretKeyRef {
	switch {
	case tr.Spec.Slack != nil:
		return tr.Spec.Slack.SigningSecretRef
	case tr.Spec.Image != nil:
		return tr.Spec.Image.Push.SecretRef
	}
	return tr.Spec.Webhook.SecretRef
}

// secret reads the key ref names (pkg/secretkey). The error names the
// Secret and key, never a value.
func (r *Receiver) secret(ctx context.Context, namespace string, ref v1alpha1.SecretKeyRef) ([]byte, error) {
	return secretkey.Read(ctx, r.kube.CoreV1(), namespace, ref)
}

// start runs the trigger's pipeline with run.Name and answers with the
// outcome: started, or duplicate when the event's job exists already.
func (r *Receiver) start(ctx context.Context, tr *v1alpha1.Trigger, run *v1alpha1.RunRequest) (result string, err error) {
	_, err = r.sluice.SluiceV1alpha1().Pipelines(tr.Namespace).Run(ctx, tr.Spec.PipelineRef.Name, run, metav1.CreateOptions{})
	switch {
	case err == nil:
		r.recorder.Eventf(tr, corev1.EventTypeNormal, ReasonFired, "started job %s: %s", run.Name, run.Trigger.Detail)
		return triggermetrics.Started, nil
	case apierrors.IsAlreadyExists(err):
		return triggermetrics.Duplicate, nil
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		r.recorder.Eventf(tr, corev1.EventTypeWarning, ReasonRejected, "the job for %s was refused: %v", run.Trigger.Detail, err)
		return triggermetrics.Rejected, err
	default:
		return triggermetrics.Error, err
	}
}

// reply writes a, counts it and logs it. It never logs the body or a
// secret: only the trigger, the delivery and the result.
func (r *Receiver) reply(q *request, status int, a answer) {
	r.write(q, status, a.Result, a.Reason, a)
}

// write answers body (JSON) with status, counted as result.
func (r *Receiver) write(q *request, status int, result, reason string, body any) {
	triggermetrics.Events.WithLabelValues(q.source, result).Inc()
	trigger := "-"
	if q.trigger != nil {
		trigger = q.trigger.Namespace + "/" + q.trigger.Name
	}
	klog.V(2).InfoS("trigger request", "path", q.r.URL.Path, "trigger", trigger, "source", q.source,
		"delivery", q.delivery, "status", status, "result", result, "reason", reason)
	q.w.Header().Set("Content-Type", "application/json")
	q.w.WriteHeader(status)
	_ = json.NewEncoder(q.w).Encode(body)
}
