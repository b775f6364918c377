package postgres

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
)

// Compaction keeps history for a window of time (and at least a number of
// revisions) and deletes the rest, a bounded batch per statement so that it
// never holds locks or an old snapshot for long. The compacted revision is
// raised in sluice.meta before any row goes, so a read that needs a deleted
// event sees the new compacted revision in the same snapshot and answers
// 410 Gone instead of a wrong result. Every replica reads that row; one
// replica at a time compacts, under an advisory lock.

const compactionLockKey int64 = 0x5100CE02

func (b *Backend) runCompactor(ctx context.Context) {
	wait.UntilWithContext(ctx, b.compactOnce, b.opts.CompactionInterval)
}

// compactOnce compacts what has been history for longer than the window,
// keeping at least CompactionMinRevisions.
func (b *Backend) compactOnce(ctx context.Context) {
	target := b.marks.before(time.Now().Add(-b.opts.CompactionWindow))
	if keep := b.sequencer.published() - b.opts.CompactionMinRevisions; keep < target {
		target = keep
	}
	if target <= b.sequencer.compactRevision() {
		return
	}
	if err := b.Compact(ctx, target); err != nil && ctx.Err() == nil {
		klog.ErrorS(err, "compaction failed", "revision", target)
	}
}

// Compact removes the history up to and including rv: reads and watches at
// revisions below rv fail with 410 Gone afterwards, as with etcd. It never
// compacts past the published revision.
func (b *Backend) Compact(ctx context.Context, rv int64) error {
	if pub := b.sequencer.published(); rv > pub {
		rv = pub
	}
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return interpret("", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, tryAdvisoryLock, compactionLockKey).Scan(&locked); err != nil {
		return interpret("", err)
	}
	if !locked {
		return nil // another replica is compacting
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), advisoryUnlock, compactionLockKey)
	}()

	var raised int64
	err = conn.QueryRow(ctx, raiseCompactRV, rv).Scan(&raised)
	if err != nil && err != pgx.ErrNoRows {
		return interpret("", err)
	}
	if err == nil {
		b.sequencer.setCompacted(raised)
	}
	var from int64
	if err := conn.QueryRow(ctx, minHistoryRV, rv).Scan(&from); err != nil {
		return interpret("", err)
	}
	start := time.Now()
	deleted := int64(0)
	for from <= rv {
		to := min(from+int64(b.opts.CompactionBatch)-1, rv)
		tag, err := conn.Exec(ctx, deleteHistory, from, to)
		if err != nil {
			return interpret("", err)
		}
		deleted += tag.RowsAffected()
		from = to + 1
	}
	compactedEvents.Add(float64(deleted))
	klog.V(2).InfoS("compacted history", "revision", rv, "events", deleted, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// runExpirer deletes objects whose TTL has passed, through the normal
// delete path so that watchers see DELETED events.
func (b *Backend) runExpirer(ctx context.Context) {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := b.expireOnce(ctx); err != nil && ctx.Err() == nil {
			klog.V(2).InfoS("expiring objects failed", "err", err)
		}
	}, time.Second)
}

func (b *Backend) expireOnce(ctx context.Context) error {
	rows, err := b.pool.Query(ctx, selectExpired)
	if err != nil {
		return err
	}
	type kv struct {
		key string
		rv  int64
	}
	expired, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kv, error) {
		var e kv
		return e, r.Scan(&e.key, &e.rv)
	})
	if err != nil {
		return err
	}
	for _, e := range expired {
		// Conditional on the revision: a concurrent update wins.
		if _, err := b.write(ctx, evDelete, e.key, nil, deleteSQL, e.key, e.rv); err != nil {
			return err
		}
	}
	return nil
}

// revisionMarks samples (time, published revision) at most once a second, as
// an observer of the published batches, so that the compactor can find the
// revision that was current a compaction window ago.
type revisionMarks struct {
	keep  time.Duration // marks older than this are dropped
	mu    sync.Mutex
	marks []revisionMark
}

type revisionMark struct {
	at time.Time
	rv int64
}

func newRevisionMarks(keep time.Duration) *revisionMarks { return &revisionMarks{keep: keep} }

func (m *revisionMarks) observe(b batch) { m.add(time.Now(), b.rv) }

func (m *revisionMarks) add(now time.Time, rv int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.marks) > 0 && now.Sub(m.marks[len(m.marks)-1].at) < time.Second {
		return
	}
	m.marks = append(m.marks, revisionMark{at: now, rv: rv})
	cut := sort.Search(len(m.marks), func(i int) bool { return now.Sub(m.marks[i].at) < m.keep })
	if cut > 0 && cut < len(m.marks) {
		m.marks = append(m.marks[:0], m.marks[cut:]...)
	}
}

// before returns the highest revision published at or before t.
func (m *revisionMarks) before(t time.Time) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var rv int64
	for _, mark := range m.marks {
		if mark.at.After(t) {
			break
		}
		rv = mark.rv
	}
	return rv
}
