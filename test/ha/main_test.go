package ha

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/pkg/testing/patroni"
)

// cluster is the Patroni cluster every test of the package shares, each on a
// database of its own. A test that kills a member leaves the cluster to the
// next one to heal (healthyCluster).
var cluster *patroni.Cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	c, err := patroni.Start(ctx, patroni.Options{})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the Patroni cluster: %v\n", err)
		return 1
	}
	cluster = c
	defer c.Stop()
	return m.Run()
}
