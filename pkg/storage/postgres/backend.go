package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"k8s.io/klog/v2"
)

// Options configure a Backend.
type Options struct {
	// DatabaseURL is a libpq-style URL or DSN. Pool settings may be given in
	// it as pool_max_conns, pool_min_conns, ... (see pgxpool.ParseConfig).
	DatabaseURL string
	// MaxConns overrides the pool size when non-zero.
	MaxConns int32
	// Migrate applies missing schema migrations at start. Without it a
	// database whose schema is behind is an error.
	Migrate bool

	// MaxObjectSize is the largest encoded object accepted, stored and as
	// JSON (StoreConfig.JSONEncoder); larger writes fail with 413. Default
	// 15 MiB; at most MaxWatchableObjectSize.
	MaxObjectSize int

	// CompactionWindow is how long history is kept for watches and reads at
	// past revisions. Default 5 minutes.
	CompactionWindow time.Duration
	// CompactionMinRevisions is how many of the latest revisions are always
	// kept, whatever their age. Default 1000.
	CompactionMinRevisions int64
	// CompactionInterval is how often the compactor runs. Default 30s.
	CompactionInterval time.Duration
	// CompactionBatch bounds the rows one compaction statement deletes, so
	// compaction never holds locks or a snapshot for long. Default 5000.
	CompactionBatch int

	// PollInterval is how often the sequencer looks for writes made by
	// other replicas when nothing woke it. Default 250ms.
	PollInterval time.Duration
	// GapGrace is how long a missing revision may stay missing before the
	// sequencer closes it with a gap row, which it does only once no write
	// holds the revision. Default 25ms.
	GapGrace time.Duration
	// ProgressNotifyInterval is how often a watch that asked for progress
	// notifications, or allows bookmarks, gets a bookmark. Default 5s.
	ProgressNotifyInterval time.Duration
	// WatchBufferSize is how many events a watcher may fall behind before it
	// is closed with 410 Gone, so its client re-lists. Default 10000.
	WatchBufferSize int
	// UnavailableAfter is how long the sequencer may fail before watches are
	// ended and the readiness check fails. Default 2s.
	UnavailableAfter time.Duration
}

// MaxWatchableObjectSize is the largest MaxObjectSize there can be.
// client-go's watch decoder refuses an event over 16 MiB and ends the
// watch, and an event is the object's JSON with its resourceVersion, in an
// envelope: a larger object would end every client-go watch of its
// resource (sluice-controller's informers among them) each time it is
// sent, for as long as it exists. 4 KiB leaves room for the rest.
const MaxWatchableObjectSize = 16<<20 - 4<<10

// unwatchable says why MaxObjectSize is bounded.
const unwatchable = "client-go's watches, sluice-controller's informers among them, refuse an event over 16 MiB"

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.MaxObjectSize == 0 {
		o.MaxObjectSize = 15 << 20
	}
	def(&o.CompactionWindow, 5*time.Minute)
	if o.CompactionMinRevisions == 0 {
		o.CompactionMinRevisions = 1000
	}
	def(&o.CompactionInterval, 30*time.Second)
	if o.CompactionBatch == 0 {
		o.CompactionBatch = 5000
	}
	def(&o.PollInterval, 250*time.Millisecond)
	def(&o.GapGrace, 25*time.Millisecond)
	def(&o.ProgressNotifyInterval, 5*time.Second)
	if o.WatchBufferSize == 0 {
		o.WatchBufferSize = 10000
	}
	def(&o.UnavailableAfter, 2*time.Second)
}

// Backend is one PostgreSQL database holding every resource. It owns the
// connection pool and what all stores share: the sequencer that orders
// revisions, the broadcaster that feeds its batches to watches and
// observers, the compactor and the TTL expirer. Create one per process and a
// Store per resource from it.
type Backend struct {
	opts        Options
	pool        *pgxpool.Pool
	sequencer   *sequencer
	broadcaster *broadcaster
	marks       *revisionMarks

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New connects, checks or applies the schema, and starts the background
// loops. It fails fast with a clear error when the database cannot be
// reached or its schema is not usable.
func New(ctx context.Context, opts Options) (*Backend, error) {
	opts.setDefaults()
	if opts.DatabaseURL == "" {
		return nil, errors.New("no database URL: set --database-url or SLUICE_DATABASE_URL")
	}
	if opts.MaxObjectSize > MaxWatchableObjectSize {
		return nil, fmt.Errorf("the largest object, %d bytes, is over %d: %s", opts.MaxObjectSize, MaxWatchableObjectSize, unwatchable)
	}
	cfg, err := pgxpool.ParseConfig(opts.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the database URL: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// Every replica writes. Of a URL of several hosts (the members of an HA
	// cluster) it must only connect to the one that accepts writes, as
	// target_session_attrs=read-write does, or its pool keeps connections to
	// a standby, such as the old primary back after a failover, and a share
	// of its writes fails for as long as they last. A URL that names another
	// check keeps it; one host is the operator's to choose.
	if severalHosts(cfg.ConnConfig.Config) && cfg.ConnConfig.ValidateConnect == nil {
		cfg.ConnConfig.ValidateConnect = pgconn.ValidateConnectTargetSessionAttrsReadWrite
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "sluice"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the connection pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach the database at %s: %w", redact(cfg), err)
	}
	if err := migrate(ctx, pool, opts.Migrate); err != nil {
		pool.Close()
		return nil, err
	}

	b := &Backend{opts: opts, pool: pool}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	// The sequencer's output goes to the broadcaster, which starts at the
	// revision the sequencer starts publishing from.
	b.sequencer = newSequencer(eventTable{pool: pool}, sequencerOptions{
		PollInterval: opts.PollInterval, GapGrace: opts.GapGrace, UnavailableAfter: opts.UnavailableAfter,
	})
	start, err := b.sequencer.init(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	b.broadcaster = newBroadcaster(start, opts.ProgressNotifyInterval)
	b.sequencer.out = b.broadcaster
	b.marks = newRevisionMarks(2 * opts.CompactionWindow)
	b.marks.add(time.Now(), b.broadcaster.addObserver(b.marks))
	b.goLoop("sequencer", b.sequencer.run)
	b.goLoop("listener", b.sequencer.listen)
	b.goLoop("bookmarks", b.broadcaster.runProgress)
	b.goLoop("compactor", b.runCompactor)
	b.goLoop("expirer", b.runExpirer)
	return b, nil
}

// severalHosts reports whether c names more than one server. pgx also makes
// fallbacks of one host (with TLS and without, for sslmode=prefer), which
// do not count.
func severalHosts(c pgconn.Config) bool {
	for _, f := range c.Fallbacks {
		if f.Host != c.Host || f.Port != c.Port {
			return true
		}
	}
	return false
}

func redact(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

func (b *Backend) goLoop(name string, loop func(ctx context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		loop(b.ctx)
		klog.V(4).InfoS("storage loop stopped", "loop", name)
	}()
}

// Close stops the background loops, ends every watch and closes the pool.
func (b *Backend) Close() {
	b.cancel()
	b.wg.Wait()
	b.sequencer.stop()
	b.broadcaster.closeAll()
	b.pool.Close()
}

// ReadinessCheck fails while the sequencer cannot read from the database.
func (b *Backend) ReadinessCheck() error { return b.sequencer.healthy() }

// CompactRevision is the compacted revision as last read from the database.
func (b *Backend) CompactRevision() int64 { return b.sequencer.compactRevision() }

// CurrentRevision waits until every write that committed before the call is
// published, and returns the published revision: the revision a consistent
// read is served at.
func (b *Backend) CurrentRevision(ctx context.Context) (int64, error) {
	var last int64
	var called bool
	err := b.pool.QueryRow(ctx, selectLastDrawnRV).Scan(&last, &called)
	if err != nil {
		return 0, interpret("", err)
	}
	if !called {
		last = 0
	}
	if err := b.sequencer.waitPublished(ctx, last); err != nil {
		return 0, err
	}
	return b.sequencer.published(), nil
}
