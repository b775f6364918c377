package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	examplev1 "k8s.io/apiserver/pkg/apis/example/v1"
	"k8s.io/apiserver/pkg/storage"
)

// TestRESTOptionsGetter builds storage the way the generic registry does,
// with and without the watch cache, storing JSON (the default) and
// protobuf, and drives it through a write, a read, a list and a watch.
func TestRESTOptionsGetter(t *testing.T) {
	for _, c := range []struct {
		cached    bool
		mediaType string
	}{{false, ""}, {true, ""}, {false, runtime.ContentTypeProtobuf}, {true, runtime.ContentTypeProtobuf}} {
		cached := c.cached
		t.Run(fmt.Sprintf("watchCache=%v/mediaType=%s", cached, c.mediaType), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			getter := &RESTOptionsGetter{
				Backend:          newBackend(t, nil),
				Serializer:       NewStorageSerializer(codecs, scheme),
				StorageMediaType: c.mediaType,
				StorageVersion:   func(schema.GroupResource) schema.GroupVersion { return examplev1.SchemeGroupVersion },
				MemoryVersion:    func(schema.GroupResource) schema.GroupVersion { return example.SchemeGroupVersion },
				IndexedFields:    func(schema.GroupResource) []string { return []string{"spec.nodeName"} },
				WatchCache:       cached,
			}
			gr := schema.GroupResource{Group: "example.apiserver.k8s.io", Resource: "pods"}
			opts, err := getter.GetRESTOptions(gr, nil)
			require.NoError(t, err)
			require.Equal(t, "/example.apiserver.k8s.io/pods", opts.ResourcePrefix)

			keyFunc := func(obj runtime.Object) (string, error) {
				return storage.NamespaceKeyFunc(opts.ResourcePrefix+"/", obj)
			}
			s, destroy, err := opts.Decorator(opts.StorageConfig, opts.ResourcePrefix, keyFunc,
				func() runtime.Object { return &example.Pod{} }, func() runtime.Object { return &example.PodList{} },
				podAttrs, nil, nil)
			require.NoError(t, err)
			defer destroy()

			// The watch cache needs to be ready before it serves.
			require.Eventually(t, func() bool { return s.ReadinessCheck() == nil }, 30*time.Second, 20*time.Millisecond)

			key := opts.ResourcePrefix + "/ns/p"
			w, err := s.Watch(ctx, opts.ResourcePrefix+"/ns", storage.ListOptions{ResourceVersion: "", Recursive: true, Predicate: storage.Everything})
			require.NoError(t, err)
			defer w.Stop()

			created := &example.Pod{}
			require.NoError(t, s.Create(ctx, key, &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}, created, 0))
			got := &example.Pod{}
			require.NoError(t, s.Get(ctx, key, storage.GetOptions{}, got))
			require.Equal(t, created.ResourceVersion, got.ResourceVersion)

			list := &example.PodList{}
			require.NoError(t, s.GetList(ctx, opts.ResourcePrefix, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, list))
			require.Len(t, list.Items, 1)

			select {
			case ev := <-w.ResultChan():
				require.Equal(t, watch.Added, ev.Type)
				accessor, err := meta.Accessor(ev.Object) // the cache wraps objects
				require.NoError(t, err)
				require.Equal(t, "p", accessor.GetName())
			case <-ctx.Done():
				t.Fatal("no watch event")
			}

			// Stored as v1, the storage version, in the media type.
			var stored []byte
			require.NoError(t, getter.Backend.pool.QueryRow(ctx, `SELECT value FROM sluice.kv WHERE key = $1`, "/registry"+key).Scan(&stored))
			// KeyPrefix names the same key, as the log archive's sweep relies on.
			require.Equal(t, "/registry"+key, getter.KeyPrefix(gr)+"ns/p")
			if c.mediaType == runtime.ContentTypeProtobuf {
				require.True(t, strings.HasPrefix(string(stored), "k8s\x00"), "%q", stored)
				require.Contains(t, string(stored), "example.apiserver.k8s.io/v1")
			} else {
				require.Contains(t, string(stored), `"apiVersion":"example.apiserver.k8s.io/v1"`)
			}
		})
	}
}
