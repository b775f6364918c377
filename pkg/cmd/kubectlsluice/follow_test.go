package kubectlsluice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// stamped is a line of output as the server writes it with timestamps:
// second s after t0, then the text.
func stamped(s int, text string) string {
	return t0.Add(time.Duration(s)*time.Second).Format(time.RFC3339Nano) + " " + text + "\n"
}

// logServer answers pipelinejobs/log of job "web-1" in namespace "ci" and
// GET of the job, as sluice-apiserver does through kube-apiserver. Each log
// request gets the next of answers; the job's phase is what the answers
// last set.
type logServer struct {
	t *testing.T

	mu       sync.Mutex
	answers  []func(w http.ResponseWriter)
	requests []url.Values
	phase    v1alpha1.JobPhase
	exists   bool
	// forbidden refuses GET of the job, as RBAC does to one who may
	// read its log only.
	forbidden bool
}

func newLogServer(t *testing.T, answers ...func(w http.ResponseWriter)) (*logServer, sluiceclient.Interface) {
	s := &logServer{t: t, answers: answers, phase: v1alpha1.JobRunning, exists: true}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := sluiceclient.NewForConfig(&rest.Config{Host: srv.URL})
	require.NoError(t, err)
	return s, c
}

func (s *logServer) setPhase(p v1alpha1.JobPhase) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phase = p
}

func (s *logServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const base = "/apis/sluice.dev/v1alpha1/namespaces/ci/pipelinejobs/web-1"
	switch r.URL.Path {
	case base + "/log":
		s.mu.Lock()
		s.requests = append(s.requests, r.URL.Query())
		n := len(s.requests)
		s.mu.Unlock()
		if n > len(s.answers) {
			s.t.Errorf("log request %d: only %d answers", n, len(s.answers))
			http.Error(w, "no more answers", http.StatusGone)
			return
		}
		s.answers[n-1](w)
	case base:
		s.mu.Lock()
		job := &v1alpha1.PipelineJob{
			TypeMeta:   metav1.TypeMeta{APIVersion: "sluice.dev/v1alpha1", Kind: "PipelineJob"},
			ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ci"},
			Status:     v1alpha1.PipelineJobStatus{Phase: s.phase},
		}
		exists, forbidden := s.exists, s.forbidden
		s.mu.Unlock()
		if forbidden {
			writeStatus(w, apierrors.NewForbidden(schema.GroupResource{Group: "sluice.dev", Resource: "pipelinejobs"}, "web-1", fmt.Errorf("RBAC: no")))
			return
		}
		if !exists {
			writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Group: "sluice.dev", Resource: "pipelinejobs"}, "web-1"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(job)
	default:
		s.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	st := err.Status()
	st.APIVersion, st.Kind = "v1", "Status"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(st)
}

// answer writes body, flushed, and ends the answer as the server does.
func answer(body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = writeFlushed(w, body)
	}
}

// dropAfter writes body, flushed, then breaks the connection, as a
// kube-apiserver that goes away does: the client reads part of an answer
// that never ends properly.
func dropAfter(body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = writeFlushed(w, body)
		panic(http.ErrAbortHandler)
	}
}

func writeFlushed(w http.ResponseWriter, body string) (int, error) {
	n, err := w.Write([]byte(body))
	w.(http.Flusher).Flush()
	return n, err
}

// unavailable is a 503, as kube-apiserver answers while the aggregated
// server cannot be reached.
func unavailable(w http.ResponseWriter) {
	writeStatus(w, apierrors.NewServiceUnavailable("the server is currently unable to handle the request"))
}

func follower(c sluiceclient.Interface, opts v1alpha1.PipelineJobLogOptions, out, errOut *bytes.Buffer) *logFollower {
	l := newLogFollower(c, "ci", "web-1", opts, out, errOut)
	l.minBackoff, l.maxBackoff = time.Millisecond, 4*time.Millisecond
	l.now = func() time.Time { return t0.Add(time.Hour) }
	return l
}

func runFollower(t *testing.T, l *logFollower) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return l.Run(ctx)
}

// TestFollowResumesWithoutRepeatingOrMissing: a followed stream that the
// server breaks in the middle of a line, ends early while the job runs,
// and answers 503 in between, prints the job's output exactly once, in
// order; lines with the same time are told apart by how many were printed.
func TestFollowResumesWithoutRepeatingOrMissing(t *testing.T) {
	build := "==> build/compile (attempt 1)\n" + stamped(0, "go build ./...") + stamped(1, "built web")
	testA := "==> test/unit (attempt 1)\n" + stamped(2, "=== RUN   TestA") + stamped(2, "--- PASS: TestA")
	testB := stamped(2, "=== RUN   TestB") + stamped(3, "--- PASS: TestB")
	lost := "[sluice] this output is lost: its Pod was deleted before the output was archived\n"
	deploy := "==> deploy (skipped)\n" + "==> notify/post (attempt 1)\n" + stamped(4, "posted") + lost
	full := build + testA + testB + deploy

	var s *logServer
	var c sluiceclient.Interface
	s, c = newLogServer(t,
		// Broken in the middle of a line after two lines of the same time.
		dropAfter(build+testA+testB[:10]),
		unavailable,
		// Ends cleanly while the job runs on.
		answer(build+testA+testB),
		// The job has ended; the answer holds everything.
		func(w http.ResponseWriter) { s.setPhase(v1alpha1.JobSucceeded); answer(full)(w) },
		// The last answer, not followed.
		answer(full),
	)
	var out, errOut bytes.Buffer
	require.NoError(t, runFollower(t, follower(c, v1alpha1.PipelineJobLogOptions{Follow: true, TailLines: ptr.To[int64](10)}, &out, &errOut)))

	want := "==> build/compile (attempt 1)\ngo build ./...\nbuilt web\n" +
		"==> test/unit (attempt 1)\n=== RUN   TestA\n--- PASS: TestA\n=== RUN   TestB\n--- PASS: TestB\n" +
		"==> deploy (skipped)\n==> notify/post (attempt 1)\nposted\n" + lost
	assert.Equal(t, want, out.String())
	assert.Contains(t, errOut.String(), "--> the log stream broke")

	require.Len(t, s.requests, 5)
	for i, q := range s.requests {
		assert.Equal(t, "true", q.Get("timestamps"), "request %d always asks for times", i)
		assert.Equal(t, i < 4, q.Get("follow") == "true", "request %d: %v", i, q)
	}
	assert.Equal(t, "10", s.requests[0].Get("tailLines"), "the tail is asked the first time")
	assert.Empty(t, s.requests[2].Get("tailLines"), "and only then: what was written meanwhile is all printed")
}

// TestFollowKeepsTimestampsWhenAsked: with --timestamps, lines are printed
// as the server wrote them; resuming a section without headers (one step,
// action and attempt) goes on after the last line printed.
func TestFollowKeepsTimestampsWhenAsked(t *testing.T) {
	body := stamped(0, "one") + stamped(0, "two") + stamped(1, "three")
	var s *logServer
	var c sluiceclient.Interface
	s, c = newLogServer(t,
		dropAfter(body[:len(stamped(0, "one"))+3]),
		func(w http.ResponseWriter) { s.setPhase(v1alpha1.JobFailed); answer(body)(w) },
		answer(body),
	)
	var out, errOut bytes.Buffer
	opts := v1alpha1.PipelineJobLogOptions{Step: "build", Action: "compile", Attempt: 1, Follow: true, Timestamps: true}
	require.NoError(t, runFollower(t, follower(c, opts, &out, &errOut)))
	assert.Equal(t, body, out.String())
	for _, q := range s.requests {
		assert.Equal(t, []string{"build", "compile", "1"}, []string{q.Get("step"), q.Get("action"), q.Get("attempt")})
	}
}

// TestFollowSinceIsKeptAcrossReconnections: --since is a time, so a later
// request asks for a window as much longer as time has passed.
func TestFollowSinceIsKeptAcrossReconnections(t *testing.T) {
	body := "==> build/compile (attempt 1)\n" + stamped(0, "one")
	var s *logServer
	var c sluiceclient.Interface
	s, c = newLogServer(t,
		dropAfter(body),
		func(w http.ResponseWriter) { s.setPhase(v1alpha1.JobSucceeded); answer(body)(w) },
		answer(body),
	)
	var out, errOut bytes.Buffer
	l := follower(c, v1alpha1.PipelineJobLogOptions{Follow: true, SinceSeconds: ptr.To[int64](300)}, &out, &errOut)
	var mu sync.Mutex
	now := t0.Add(time.Hour)
	l.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(10 * time.Second)
		return now
	}
	require.NoError(t, runFollower(t, l))
	assert.Equal(t, "==> build/compile (attempt 1)\none\n", out.String())
	require.Len(t, s.requests, 3)
	assert.Equal(t, "310", s.requests[0].Get("sinceSeconds"))
	assert.Equal(t, "320", s.requests[1].Get("sinceSeconds"))
}

// TestLogsLimitBytes: the limit counts the bytes printed, without the
// times the follower asked for.
func TestLogsLimitBytes(t *testing.T) {
	_, c := newLogServer(t, answer(stamped(0, "12345")+stamped(1, "6789")))
	var out, errOut bytes.Buffer
	require.NoError(t, runFollower(t, follower(c, v1alpha1.PipelineJobLogOptions{LimitBytes: ptr.To[int64](8)}, &out, &errOut)))
	assert.Equal(t, "12345\n67", out.String())
}

// TestLogsRefusalIsNotRetried: a 404 or 403 is the answer, at once.
func TestLogsRefusalIsNotRetried(t *testing.T) {
	s, c := newLogServer(t, func(w http.ResponseWriter) {
		writeStatus(w, apierrors.NewForbidden(schema.GroupResource{Group: "sluice.dev", Resource: "pipelinejobs/log"}, "web-1", fmt.Errorf("RBAC: no")))
	})
	var out, errOut bytes.Buffer
	err := runFollower(t, follower(c, v1alpha1.PipelineJobLogOptions{Follow: true}, &out, &errOut))
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
	assert.Len(t, s.requests, 1)
	assert.Empty(t, errOut.String())
}

// TestFollowEndsWhenTheJobIsDeleted: a followed answer that ends because
// the job was deleted ends the follower without an error.
func TestFollowEndsWhenTheJobIsDeleted(t *testing.T) {
	var s *logServer
	var c sluiceclient.Interface
	s, c = newLogServer(t, func(w http.ResponseWriter) {
		s.mu.Lock()
		s.exists = false
		s.mu.Unlock()
		answer("==> build/compile (attempt 1)\n" + stamped(0, "one"))(w)
	})
	var out, errOut bytes.Buffer
	require.NoError(t, runFollower(t, follower(c, v1alpha1.PipelineJobLogOptions{Follow: true}, &out, &errOut)))
	assert.Equal(t, "==> build/compile (attempt 1)\none\n", out.String())
}

func TestSinceSeconds(t *testing.T) {
	assert.Equal(t, int64(300), sinceSeconds(5*time.Minute))
	assert.Equal(t, int64(2), sinceSeconds(1500*time.Millisecond))
}

func TestIsHeader(t *testing.T) {
	assert.True(t, isHeader([]byte("==> build/compile (attempt 12)\n")))
	assert.True(t, isHeader([]byte("==> deploy (skipped)\n")))
	assert.False(t, isHeader([]byte("==> not a header\n")))
	assert.False(t, isHeader([]byte("==> a/b (attempt 1) and more\n")))
}

// TestLogsUsage: flags that need --step, or are out of range, are usage
// errors, found before anything is asked of the server.
func TestLogsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"logs", "web-1", "--action", "unit"},
		{"logs", "web-1", "--attempt", "2"},
		{"logs", "web-1", "--step", "test", "--attempt", "-1"},
		{"logs", "web-1", "--tail", "-2"},
		{"logs", "web-1", "--since", "-5m"},
		{"logs", "web-1", "--limit-bytes", "-1"},
		{"logs"},
	} {
		var out, errOut bytes.Buffer
		streams := genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &errOut}
		cmd := NewCommand(streams)
		cmd.SetArgs(append([]string{"--server", "http://127.0.0.1:1"}, args...))
		assert.Equal(t, ExitUsage, Execute(cmd, streams), "%v", args)
		assert.Contains(t, errOut.String(), "See 'kubectl sluice logs --help' for usage.", "%v", args)
		assert.Empty(t, out.String())
	}
}

// TestFollowAfterATailOfLinesOfOneTime: the first answer's tail printed
// the last of two lines written at the same time; after the break, the
// whole output comes again. The line printed is not printed again: lines
// of one time are told apart by their text, not by their count, which
// the tail made wrong. (The line the tail left out is printed: it cannot
// be told from one written since at the same time.)
func TestFollowAfterATailOfLinesOfOneTime(t *testing.T) {
	header := "==> test/unit (attempt 1)\n"
	var s *logServer
	var c sluiceclient.Interface
	s, c = newLogServer(t,
		dropAfter(header+stamped(5, "B")),
		func(w http.ResponseWriter) {
			s.setPhase(v1alpha1.JobSucceeded)
			answer(header + stamped(5, "A") + stamped(5, "B") + stamped(6, "C"))(w)
		},
		answer(header+stamped(5, "A")+stamped(5, "B")+stamped(6, "C")),
	)
	var out, errOut bytes.Buffer
	require.NoError(t, runFollower(t, follower(c, v1alpha1.PipelineJobLogOptions{Follow: true, TailLines: ptr.To[int64](1)}, &out, &errOut)))
	assert.Equal(t, header+"B\nA\nC\n", out.String())
}

// TestFollowMayNotReadTheJob: one who may read the job's log but not the
// job takes the end of a followed answer for the job's.
func TestFollowMayNotReadTheJob(t *testing.T) {
	s, c := newLogServer(t, answer("==> build/compile (attempt 1)\n"+stamped(0, "one")))
	s.mu.Lock()
	s.forbidden = true
	s.mu.Unlock()
	var out, errOut bytes.Buffer
	require.NoError(t, runFollower(t, follower(c, v1alpha1.PipelineJobLogOptions{Follow: true}, &out, &errOut)))
	assert.Equal(t, "==> build/compile (attempt 1)\none\n", out.String())
	assert.Len(t, s.requests, 1)
}
