package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	metricstestutil "k8s.io/component-base/metrics/testutil"
	"k8s.io/klog/v2"
	testclock "k8s.io/utils/clock/testing"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluicefake "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned/fake"
	sluiceinformers "github.com/sluice-dev/sluice/pkg/generated/informers/externalversions"
	sluiceinformersv1alpha1 "github.com/sluice-dev/sluice/pkg/generated/informers/externalversions/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/trigger/jobname"
	"github.com/sluice-dev/sluice/pkg/trigger/webhook"
)

// responseToken stands for the secret part of a response_url.
const responseToken = "RESPONSE-URL-TOKEN-NEVER-LOGGED"

// slackResponses is a stand-in for Slack's response_url endpoint: it
// records every POST, and answers with statuses in turn, then 200.
type slackResponses struct {
	*httptest.Server
	mu       sync.Mutex
	posts    []slackPost
	statuses []int
}

type slackPost struct {
	Path  string
	Reply slackReply
}

func newSlackResponses(t *testing.T, statuses ...int) *slackResponses {
	s := &slackResponses{statuses: statuses}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m slackReply
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &m) != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.posts = append(s.posts, slackPost{Path: r.URL.Path, Reply: m})
		status := http.StatusOK
		if len(s.statuses) > 0 {
			status, s.statuses = s.statuses[0], s.statuses[1:]
		}
		s.mu.Unlock()
		w.WriteHeader(status)
		if status == http.StatusNotFound {
			_, _ = io.WriteString(w, "expired_url")
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

// url is a response_url on the server whose path ends in id.
func (s *slackResponses) url(id string) string {
	return s.URL + "/commands/T0/" + id + "/" + responseToken
}

func (s *slackResponses) all() []slackPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]slackPost(nil), s.posts...)
}

// waitPosts waits until the server has n posts and returns them.
func (s *slackResponses) waitPosts(t *testing.T, n int) []slackPost {
	t.Helper()
	var got []slackPost
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		got = s.all()
		return len(got) >= n, nil
	})
	require.NoError(t, err, "waiting for %d posts, got %+v", n, got)
	require.Len(t, got, n, "%+v", got)
	return got
}

// slackCommand posts a signed command with a response_url and returns
// the answer and the name of the job it is about.
func (e *env) slackCommand(text, responseURL string) (slackAnswer, string) {
	e.t.Helper()
	v := url.Values{"command": {"/sluice"}, "text": {text}, "user_id": {"U1"}, "user_name": {"alice"}, "trigger_id": {"t-" + text}}
	if responseURL != "" {
		v.Set("response_url", responseURL)
	}
	form := v.Encode()
	ts := strconv.FormatInt(now.Unix(), 10)
	code, resp := e.post("chat", form, webhook.HeaderSlackTimestamp, ts, webhook.HeaderSlackSignature, webhook.SignSlack([]byte(secretKey), []byte(form), ts))
	require.Equal(e.t, http.StatusOK, code, resp)
	var a slackAnswer
	require.NoError(e.t, json.Unmarshal([]byte(resp), &a), resp)
	return a, jobname.ForEvent("chat", "slack:t-"+text)
}

// setStatus writes a job's status, as the controller would.
func (e *env) setStatus(name string, status v1alpha1.PipelineJobStatus) {
	e.t.Helper()
	jobs := e.sluice.SluiceV1alpha1().PipelineJobs(ns)
	job, err := jobs.Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(e.t, err)
	job.Status = status
	_, err = jobs.UpdateStatus(context.Background(), job, metav1.UpdateOptions{})
	require.NoError(e.t, err)
}

func succeeded() v1alpha1.PipelineJobStatus {
	start := metav1.NewTime(now)
	end := metav1.NewTime(now.Add(65 * time.Second))
	return v1alpha1.PipelineJobStatus{Phase: v1alpha1.JobSucceeded, StartTime: &start, CompletionTime: &end,
		Steps: []v1alpha1.StepStatus{{Name: "build", Phase: v1alpha1.StepSucceeded}}}
}

func failedAt(step, action string, code int32) v1alpha1.PipelineJobStatus {
	s := succeeded()
	s.Phase = v1alpha1.JobFailed
	s.Steps = []v1alpha1.StepStatus{{Name: "build", Phase: v1alpha1.StepSucceeded},
		{Name: step, Phase: v1alpha1.StepFailed, Actions: []v1alpha1.ActionStatus{{Name: "setup", ExitCode: new(int32)}, {Name: action, ExitCode: &code}}},
		{Name: "verify", Phase: v1alpha1.StepSkipped}}
	return s
}

func running(step string) v1alpha1.PipelineJobStatus {
	start := metav1.NewTime(now)
	return v1alpha1.PipelineJobStatus{Phase: v1alpha1.JobRunning, StartTime: &start,
		Steps: []v1alpha1.StepStatus{{Name: "build", Phase: v1alpha1.StepSucceeded}, {Name: step, Phase: v1alpha1.StepRunning}}}
}

// replyEnv is an env whose receiver posts results to srv, on clk.
func replyEnv(t *testing.T, srv *slackResponses, clk *testclock.FakeClock, max int) *env {
	return newEnvWithReplies(t, testOptions(), &SlackReplyOptions{ResponseHosts: []string{srv.URL}, Clock: clk, MaxPending: max},
		slackTrigger(), secret("slack"))
}

// TestSlackReplyPostsTheResultOnce: a run command's job that ends gets
// one message, in the channel, at the command's response_url; a
// redelivered command, and later updates of the job, get none.
func TestSlackReplyPostsTheResultOnce(t *testing.T) {
	srv := newSlackResponses(t)
	clk := testclock.NewFakeClock(now)
	e := replyEnv(t, srv, clk, 0)

	a, job := e.slackCommand("run release env=prod version=1.2.3", srv.url("first"))
	require.Equal(t, slackInChannel, a.ResponseType)
	require.Contains(t, a.Text, "Started job "+job+" of release in prod")
	require.Contains(t, a.Text, "Its result will follow here")
	require.Equal(t, 1, e.rcv.opts.SlackReplies.owed())

	// The same command again, as a retry, with another response_url: the
	// first command is owed the result, and only it.
	a, _ = e.slackCommand("run release env=prod version=1.2.3", srv.url("again"))
	require.Contains(t, a.Text, "already")
	require.NotContains(t, a.Text, "will follow")

	e.setStatus(job, running("deploy"))
	e.setStatus(job, failedAt("deploy", "apply", 3))
	posts := srv.waitPosts(t, 1)
	require.Equal(t, "/commands/T0/first/"+responseToken, posts[0].Path)
	require.Equal(t, slackReply{ResponseType: slackInChannel, Text: ":x: Job `" + job + "` of release in prod failed in 65s at step deploy (action apply, exit code 3) (for <@U1>).\n" +
		"`kubectl get --raw '/apis/sluice.dev/v1alpha1/namespaces/team/pipelinejobs/" + job + "/log?step=deploy&action=apply'`"}, posts[0].Reply)
	require.Zero(t, e.rcv.opts.SlackReplies.owed())

	// Another update of the ended job, then a second command's job ends:
	// the informer delivers events in order, so once the second result is
	// posted the update has been seen, and it posted nothing.
	e.setStatus(job, failedAt("deploy", "apply", 4))
	_, second := e.slackCommand("run release", srv.url("second"))
	e.setStatus(second, succeeded())
	posts = srv.waitPosts(t, 2)
	require.Equal(t, "/commands/T0/second/"+responseToken, posts[1].Path)
	require.Equal(t, ":white_check_mark: Job `"+second+"` of release in staging succeeded in 65s (for <@U1>).\n"+
		"`kubectl get --raw '/apis/sluice.dev/v1alpha1/namespaces/team/pipelinejobs/"+second+"/log'`", posts[1].Reply.Text)
}

// TestSlackReplyStillRunning: a job that has not ended a minute before
// the response_url expires is reported as still running, once; its end
// later posts nothing, as Slack would take nothing.
func TestSlackReplyStillRunning(t *testing.T) {
	srv := newSlackResponses(t)
	clk := testclock.NewFakeClock(now)
	e := replyEnv(t, srv, clk, 0)
	_, job := e.slackCommand("run release", srv.url("long"))
	e.setStatus(job, running("deploy"))
	waitFor(t, "the job's update in the cache", func() bool {
		j, err := e.rcv.opts.SlackReplies.jobs.PipelineJobs(ns).Get(job)
		return err == nil && j.Status.Phase == v1alpha1.JobRunning
	})
	clk.Step(28 * time.Minute)
	require.Equal(t, 1, e.rcv.opts.SlackReplies.owed(), "not yet")
	clk.Step(time.Minute)
	posts := srv.waitPosts(t, 1)
	require.Equal(t, ":hourglass_flowing_sand: Job `"+job+"` of release in staging is still running after 29m, at step deploy (Running) (for <@U1>). "+
		"Slack takes no later answer to this command; follow it with `kubectl get pipelinejob -n team "+job+"`.", posts[0].Reply.Text)
	require.Zero(t, e.rcv.opts.SlackReplies.owed())

	e.setStatus(job, succeeded())
	_, other := e.slackCommand("run release version=2", srv.url("other"))
	e.setStatus(other, succeeded())
	posts = srv.waitPosts(t, 2)
	require.Equal(t, "/commands/T0/other/"+responseToken, posts[1].Path)
}

// TestSlackReplyDeletedJob: a job deleted before it ended is reported so.
func TestSlackReplyDeletedJob(t *testing.T) {
	srv := newSlackResponses(t)
	e := replyEnv(t, srv, testclock.NewFakeClock(now), 0)
	_, job := e.slackCommand("run release", srv.url("gone"))
	require.NoError(t, e.sluice.SluiceV1alpha1().PipelineJobs(ns).Delete(context.Background(), job, metav1.DeleteOptions{}))
	posts := srv.waitPosts(t, 1)
	require.Equal(t, ":wastebasket: Job `"+job+"` of release in staging was deleted before it ended (for <@U1>).", posts[0].Reply.Text)
}

// TestSlackReplyRetries: a 503 is tried again after a backoff; a 404
// (Slack's expired_url) is not.
func TestSlackReplyRetries(t *testing.T) {
	srv := newSlackResponses(t, http.StatusServiceUnavailable, http.StatusOK, http.StatusNotFound)
	clk := testclock.NewFakeClock(now)
	e := replyEnv(t, srv, clk, 0)
	sent, failed := replyCount(t, replySent), replyCount(t, replyFailed)
	_, job := e.slackCommand("run release", srv.url("retry"))
	e.setStatus(job, succeeded())
	srv.waitPosts(t, 1)
	// The reply's expiry timer went with it; the one waiter is the backoff.
	waitFor(t, "the backoff", func() bool { return clk.Waiters() == 1 })
	clk.Step(slackReplyBackoff)
	posts := srv.waitPosts(t, 2)
	require.Equal(t, posts[0], posts[1], "the same message again")

	waitFor(t, "the success to be counted", func() bool { return replyCount(t, replySent) == sent+1 })

	_, job = e.slackCommand("run release version=2", srv.url("expired"))
	e.setStatus(job, succeeded())
	// Once the failure is counted, post has returned: no attempt follows.
	waitFor(t, "the failure to be counted", func() bool { return replyCount(t, replyFailed) == failed+1 })
	require.Len(t, srv.all(), 3, "a 404 is not tried again")
	require.Zero(t, clk.Waiters(), "nor waited for")
}

// replyCount is sluice_slack_replies_total{result}.
func replyCount(t *testing.T, result string) float64 {
	t.Helper()
	v, err := metricstestutil.GetCounterMetricValue(slackReplies.WithLabelValues(result))
	require.NoError(t, err)
	return v
}

// TestSlackReplyResponseURLs: a result is posted only to an allowed
// response_url; any other is refused up front, and the answer promises
// nothing.
func TestSlackReplyResponseURLs(t *testing.T) {
	hosts, err := ParseSlackResponseHosts(nil)
	require.NoError(t, err)
	require.Len(t, hosts, 1)
	for _, bad := range []string{"hooks.slack.com", "ftp://hooks.slack.com", "https://hooks.slack.com/commands", "https://u:p@hooks.slack.com", "https://"} {
		_, err := ParseSlackResponseHosts([]string{bad})
		require.Error(t, err, bad)
	}
	s, err := NewSlackReplies(newJobInformer(t), SlackReplyOptions{ResponseHosts: []string{"https://hooks.slack.com", "http://127.0.0.1:8099"}})
	require.NoError(t, err)
	for raw, ok := range map[string]bool{
		"https://hooks.slack.com/commands/T0/1/x":      true,
		"https://HOOKS.slack.com/commands/T0/1/x":      true,
		"https://hooks.slack.com:443/commands/T0/1/x":  true,
		"http://127.0.0.1:8099/commands/T0/1/x":        true,
		"http://hooks.slack.com/commands/T0/1/x":       false,
		"https://hooks.slack.com.evil.example/x":       false,
		"https://evil.example/hooks.slack.com/x":       false,
		"https://user@hooks.slack.com/commands/T0/1/x": false,
		"http://127.0.0.1:8100/commands/T0/1/x":        false,
		"https://169.254.169.254/latest/meta-data":     false,
		"":                 false,
		"/commands/T0/1/x": false,
		"https://hooks.slack.com%2F@evil.example/x":      false,
		"https://evil.example\\@hooks.slack.com/x":       false,
		"https://hooks.slack.com/commands/T0/1/x?x=%zz":  true,
		"https://hooks.slack.com#@evil.example/commands": true,
	} {
		err := s.allowed(raw)
		require.Equal(t, ok, err == nil, "%s: %v", raw, err)
		if err != nil && raw != "" {
			require.NotContains(t, err.Error(), "/x", "the reason never quotes the path")
		}
	}

	srv := newSlackResponses(t)
	e := newEnvWithReplies(t, testOptions(), &SlackReplyOptions{Clock: testclock.NewFakeClock(now)}, slackTrigger(), secret("slack"))
	for _, u := range []string{srv.url("refused"), ""} {
		a, _ := e.slackCommand("run release note="+strconv.Itoa(len(u)), u)
		require.Contains(t, a.Text, "Started job")
		require.NotContains(t, a.Text, "will follow")
	}
	require.Zero(t, e.rcv.opts.SlackReplies.owed())
}

// TestSlackReplyCap: past MaxPending, the oldest reply is dropped and its
// job's end posts nothing.
func TestSlackReplyCap(t *testing.T) {
	srv := newSlackResponses(t)
	e := replyEnv(t, srv, testclock.NewFakeClock(now), 2)
	var jobs []string
	for i := range 3 {
		_, job := e.slackCommand(fmt.Sprintf("run release n=%d", i), srv.url(strconv.Itoa(i)))
		jobs = append(jobs, job)
	}
	require.Equal(t, 2, e.rcv.opts.SlackReplies.owed())
	for _, j := range jobs {
		e.setStatus(j, succeeded())
	}
	posts := srv.waitPosts(t, 2)
	require.ElementsMatch(t, []string{"/commands/T0/1/" + responseToken, "/commands/T0/2/" + responseToken}, []string{posts[0].Path, posts[1].Path})
}

// TestSlackReplyLogsNoResponseURL: the log of a followed command, a
// refused response_url, a post Slack refuses and one that cannot connect
// never holds the response_url's path.
func TestSlackReplyLogsNoResponseURL(t *testing.T) {
	var buf lockedBuffer
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	require.NoError(t, fs.Set("v", "10"))
	require.NoError(t, fs.Set("logtostderr", "false"))
	klog.SetOutput(&buf)
	defer func() {
		klog.SetOutput(io.Discard)
		_ = fs.Set("v", "0")
		_ = fs.Set("logtostderr", "true")
	}()
	srv := newSlackResponses(t, http.StatusNotFound)
	closed := newSlackResponses(t)
	closed.Close()
	clk := testclock.NewFakeClock(now)
	e := newEnvWithReplies(t, testOptions(), &SlackReplyOptions{ResponseHosts: []string{srv.URL, closed.URL}, Clock: clk},
		slackTrigger(), secret("slack"))
	_, expired := e.slackCommand("run release n=1", srv.url("expired"))
	_, unreachable := e.slackCommand("run release n=2", closed.url("unreachable"))
	e.slackCommand("run release n=3", "https://elsewhere.example/commands/T0/refused/"+responseToken)
	e.setStatus(expired, succeeded())
	e.setStatus(unreachable, succeeded())
	srv.waitPosts(t, 1)
	waitFor(t, "both results taken", func() bool { return e.rcv.opts.SlackReplies.owed() == 0 })
	waitFor(t, "both failures logged", func() bool {
		if clk.HasWaiters() {
			clk.Step(time.Minute) // the backoffs of the unreachable one
		}
		klog.Flush()
		return strings.Count(buf.String(), "could not post the result") == 2
	})
	log := buf.String()
	require.Contains(t, log, "expired_url", "why Slack refused")
	require.Contains(t, log, "is not on an allowed Slack response host")
	require.NotContains(t, log, responseToken)
	require.NotContains(t, log, "/commands/T0")
}

// lockedBuffer is a log that the posting goroutines write while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.NoError(t, wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil }), "waiting for %s", what)
}

// newJobInformer is an informer of jobs on an empty fake clientset.
func newJobInformer(t *testing.T) sluiceinformersv1alpha1.PipelineJobInformer {
	t.Helper()
	return sluiceinformers.NewSharedInformerFactory(sluicefake.NewSimpleClientset(), 0).Sluice().V1alpha1().PipelineJobs()
}
