package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"

	"github.com/sluice-dev/sluice/pkg/storage/postgres/linearizability"
	pgtest "github.com/sluice-dev/sluice/pkg/testing/postgres"
)

// linearizabilityWorkload is the size of a history in make test, and with -long.
func linearizabilityWorkload(stores ...storage.Interface) linearizability.Config {
	cfg := linearizability.Config{
		Stores:     stores,
		Prefix:     "/pods/linearizability/",
		Keys:       4,
		Clients:    6,
		Operations: 400,
		Seed:       uint64(time.Now().UnixNano()),
	}
	if *longTests {
		cfg.Keys, cfg.Clients, cfg.Operations = 8, 8, 10000
	}
	return cfg
}

// checkTimeout bounds porcupine's search; a history it cannot decide in time
// fails the test as Unknown.
const checkTimeout = time.Minute

// TestLinearizableAcrossReplicas records concurrent creates, gets,
// conditional updates, deletes and lists on a few keys through two replicas
// of one database, and checks that the history is linearizable.
func TestLinearizableAcrossReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dsn := newDatabaseURL(t)
	cfg := linearizabilityWorkload(newPodStore(t, dsn), newPodStore(t, dsn))
	t.Logf("seed %d", cfg.Seed)
	h, err := linearizability.Run(ctx, cfg)
	require.NoError(t, err)
	for _, r := range h.Unknown() {
		t.Errorf("no call may fail without a fault: %v: %v", r, r.Err)
	}
	linearizability.RequireLinearizable(t, h, checkTimeout)
}

// TestLinearizableAcrossRestart crashes PostgreSQL in the middle of a history
// and starts it again. Calls that fail while it is down have an unknown
// outcome (a write may or may not be stored): the model lets each have
// happened or not, and each must have failed with a 503 or a timeout.
func TestLinearizableAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pgOpts := pgtest.Options{Durable: true} // a crash must not lose an acknowledged commit
	server, err := pgtest.Start(ctx, pgOpts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Remove() })
	fast := func(o *Options) { o.UnavailableAfter = 300 * time.Millisecond }
	stores := []*Store{
		newStoreOn(t, newBackendOn(t, server.DSN("postgres"), fast), defaultSetup()),
		newStoreOn(t, newBackendOn(t, server.DSN("postgres"), fast), defaultSetup()),
	}
	cfg := linearizabilityWorkload(stores[0], stores[1])
	cfg.OperationTimeout = 5 * time.Second
	cfg.FaultAfter = cfg.Operations / 3
	cfg.Fault = restartPostgres(server, pgOpts, stores)
	t.Logf("seed %d", cfg.Seed)
	h, err := linearizability.Run(ctx, cfg)
	require.NoError(t, err)
	unknown := h.Unknown()
	require.NotEmpty(t, unknown, "the restart must fail some calls, or it tested nothing")
	for _, r := range unknown {
		if !apierrors.IsServiceUnavailable(r.Err) && !storage.IsRequestTimeout(r.Err) {
			t.Errorf("%v: every failure must be a 503 or a timeout: %v", r, r.Err)
		}
	}
	linearizability.RequireLinearizable(t, h, checkTimeout)
}

// restartPostgres is the fault of TestLinearizableAcrossRestart: crash the
// server, wait until the stores notice, start it again and wait until they
// recover.
func restartPostgres(server *pgtest.Server, opts pgtest.Options, stores []*Store) func(context.Context) error {
	ready := func(want bool) func() bool {
		return func() bool {
			for _, s := range stores {
				if (s.ReadinessCheck() == nil) != want {
					return false
				}
			}
			return true
		}
	}
	return func(ctx context.Context) error {
		if err := server.Kill(); err != nil {
			return err
		}
		if err := waitUntil(ctx, ready(false)); err != nil {
			return fmt.Errorf("waiting for the stores to notice the crash: %w", err)
		}
		if err := server.Restart(ctx, opts); err != nil {
			return err
		}
		if err := waitUntil(ctx, ready(true)); err != nil {
			return fmt.Errorf("waiting for the stores to recover: %w", err)
		}
		return nil
	}
}

func waitUntil(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// TestLinearizabilityCheckerCatchesStaleReads runs the same workload
// against a store that serves each Get from a cache of the first value it
// read, as a replica that missed updates would. The checker must call that
// history illegal: a check that passes on a broken store proves nothing.
func TestLinearizabilityCheckerCatchesStaleReads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := linearizabilityWorkload(&staleGets{Interface: newPodStore(t, newDatabaseURL(t)), cache: map[string]runtime.Object{}})
	cfg.Keys, cfg.Clients, cfg.Operations = 4, 6, 400
	h, err := linearizability.Run(ctx, cfg)
	require.NoError(t, err)
	r := linearizability.Check(h, checkTimeout)
	require.Equal(t, porcupine.Illegal, r.Linearizable, "stale reads went unnoticed")
}

// staleGets serves a key's Get from the first object it read of it.
type staleGets struct {
	storage.Interface
	mu    sync.Mutex
	cache map[string]runtime.Object
}

func (s *staleGets) Get(ctx context.Context, key string, opts storage.GetOptions, out runtime.Object) error {
	s.mu.Lock()
	cached, ok := s.cache[key]
	s.mu.Unlock()
	if ok {
		*out.(*example.Pod) = *cached.(*example.Pod).DeepCopy()
		return nil
	}
	if err := s.Interface.Get(ctx, key, opts, out); err != nil {
		return err
	}
	s.mu.Lock()
	s.cache[key] = out.DeepCopyObject()
	s.mu.Unlock()
	return nil
}
