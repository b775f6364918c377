package ha

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"

	"github.com/sluice-dev/sluice/pkg/apis/sluice"
	"github.com/sluice-dev/sluice/pkg/apiserver"
	"github.com/sluice-dev/sluice/pkg/registry/pipelinejob"
	"github.com/sluice-dev/sluice/pkg/storage/postgres"
	"github.com/sluice-dev/sluice/pkg/testing/patroni"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// jobs is the resource the tests write.
var jobs = sluice.Resource("pipelinejobs")

// healthyCluster restarts any member a previous test killed and waits until
// the cluster has a primary and a streaming synchronous standby, so that
// every test starts from the state in which a failover loses nothing.
func healthyCluster(t *testing.T, ctx context.Context) *patroni.Cluster {
	t.Helper()
	for _, m := range cluster.Members {
		if m.Killed() {
			require.NoError(t, m.Restart(ctx), "restarting %s", m.Name)
		}
	}
	require.NoError(t, cluster.WaitHealthy(ctx))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(cluster.LogTails(3000))
		}
	})
	return cluster
}

// newDatabase creates a database for one test through the multi-host URL,
// and returns that database's multi-host URL.
func newDatabase(t *testing.T, ctx context.Context) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "ha_" + hex.EncodeToString(b)
	admin := cluster.URL("postgres")
	require.NoError(t, testutil.ExecSQL(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// Best effort: the cluster may be between primaries if the test failed.
		_ = testutil.ExecSQL(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	// A standby acknowledges a commit once it has the WAL, before it has
	// replayed it; until a standby has the database, a client that tries it
	// first is refused (pgx does not try the next host after "database does
	// not exist").
	for _, m := range cluster.Members {
		if m.Killed() {
			continue
		}
		require.NoError(t, waitFor(ctx, func() error { return testutil.ExecSQL(ctx, m.URL(name), "SELECT 1") }),
			"database %s on %s", name, m.Name)
	}
	return cluster.URL(name)
}

// waitFor polls check until it succeeds or ctx ends, and returns its last error.
func waitFor(ctx context.Context, check func() error) error {
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// newBackend starts one storage replica on url with the options
// sluice-apiserver runs with by default.
func newBackend(t *testing.T, ctx context.Context, url string) *postgres.Backend {
	t.Helper()
	b, err := postgres.New(ctx, postgres.Options{DatabaseURL: url, Migrate: true})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return b
}

// newJobStore returns the storage of pipelinejobs on b, built as
// sluice-apiserver builds it (its RESTOptionsGetter, codec, storage version,
// indexed fields and attributes), without the watch cache, which is off by
// default. It also returns the prefix of the keys the registry gives it for
// the jobs of namespace ns.
func newJobStore(t *testing.T, b *postgres.Backend, ns string) (storage.Interface, string) {
	t.Helper()
	getter := &postgres.RESTOptionsGetter{
		Backend:          b,
		Serializer:       apiserver.StorageSerializer,
		StorageMediaType: apiserver.StorageMediaType,
		StorageVersion:   apiserver.StorageVersion,
		MemoryVersion:    apiserver.MemoryVersion,
		IndexedFields:    apiserver.IndexedFields,
	}
	opts, err := getter.GetRESTOptions(jobs, nil)
	require.NoError(t, err)
	s, destroy, err := opts.Decorator(opts.StorageConfig, opts.ResourcePrefix, nil,
		func() runtime.Object { return &sluice.PipelineJob{} },
		func() runtime.Object { return &sluice.PipelineJobList{} },
		pipelinejob.GetAttrs, nil, nil)
	require.NoError(t, err)
	t.Cleanup(destroy)
	return s, opts.ResourcePrefix + "/" + ns + "/"
}

// clientStatus is the HTTP status a client of sluice-apiserver gets when a
// storage call fails with err: the generic registry interprets the error
// of each kind of call as genericregistry.Store does, and the handler turns
// what it returns into a Status.
func clientStatus(verb string, resource schema.GroupResource, name string, err error) int32 {
	switch verb {
	case "create":
		err = storeerr.InterpretCreateError(err, resource, name)
	case "update":
		err = storeerr.InterpretUpdateError(err, resource, name)
	case "delete":
		err = storeerr.InterpretDeleteError(err, resource, name)
	case "get":
		err = storeerr.InterpretGetError(err, resource, name)
	case "list":
		err = storeerr.InterpretListError(err, resource)
	case "watch":
		err = storeerr.InterpretWatchError(err, resource, name)
	}
	return responsewriters.ErrorToAPIStatus(err).Code
}

// retryable reports whether a client told code may retry the request: 503
// (the database is unavailable) or 504 (the request timed out).
func retryable(code int32) bool { return code == 503 || code == 504 }

// unwrap returns the object a watch event carries: sluice-apiserver's
// store hands watchers objects that cache their serialisations.
func unwrap(obj runtime.Object) runtime.Object {
	if c, ok := obj.(runtime.CacheableObject); ok {
		return c.GetObject()
	}
	return obj
}

// revisionOf is an object's resourceVersion.
func revisionOf(t *testing.T, obj runtime.Object) int64 {
	t.Helper()
	a, err := meta.Accessor(unwrap(obj))
	require.NoError(t, err)
	rv, err := storage.APIObjectVersioner{}.ParseResourceVersion(a.GetResourceVersion())
	require.NoError(t, err)
	return int64(rv)
}
