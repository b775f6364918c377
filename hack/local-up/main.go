// Command local-up is `make run`: it starts the whole local stack on
// 127.0.0.1 with its state under .local/run/ (see pkg/testing/localstack),
// applies the examples, prints a kubeconfig to use with kubectl, and stops
// everything cleanly on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/pkg/testing/localstack"
	"github.com/sluice-dev/sluice/pkg/testing/registry"
)

func main() {
	dir := flag.String("dir", ".local/run", "state directory; emptied at start")
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
	if _, err := stack.Kubectl(ctx, "apply", "-f", "artifacts/examples/deployer.yaml", "-f", "artifacts/examples/pipeline.yaml",
		"-f", "artifacts/examples/gated-release.yaml", "-f", "artifacts/examples/triggers.yaml"); err != nil {
		return err
	}
	images, err := startRegistry(ctx, stack, filepath.Join(abs, "registry"))
	if err != nil {
		return err
	}
	defer images.Stop()
	// No container runs on a kwok node; give the examples' actions
	// something to show in pipelinejobs/log and `kubectl logs`.
	if err := stack.SetContainerLogs(ctx, "default", exampleOutput); err != nil {
		return err
	}
	job, err := stack.Kubectl(ctx, "create", "-f", "artifacts/examples/pipelinejob.yaml", "-o", "name")
	if err != nil {
		return err
	}
	job = strings.TrimSpace(job)
	// The example job runs its three steps as Pods on the kwok nodes;
	// waiting for it shows the whole path works before handing over.
	fmt.Printf(">> waiting for %s to run\n", job)
	if _, err := stack.Kubectl(ctx, "wait", job, "--for=condition=Succeeded", "--timeout=3m"); err != nil {
		return fmt.Errorf("the example job did not succeed: %w", err)
	}
	phases, err := stack.Kubectl(ctx, "get", job, "-o", `jsonpath={range .status.steps[*]}{.name}={.phase} {end}`)
	if err != nil {
		return err
	}
	fmt.Printf(">> %s succeeded: %s\n", job, phases)
	jobName := strings.TrimPrefix(job, "pipelinejob.sluice.dev/")

	fmt.Printf(`
Sluice is up (%s). Logs are in %s/cluster/*.log.

  export KUBECONFIG=%s
  export PATH=%s:$PATH   # kubectl sluice

Try:
  kubectl sluice run release -p repo=https://gitlab.example.com/team/web.git -f
  kubectl sluice list
  kubectl sluice describe %s
  kubectl sluice logs %s --step test
  kubectl sluice dashboard --open   # pipelines, jobs and live logs in the browser
  kubectl get pipelines,pipelinejobs,triggers -A
  kubectl create -f artifacts/examples/pipelinejob.yaml && kubectl get pipelinejobs -w
  the gated release and rollback of README.md ("A gated release, and a rollback")
  curl -sS -X POST %s/hooks/default/on-push -H 'X-Gitlab-Event: Push Hook' \
    -H 'X-Gitlab-Token: example-token-not-for-real-use' -H "X-Gitlab-Event-UUID: $(date +%%s%%N)" \
    -d '{"object_kind":"push","ref":"refs/heads/main","checkout_sha":"4f2a9c1d","project":{"path_with_namespace":"team/web"},"user_username":"alice"}'
  go run ./hack/push-image %s:1.3.0   # web-images releases it at once
  kubectl get trigger web-images -o jsonpath='{.status.image}'

Press Ctrl-C to stop everything.
`, time.Since(start).Round(time.Second), abs, stack.Kubeconfig, stack.BinDir(), jobName, jobName,
		stack.Controllers[0].ReceiverURL, images.Repository(exampleImagePath))
	<-ctx.Done()
	return nil
}

// exampleImagePath is the repository the web-images example trigger
// follows, in the registry make run starts.
const exampleImagePath = "team/web"

// startRegistry starts Debian's distribution registry beside the stack,
// notifying the web-images example trigger of pushes with the token of
// its Secret, pushes a first image (1.2.0, the trigger's baseline), and
// points the trigger at it.
func startRegistry(ctx context.Context, stack *localstack.Stack, dir string) (*registry.Registry, error) {
	const token = "example-registry-token-not-for-real-use" // artifacts/examples/triggers.yaml
	reg, err := registry.Start(ctx, registry.Options{Dir: dir, Notify: []registry.Endpoint{{
		Name:    "sluice",
		URL:     stack.Controllers[0].ReceiverURL + "/hooks/default/web-images",
		Headers: http.Header{"Authorization": {"Bearer " + token}},
	}}})
	if err != nil {
		return nil, err
	}
	if _, err := reg.PushImage(ctx, exampleImagePath, "1.2.0", 1); err != nil {
		reg.Stop()
		return nil, err
	}
	patch := fmt.Sprintf(`{"spec":{"image":{"repository":%q}}}`, reg.Repository(exampleImagePath))
	if _, err := stack.Kubectl(ctx, "patch", "trigger", "web-images", "-n", "default", "--type=merge", "-p", patch); err != nil {
		reg.Stop()
		return nil, err
	}
	return reg, nil
}

// exampleOutput is what the actions of the example pipelines
// (artifacts/examples) print, by action name, in every job.
var exampleOutput = map[string][]localstack.LogLine{
	"clone": localstack.Lines(
		"Cloning into '/workspace/src'...",
		"remote: Enumerating objects: 214, done.",
		"remote: Counting objects: 100% (214/214), done.",
		"remote: Compressing objects: 100% (187/187), done.",
		"Receiving objects: 100% (214/214), 96.41 KiB | 2.87 MiB/s, done.",
		"Resolving deltas: 100% (12/12), done.",
	),
	"unit": localstack.Lines(
		"go: downloading github.com/prometheus/client_golang v1.23.2",
		"?   \tgithub.com/example/web/cmd/web\t[no test files]",
		"ok  \tgithub.com/example/web\t0.412s",
		"ok  \tgithub.com/example/web/internal/handler\t0.127s",
	),
	"image": localstack.Lines(
		"INFO[0000] Retrieving image manifest golang:1.26",
		"INFO[0002] Building stage 'golang:1.26' [idx: '0', base-idx: '-1']",
		"INFO[0031] RUN go build -o /web ./cmd/web",
		"INFO[0040] Pushing image to registry.example.com/web:v1.4.2",
		"INFO[0042] Pushed registry.example.com/web@sha256:9f2c4e1d7a8b6c3e5f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a",
	),
	"rollout": localstack.Lines(
		"deployment.apps/web image updated",
	),
}
