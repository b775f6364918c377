package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// eventTable is the sequencer's eventSource on PostgreSQL: sluice.events,
// the compacted revision in sluice.meta, and NOTIFY/LISTEN on
// notifyChannel.
type eventTable struct {
	pool *pgxpool.Pool
}

var _ eventSource = eventTable{}

func (t eventTable) start(ctx context.Context) (compacted, published int64, err error) {
	if err := t.pool.QueryRow(ctx, selectCompactRV).Scan(&compacted); err != nil {
		return 0, 0, fmt.Errorf("reading the compacted revision: %w", err)
	}
	if err := t.pool.QueryRow(ctx, selectStartRV, compacted).Scan(&published); err != nil {
		return 0, 0, fmt.Errorf("finding the published revision: %w", err)
	}
	return compacted, published, nil
}

// read reads the compacted revision and the events in one round trip.
func (t eventTable) read(ctx context.Context, holes []int64, after int64, limit int) ([]*event, int64, error) {
	var compacted int64
	var events []*event
	b := &pgx.Batch{}
	b.Queue(selectCompactRV).QueryRow(func(row pgx.Row) error { return row.Scan(&compacted) })
	b.Queue(selectEvents, holes, after, limit).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			e := &event{}
			if err := rows.Scan(&e.rv, &e.key, &e.typ, &e.value, &e.prevValue, &e.prevRV, &e.createRV); err != nil {
				return err
			}
			events = append(events, e)
		}
		return rows.Err()
	})
	if err := t.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, 0, err
	}
	if len(events) > 0 {
		// Events read from the table are another replica's writes. Under
		// synchronous replication a commit becomes visible once the
		// standby has it, or earlier when the wait is cut short: the
		// primary's postmaster died, or the backend was terminated. Then
		// the commit is visible on the primary, its client got an error,
		// and a failover loses it: it must not reach watchers first
		// (test/ha saw that). A transaction that writes WAL and commits
		// after this read waits until the standby has the WAL up to its
		// commit record, which follows the commit records of everything
		// read; on a dying primary it fails instead. Without a synchronous
		// standby it returns at once.
		if _, err := t.pool.Exec(ctx, durableBarrierSQL); err != nil {
			return nil, 0, fmt.Errorf("waiting for the events to be durable: %w", err)
		}
	}
	return events, compacted, nil
}

func (t eventTable) closeHoles(ctx context.Context, rvs []int64) ([]int64, error) {
	rows, err := t.pool.Query(ctx, fillGaps, rvs)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func (t eventTable) notify(ctx context.Context) error {
	_, err := t.pool.Exec(ctx, notifySQL, notifyChannel)
	return err
}

func (t eventTable) listen(ctx context.Context, wake func()) error {
	conn, err := t.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection is in LISTEN state: never return it to the pool.
	raw := conn.Hijack()
	defer raw.Close(context.Background())
	if _, err := raw.Exec(ctx, listenSQL); err != nil {
		return err
	}
	for {
		if _, err := raw.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
