// Package browser starts a headless Chromium, Debian's chromium package
// (hack/install-chromium.sh, make chromium), for tests that drive a page
// as a user would, with github.com/chromedp/chromedp: the dashboard's
// browser tests. Each Browser has its own throw-away profile, so tests
// share no cookies; screenshots go where the test says.
package browser
