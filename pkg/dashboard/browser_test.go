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

// TestApproveInABrowser: in Debian's Chromium, the printed URL lets the
// browser in, and the approve form of a waiting job reaches the server as
// an approval with its message: the browser's own POST passes the Origin
// and CSRF checks. (Under Referrer-Policy no-referrer, Chromium sent
// "Origin: null" and the dashboard refused its own form.)
func TestApproveInABrowser(t *testing.T) {
	t.Parallel()
	f, _, _ := live(t, gatedJob())
	approved := make(chan *v1alpha1.ApprovalRequest, 1)
	f.sluice.PrependReactor("create", "pipelinejobs", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "approval" {
			return false, nil, nil
		}
		approved <- a.(clienttesting.CreateAction).GetObject().(*v1alpha1.ApprovalRequest)
		return true, gatedJob(), nil
	})

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
