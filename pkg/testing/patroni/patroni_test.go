package patroni

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestClusterFailsOverAndRejoins drives every fault the package offers on
// one cluster, and follows the data through the multi-host URL: a row
// committed before each fault must be there after it, on whichever member
// is the primary then.
func TestClusterFailsOverAndRejoins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.LogTails(4000))
		}
		c.Stop()
	})

	exec := func(sql string, args ...any) {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	rows := func(m *Member) int {
		t.Helper()
		conn, err := pgx.Connect(ctx, m.URL("postgres"))
		require.NoError(t, err)
		defer conn.Close(ctx)
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n))
		return n
	}

	first, err := c.Primary(ctx)
	require.NoError(t, err)
	exec(`CREATE TABLE t (n int)`)
	exec(`INSERT INTO t VALUES (1)`)

	// The machine of the primary dies: the standby takes over after the TTL.
	start := time.Now()
	require.NoError(t, first.Kill())
	second, err := c.WaitForNewPrimary(ctx, first)
	require.NoError(t, err)
	t.Logf("%s killed; %s promoted after %v", first.Name, second.Name, time.Since(start).Round(time.Millisecond))
	require.Equal(t, 1, rows(second), "the committed row survives the failover")
	exec(`INSERT INTO t VALUES (2)`) // the URL finds the new primary

	// The old primary comes back as a replica of the new one, with the row
	// written while it was down.
	start = time.Now()
	require.NoError(t, first.Restart(ctx))
	require.NoError(t, c.WaitHealthy(ctx))
	t.Logf("%s rejoined as a synchronous standby after %v", first.Name, time.Since(start).Round(time.Millisecond))
	require.Equal(t, 2, rows(first))

	// A planned switchover back.
	start = time.Now()
	require.NoError(t, c.Switchover(ctx, first))
	require.NoError(t, c.WaitHealthy(ctx))
	t.Logf("switched over to %s in %v", first.Name, time.Since(start).Round(time.Millisecond))
	exec(`INSERT INTO t VALUES (3)`)
	require.Equal(t, 3, rows(first))

	// The postmaster alone dies: Patroni fails over at once and brings the
	// old primary back as a replica by itself.
	start = time.Now()
	require.NoError(t, first.KillPostmaster())
	p, err := c.WaitForNewPrimary(ctx, first)
	require.NoError(t, err)
	require.Equal(t, second, p)
	t.Logf("%s's postmaster killed; %s promoted after %v", first.Name, second.Name, time.Since(start).Round(time.Millisecond))
	require.NoError(t, c.WaitHealthy(ctx))
	t.Logf("%s back as a synchronous standby after %v", first.Name, time.Since(start).Round(time.Millisecond))
	exec(`INSERT INTO t VALUES (4)`)
	require.Equal(t, 4, rows(second))
}
