package postgres

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/apis/example"
)

// TestSharedObjectEncodesOnce: however many watchers encode an event, each
// encoding runs once, and all get the same bytes.
func TestSharedObjectEncodesOnce(t *testing.T) {
	pod := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"a": "1"}}}
	shared := share(pod).(runtime.CacheableObject)
	var calls atomic.Int32
	encode := func(obj runtime.Object, w io.Writer) error {
		calls.Add(1)
		obj.(*example.Pod).Kind = "Pod" // encoders set the kind: on a copy
		_, err := w.Write([]byte(obj.(*example.Pod).Name + "/" + obj.(*example.Pod).Kind))
		return err
	}
	var wg sync.WaitGroup
	outs := make([]string, 100)
	for i := range outs {
		wg.Go(func() {
			var b bytes.Buffer
			require.NoError(t, shared.CacheEncode("json", encode, &b))
			outs[i] = b.String()
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, calls.Load())
	for _, o := range outs {
		require.Equal(t, "p/Pod", o)
	}
	require.Empty(t, pod.Kind, "the decoded object is never written to")

	var b bytes.Buffer
	require.NoError(t, shared.CacheEncode("yaml", encode, &b))
	require.EqualValues(t, 2, calls.Load(), "one encoding per identifier")
}

// TestSharedObjectCopiesOnWrite: metadata reads go to the object; a write
// copies it first and drops cached encodings.
func TestSharedObjectCopiesOnWrite(t *testing.T) {
	pod := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", ResourceVersion: "7", Labels: map[string]string{"a": "1"}}}
	shared := share(pod)
	accessor, err := meta.Accessor(shared)
	require.NoError(t, err)
	require.Equal(t, "p", accessor.GetName())
	require.Equal(t, "7", accessor.GetResourceVersion())
	require.Equal(t, map[string]string{"a": "1"}, accessor.GetLabels())

	co := shared.(runtime.CacheableObject)
	encode := func(obj runtime.Object, w io.Writer) error {
		_, err := w.Write([]byte(obj.(*example.Pod).ResourceVersion))
		return err
	}
	var b bytes.Buffer
	require.NoError(t, co.CacheEncode("id", encode, &b))
	require.Equal(t, "7", b.String())

	accessor.SetResourceVersion("8")
	require.Equal(t, "7", pod.ResourceVersion, "the shared original is untouched")
	require.Equal(t, "8", accessor.GetResourceVersion())
	b.Reset()
	require.NoError(t, co.CacheEncode("id", encode, &b))
	require.Equal(t, "8", b.String(), "the cached encoding was dropped")
	require.Equal(t, "8", co.GetObject().(*example.Pod).ResourceVersion)
}
