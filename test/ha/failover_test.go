package ha

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apiserver/pkg/storage"

	"github.com/sluice-dev/sluice/pkg/testing/patroni"
)

// warmWrites is how many writes each replica acknowledges before the
// fault, and again after it, before the load stops.
const warmWrites = 100

// recoveryTimeout bounds how long after the fault every replica may take to
// acknowledge warmWrites writes in a row.
const recoveryTimeout = time.Minute

// fault is what a failover test does to the cluster mid-load. It returns
// once the cluster has a new primary (and whatever else the fault waits for).
type fault func(t *testing.T, ctx context.Context, c *patroni.Cluster, primary *patroni.Member) error

// runFailover runs the load on two storage replicas on the multi-host URL,
// applies f once each replica has acknowledged warmWrites writes, requires
// each to acknowledge warmWrites in a row after it, and checks everything
// the load recorded.
func runFailover(t *testing.T, f fault) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := healthyCluster(t, ctx)
	url := newDatabase(t, ctx)
	var stores []storage.Interface
	var prefix string
	for range 2 {
		s, p := newJobStore(t, newBackend(t, ctx, url), "ha")
		stores, prefix = append(stores, s), p
	}
	l := startLoad(t, ctx, stores, prefix)
	l.waitAcked(ctx, warmWrites, false)

	primary, err := c.Primary(ctx)
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, f(t, ctx, c, primary))
	t.Logf("the fault took %v; cluster: %s", time.Since(start).Round(time.Millisecond), c.View(ctx))
	recovered, cancelRecovery := context.WithTimeout(ctx, recoveryTimeout)
	defer cancelRecovery()
	l.waitAcked(recovered, warmWrites, true)
	r := l.finish(ctx)
	t.Logf("%v", r)
	// A fault that no call of the load noticed tested nothing. Writes alone
	// are not the measure: a clean switchover can land between two writes of
	// every writer (a CI run saw 0 of 6,041 fail), and then only the reads
	// and the samplers' revision reads, which run on throughout, show it.
	if r.failedCalls == 0 && r.errorEnds == 0 {
		t.Errorf("no call failed and no watch ended: the fault was not felt, so this tested nothing")
	}
}

// TestFailoverPrimaryLost: the primary's machine dies (Patroni and
// postmaster, kill -9) mid-load, and stays down. The synchronous standby is
// promoted once the leader's lease expires, and both replicas follow it
// through the multi-host URL.
func TestFailoverPrimaryLost(t *testing.T) {
	runFailover(t, func(t *testing.T, ctx context.Context, c *patroni.Cluster, primary *patroni.Member) error {
		if err := primary.Kill(); err != nil {
			return err
		}
		start := time.Now()
		p, err := c.WaitForNewPrimary(ctx, primary)
		if err == nil {
			t.Logf("%s killed; %s promoted after %v", primary.Name, p.Name, time.Since(start).Round(time.Millisecond))
		}
		return err
	})
}

// TestFailoverOldPrimaryReturns: the primary's postmaster is killed
// (kill -9) mid-load while its Patroni runs on. Patroni fails over to the
// synchronous standby at once and brings the old primary back as a replica
// of the new one (with pg_rewind if it diverged), all while the load runs: nothing must reach
// the old primary once it is a replica, and nothing it had must be lost.
func TestFailoverOldPrimaryReturns(t *testing.T) {
	runFailover(t, func(t *testing.T, ctx context.Context, c *patroni.Cluster, primary *patroni.Member) error {
		if err := primary.KillPostmaster(); err != nil {
			return err
		}
		start := time.Now()
		p, err := c.WaitForNewPrimary(ctx, primary)
		if err != nil {
			return err
		}
		t.Logf("%s's postmaster killed; %s promoted after %v", primary.Name, p.Name, time.Since(start).Round(time.Millisecond))
		if err := c.WaitHealthy(ctx); err != nil {
			return err
		}
		t.Logf("%s back as a synchronous standby after %v", primary.Name, time.Since(start).Round(time.Millisecond))
		return nil
	})
}

// TestSwitchover: a planned switchover through patronictl mid-load. The
// primary stops cleanly and returns as a replica of the other member.
func TestSwitchover(t *testing.T) {
	runFailover(t, func(t *testing.T, ctx context.Context, c *patroni.Cluster, primary *patroni.Member) error {
		to := c.Members[0]
		if to == primary {
			to = c.Members[1]
		}
		start := time.Now()
		if err := c.Switchover(ctx, to); err != nil {
			return err
		}
		t.Logf("switched over from %s to %s in %v", primary.Name, to.Name, time.Since(start).Round(time.Millisecond))
		return c.WaitHealthy(ctx)
	})
}
