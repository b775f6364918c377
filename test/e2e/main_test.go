// Package e2e tests Sluice end to end on the local stack (the one `make
// run` starts): a real kube-apiserver with the aggregation layer,
// kube-controller-manager, kube-scheduler, kwok nodes, PostgreSQL,
// sluice-apiserver registered through an APIService, and two
// sluice-controller replicas. Everything goes through kube-apiserver with
// the pinned kubectl or the generated clientset, except where a test talks
// to one sluice-apiserver replica on purpose.
//
// The stack is started once for the package and shared by its tests; each
// test works in namespaces of its own.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	sluiceclient "github.com/sluice-dev/sluice/pkg/generated/clientset/versioned"
	"github.com/sluice-dev/sluice/pkg/testing/controlplane"
	"github.com/sluice-dev/sluice/pkg/testing/localstack"
)

var stack *localstack.Stack

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := controlplane.BinDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	stack, err = localstack.Start(ctx, localstack.Options{
		Dir:        dir,
		RepoRoot:   filepath.Dir(bin),
		APIServers: 2, // the second replica is reached directly by the replicas test
		// Two controllers elect a leader; short Lease and backoff times
		// keep the failover and retry tests quick.
		Controllers: 2,
		ControllerArgs: []string{
			"--leader-elect-lease-duration=6s", "--leader-elect-renew-deadline=4s", "--leader-elect-retry-period=1s",
			"--retry-backoff=1s", "--max-retry-backoff=5s", "--notify-backoff=500ms", "--workers=8",
			// Slack commands' response_urls point at the tests' servers.
			"--slack-response-hosts=http://127.0.0.1",
		},
		Log: os.Stderr,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local stack: %v\n", err)
		return 1
	}
	defer stack.Stop()
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "\nlogs of the stack:\n%s\n", stack.LogTails(4000))
	}
	return code
}

// testContexts holds one context per test, created by its first
// testContext call.
var testContexts sync.Map // *testing.T -> context.Context

// testContext is the test's context. It is bounded, so that a hung request
// fails its test instead of the whole run, by 10 minutes: the longest any
// test waits. It is one context per test, not one per call, because it is
// called inside polls: a context per call would add a timer and a cleanup
// every 100 ms. Polls bound their own requests tighter (eventually).
func testContext(t *testing.T) context.Context {
	if ctx, ok := testContexts.Load(t); ok {
		return ctx.(context.Context)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	if prev, loaded := testContexts.LoadOrStore(t, ctx); loaded {
		cancel()
		return prev.(context.Context)
	}
	t.Cleanup(func() {
		testContexts.Delete(t)
		cancel()
	})
	return ctx
}

var namespaceSeq atomic.Int64

// namespace creates a namespace for one test and deletes it afterwards.
func namespace(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, namespaceSeq.Add(1))
	_, err := kube(t).CoreV1().Namespaces().Create(testContext(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = kube(t).CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// kube is an admin clientset for the core API.
func kube(t *testing.T) *kubernetes.Clientset {
	c, err := kubernetes.NewForConfig(stack.Config)
	require.NoError(t, err)
	return c
}

// sluiceAdmin is an admin clientset for sluice.dev.
func sluiceAdmin(t *testing.T) *sluiceclient.Clientset {
	return sluiceFor(t, stack.Config)
}

func sluiceFor(t *testing.T, cfg *rest.Config) *sluiceclient.Clientset {
	c, err := sluiceclient.NewForConfig(cfg)
	require.NoError(t, err)
	return c
}

// kubectl runs the pinned kubectl as admin and fails the test on error.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := stack.Kubectl(testContext(t), args...)
	require.NoError(t, err)
	return out
}

// kubectlIn runs kubectl with stdin.
func kubectlIn(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := stack.KubectlStdin(testContext(t), stdin, args...)
	require.NoError(t, err)
	return out
}

// kubectlErr runs kubectl and returns its error, for commands that must fail.
func kubectlErr(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	return stack.KubectlStdin(testContext(t), stdin, args...)
}

// eventually polls cond every 100ms until it holds, failing after timeout.
// cond's requests use the one context it is given, which ends with the
// poll, so a hung request fails the poll rather than outlive it.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error // the last failure that was not the poll's own deadline
	for {
		err := cond(ctx)
		if err == nil {
			return
		}
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lines splits kubectl output into non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
