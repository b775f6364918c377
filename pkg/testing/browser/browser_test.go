package browser

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserRunsScriptsAndScreenshots: the page's script changes the
// DOM after load, the browser sees the change, a click goes to the
// server, and the screenshot is a PNG.
func TestBrowserRunsScriptsAndScreenshots(t *testing.T) {
	t.Parallel()
	clicked := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><title>t</title><p id="state">loading</p>
<form method="post" action="/click"><button id="go">Go</button></form>
<script src="/app.js"></script>`))
	})
	mux.HandleFunc("/app.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(`setTimeout(() => { document.getElementById("state").textContent = "ready"; }, 50);`))
	})
	mux.HandleFunc("/click", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			clicked <- struct{}{}
		}
		_, _ = w.Write([]byte(`<!doctype html><p id="done">done</p>`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := Start(ctx, Options{Logf: t.Logf})
	require.NoError(t, err)
	defer b.Close()

	require.NoError(t, chromedp.Do(b.Ctx,
		chromedp.Navigate(srv.URL),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="state" and text()="ready"]`)),
	))
	state, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.ID("state")))
	require.NoError(t, err)
	require.Equal(t, "ready", state)
	shot := filepath.Join(t.TempDir(), "page.png")
	require.NoError(t, b.Screenshot(shot))
	png, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.Equal(t, []byte("\x89PNG"), png[:4])

	require.NoError(t, chromedp.Do(b.Ctx, chromedp.Click(chromedp.ID("go")), chromedp.WaitVisible(chromedp.ID("done"))))
	select {
	case <-clicked:
	default:
		t.Fatal("the click did not reach the server")
	}
}
