package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
)

// profiler takes CPU profiles of sluice-apiserver through its
// /debug/pprof endpoint, reached directly (not through kube-apiserver).
type profiler struct {
	cfg *rest.Config
	dir string
}

func newProfiler(cfg *rest.Config, dir string) *profiler {
	return &profiler{cfg: cfg, dir: dir}
}

// start profiles in 5-second slices until the returned function is called,
// writing dir/name-<i>.pprof; `go tool pprof -top dir/name-*.pprof` merges
// them.
func (p *profiler) start(ctx context.Context, name string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	begin := time.Now()
	go func() {
		defer close(done)
		if err := p.take(ctx, name, begin); err != nil {
			logf("   profile %s: %v", name, err)
		}
	}()
	return func() {
		// The slice in progress still completes (at most 5s more).
		cancel()
		<-done
	}
}

func (p *profiler) take(ctx context.Context, name string, begin time.Time) error {
	client, err := rest.HTTPClientFor(p.cfg)
	if err != nil {
		return err
	}
	// pprof needs the duration up front; profile in 5s slices until
	// stopped and keep them all.
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	for i := 0; ctx.Err() == nil; i++ {
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, p.cfg.Host+"/debug/pprof/profile?seconds=5", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", resp.Status, b)
		}
		file := filepath.Join(p.dir, fmt.Sprintf("%s-%d.pprof", name, i))
		if err := os.WriteFile(file, b, 0o644); err != nil {
			return err
		}
		logf("   profile %s (%s into the phase)", file, time.Since(begin).Round(time.Second))
	}
	return nil
}
