package postgres

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apiserver/pkg/apis/example"
	examplev1 "k8s.io/apiserver/pkg/apis/example/v1"
	"k8s.io/apiserver/pkg/storage"
	storagetesting "k8s.io/apiserver/pkg/storage/testing"
	"k8s.io/apiserver/pkg/storage/value"

	pgtest "github.com/sluice-dev/sluice/pkg/testing/postgres"
)

var (
	scheme = runtime.NewScheme()
	codecs = serializer.NewCodecFactory(scheme)
)

// The prefix the test transformer adds to every stored value, as etcd3's tests do.
const testTransformPrefix = "test!"

func init() {
	metav1.AddToGroupVersion(scheme, metav1.SchemeGroupVersion)
	utilruntime.Must(example.AddToScheme(scheme))
	utilruntime.Must(examplev1.AddToScheme(scheme))
}

func TestMain(m *testing.M) {
	code := pgtest.RunMain(m)
	stopBenchServer()
	os.Exit(code)
}

// testOptions are fast loops for tests; everything else is the default.
func testOptions(dsn string) Options {
	return Options{
		DatabaseURL:            dsn,
		Migrate:                true,
		PollInterval:           50 * time.Millisecond,
		ProgressNotifyInterval: time.Second,
		CompactionInterval:     time.Hour, // tests compact explicitly
	}
}

type setupOptions struct {
	opts          func(*Options)
	newFunc       func() runtime.Object
	resourcePref  string
	groupResource schema.GroupResource
	attrFunc      storage.AttrFunc
	indexedFields []string
	jsonValues    bool
}

type setupOption func(*setupOptions)

func withOptions(f func(*Options)) setupOption { return func(o *setupOptions) { o.opts = f } }

// withJSONValues stores values in JSON, as sluice-apiserver did before it
// stored them in protobuf, for the upstream tests that rely on JSON.
func withJSONValues() setupOption { return func(o *setupOptions) { o.jsonValues = true } }

// newDatabaseURL creates a fresh database for one test.
func newDatabaseURL(t testing.TB) string { return pgtest.NewDatabase(t) }

// newBackend starts a Backend on a fresh database.
func newBackend(t testing.TB, mutate func(*Options)) *Backend {
	t.Helper()
	return newBackendOn(t, pgtest.NewDatabase(t), mutate)
}

// newBackendOn starts a Backend on an existing database: a second Backend
// on the same database is a second replica.
func newBackendOn(t testing.TB, dsn string, mutate func(*Options)) *Backend {
	t.Helper()
	opts := testOptions(dsn)
	if mutate != nil {
		mutate(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := New(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return b
}

// testSetup returns a store of example Pods under /pods/ with the prefix
// transformer the upstream suite expects, as etcd3's store tests set up.
func testSetup(t testing.TB, opts ...setupOption) (context.Context, *Store) {
	t.Helper()
	o := defaultSetup()
	for _, opt := range opts {
		opt(&o)
	}
	return context.Background(), newStoreOn(t, newBackend(t, o.opts), o)
}

// newPodStore starts a replica on dsn and returns its store of Pods.
func newPodStore(t testing.TB, dsn string, opts ...setupOption) *Store {
	o := defaultSetup()
	for _, opt := range opts {
		opt(&o)
	}
	return newStoreOn(t, newBackendOn(t, dsn, o.opts), o)
}

func defaultSetup() setupOptions {
	return setupOptions{
		newFunc:       func() runtime.Object { return &example.Pod{} },
		resourcePref:  "/pods/",
		groupResource: schema.GroupResource{Resource: "pods"},
	}
}

func newStoreOn(t testing.TB, b *Backend, o setupOptions) *Store {
	t.Helper()
	codec, jsonEncoder := storageCodecs(t)
	if o.jsonValues {
		codec, jsonEncoder = jsonEncoder, nil
	}
	s, err := b.NewStore(StoreConfig{
		Codec:          codec,
		JSONEncoder:    jsonEncoder,
		NewFunc:        o.newFunc,
		NewListFunc:    func() runtime.Object { return &example.PodList{} },
		ResourcePrefix: o.resourcePref,
		GroupResource:  o.groupResource,
		Transformer:    storagetesting.NewPrefixTransformer([]byte(testTransformPrefix), false),
		AttrFunc:       o.attrFunc,
		IndexedFields:  o.indexedFields,
		// As sluice-apiserver runs without the watch cache; the upstream
		// suite unwraps runtime.CacheableObject in its checks.
		SharedWatchObjects: true,
	})
	require.NoError(t, err)
	return s
}

// storageCodecs are the codec of example Pods as RESTOptionsGetter builds
// it for sluice-apiserver, stored as v1 in protobuf and decoded to the
// internal version, and the JSON encoder of the same version that bounds
// their size.
func storageCodecs(t testing.TB) (runtime.Codec, runtime.Codec) {
	t.Helper()
	getter := &RESTOptionsGetter{
		Serializer:     NewStorageSerializer(codecs, scheme),
		StorageVersion: func(schema.GroupResource) schema.GroupVersion { return examplev1.SchemeGroupVersion },
		MemoryVersion:  func(schema.GroupResource) schema.GroupVersion { return example.SchemeGroupVersion },
	}
	gr := schema.GroupResource{Resource: "pods"}
	codec, _, err := getter.codec(gr, runtime.ContentTypeProtobuf)
	require.NoError(t, err)
	json, _, err := getter.codec(gr, runtime.ContentTypeJSON)
	require.NoError(t, err)
	return codec, json
}

// increaseRV advances the revision by exactly one without touching any key,
// as a write to an unrelated etcd key does.
func increaseRV(s *Store) storagetesting.IncreaseRVFunc {
	return func(ctx context.Context, t *testing.T) int64 {
		var rv int64
		err := s.b.pool.QueryRow(ctx, `INSERT INTO sluice.events (rv, type) VALUES (sluice.next_rv(), 0) RETURNING rv`).Scan(&rv)
		require.NoError(t, err)
		// A consistent read waits until every drawn revision is published.
		_, err = s.b.CurrentRevision(ctx)
		require.NoError(t, err)
		return rv
	}
}

// compaction compacts history below rv. Like etcd3's compaction in its
// tests, it also advances the revision by one (etcd writes its compact key).
func compaction(s *Store) storagetesting.Compaction {
	return func(ctx context.Context, t *testing.T, resourceVersion string) {
		rv, err := s.Versioner().ParseResourceVersion(resourceVersion)
		require.NoError(t, err)
		increaseRV(s)(ctx, t)
		require.NoError(t, s.Compact(ctx, int64(rv)))
		require.Equal(t, int64(rv), s.CompactRevision())
	}
}

// checkStorageInvariants reads the stored row of key directly and checks
// that it is transformed and carries no resourceVersion.
func checkStorageInvariants(s *Store) storagetesting.KeyValidation {
	return func(ctx context.Context, t *testing.T, key string) {
		var stored []byte
		require.NoError(t, s.b.pool.QueryRow(ctx, `SELECT value FROM sluice.kv WHERE key = $1`, key).Scan(&stored))
		require.True(t, len(stored) > len(testTransformPrefix) && string(stored[:len(testTransformPrefix)]) == testTransformPrefix,
			"stored value must be transformed")
		obj, err := runtime.Decode(s.codec, stored[len(testTransformPrefix):])
		require.NoError(t, err)
		pod := obj.(*example.Pod)
		require.Empty(t, pod.ResourceVersion, "stored object should have empty resource version")
		require.Empty(t, pod.SelfLink, "stored object should have empty selfLink")
	}
}

// storeWithPrefixTransformer lets the suite swap the prefix transformer.
type storeWithPrefixTransformer struct{ *Store }

func (s storeWithPrefixTransformer) UpdatePrefixTransformer(modifier storagetesting.PrefixTransformerModifier) func() {
	original := s.Transformer()
	copied := *original.(*storagetesting.PrefixTransformer)
	s.SetTransformer(modifier(&copied))
	return func() { s.SetTransformer(original) }
}

// corruptTransformer fails every read, as a value whose bits flipped would.
type corruptTransformer struct{ value.Transformer }

func (corruptTransformer) TransformFromStorage(context.Context, []byte, value.Context) ([]byte, bool, error) {
	return nil, true, errCorrupt
}

var errCorrupt = storage.NewCorruptObjError("", errBitsFlipped)

type bitsFlipped struct{}

func (bitsFlipped) Error() string { return "bits flipped" }

var errBitsFlipped error = bitsFlipped{}

type storeWithCorruptTransformer struct{ *Store }

func (s storeWithCorruptTransformer) CorruptTransformer() func() {
	original := s.Transformer()
	s.SetTransformer(corruptTransformer{original})
	return func() { s.SetTransformer(original) }
}

// callsValidation checks the reads of a paginated list: the transformer
// must not be asked to read more objects than the list examined with
// etcd3's algorithm. Pushing selectors into SQL may only read fewer.
func callsValidation(s *Store) storagetesting.CallsValidation {
	return func(t *testing.T, pageSize, estimatedProcessedObjects uint64) {
		reads := s.Transformer().(*storagetesting.PrefixTransformer).GetReadsAndReset()
		if reads > estimatedProcessedObjects {
			t.Errorf("read %d objects, etcd3 would read %d", reads, estimatedProcessedObjects)
		}
	}
}
