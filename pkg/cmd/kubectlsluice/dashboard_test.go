package kubectlsluice

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestDashboardCommand: the command listens on 127.0.0.1, prints the URL
// with its token, lets in the browser that opens it and no one else, and
// stops when interrupted.
func TestDashboardCommand(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/namespaces/team-a/pipelines"):
			fmt.Fprint(w, `{"kind":"PipelineList","apiVersion":"sluice.dev/v1alpha1","metadata":{},"items":[]}`)
		case strings.HasSuffix(r.URL.Path, "/namespaces/team-a/triggers"):
			fmt.Fprint(w, `{"kind":"TriggerList","apiVersion":"sluice.dev/v1alpha1","metadata":{},"items":[]}`)
		default:
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}`)
		}
	}))
	defer api.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u, namespace: team-a}}]
current-context: c
`, api.URL)), 0o600))

	out, printed := io.Pipe()
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: printed, ErrOut: io.Discard}
	cmd := NewCommand(streams)
	cmd.SetArgs([]string{"--kubeconfig", kubeconfig, "dashboard", "--port", "0"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); printed.Close() }()

	lines := bufio.NewScanner(out)
	require.True(t, lines.Scan())
	require.Equal(t, "Serving the Sluice dashboard of namespace team-a at", lines.Text())
	require.True(t, lines.Scan())
	url := lines.Text()
	require.Regexp(t, `^http://127\.0\.0\.1:[0-9]+/\?token=[A-Za-z0-9_-]{43}$`, url)
	go func() { _, _ = io.Copy(io.Discard, out) }()
	base := strings.Split(url, "?")[0]

	// Without the token: refused.
	resp, err := http.Get(base)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// With it: a cookie, and the page.
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar}
	resp, err = browser.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, base, resp.Request.URL.String(), "the token is dropped from the address")
	require.Contains(t, string(body), "No pipelines in team-a.")

	cancel()
	select {
	case err := <-done:
		require.True(t, errors.Is(err, context.Canceled), "%v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the dashboard did not stop")
	}
}
