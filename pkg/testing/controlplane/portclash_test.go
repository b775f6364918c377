package controlplane

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRetryOnPortClash: a server that exits because its port was taken is
// started again; any other failure is returned at once.
func TestRetryOnPortClash(t *testing.T) {
	dir := t.TempDir()
	var p *Process
	attempts := 0
	start := func(script string) func() error {
		return func() error {
			attempts++
			var err error
			if p, err = StartProcess(dir, "server", "/bin/sh", []string{"-c", script}); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return p.WaitFor(ctx, "ready", func(context.Context) error { return errors.New("not ready") })
		}
	}
	clash := `echo "listen tcp 127.0.0.1:1: bind: address already in use"; exit 1`
	if err := retryOnPortClash(start(clash), func() *Process { return p }); err == nil || attempts != 5 {
		t.Fatalf("a port that stays taken: err %v after %d attempts, want an error after 5", err, attempts)
	}
	attempts = 0
	if err := retryOnPortClash(start(`echo "no such file"; exit 1`), func() *Process { return p }); err == nil || attempts != 1 {
		t.Fatalf("another failure: err %v after %d attempts, want it at once", err, attempts)
	}
}
