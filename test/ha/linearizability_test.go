package ha

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/apitesting"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apiserver/pkg/apis/example"
	examplev1 "k8s.io/apiserver/pkg/apis/example/v1"
	"k8s.io/apiserver/pkg/storage"

	"github.com/sluice-dev/sluice/pkg/storage/postgres"
	"github.com/sluice-dev/sluice/pkg/storage/postgres/linearizability"
)

// The linearizability workload stores k8s.io/apiserver's example Pods.
var (
	podScheme = runtime.NewScheme()
	podCodecs = serializer.NewCodecFactory(podScheme)
	pods      = schema.GroupResource{Resource: "pods"}
)

func init() {
	metav1.AddToGroupVersion(podScheme, metav1.SchemeGroupVersion)
	utilruntime.Must(example.AddToScheme(podScheme))
	utilruntime.Must(examplev1.AddToScheme(podScheme))
}

func newPodStore(t *testing.T, b *postgres.Backend) *postgres.Store {
	t.Helper()
	s, err := b.NewStore(postgres.StoreConfig{
		Codec:              apitesting.TestCodec(podCodecs, examplev1.SchemeGroupVersion),
		NewFunc:            func() runtime.Object { return &example.Pod{} },
		NewListFunc:        func() runtime.Object { return &example.PodList{} },
		ResourcePrefix:     "/pods/",
		GroupResource:      pods,
		SharedWatchObjects: true,
	})
	require.NoError(t, err)
	return s
}

// TestLinearizableAcrossFailover records a history of concurrent creates,
// gets, conditional updates, deletes and lists on a few keys through two
// storage replicas, kills the primary's machine a third of the way through,
// and checks the history with porcupine (pkg/storage/postgres/linearizability):
// the failover must not make any acknowledged operation impossible to
// place in one order. Calls that fail in the gap have an unknown outcome,
// and must be what a client can retry.
func TestLinearizableAcrossFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := healthyCluster(t, ctx)
	url := newDatabase(t, ctx)
	stores := []*postgres.Store{newPodStore(t, newBackend(t, ctx, url)), newPodStore(t, newBackend(t, ctx, url))}
	cfg := linearizability.Config{
		Stores:           []storage.Interface{stores[0], stores[1]},
		Prefix:           "/pods/linearizability/",
		Keys:             4,
		Clients:          6,
		Operations:       400,
		OperationTimeout: requestTimeout,
		FaultAfter:       400 / 3,
		Seed:             uint64(time.Now().UnixNano()),
	}
	cfg.Fault = func(ctx context.Context) error {
		primary, err := c.Primary(ctx)
		if err != nil {
			return err
		}
		if err := primary.Kill(); err != nil {
			return err
		}
		start := time.Now()
		p, err := c.WaitForNewPrimary(ctx, primary)
		if err != nil {
			return err
		}
		t.Logf("%s killed; %s promoted after %v", primary.Name, p.Name, time.Since(start).Round(time.Millisecond))
		return waitFor(ctx, func() error {
			for i, s := range stores {
				if err := s.ReadinessCheck(); err != nil {
					return fmt.Errorf("replica %d: %w", i, err)
				}
			}
			return nil
		})
	}
	t.Logf("seed %d", cfg.Seed)
	h, err := linearizability.Run(ctx, cfg)
	require.NoError(t, err)
	unknown := h.Unknown()
	require.NotEmpty(t, unknown, "the failover must fail some calls, or it tested nothing")
	for _, r := range unknown {
		verb := map[linearizability.Kind]string{
			linearizability.Create: "create", linearizability.Get: "get", linearizability.Update: "update",
			linearizability.Delete: "delete", linearizability.List: "list", linearizability.ListExact: "list",
		}[r.Kind]
		// A timed-out call is the handler's 504 whatever the storage says.
		if code := clientStatus(verb, pods, r.Key, r.Err); !retryable(code) && !storage.IsRequestTimeout(r.Err) {
			t.Errorf("%v: a client would get %d, not a 503 or 504: %v", r, code, r.Err)
		}
	}
	res := linearizability.RequireLinearizable(t, h, time.Minute)
	t.Logf("%d calls, %d of unknown outcome; %d model operations checked", len(h.Records), len(unknown), res.Operations)
}
