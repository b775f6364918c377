package postgres

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
