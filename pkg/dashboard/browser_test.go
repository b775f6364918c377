package dashboard

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/sluice-dev/sluice/pkg/apis/sluice/v1alpha1"
	"github.com/sluice-dev/sluice/pkg/testing/browser"
)

// approvals are the approval requests the server is sent.
func (f *fixture) approvals() <-chan *v1alpha1.ApprovalRequest {
	approved := make(chan *v1alpha1.ApprovalRequest, 1)
	f.sluice.PrependReactor("create", "pipelinejobs", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "approval" {
			return false, nil, nil
		}
		approved <- a.(clienttesting.CreateAction).GetObject().(*v1alpha1.ApprovalRequest)
		return true, gatedJob(), nil
	})
	return approved
}

// TestApproveInABrowser: in Debian's Chromium, the printed URL lets the
// browser in, and the approve form of a waiting job reaches the server as
// an approval with its message: the browser's own POST passes the Origin
// and CSRF checks. (Under Referrer-Policy no-referrer, Chromium sent
// "Origin: null" and the dashboard refused its own form.)
func TestApproveInABrowser(t *testing.T) {
	t.Parallel()
	f, _, _ := live(t, gatedJob())
	approved := f.approvals()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := browser.Start(ctx, browser.Options{Logf: t.Logf})
	require.NoError(t, err)
	defer b.Close()
	require.NoError(t, chromedp.Do(b.Ctx,
		chromedp.Navigate(f.server.URL()),
		chromedp.Navigate(f.server.origins[0]+"/jobs/web-x7k2p?namespace="+ns),
		chromedp.WaitVisible(chromedp.ID("approve-message")),
		chromedp.SendKeys(chromedp.ID("approve-message"), "ship it"),
		chromedp.Submit(chromedp.ID("approve-message")),
	))
	select {
	case req := <-approved:
		require.Equal(t, &v1alpha1.ApprovalRequest{Decision: v1alpha1.Approve, Message: "ship it"}, req)
	case <-ctx.Done():
		t.Fatal("the browser's approval never reached the server")
	}
}

// TestNarrowWindowAndKeyboard: on a phone-sized window every page fits
// its width (nothing scrolls sideways); every field has a label; and the
// job page is used with the keyboard alone: Tab reaches the approval's
// message, focus is visible, and Enter sends the approval.
func TestNarrowWindowAndKeyboard(t *testing.T) {
	t.Parallel()
	f, _, _ := live(t, pipeline(), job("web-a1", v1alpha1.JobSucceeded, 5), job("web-c3", v1alpha1.JobFailed, 3), gatedJob())
	approved := f.approvals()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := browser.Start(ctx, browser.Options{Logf: t.Logf})
	require.NoError(t, err)
	defer b.Close()
	// A phone's viewport: Chromium's window is at least 500px wide.
	require.NoError(t, chromedp.Do(b.Ctx, chromedp.EmulateViewport(360, 740), chromedp.Navigate(f.server.URL())))
	base := f.server.origins[0]
	for _, page := range []string{"/?namespace=" + ns, "/jobs?namespace=" + ns, "/jobs/web-x7k2p?namespace=" + ns} {
		require.NoError(t, chromedp.Do(b.Ctx, chromedp.Navigate(base+page), chromedp.WaitVisible(chromedp.CSS("main"))))
		width, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
		require.NoError(t, err)
		require.LessOrEqual(t, width[0], width[1], "%s scrolls sideways at %dpx", page, width[1])
		unlabelled, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
			.filter(el => el.labels.length === 0 && !el.getAttribute("aria-label")).map(el => el.outerHTML)`))
		require.NoError(t, err)
		require.Empty(t, unlabelled, "%s has fields without a label", page)
	}

	// The job page is open: Tab through it to the approval's message.
	var focused []string
	for i := 0; i < 20; i++ {
		require.NoError(t, chromedp.Do(b.Ctx, chromedp.KeyEvent("\t")))
		id, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`document.activeElement.id || document.activeElement.tagName`))
		require.NoError(t, err)
		focused = append(focused, id)
		if id == "approve-message" {
			break
		}
	}
	require.Equal(t, "approve-message", focused[len(focused)-1], "Tab never reached the approval's message: %v", focused)
	outline, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`getComputedStyle(document.activeElement).outlineStyle`))
	require.NoError(t, err)
	require.NotEqual(t, "none", outline, "the focused field shows no focus")
	require.NoError(t, chromedp.Do(b.Ctx, chromedp.KeyEvent("ok"), chromedp.KeyEvent("\r")))
	select {
	case req := <-approved:
		require.Equal(t, &v1alpha1.ApprovalRequest{Decision: v1alpha1.Approve, Message: "ok"}, req)
	case <-ctx.Done():
		t.Fatal("Enter in the approval's message did not approve")
	}
}
