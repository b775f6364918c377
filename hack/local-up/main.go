// Command local-up is `make run`: it starts the whole local stack on
// 127.0.0.1 with its state under .local/ (see pkg/testing/localstack),
// applies the examples, prints a kubeconfig to use with kubectl, and stops
// everything cleanly on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/pkg/testing/localstack"
)

func main() {
	dir := flag.String("dir", ".local", "state directory; emptied at start")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "local-up: %v\n", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	stack, err := localstack.Start(ctx, localstack.Options{Dir: abs, Durable: true, Log: os.Stdout})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("\n>> stopping")
		stack.Stop()
		fmt.Println(">> stopped")
	}()
	if _, err := stack.Kubectl(ctx, "apply", "-f", "artifacts/examples/pipeline.yaml"); err != nil {
		return err
	}
	job, err := stack.Kubectl(ctx, "create", "-f", "artifacts/examples/pipelinejob.yaml", "-o", "name")
	if err != nil {
		return err
	}

	fmt.Printf(`
Sluice is up (%s). Logs are in %s/cluster/*.log.

  export KUBECONFIG=%s

Try:
  kubectl get pipelines,pipelinejobs -A
  kubectl get %s -o yaml
  kubectl create -f artifacts/examples/pipelinejob.yaml && kubectl get pipelinejobs -w

Press Ctrl-C to stop everything.
`, time.Since(start).Round(time.Second), abs, stack.Kubeconfig, job[:len(job)-1])
	<-ctx.Done()
	return nil
}
