package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"
)

// TestLargeObjectsUnderConcurrentWrites writes 8 MiB objects of random,
// incompressible data (created, updated twice, deleted) while small writes
// stream in from other goroutines. A large value takes far longer than
// GapGrace to be stored, and the small writes move the sequencer past its
// revision all the while: every write must still succeed, first time, as
// seen by the client.
func TestLargeObjectsUnderConcurrentWrites(t *testing.T) {
	const (
		bigWriters   = 3
		smallWriters = 4
		payloadSize  = 8 << 20 // base64 of random bytes: PostgreSQL cannot compress it
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	store := newStoreOn(t, newBackend(t, nil), defaultSetup()) // default GapGrace

	payload := func() string {
		raw := make([]byte, payloadSize/4*3)
		_, _ = rand.Read(raw)
		return base64.StdEncoding.EncodeToString(raw)
	}
	setPayload := func(p string) storage.UpdateFunc {
		return storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
			pod := obj.(*example.Pod)
			pod.Annotations = map[string]string{"payload": p}
			return pod, nil
		})
	}

	var errs []error
	var errMu sync.Mutex
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}

	// Small writes run until the large ones are done.
	stopSmall := make(chan struct{})
	var small atomic.Int64
	var smallWG sync.WaitGroup
	for w := range smallWriters {
		smallWG.Add(1)
		go func() {
			defer smallWG.Done()
			for i := 0; ; i++ {
				select {
				case <-stopSmall:
					return
				default:
				}
				name := fmt.Sprintf("small-%d-%d", w, i)
				key := "/pods/ns/" + name
				pod := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
				if err := store.Create(ctx, key, pod, &example.Pod{}, 0); err != nil {
					fail(fmt.Errorf("small create %s: %w", key, err))
					return
				}
				err := store.GuaranteedUpdate(ctx, key, &example.Pod{}, false, nil, storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
					obj.(*example.Pod).Spec.NodeName = "node"
					return obj, nil
				}), nil)
				if err != nil {
					fail(fmt.Errorf("small update %s: %w", key, err))
					return
				}
				small.Add(2)
			}
		}()
	}
	// Wait for the small writes to flow before the large ones start.
	require.Eventually(t, func() bool { return small.Load() >= 20 }, time.Minute, 10*time.Millisecond)

	smallBefore := small.Load()
	var bigWG sync.WaitGroup
	for w := range bigWriters {
		bigWG.Add(1)
		go func() {
			defer bigWG.Done()
			name := fmt.Sprintf("big-%d", w)
			key := "/pods/ns/" + name
			pod := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns",
				Annotations: map[string]string{"payload": payload()}}}
			if err := store.Create(ctx, key, pod, &example.Pod{}, 0); err != nil {
				fail(fmt.Errorf("large create %s: %w", key, err))
				return
			}
			var last string
			for range 2 {
				last = payload()
				if err := store.GuaranteedUpdate(ctx, key, &example.Pod{}, false, nil, setPayload(last), nil); err != nil {
					fail(fmt.Errorf("large update %s: %w", key, err))
					return
				}
			}
			got := &example.Pod{}
			if err := store.Get(ctx, key, storage.GetOptions{}, got); err != nil {
				fail(fmt.Errorf("get %s: %w", key, err))
				return
			}
			if got.Annotations["payload"] != last {
				fail(fmt.Errorf("%s: the stored payload is not the last one written", key))
				return
			}
			if err := store.Delete(ctx, key, &example.Pod{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{}); err != nil {
				fail(fmt.Errorf("large delete %s: %w", key, err))
			}
		}()
	}
	bigWG.Wait()
	smallDuring := small.Load() - smallBefore
	close(stopSmall)
	smallWG.Wait()

	for _, err := range errs {
		t.Error(err)
	}
	// Without small writes committing beside the large ones, nothing was tested.
	require.Positive(t, smallDuring, "no small write completed while the large ones ran")
	t.Logf("%d small writes while %d writers each created, updated twice and deleted an 8 MiB object", smallDuring, bigWriters)
}

// TestWriteThatLosesEveryRevision takes every revision a create will draw
// before it draws it, as gap rows would: the create fails with a 503 that
// tells the client to retry, not with the database's unique violation, and
// nothing is stored.
func TestWriteThatLosesEveryRevision(t *testing.T) {
	ctx := context.Background()
	store := newStoreOn(t, newBackend(t, nil), defaultSetup())
	_, err := store.b.pool.Exec(ctx, `
INSERT INTO sluice.events (rv, type)
SELECT last_value + g, 0 FROM sluice.rv_seq, generate_series(1, $1::int) AS g`, maxRevisionRetries+1)
	require.NoError(t, err)

	pod := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	err = store.Create(ctx, "/pods/ns/p", pod, &example.Pod{}, 0)
	require.True(t, apierrors.IsServiceUnavailable(err), "got %v", err)
	_, retry := apierrors.SuggestsClientDelay(err)
	require.True(t, retry, "the client must be told to retry: %v", err)
	require.NotContains(t, err.Error(), "SQLSTATE")

	err = store.Get(ctx, "/pods/ns/p", storage.GetOptions{}, &example.Pod{})
	require.True(t, storage.IsNotFound(err), "got %v", err)
	require.NoError(t, store.Create(ctx, "/pods/ns/p", pod, &example.Pod{}, 0))
}

// TestRunningWriteKeepsItsRevision draws a revision in a transaction that
// stays open far longer than GapGrace, as a write storing a large value
// does, while a later write waits to be published behind it. The sequencer
// must not close the revision: the long write then commits its event there,
// and the later write is acknowledged after it.
func TestRunningWriteKeepsItsRevision(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := newBackend(t, nil) // default GapGrace
	store := newStoreOn(t, b, defaultSetup())

	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var held int64
	require.NoError(t, tx.QueryRow(ctx, `SELECT sluice.next_rv()`).Scan(&held))

	created := make(chan error, 1)
	go func() {
		pod := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "later", Namespace: "ns"}}
		created <- store.Create(ctx, "/pods/ns/later", pod, &example.Pod{}, 0)
	}()
	// The later write cannot be acknowledged while the revision below it
	// is held, for many times GapGrace.
	require.Never(t, func() bool { return len(created) > 0 }, 20*b.opts.GapGrace, b.opts.GapGrace/5)

	_, err = tx.Exec(ctx, `INSERT INTO sluice.events (rv, key, type, value, create_rv) VALUES ($1, '/other/slow', 1, '\x00', $1)`, held)
	require.NoError(t, err, "the sequencer closed a revision whose write was still running")
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-created)

	var typ int16
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT type FROM sluice.events WHERE rv = $1`, held).Scan(&typ))
	require.Equal(t, evCreate, typ)
}
