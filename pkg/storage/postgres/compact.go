package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
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

const (
	raiseCompactRV = `UPDATE sluice.meta SET compact_rv = $1 WHERE compact_rv < $1 RETURNING compact_rv`
	deleteHistory  = `DELETE FROM sluice.events WHERE rv >= $1 AND rv <= $2`
	minHistoryRV   = `SELECT coalesce(min(rv), $1) FROM sluice.events`
)

func (b *Backend) runCompactor(ctx context.Context) {
	t := time.NewTicker(b.opts.CompactionInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		target := b.pub.publishedBefore(time.Now().Add(-b.opts.CompactionWindow))
		if keep := b.pub.published() - b.opts.CompactionMinRevisions; keep < target {
			target = keep
		}
		if target <= b.pub.compactRevision() {
			continue
		}
		if err := b.Compact(ctx, target); err != nil && ctx.Err() == nil {
			klog.ErrorS(err, "compaction failed", "revision", target)
		}
	}
}

// Compact removes the history up to and including rv: reads and watches at
// revisions below rv fail with 410 Gone afterwards, as with etcd. It never
// compacts past the published revision.
func (b *Backend) Compact(ctx context.Context, rv int64) error {
	if pub := b.pub.published(); rv > pub {
		rv = pub
	}
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return interpret("", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, compactionLockKey).Scan(&locked); err != nil {
		return interpret("", err)
	}
	if !locked {
		return nil // another replica is compacting
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, compactionLockKey)
	}()

	var raised int64
	err = conn.QueryRow(ctx, raiseCompactRV, rv).Scan(&raised)
	if err != nil && err != pgx.ErrNoRows {
		return interpret("", err)
	}
	if err == nil {
		b.pub.setCompacted(raised)
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
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := b.expireOnce(ctx); err != nil && ctx.Err() == nil {
			klog.V(2).InfoS("expiring objects failed", "err", err)
		}
	}
}

func (b *Backend) expireOnce(ctx context.Context) error {
	rows, err := b.pool.Query(ctx, `SELECT key, rv FROM sluice.kv WHERE expires_at <= now() ORDER BY expires_at LIMIT 100`)
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
