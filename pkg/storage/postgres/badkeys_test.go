package postgres

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/utils/ptr"
)

// Names a client may put in a URL that PostgreSQL's text cannot hold: a
// NUL, and bytes that are not UTF-8.
var untextable = []string{"\x00", "a\x00b", "\xff", "\xc3\x28", "\xed\xa0\x80"}

// everything is the predicate of a list or watch without selectors.
func everything(limit int64) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: labels.Everything(), Field: fields.Everything(), Limit: limit}
}

// TestKeysTextCannotHold: a key whose name or namespace holds a NUL or
// invalid UTF-8 can hold no object, as with etcd: a get is a 404, a list
// is empty, a watch has nothing to send, and a write that would create the
// key is the client's 400. Before, each of them failed in PostgreSQL
// (SQLSTATE 22021) and answered 500.
func TestKeysTextCannotHold(t *testing.T) {
	ctx, store := testSetup(t)
	require.NoError(t, store.Create(ctx, "/pods/ns/p", &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}, &example.Pod{}, 0))
	old, err := store.GetCurrentResourceVersion(ctx)
	require.NoError(t, err)
	require.NoError(t, store.GuaranteedUpdate(ctx, "/pods/ns/p", &example.Pod{}, false, nil,
		storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
			obj.(*example.Pod).Spec.NodeName = "n"
			return obj, nil
		}), nil))

	for _, bad := range untextable {
		for _, key := range []string{"/pods/ns/" + bad, "/pods/" + bad + "/p"} {
			where := strconv.Quote(key)
			err := store.Get(ctx, key, storage.GetOptions{}, &example.Pod{})
			require.True(t, storage.IsNotFound(err), "get %s: %v", where, err)
			require.NoError(t, store.Get(ctx, key, storage.GetOptions{IgnoreNotFound: true}, &example.Pod{}), "get %s, ignoring not found", where)

			list := &example.PodList{}
			require.NoError(t, store.GetList(ctx, key, storage.ListOptions{Predicate: everything(0)}, list), "list %s", where)
			require.Empty(t, list.Items, where)
			require.NotEmpty(t, list.ResourceVersion, where)

			err = store.Delete(ctx, key, &example.Pod{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
			require.True(t, storage.IsNotFound(err), "delete %s: %v", where, err)
			set := storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) { return obj, nil })
			err = store.GuaranteedUpdate(ctx, key, &example.Pod{}, false, nil, set, nil)
			require.True(t, storage.IsNotFound(err), "update %s: %v", where, err)

			err = store.Create(ctx, key, &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}}, &example.Pod{}, 0)
			require.Equal(t, int32(http.StatusBadRequest), clientStatus(err).Code, "create %s: %v", where, err)
			require.ErrorContains(t, err, "cannot be stored")
			create := storage.SimpleUpdate(func(runtime.Object) (runtime.Object, error) {
				return &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}}, nil
			})
			err = store.GuaranteedUpdate(ctx, key, &example.Pod{}, true, nil, create, nil)
			require.Equal(t, int32(http.StatusBadRequest), clientStatus(err).Code, "update %s creating it: %v", where, err)
		}

		prefix := "/pods/" + bad + "/"
		where := strconv.Quote(prefix)
		for _, limit := range []int64{0, 1} {
			list := &example.PodList{}
			require.NoError(t, store.GetList(ctx, prefix, storage.ListOptions{Recursive: true, Predicate: everything(limit)}, list), "list %s", where)
			require.Empty(t, list.Items, where)
			require.Empty(t, list.Continue, where)
			require.NoError(t, store.GetList(ctx, prefix, storage.ListOptions{Recursive: true, Predicate: everything(limit),
				ResourceVersion: strconv.FormatUint(old, 10), ResourceVersionMatch: metav1.ResourceVersionMatchExact}, list), "list %s at %d", where, old)
			require.Empty(t, list.Items, where)
		}

		// A watch that sends the initial state, then its end, and one that
		// reads history from an older revision, then a bookmark it asks
		// for: each first event says the read found nothing and failed
		// nothing.
		initial, err := store.Watch(ctx, prefix, storage.ListOptions{Recursive: true, SendInitialEvents: ptr.To(true),
			Predicate: storage.SelectionPredicate{Label: labels.Everything(), Field: fields.Everything(), AllowWatchBookmarks: true}})
		require.NoError(t, err, "watch %s", where)
		requireFirstEvent(t, initial, watch.Bookmark, "the initial state of "+where)
		history, err := store.Watch(ctx, prefix, storage.ListOptions{Recursive: true, ResourceVersion: strconv.FormatUint(old, 10),
			ProgressNotify: true, Predicate: everything(0)})
		require.NoError(t, err, "watch %s from %d", where, old)
		require.NoError(t, store.RequestWatchProgress(ctx))
		requireFirstEvent(t, history, watch.Bookmark, "the history of "+where)
	}
}

// requireFirstEvent fails unless the watch's first event is of type want,
// and stops the watch.
func requireFirstEvent(t *testing.T, w watch.Interface, want watch.EventType, what string) {
	t.Helper()
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		require.Equal(t, want, ev.Type, "%s: %+v", what, ev.Object)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no event", what)
	}
}

// TestResourceVersionsBeyondRevisions: a resourceVersion that is no
// unsigned integer is the client's 400 on a watch, as on a get and a list
// (it was a 500); one above every revision PostgreSQL can hand out (2^63
// and more, which became negative revisions: a get and a list answered
// with the current state, an exact list with 410, a watch replayed all
// history) is "too large resource version", as a future revision is.
func TestResourceVersionsBeyondRevisions(t *testing.T) {
	ctx, store := testSetup(t)
	require.NoError(t, store.Create(ctx, "/pods/ns/p", &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}, &example.Pod{}, 0))

	for _, rv := range []string{"abc", "-1", "1.5", "99999999999999999999"} {
		_, err := store.Watch(ctx, "/pods/ns/", storage.ListOptions{Recursive: true, ResourceVersion: rv, Predicate: everything(0)})
		require.Equal(t, int32(http.StatusBadRequest), clientStatus(err).Code, "watch from %q: %v", rv, err)
		require.ErrorContains(t, err, "invalid resource version")
	}

	for _, rv := range []string{"9223372036854775808", "18446744073709551615"} {
		err := store.Get(ctx, "/pods/ns/p", storage.GetOptions{ResourceVersion: rv}, &example.Pod{})
		require.True(t, storage.IsTooLargeResourceVersion(err), "get at %s: %v", rv, err)
		for _, opts := range []storage.ListOptions{
			{ResourceVersion: rv},
			{ResourceVersion: rv, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan},
			{ResourceVersion: rv, ResourceVersionMatch: metav1.ResourceVersionMatchExact},
			{ResourceVersion: rv, Predicate: everything(1)},
		} {
			if opts.Predicate.Label == nil {
				opts.Predicate = everything(0)
			}
			opts.Recursive = true
			err := store.GetList(ctx, "/pods/ns/", opts, &example.PodList{})
			require.True(t, storage.IsTooLargeResourceVersion(err), "list %+v: %v", opts, err)
			require.Equal(t, int32(http.StatusGatewayTimeout), clientStatus(err).Code)
		}
		w, err := store.Watch(ctx, "/pods/ns/", storage.ListOptions{Recursive: true, ResourceVersion: rv, Predicate: everything(0)})
		if err == nil {
			w.Stop()
		}
		require.True(t, storage.IsTooLargeResourceVersion(err), "watch from %s: %v", rv, err)
	}
}

// TestKeysWithDotSegments: a namespace of "." or "..", which the generic
// registry passes on from a URL as it is, makes a key storage.PrepareKey
// refuses; that is the client's 400, not the 500 of a plain error.
func TestKeysWithDotSegments(t *testing.T) {
	ctx, store := testSetup(t)
	for _, ns := range []string{".", ".."} {
		err := store.Get(ctx, "/pods/"+ns+"/p", storage.GetOptions{}, &example.Pod{})
		require.Equal(t, int32(http.StatusBadRequest), clientStatus(err).Code, "get in %q: %v", ns, err)
		require.ErrorContains(t, err, "invalid key")
		err = store.GetList(ctx, "/pods/"+ns, storage.ListOptions{Recursive: true, Predicate: everything(0)}, &example.PodList{})
		require.Equal(t, int32(http.StatusBadRequest), clientStatus(err).Code, "list in %q: %v", ns, err)
		_, err = store.Watch(ctx, "/pods/"+ns, storage.ListOptions{Recursive: true, Predicate: everything(0)})
		require.Equal(t, int32(http.StatusBadRequest), clientStatus(err).Code, "watch in %q: %v", ns, err)
	}
}
