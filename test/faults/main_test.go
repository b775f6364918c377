// Package faults injects process and disk faults into a Sluice stack of its
// own and checks what clients see through kube-apiserver: sluice-apiserver
// killed with SIGKILL under load and started again, and the database's disk
// filling up and freed again.
//
// These faults would break any other test that shared the stack (test/e2e
// runs its tests in parallel on one sluice-apiserver behind the
// APIService), so this package starts its own: the API part of the local
// stack (PostgreSQL with the disk fault of pkg/testing/postgres, etcd,
// kube-apiserver, one sluice-apiserver behind the APIService), and runs its
// tests one at a time. The leading controller killed mid-job is in
// test/e2e (TestLeaderElection), where the controllers run.
package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	dir, err := os.MkdirTemp("", "sluice-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	stack, err = localstack.Start(ctx, localstack.Options{
		Dir:               dir,
		RepoRoot:          filepath.Dir(bin),
		APIOnly:           true,
		PostgresDiskFault: true,
		Log:               os.Stderr,
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

// clientConfig is the admin's config with a request timeout, so that a
// request the fault leaves hanging fails as a timeout instead of holding
// its writer.
func clientConfig() *rest.Config {
	cfg := rest.CopyConfig(stack.Config)
	cfg.Timeout = 10 * time.Second
	cfg.QPS = -1
	return cfg
}

func sluiceAdmin(t *testing.T) *sluiceclient.Clientset {
	c, err := sluiceclient.NewForConfig(clientConfig())
	require.NoError(t, err)
	return c
}

func kube(t *testing.T) *kubernetes.Clientset {
	c, err := kubernetes.NewForConfig(clientConfig())
	require.NoError(t, err)
	return c
}

var namespaceSeq atomic.Int64

// namespace creates a namespace for one test and deletes it afterwards.
func namespace(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, namespaceSeq.Add(1))
	_, err := kube(t).CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = kube(t).CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// eventually polls cond every 100ms until it holds, failing after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
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
