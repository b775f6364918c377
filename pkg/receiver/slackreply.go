package receiver

import (
	"bytes"
	"container/list"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/tools/cache"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceinformers "github.com/sluice-dev/sluice/pkg/generated/informers/externalversions/sluice/v1alpha1"
	sluicelisters "github.com/sluice-dev/sluice/pkg/generated/listers/sluice/v1alpha1"
)

// SlackResponseValidity is how long Slack takes messages on a slash
// command's response_url: up to 5 POSTs within 30 minutes of the command.
// The result reply uses one POST, two more at most on a transient failure.
const SlackResponseValidity = 30 * time.Minute

// slackStillRunningAfter is when a job that has not ended is reported as
// still running: a minute before Slack stops taking answers, so that the
// POST, and a retry, land within the validity.
const slackStillRunningAfter = SlackResponseValidity - time.Minute

// DefaultSlackResponseHosts is where a response_url may point unless the
// operator says otherwise: Slack's own host, over HTTPS.
var DefaultSlackResponseHosts = []string{"https://hooks.slack.com"}

// DefaultMaxPendingSlackReplies bounds the replies a replica holds.
const DefaultMaxPendingSlackReplies = 1000

// Attempts at one reply, and the wait before the second (it doubles).
const (
	slackReplyAttempts = 3
	slackReplyBackoff  = 2 * time.Second
)

// Results, the result label of sluice_slack_replies_total.
const (
	replySent    = "sent"    // Slack took the message (2xx)
	replyFailed  = "failed"  // every attempt failed, or Slack refused it
	replyDropped = "dropped" // more replies were pending than the cap; the oldest went unsent
)

var slackReplies = metrics.NewCounterVec(&metrics.CounterOpts{
	Namespace: "sluice", Subsystem: "slack", Name: "replies_total",
	Help:           "Later answers to Slack run commands, posted to their response_url with the job's result, by result (sent, failed, dropped).",
	StabilityLevel: metrics.ALPHA,
}, []string{"result"})

var registerReplyMetricsOnce sync.Once

func init() {
	registerReplyMetricsOnce.Do(func() { legacyregistry.MustRegister(slackReplies) })
}

// SlackReplyOptions tune SlackReplies.
type SlackReplyOptions struct {
	// Client posts the replies; nil is a client with a 10 second timeout.
	// Redirects are never followed, whatever its CheckRedirect: a redirect
	// would take the message to a host ResponseHosts does not allow.
	Client *http.Client
	// ResponseHosts are the places a response_url may point to, each
	// scheme://host or scheme://host:port: a URL is followed only if its
	// scheme and host match one (any port when the entry names none).
	// Nil is DefaultSlackResponseHosts; an empty, non-nil list follows none.
	ResponseHosts []string
	// MaxPending is how many replies are held at once; past it the oldest
	// is dropped. Zero is DefaultMaxPendingSlackReplies.
	MaxPending int
	// Clock times the validity of response_urls and the retries.
	Clock clock.WithDelayedExecution
}

// SlackReplies posts the result of a job started by a Slack run command to
// the command's response_url, once, when the job ends.
//
// A response_url is a capability: whoever holds it can post to the channel
// for 30 minutes. So it is held in memory only, in the replica that took
// the command, and is never logged, nor written to an Event, a label, an
// annotation or a status that readers of jobs could see. The price is that
// a reply pending when the replica stops is lost: replies are best effort,
// and a pipeline's notify.slack target is the durable way to hear of a
// job's end.
//
// Jobs are followed through one PipelineJob informer, not a watch or a poll
// per command: its handler looks up the job in the map of pending replies.
type SlackReplies struct {
	jobs   sluicelisters.PipelineJobLister
	client *http.Client
	hosts  []*url.URL
	max    int
	clock  clock.WithDelayedExecution

	mu      sync.Mutex
	pending map[types.NamespacedName]*pendingReply
	order   *list.List // of *pendingReply, oldest first
}

// pendingReply is a job whose result is owed to a command.
type pendingReply struct {
	job         types.NamespacedName
	responseURL string // a secret: never logged
	pipeline    string
	environment string
	user        string // the Slack user ID of who ran the command
	received    time.Time
	timer       clock.Timer
	elem        *list.Element
}

// NewSlackReplies returns SlackReplies that follow jobs in informer's cache;
// the caller starts the informer. It only needs the jobs Triggers start,
// so the informer may select the label sluice.dev/trigger.
func NewSlackReplies(informer sluiceinformers.PipelineJobInformer, opts SlackReplyOptions) (*SlackReplies, error) {
	hosts, err := ParseSlackResponseHosts(opts.ResponseHosts)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if opts.Client != nil {
		c := *opts.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPendingSlackReplies
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	s := &SlackReplies{
		jobs:    informer.Lister(),
		client:  client,
		hosts:   hosts,
		max:     opts.MaxPending,
		clock:   opts.Clock,
		pending: map[types.NamespacedName]*pendingReply{},
		order:   list.New(),
	}
	_, err = informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.jobChanged(obj) },
		UpdateFunc: func(_, obj any) { s.jobChanged(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			job, ok := obj.(*v1alpha1.PipelineJob)
			if !ok {
				return
			}
			if p := s.take(keyOf(job), nil); p != nil {
				text := deletedText(p)
				if ended(job.Status.Phase) {
					// Its end and deletion came in one relist.
					text = resultText(p, job)
				}
				go s.post(p, text)
			}
		},
	})
	return s, err
}

// ParseSlackResponseHosts parses ResponseHosts; nil is the default.
func ParseSlackResponseHosts(entries []string) ([]*url.URL, error) {
	if entries == nil {
		entries = DefaultSlackResponseHosts
	}
	var hosts []*url.URL
	for _, e := range entries {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") != "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("Slack response host %q is not scheme://host[:port] with scheme https or http", e)
		}
		hosts = append(hosts, u)
	}
	return hosts, nil
}

// allowed says why raw may not be posted to, or nil. The reason names the
// scheme and host, never the path, which holds the secret.
func (s *SlackReplies) allowed(raw string) error {
	if raw == "" {
		return errors.New("the command has no response_url")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return errors.New("the command's response_url is not a URL")
	}
	for _, h := range s.hosts {
		if !strings.EqualFold(u.Scheme, h.Scheme) {
			continue
		}
		if h.Port() != "" && strings.EqualFold(u.Host, h.Host) || h.Port() == "" && strings.EqualFold(u.Hostname(), h.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("the command's response_url, %s://%s/…, is not on an allowed Slack response host", u.Scheme, u.Host)
}

// Follow owes the result of job, started by a Slack command of user, to
// responseURL. It fails, holding nothing, when responseURL is not allowed.
func (s *SlackReplies) Follow(job types.NamespacedName, pipeline, environment, user, responseURL string) error {
	if err := s.allowed(responseURL); err != nil {
		return err
	}
	p := &pendingReply{job: job, responseURL: responseURL, pipeline: pipeline, environment: environment, user: user,
		received: s.clock.Now()}
	s.mu.Lock()
	if old := s.pending[job]; old != nil {
		// The job was deleted and started again by the same command
		// before its first end was seen: the newer command is owed.
		s.removeLocked(old)
	}
	for s.order.Len() >= s.max {
		oldest := s.order.Front().Value.(*pendingReply)
		s.removeLocked(oldest)
		slackReplies.WithLabelValues(replyDropped).Inc()
		klog.InfoS("dropping the pending Slack reply of the oldest job: too many are pending", "job", oldest.job, "max", s.max)
	}
	p.elem = s.order.PushBack(p)
	s.pending[job] = p
	// f may run in the clock's own goroutine (a fake clock's, under its
	// lock): it only starts the work.
	p.timer = s.clock.AfterFunc(slackStillRunningAfter, func() { go s.expire(p) })
	s.mu.Unlock()

	// The job may have ended before it was followed: its last event is
	// then in the cache already and will not come again.
	if j, err := s.jobs.PipelineJobs(job.Namespace).Get(job.Name); err == nil {
		s.jobChanged(j)
	}
	return nil
}

// owed is how many replies are pending.
func (s *SlackReplies) owed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// jobChanged posts the result of a job that has ended, if it is owed.
func (s *SlackReplies) jobChanged(obj any) {
	job, ok := obj.(*v1alpha1.PipelineJob)
	if !ok || !ended(job.Status.Phase) {
		return
	}
	if p := s.take(keyOf(job), nil); p != nil {
		go s.post(p, resultText(p, job))
	}
}

// expire reports a job that has not ended within the validity as still
// running; no answer can follow it.
func (s *SlackReplies) expire(p *pendingReply) {
	if s.take(p.job, p) == nil {
		return // answered, or dropped, meanwhile
	}
	job, err := s.jobs.PipelineJobs(p.job.Namespace).Get(p.job.Name)
	if err != nil {
		job = nil
	}
	if job != nil && ended(job.Status.Phase) {
		s.post(p, resultText(p, job))
		return
	}
	s.post(p, stillRunningText(p, job, s.clock.Since(p.received)))
}

// take removes and returns the reply owed for job, so that exactly one
// caller posts it; only want when want is not nil.
func (s *SlackReplies) take(job types.NamespacedName, want *pendingReply) *pendingReply {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[job]
	if p == nil || want != nil && p != want {
		return nil
	}
	s.removeLocked(p)
	return p
}

func (s *SlackReplies) removeLocked(p *pendingReply) {
	delete(s.pending, p.job)
	s.order.Remove(p.elem)
	if p.timer != nil {
		p.timer.Stop()
	}
}

// slackReply is the body of a POST to a response_url. A new message in
// the channel, not a replacement of the command's first answer, which
// says how the job was started.
type slackReply struct {
	ResponseType    string `json:"response_type"`
	ReplaceOriginal bool   `json:"replace_original"`
	Text            string `json:"text"`
}

// post sends text to p's response_url: up to slackReplyAttempts times on
// a network error, 429 or 5xx, never after the URL's validity.
func (s *SlackReplies) post(p *pendingReply, text string) {
	body, _ := json.Marshal(slackReply{ResponseType: slackInChannel, Text: text})
	expires := p.received.Add(SlackResponseValidity)
	wait := slackReplyBackoff
	var err error
	for attempt := 1; ; attempt++ {
		var retry bool
		if retry, err = s.attempt(p.responseURL, body); err == nil {
			slackReplies.WithLabelValues(replySent).Inc()
			klog.V(2).InfoS("posted the result of a job to its Slack command", "job", p.job, "attempt", attempt)
			return
		}
		if !retry || attempt == slackReplyAttempts || !s.clock.Now().Add(wait).Before(expires) {
			break
		}
		<-s.clock.After(wait)
		wait *= 2
	}
	slackReplies.WithLabelValues(replyFailed).Inc()
	klog.InfoS("could not post the result of a job to its Slack command", "job", p.job, "err", err.Error())
}

// attempt posts once; retry says whether another attempt may do better.
// Its error never quotes the URL.
func (s *SlackReplies) attempt(responseURL string, body []byte) (retry bool, err error) {
	req, err := http.NewRequest(http.MethodPost, responseURL, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("the response_url is not a URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sluice-receiver")
	resp, err := s.client.Do(req)
	if err != nil {
		// A *url.Error quotes the URL, and with it the secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			return true, fmt.Errorf("%s: %v", ue.Op, ue.Err)
		}
		return true, errors.New("the request failed")
	}
	defer resp.Body.Close()
	// Slack says why in a short body, such as expired_url or used_url.
	why, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("HTTP %d", resp.StatusCode)
	default:
		return false, fmt.Errorf("HTTP %d: %q", resp.StatusCode, strings.TrimSpace(string(why)))
	}
}

func keyOf(job *v1alpha1.PipelineJob) types.NamespacedName {
	return types.NamespacedName{Namespace: job.Namespace, Name: job.Name}
}

func ended(phase v1alpha1.JobPhase) bool {
	return phase == v1alpha1.JobSucceeded || phase == v1alpha1.JobFailed || phase == v1alpha1.JobCancelled
}

// The texts of replies: short, in Slack's mrkdwn, each naming the job, its
// pipeline and environment, who ran the command, and a kubectl command
// that shows more.

// jobOf is "Job `<name>` of <pipeline> in <env>".
func jobOf(p *pendingReply) string {
	s := fmt.Sprintf("Job `%s` of %s", p.job.Name, p.pipeline)
	if p.environment != "" {
		s += " in " + p.environment
	}
	return s
}

// logsCommand shows the output of the action that failed, else of the
// whole job, from pipelinejobs/log (docs/api.md#logs).
func logsCommand(job types.NamespacedName, step, action string) string {
	path := fmt.Sprintf("/apis/sluice.dev/v1alpha1/namespaces/%s/pipelinejobs/%s/log", job.Namespace, job.Name)
	if step != "" && action != "" {
		path += fmt.Sprintf("?step=%s&action=%s", url.QueryEscape(step), url.QueryEscape(action))
	}
	return fmt.Sprintf("`kubectl get --raw '%s'`", path)
}

// resultText is the reply to a job that has ended.
func resultText(p *pendingReply, job *v1alpha1.PipelineJob) string {
	st := &job.Status
	took := ""
	if st.StartTime != nil && st.CompletionTime != nil {
		took = " in " + duration.HumanDuration(st.CompletionTime.Sub(st.StartTime.Time))
	}
	var b strings.Builder
	var step, action string
	switch st.Phase {
	case v1alpha1.JobSucceeded:
		fmt.Fprintf(&b, ":white_check_mark: %s succeeded%s", jobOf(p), took)
	case v1alpha1.JobCancelled:
		fmt.Fprintf(&b, ":no_entry_sign: %s was cancelled%s", jobOf(p), took)
	default:
		fmt.Fprintf(&b, ":x: %s failed%s", jobOf(p), took)
		step, action = failure(job, &b)
	}
	fmt.Fprintf(&b, " (for <@%s>).\n%s", p.user, logsCommand(p.job, step, action))
	return b.String()
}

// failure writes where job failed, " at step s (action a, exit code n)",
// else its message, and returns the step and action for the logs.
func failure(job *v1alpha1.PipelineJob, b *strings.Builder) (step, action string) {
	for _, s := range job.Status.Steps {
		if s.Phase != v1alpha1.StepFailed {
			continue
		}
		fmt.Fprintf(b, " at step %s", s.Name)
		for _, a := range s.Actions {
			if a.ExitCode != nil && *a.ExitCode != 0 {
				fmt.Fprintf(b, " (action %s, exit code %d)", a.Name, *a.ExitCode)
				return s.Name, a.Name
			}
		}
		return s.Name, ""
	}
	if m := job.Status.Message; m != "" {
		b.WriteString(": " + slackEscape(shorten(m, 200)))
	}
	return "", ""
}

// stillRunningText is the reply to a job that has not ended within the
// validity; job is nil if the cache no longer has it.
func stillRunningText(p *pendingReply, job *v1alpha1.PipelineJob, after time.Duration) string {
	phase := "not finished"
	if job != nil && job.Status.Phase != "" {
		phase = strings.ToLower(string(job.Status.Phase))
	}
	where := ""
	if job != nil {
		if s := currentStep(job); s != nil {
			where = fmt.Sprintf(", at step %s (%s)", s.Name, s.Phase)
		}
	}
	return fmt.Sprintf(":hourglass_flowing_sand: %s is still %s after %s%s (for <@%s>). Slack takes no later answer to this command; follow it with `kubectl get pipelinejob -n %s %s`.",
		jobOf(p), phase, duration.HumanDuration(after), where, p.user, p.job.Namespace, p.job.Name)
}

// deletedText is the reply to a job deleted before it ended.
func deletedText(p *pendingReply) string {
	return fmt.Sprintf(":wastebasket: %s was deleted before it ended (for <@%s>).", jobOf(p), p.user)
}

// slackEscape escapes the three characters Slack's mrkdwn reads as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// shorten cuts s to n runes.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
