package kubectlsluice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/sluicectl"
)

// fakeServer serves a list of jobs or triggers as the server's Table, in
// name order and in pages, as sluice-apiserver does, and records the
// queries it was asked.
type fakeServer struct {
	t        *testing.T
	objects  map[string][]runtime.Object // by resource, in name order
	mu       sync.Mutex
	requests []*http.Request
}

var jobColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Phase", Type: "string"},
	{Name: "Age", Type: "string"},
	{Name: "Trigger", Type: "string", Priority: 1},
}

func (s *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
	resource := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	if !strings.Contains(r.Header.Get("Accept"), "as=Table") || r.Method != http.MethodGet {
		http.Error(w, "the fake serves tables only", http.StatusNotAcceptable)
		return
	}
	items := s.objects[resource]
	start, _ := strconv.Atoi(r.URL.Query().Get("continue"))
	end := len(items)
	if limit, _ := strconv.Atoi(r.URL.Query().Get("limit")); limit > 0 && start+limit < end {
		end = start + limit
	}
	table := metav1.Table{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"}, ColumnDefinitions: jobColumns}
	if end < len(items) {
		table.Continue = strconv.Itoa(end)
	}
	for _, obj := range items[start:end] {
		j := obj.(*v1alpha1.PipelineJob)
		raw, err := json.Marshal(j)
		require.NoError(s.t, err)
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  []any{j.Name, string(j.Status.Phase), "1m", string(j.Spec.Trigger.Type)},
			Object: runtime.RawExtension{Raw: raw},
		})
	}
	w.Header().Set("Content-Type", "application/json")
	require.NoError(s.t, json.NewEncoder(w).Encode(table))
}

// sluiceAt runs `kubectl sluice args...` against the server at url, with a
// kubeconfig whose namespace is team-a.
func sluiceAt(t *testing.T, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u, namespace: team-a}}]
current-context: c
`, url)), 0o600))
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := NewCommand(streams)
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig}, args...))
	code = Execute(cmd, streams)
	return out.String(), errOut.String(), code
}

// historyJobs are jobs whose names are in no order of age, some stored in
// the same second, apart only by their submitTime.
func historyJobs() []runtime.Object {
	var jobs []runtime.Object
	base := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for i, name := range []string{"web-a", "web-b", "web-c", "web-d", "web-e", "web-f", "web-g"} {
		// Ages: web-d newest, then web-a, web-g, web-b, web-f, web-c, web-e.
		order := []int{5, 3, 1, 6, 0, 2, 4}[i]
		created := base.Add(time.Duration(order) * 300 * time.Millisecond)
		submit := metav1.NewMicroTime(created)
		jobs = append(jobs, &v1alpha1.PipelineJob{
			TypeMeta:   metav1.TypeMeta{APIVersion: "sluice.dev/v1alpha1", Kind: "PipelineJob"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", CreationTimestamp: metav1.NewTime(created.Truncate(time.Second))},
			Spec:       v1alpha1.PipelineJobSpec{Trigger: v1alpha1.JobTrigger{Type: v1alpha1.TriggerManual}},
			Status:     v1alpha1.PipelineJobStatus{Phase: v1alpha1.JobSucceeded, SubmitTime: &submit},
		})
	}
	return jobs
}

// TestListNewestFirst: list reads every page of the selection and prints
// the newest --limit jobs first, by when the server stored them, to the
// microsecond; the selectors go to the server.
func TestListNewestFirst(t *testing.T) {
	server := &fakeServer{t: t, objects: map[string][]runtime.Object{"pipelinejobs": historyJobs()}}
	srv := httptest.NewServer(server)
	defer srv.Close()

	stdout, stderr, code := sluiceAt(t, srv.URL, "list", "web", "--env", "production", "--trigger", "nightly", "--phase", "Succeeded", "--limit", "4")
	require.Equal(t, 0, code, stderr)
	golden(t, "list-newest-first", []byte(stdout))

	// 7 jobs in pages of sluicectl.NewestPageSize: one request; the selectors pushed down.
	require.Len(t, server.requests, 1)
	q := server.requests[0].URL.Query()
	require.Equal(t, "sluice.dev/environment=production,sluice.dev/pipeline=web,sluice.dev/trigger=nightly", q.Get("labelSelector"))
	require.Equal(t, "status.phase=Succeeded", q.Get("fieldSelector"))
	require.Equal(t, "Object", q.Get("includeObject"))

	stdout, stderr, code = sluiceAt(t, srv.URL, "list", "-o", "wide")
	require.Equal(t, 0, code, stderr)
	golden(t, "list-wide", []byte(stdout))

	stdout, stderr, code = sluiceAt(t, srv.URL, "list", "--limit", "3", "-o", "name")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "pipelinejob.sluice.dev/web-d\npipelinejob.sluice.dev/web-a\npipelinejob.sluice.dev/web-g\n", stdout)
}

// TestListPages: a selection larger than a page is read to its end
// before the newest are chosen.
func TestListPages(t *testing.T) {
	var jobs []runtime.Object
	base := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	n := 2*sluicectl.NewestPageSize + 7
	for i := range n {
		// In name order, the newest jobs come last, on the last page.
		submit := metav1.NewMicroTime(base.Add(time.Duration(i) * time.Second))
		jobs = append(jobs, &v1alpha1.PipelineJob{
			TypeMeta:   metav1.TypeMeta{APIVersion: "sluice.dev/v1alpha1", Kind: "PipelineJob"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("job-%04d", i), Namespace: "team-a"},
			Status:     v1alpha1.PipelineJobStatus{SubmitTime: &submit},
		})
	}
	server := &fakeServer{t: t, objects: map[string][]runtime.Object{"pipelinejobs": jobs}}
	srv := httptest.NewServer(server)
	defer srv.Close()

	stdout, stderr, code := sluiceAt(t, srv.URL, "list", "--limit", "2", "-o", "name")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "pipelinejob.sluice.dev/job-1006\npipelinejob.sluice.dev/job-1005\n", stdout)
	require.Len(t, server.requests, 3)
	require.Equal(t, "1000", server.requests[2].URL.Query().Get("continue"))
}

// TestListUsage: a phase the API does not have, or a value no label can
// hold, is a usage error.
func TestListUsage(t *testing.T) {
	_, stderr, code := sluiceAt(t, "http://127.0.0.1:1", "list", "--phase", "Done")
	require.Equal(t, ExitUsage, code)
	require.Contains(t, stderr, `Error: --phase "Done": expected Pending, Running, Succeeded, Failed or Cancelled`)

	_, stderr, code = sluiceAt(t, "http://127.0.0.1:1", "list", "--env", "not a label")
	require.Equal(t, ExitUsage, code)
	require.Contains(t, stderr, "Error: ")

	_, _, code = sluiceAt(t, "http://127.0.0.1:1", "list", "a", "b")
	require.Equal(t, ExitUsage, code)
}
