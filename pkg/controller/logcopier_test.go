package controller

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
)

// logServer plays kube-apiserver's pods/log and sluice-apiserver's
// pipelinejobs/log for the production LogCopier.
type logServer struct {
	mu sync.Mutex
	// output is what pods/log serves; a Pod not in it is a 404.
	output map[string]string
	// archiveStatus answers pipelinejobs/log; 201 when zero.
	archiveStatus int
	// query, contentType, contentLength and body are what pipelinejobs/log received.
	query         map[string][]string
	contentType   string
	contentLength int64
	body          string
	logQuery      map[string][]string
}

func (s *logServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	status := func(code int, reason metav1.StatusReason, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		st := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg}
		if code < 300 {
			st.Status = metav1.StatusSuccess
		}
		_ = json.NewEncoder(w).Encode(st)
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/team-a/pods/") && strings.HasSuffix(r.URL.Path, "/log"):
		pod := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/team-a/pods/"), "/log")
		s.logQuery = r.URL.Query()
		out, ok := s.output[pod]
		if !ok {
			status(http.StatusNotFound, metav1.StatusReasonNotFound, `pods "`+pod+`" not found`)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, out)
	case r.Method == http.MethodPost && r.URL.Path == "/apis/sluice.dev/v1alpha1/namespaces/team-a/pipelinejobs/j/log":
		b, _ := io.ReadAll(r.Body)
		s.query, s.contentType, s.contentLength, s.body = r.URL.Query(), r.Header.Get("Content-Type"), r.ContentLength, string(b)
		if s.archiveStatus != 0 {
			status(s.archiveStatus, metav1.StatusReasonServiceUnavailable, "the archive is unavailable")
			return
		}
		status(http.StatusCreated, "", "")
	default:
		http.NotFound(w, r)
	}
}

func newTestCopier(t *testing.T, s *logServer) LogCopier {
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL}
	kube, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	sluice, err := sluiceclient.NewForConfig(cfg)
	require.NoError(t, err)
	return NewLogCopier(kube, sluice)
}

// TestLogCopier: the production copier reads pods/log of the action's
// container with timestamps, and streams it (no Content-Length: not read
// into memory first) to pipelinejobs/log with the step, action and attempt;
// a Pod that is gone is ErrPodGone, and an archive that fails is an error.
func TestLogCopier(t *testing.T) {
	output := "2026-11-21T12:00:00.000000001Z building\n2026-11-21T12:00:01.5Z built\n"
	s := &logServer{output: map[string]string{"j-build-2": output}}
	copier := newTestCopier(t, s)
	c := LogCopy{Namespace: ns, Job: "j", Step: "build", Attempt: 2, Action: "compile", Pod: "j-build-2"}

	n, err := copier.CopyLog(context.Background(), c)
	require.NoError(t, err)
	require.EqualValues(t, len(output), n)
	s.mu.Lock()
	require.Equal(t, []string{"compile"}, s.logQuery["container"])
	require.Equal(t, []string{"true"}, s.logQuery["timestamps"])
	require.Empty(t, s.logQuery["follow"])
	require.Equal(t, map[string][]string{"step": {"build"}, "action": {"compile"}, "attempt": {"2"}}, s.query)
	require.Equal(t, "text/plain", s.contentType)
	require.EqualValues(t, -1, s.contentLength, "streamed")
	require.Equal(t, output, s.body)
	s.archiveStatus = http.StatusServiceUnavailable
	s.mu.Unlock()

	_, err = copier.CopyLog(context.Background(), c)
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrPodGone))
	require.True(t, apierrors.IsServiceUnavailable(err), "%v", err)
	require.Contains(t, err.Error(), "storing the output in the archive")

	c.Pod = "j-build-3"
	_, err = copier.CopyLog(context.Background(), c)
	require.ErrorIs(t, err, ErrPodGone)
}
