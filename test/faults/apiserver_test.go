package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAPIServerKilled kills sluice-apiserver with SIGKILL, three times,
// while four writers create and update Pipelines through kube-apiserver
// and two watchers watch them, and each time starts it again, as a
// Deployment would. Every acknowledged write is stored with its value and
// seen by every watcher, in order, across the restarts; requests in the gap
// fail with 503 or a timeout, never 500 (and never 403: see
// pkg/apiserver/frontproxy.go); the watchers watch again from where they
// were, without re-listing, and new writes succeed. The figures are logged.
func TestAPIServerKilled(t *testing.T) {
	ns := namespace(t, "kill")
	l := startLoad(t, ns, 4, 2, false)
	l.waitAcked(60, time.Minute)
	start := time.Now()

	srv := stack.APIServers[0]
	var rounds []string
	for round := range 3 {
		failedBefore := l.failed.Load()
		killed := time.Now()
		require.NoError(t, srv.Kill(), "SIGKILL to sluice-apiserver")
		eventually(t, time.Minute, "writes to fail while sluice-apiserver is down", func(context.Context) error {
			if n := l.failed.Load() - failedBefore; n < 4 {
				return fmt.Errorf("%d failed", n)
			}
			return nil
		})

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		restarting := time.Now()
		require.NoError(t, stack.RestartAPIServer(ctx, srv))
		cancel()
		ready := time.Now()
		firstWrite := l.firstAckAfter(ready, time.Minute)
		var watchesBack []string
		for _, w := range l.watchers {
			watchesBack = append(watchesBack, w.firstEventAfter(ready, true, time.Minute).Round(time.Millisecond).String())
		}
		l.waitAcked(60, time.Minute)
		rounds = append(rounds, fmt.Sprintf("round %d: started again %s after the kill, ready %s later; "+
			"then the first write acknowledged after %s, the watchers' first events after %s",
			round+1, restarting.Sub(killed).Round(time.Millisecond), ready.Sub(restarting).Round(time.Millisecond),
			firstWrite.Round(time.Millisecond), strings.Join(watchesBack, " and ")))
	}

	lost := l.check()
	for _, w := range l.watchers {
		require.Zero(t, w.relists, "%s watched again from its revision, without a re-list", w.name)
	}
	t.Logf("sluice-apiserver killed with SIGKILL 3 times under load; %d acknowledged writes lost\n%s\n%s",
		lost, strings.Join(rounds, "\n"), l.report(start))
}
