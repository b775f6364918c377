package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/chromedp/chromedp"
)

// Binary is the program Debian's chromium package installs.
const Binary = "chromium"

// Options configure a Browser.
type Options struct {
	// Dir holds the profile; a new temp dir, removed by Close, when empty.
	Dir string
	// Width and Height of the window, in CSS pixels; 1280×800 when zero.
	// Chromium keeps a window at least 500 wide: emulate a narrower
	// viewport with chromedp.EmulateViewport.
	Width, Height int
	// Logf receives the browser's console and protocol errors; nil drops
	// them.
	Logf func(format string, args ...any)
}

// Browser is a headless Chromium with a fresh profile.
type Browser struct {
	// Ctx runs chromedp actions in the browser's first tab.
	Ctx       context.Context
	cancel    []context.CancelFunc
	dir       string
	removeDir bool
}

// Start starts Chromium under ctx. It fails with a clear message when
// Chromium is not installed.
func Start(ctx context.Context, opts Options) (*Browser, error) {
	path, err := exec.LookPath(Binary)
	if err != nil {
		return nil, fmt.Errorf("Chromium (%s) is not installed: run hack/install-chromium.sh (make chromium): %w", Binary, err)
	}
	b := &Browser{dir: opts.Dir}
	if b.dir == "" {
		if b.dir, err = os.MkdirTemp("", "sluice-browser-"); err != nil {
			return nil, err
		}
		b.removeDir = true
	}
	if opts.Width == 0 || opts.Height == 0 {
		opts.Width, opts.Height = 1280, 800
	}
	flags := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(filepath.Join(b.dir, "profile")),
		chromedp.WindowSize(opts.Width, opts.Height),
		// Tests run as root in CI's containers, where Chromium's sandbox
		// cannot start; the pages are our own.
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, flags...)
	var ctxOpts []chromedp.ContextOption
	if opts.Logf != nil {
		ctxOpts = append(ctxOpts, chromedp.WithErrorf(opts.Logf))
	}
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, ctxOpts...)
	b.Ctx, b.cancel = tabCtx, []context.CancelFunc{cancelTab, cancelAlloc}
	// The first action starts the browser: fail here, not in the test.
	if err := chromedp.Do(tabCtx); err != nil {
		b.Close()
		return nil, fmt.Errorf("starting Chromium: %w", err)
	}
	return b, nil
}

// Screenshot writes a PNG of the whole page to path.
func (b *Browser) Screenshot(path string) error {
	// Quality 100 is a PNG; less would be a JPEG.
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// Close stops the browser and removes its profile if Start made it.
func (b *Browser) Close() {
	for _, cancel := range b.cancel {
		cancel()
	}
	if b.removeDir {
		_ = os.RemoveAll(b.dir)
	}
}
