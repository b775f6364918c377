package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	examplev1 "k8s.io/apiserver/pkg/apis/example/v1"
	"k8s.io/apiserver/pkg/storage"
)

// TestInterpretLeadingKeys: the kind and apiVersion the encoder writes first
// are read there, and anything else is what json.DefaultMetaFactory says.
func TestInterpretLeadingKeys(t *testing.T) {
	for _, c := range []struct {
		data    string
		leading bool // read from the leading keys, without the default
	}{
		{`{"kind":"Pod","apiVersion":"example.apiserver.k8s.io/v1","metadata":{"name":"p"}}`, true},
		{`{"kind":"Pod","apiVersion":"v1"}`, true},
		{`{"kind":"","apiVersion":""}`, true},
		{`{"kind":"Pod","apiVersion":"example.apiserver.k8s.io/v1"`, false},             // the default's error
		{`{"apiVersion":"example.apiserver.k8s.io/v1","kind":"Pod"}`, false},            // other order
		{`{"metadata":{},"kind":"Pod","apiVersion":"v1"}`, false},                       // not leading
		{`{ "kind":"Pod","apiVersion":"v1"}`, false},                                    // space
		{`{"kind":"P\u006fd","apiVersion":"v1"}`, false},                                // an escape
		{`{"kind":"Pod","apiVersion":"example.apiserver.k8s.io\/v1","spec":{}}`, false}, // an escape
		{`{"kind":"Pod","apiVersion":"a/b/c"}`, false},                                  // not a group/version
		{`{"kind":"Pod","apiVersionX":"v1"}`, false},
		{`{"kind":"Pod"}`, false},
		{`{"kind":"Pod`, false},
		{`{"kind":"Pod","apiVersion":"v1`, false},
		{`{"kind":"Pod","apiVersion":"v1"x`, false},
		{``, false},
		{`null`, false},
	} {
		t.Run(c.data, func(t *testing.T) {
			_, leading := interpretLeadingKeys([]byte(c.data))
			require.Equal(t, c.leading, leading)
			got, gotErr := leadingTypeMeta{}.Interpret([]byte(c.data))
			want, wantErr := json.DefaultMetaFactory.Interpret([]byte(c.data))
			require.Equal(t, wantErr, gotErr)
			require.Equal(t, want, got)
		})
	}
}

// FuzzLeadingTypeMeta: whatever the value, leadingTypeMeta says what the
// default says, unless the value has kind or apiVersion twice (the default
// takes the last, case-insensitively; the encoder never writes one twice).
func FuzzLeadingTypeMeta(f *testing.F) {
	f.Add([]byte(`{"kind":"Pod","apiVersion":"example.apiserver.k8s.io/v1","metadata":{"name":"p"}}`))
	f.Add([]byte(`{"kind":"Pod","apiVersion":"v1","spec":{}}`))
	f.Add([]byte(`{"kind":"Pod","apiVersion":"v1"}`))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lower := strings.ToLower(string(data))
		if strings.Count(lower, `"kind"`) > 1 || strings.Count(lower, `"apiversion"`) > 1 {
			t.Skip()
		}
		got, gotErr := leadingTypeMeta{}.Interpret(data)
		want, wantErr := json.DefaultMetaFactory.Interpret(data)
		if wantErr != nil {
			if _, leading := interpretLeadingKeys(data); leading {
				// Invalid JSON after the leading keys: the decode that
				// follows refuses it, as it parses the whole value.
				info, _ := runtime.SerializerInfoForMediaType(NewStorageSerializer(codecs, scheme).SupportedMediaTypes(), runtime.ContentTypeJSON)
				_, _, err := info.Serializer.Decode(data, nil, &example.Pod{})
				require.Error(t, err, "%q", data)
				return
			}
			require.Equal(t, wantErr, gotErr)
			return
		}
		require.NoError(t, gotErr, "%q", data)
		require.Equal(t, want, got, "%q", data)
	})
}

// TestStoredJSONReadsThroughStorageSerializer: rows written by the storage
// codec as sluice-apiserver built it before it stored protobuf (JSON, with
// the codec factory's serializer), and JSON values whose kind and apiVersion
// are not the two leading keys, read through the store sluice-apiserver
// builds now (protobuf, NewStorageSerializer): get, list, a watch's
// catch-up from the events table, and a delete's previous value. What it
// writes is protobuf, and an update rewrites a JSON row in protobuf.
func TestStoredJSONReadsThroughStorageSerializer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := newBackend(t, nil)
	gr := schema.GroupResource{Group: "example.apiserver.k8s.io", Resource: "pods"}
	build := func(s runtime.StorageSerializer, mediaType string) (storage.Interface, string) {
		getter := &RESTOptionsGetter{
			Backend:          b,
			Serializer:       s,
			StorageMediaType: mediaType,
			StorageVersion:   func(schema.GroupResource) schema.GroupVersion { return examplev1.SchemeGroupVersion },
			MemoryVersion:    func(schema.GroupResource) schema.GroupVersion { return example.SchemeGroupVersion },
		}
		opts, err := getter.GetRESTOptions(gr, nil)
		require.NoError(t, err)
		st, destroy, err := opts.Decorator(opts.StorageConfig, opts.ResourcePrefix, nil,
			func() runtime.Object { return &example.Pod{} }, func() runtime.Object { return &example.PodList{} },
			podAttrs, nil, nil)
		require.NoError(t, err)
		t.Cleanup(destroy)
		return st, opts.ResourcePrefix + "/ns/"
	}
	pod := func(name string) *example.Pod {
		return &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": name}},
			Spec: example.PodSpec{NodeName: "node-" + name}}
	}

	old, prefix := build(codecs, runtime.ContentTypeJSON)
	require.NoError(t, old.Create(ctx, prefix+"old", pod("old"), &example.Pod{}, 0))
	var oldValue []byte
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT value FROM sluice.kv WHERE key = $1`, "/registry"+prefix+"old").Scan(&oldValue))
	require.True(t, strings.HasPrefix(string(oldValue), `{"kind":"Pod","apiVersion":"example.apiserver.k8s.io/v1",`), "%s", oldValue)

	// Values another encoder could have written.
	shapes := map[string]string{
		"reordered":        `{"metadata":{"name":"reordered","namespace":"ns","labels":{"app":"reordered"}},"spec":{"nodeName":"node-reordered"},"apiVersion":"example.apiserver.k8s.io/v1","kind":"Pod"}`,
		"apiversion-first": `{"apiVersion":"example.apiserver.k8s.io/v1","kind":"Pod","metadata":{"name":"apiversion-first","namespace":"ns","labels":{"app":"apiversion-first"}},"spec":{"nodeName":"node-apiversion-first"}}`,
		"escaped":          `{"kind":"P\u006fd","apiVersion":"example.apiserver.k8s.io\/v1","metadata":{"name":"escaped","namespace":"ns","labels":{"app":"escaped"}},"spec":{"nodeName":"node-escaped"}}`,
		"spaced":           "{\n  \"kind\": \"Pod\",\n  \"apiVersion\": \"example.apiserver.k8s.io/v1\",\n  \"metadata\": {\"name\": \"spaced\", \"namespace\": \"ns\", \"labels\": {\"app\": \"spaced\"}},\n  \"spec\": {\"nodeName\": \"node-spaced\"}\n}",
	}
	for name, value := range shapes {
		st := CreateStatement("/registry"+prefix+name, []byte(value), map[string]string{"app": name})
		_, err := b.pool.Exec(ctx, st.SQL, st.Args...)
		require.NoError(t, err)
	}
	names := []string{"apiversion-first", "escaped", "old", "reordered", "spaced"}
	names = append(names, "updated")
	require.NoError(t, old.Create(ctx, prefix+"updated", pod("updated"), &example.Pod{}, 0))

	cur, _ := build(NewStorageSerializer(codecs, scheme), runtime.ContentTypeProtobuf)
	check := func(obj runtime.Object, name string) {
		t.Helper()
		p, ok := obj.(*example.Pod)
		require.True(t, ok, "%T", obj)
		require.Equal(t, name, p.Name)
		require.Equal(t, "node-"+name, p.Spec.NodeName)
		require.Equal(t, map[string]string{"app": name}, p.Labels)
		require.NotEmpty(t, p.ResourceVersion)
	}
	for _, name := range names {
		got := &example.Pod{}
		require.NoError(t, cur.Get(ctx, prefix+name, storage.GetOptions{}, got), name)
		check(got, name)
	}
	list := &example.PodList{}
	require.NoError(t, cur.GetList(ctx, prefix, storage.ListOptions{Recursive: true, Predicate: storage.Everything}, list))
	require.Len(t, list.Items, len(names))
	for i, name := range names {
		check(&list.Items[i], name)
	}

	w, err := cur.Watch(ctx, prefix, storage.ListOptions{ResourceVersion: "1", Recursive: true, Predicate: storage.Everything})
	require.NoError(t, err)
	defer w.Stop()
	seen := map[string]bool{}
	next := func() watch.Event {
		t.Helper()
		select {
		case ev := <-w.ResultChan():
			require.NotEqual(t, watch.Error, ev.Type, "%+v", ev.Object)
			return ev
		case <-ctx.Done():
			t.Fatal("no watch event")
			return watch.Event{}
		}
	}
	for len(seen) < len(names) {
		ev := next()
		require.Equal(t, watch.Added, ev.Type)
		p := unwrap(t, ev.Object)
		check(p, p.Name)
		seen[p.Name] = true
	}
	// A delete's event carries the previous value, read from prev_value.
	require.NoError(t, cur.Delete(ctx, prefix+"old", &example.Pod{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{}))
	ev := next()
	require.Equal(t, watch.Deleted, ev.Type)
	check(unwrap(t, ev.Object), "old")

	// New rows, and the rows it updates, are stored in protobuf.
	value := func(name string) []byte {
		t.Helper()
		var v []byte
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT value FROM sluice.kv WHERE key = $1`, "/registry"+prefix+name).Scan(&v))
		return v
	}
	require.NoError(t, cur.Create(ctx, prefix+"new", pod("new"), &example.Pod{}, 0))
	require.NoError(t, cur.GuaranteedUpdate(ctx, prefix+"updated", &example.Pod{}, false, nil,
		storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
			obj.(*example.Pod).Annotations = map[string]string{"touched": "yes"}
			return obj, nil
		}), nil))
	for _, name := range []string{"new", "updated"} {
		require.True(t, strings.HasPrefix(string(value(name)), "k8s\x00"), "%s is stored as %q", name, value(name))
		got := &example.Pod{}
		require.NoError(t, cur.Get(ctx, prefix+name, storage.GetOptions{}, got))
		check(got, name)
	}
}

// unwrap returns the Pod of a watch event, which the store may wrap in a
// runtime.CacheableObject.
func unwrap(t *testing.T, obj runtime.Object) *example.Pod {
	t.Helper()
	if c, ok := obj.(runtime.CacheableObject); ok {
		obj = c.GetObject()
	}
	p, ok := obj.(*example.Pod)
	require.True(t, ok, fmt.Sprintf("%T", obj))
	return p
}
