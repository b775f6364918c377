package postgres

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(RunMain(m)) }

// TestDatabasesAreIsolated checks that two tests' databases do not share tables.
func TestDatabasesAreIsolated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := NewDatabase(t), NewDatabase(t)
	require.NotEqual(t, a, b)

	connA, err := pgx.Connect(ctx, a)
	require.NoError(t, err)
	defer connA.Close(ctx)
	_, err = connA.Exec(ctx, `CREATE TABLE only_in_a (x int)`)
	require.NoError(t, err)

	connB, err := pgx.Connect(ctx, b)
	require.NoError(t, err)
	defer connB.Close(ctx)
	var n int
	require.NoError(t, connB.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'`).Scan(&n))
	require.Zero(t, n)
}

// TestServerRestart stops a durable server, starts it again on the same port
// and finds the committed row still there.
func TestServerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := Options{Durable: true}
	s, err := Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Remove()) })

	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE TABLE t (x int); INSERT INTO t VALUES (42)`)
	require.NoError(t, err)
	conn.Close(ctx)

	require.NoError(t, s.Kill())
	_, err = pgx.Connect(ctx, s.DSN("postgres"))
	require.Error(t, err, "server must be down after Kill")

	require.NoError(t, s.Restart(ctx, opts))
	conn, err = pgx.Connect(ctx, s.DSN("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var x int
	require.NoError(t, conn.QueryRow(ctx, `SELECT x FROM t`).Scan(&x))
	require.Equal(t, 42, x)
}

// TestServerInAPrivateDirectory starts a server whose directory is inside a
// directory only its owner may enter, as a checkout under /root or in a
// private temp dir is. Run as root, the server runs as the postgres user,
// which cannot reach it there: its files must go where it can, with the
// requested directory a link to them, and all of it removed afterwards.
func TestServerInAPrivateDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	private := t.TempDir()
	require.NoError(t, os.Chmod(private, 0o700))
	dir := filepath.Join(private, "stack", "postgres")

	s, err := Start(ctx, Options{Dir: dir})
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	require.NoError(t, err)
	require.NoError(t, conn.Ping(ctx))
	conn.Close(ctx)
	_, err = os.Stat(filepath.Join(dir, "data", "PG_VERSION"))
	require.NoError(t, err, "the requested directory leads to the server's files")

	require.NoError(t, s.Remove())
	_, err = os.Lstat(dir)
	require.True(t, os.IsNotExist(err), "Remove leaves nothing at the requested directory: %v", err)
	_, err = os.Stat(s.Dir)
	require.True(t, os.IsNotExist(err), "Remove deletes the server's files: %v", err)
}

// TestDiskFull fills the disk under a server's databases: a statement that
// needs new pages fails with SQLSTATE 53100 (disk_full), as PostgreSQL
// reports a real full disk; one that fits in a page with room succeeds, and
// reads go on. Once the disk is freed, the same statement succeeds in the
// same session, with nothing lost.
func TestDiskFull(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{DiskFault: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Remove()) })
	require.Error(t, (&Server{}).SetDiskFull(true), "only a server started with DiskFault")

	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	const fill = `INSERT INTO t (v) SELECT repeat('x', 1000) FROM generate_series(1, 1000)`
	_, err = conn.Exec(ctx, `CREATE TABLE t (id serial PRIMARY KEY, v text)`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, fill)
	require.NoError(t, err)

	require.NoError(t, s.SetDiskFull(true))
	_, err = conn.Exec(ctx, fill)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "53100", pgErr.Code, "disk_full: %s", pgErr.Message)
	require.Contains(t, pgErr.Message, "No space left on device")
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n))
	require.Equal(t, 1000, n, "reads go on, and the failed statement left nothing")
	_, err = conn.Exec(ctx, `INSERT INTO t (v) VALUES ('fits in the last page')`)
	require.NoError(t, err, "a row that fits in a page with room needs no new space")

	require.NoError(t, s.SetDiskFull(false))
	_, err = conn.Exec(ctx, fill)
	require.NoError(t, err)
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n))
	require.Equal(t, 2001, n)
}
