package postgres

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"
	storagetesting "k8s.io/apiserver/pkg/storage/testing"
)

// hostile are strings that break naive SQL: quotes, backslashes, LIKE
// wildcards, JSON metacharacters, unicode and a very long value.
var hostile = []string{
	`it's`, `"quoted"`, `back\slash`, `100%`, `a_b`, `%_%`, `{"json":1}`, `$1`, `?`, `--`, `;DROP TABLE sluice.kv;`,
	"日本語", "emoji-🚀", "tab\there", strings.Repeat("long", 2500),
}

func podAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	p := obj.(*example.Pod)
	return p.Labels, fields.Set{
		"metadata.name":      p.Name,
		"metadata.namespace": p.Namespace,
		"spec.nodeName":      p.Spec.NodeName,
	}, nil
}

// TestSelectorsWithHostileValues stores objects whose labels, field values
// and names are hostile strings, lists them with every selector operator,
// and requires exactly the objects the Go predicate accepts: pushing
// selectors into SQL must never change an answer.
func TestSelectorsWithHostileValues(t *testing.T) {
	ctx := context.Background()
	store := newPodStore(t, newDatabaseURL(t), func(o *setupOptions) {
		o.attrFunc = podAttrs
		o.indexedFields = []string{"spec.nodeName", "metadata.name"}
	})

	var all []*example.Pod
	for i, v := range append([]string{"", "a_b", "100", "a.b", "x"}, hostile...) {
		name := fmt.Sprintf("pod-%d", i)
		if i%3 == 0 && !strings.ContainsAny(v, "/") {
			name = fmt.Sprintf("p%d-%s", i, v) // hostile names too (keys)
		}
		lbls := map[string]string{"v": v, "idx": fmt.Sprint(i)}
		if i%2 == 0 {
			lbls[v] = "key" // hostile label keys
		}
		if i%4 == 0 {
			delete(lbls, "v")
		}
		p := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: lbls}, Spec: example.PodSpec{NodeName: v}}
		out := &example.Pod{}
		require.NoError(t, store.Create(ctx, "/pods/ns/"+name, p, out, 0), "create %q", name)
		all = append(all, out)
	}

	var selectors []storage.SelectionPredicate
	// The API validates label selectors, so only valid keys and values
	// reach the storage through it; the storage must still be safe with
	// anything. Equality requirements can be built without validation.
	for _, v := range append([]string{"\x00", "\x80"}, hostile...) {
		selectors = append(selectors,
			labelSetPred(labels.Set{"v": v}),
			labelSetPred(labels.Set{v: "key"}),
			labelSetPred(labels.Set{"v": v, "idx": "3"}),
		)
	}
	// Every operator, with valid but tricky values: LIKE wildcards, dots.
	for _, v := range []string{"a_b", "100", "a.b", "x"} {
		for _, op := range []selection.Operator{selection.Equals, selection.NotEquals, selection.In, selection.NotIn} {
			vals := []string{v}
			if op == selection.In || op == selection.NotIn {
				vals = append(vals, "a_b", "z")
			}
			selectors = append(selectors, labelPred(t, "v", op, vals))
		}
		selectors = append(selectors, labelPred(t, v, selection.Exists, nil), labelPred(t, v, selection.DoesNotExist, nil))
	}
	// Field selector values are not validated by the API: fully hostile,
	// down to bytes PostgreSQL's text cannot hold (a NUL, invalid UTF-8),
	// which no stored value has (FuzzSelectorPushDown found them).
	for _, v := range append([]string{"", "\x00", "\x80", "a\xffb", "nul\x00inside"}, hostile...) {
		for _, op := range []selection.Operator{selection.Equals, selection.NotEquals} {
			selectors = append(selectors, fieldPred(fields.OneTermEqualSelector("spec.nodeName", v), op))
		}
	}

	for _, pred := range selectors {
		var want []string
		for _, p := range all {
			if ok, err := pred.Matches(p); err == nil && ok {
				want = append(want, p.Name)
			}
		}
		list := &example.PodList{}
		err := store.GetList(ctx, "/pods/", storage.ListOptions{Recursive: true, Predicate: pred}, list)
		require.NoError(t, err, "%s / %s", pred.Label, pred.Field)
		var got []string
		for _, p := range list.Items {
			got = append(got, p.Name)
		}
		sort.Strings(want)
		sort.Strings(got)
		require.Equal(t, want, got, "label %q field %q", pred.Label, pred.Field)
	}
}

func labelPred(t *testing.T, key string, op selection.Operator, vals []string) storage.SelectionPredicate {
	r, err := labels.NewRequirement(key, op, vals)
	require.NoError(t, err)
	return storage.SelectionPredicate{Label: labels.NewSelector().Add(*r), Field: fields.Everything(), GetAttrs: podAttrs}
}

func labelSetPred(set labels.Set) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: labels.SelectorFromValidatedSet(set), Field: fields.Everything(), GetAttrs: podAttrs}
}

func fieldPred(sel fields.Selector, op selection.Operator) storage.SelectionPredicate {
	if op == selection.NotEquals {
		req := sel.Requirements()[0]
		sel = fields.OneTermNotEqualSelector(req.Field, req.Value)
	}
	return storage.SelectionPredicate{Label: labels.Everything(), Field: sel, GetAttrs: podAttrs}
}

// TestSelectorsArePushedDown checks that a selective list reads (decodes)
// only the matching objects, not the whole resource: the label and field
// selectors were answered by SQL.
func TestSelectorsArePushedDown(t *testing.T) {
	ctx := context.Background()
	store := newPodStore(t, newDatabaseURL(t), func(o *setupOptions) {
		o.attrFunc = podAttrs
		o.indexedFields = []string{"spec.nodeName"}
	})
	for i := range 500 {
		p := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Namespace: "ns",
			Labels: map[string]string{"team": fmt.Sprint(i % 50)}}, Spec: example.PodSpec{NodeName: fmt.Sprintf("node-%d", i%100)}}
		require.NoError(t, store.Create(ctx, "/pods/ns/"+p.Name, p, &example.Pod{}, 0))
	}
	reads := store.Transformer().(*storagetesting.PrefixTransformer)
	reads.GetReadsAndReset()

	list := &example.PodList{}
	pred := storage.SelectionPredicate{Label: labels.SelectorFromSet(labels.Set{"team": "7"}), Field: fields.Everything(), GetAttrs: podAttrs}
	require.NoError(t, store.GetList(ctx, "/pods/", storage.ListOptions{Recursive: true, Predicate: pred}, list))
	require.Len(t, list.Items, 10)
	require.EqualValues(t, 10, reads.GetReadsAndReset(), "a label-selected list must only read its matches")

	pred = storage.SelectionPredicate{Label: labels.Everything(), Field: fields.OneTermEqualSelector("spec.nodeName", "node-42"), GetAttrs: podAttrs}
	list = &example.PodList{}
	require.NoError(t, store.GetList(ctx, "/pods/", storage.ListOptions{Recursive: true, Predicate: pred}, list))
	require.Len(t, list.Items, 5)
	require.EqualValues(t, 5, reads.GetReadsAndReset(), "a field-selected list must only read its matches")

	// With a limit, pages are answered by the index too.
	pred.Limit = 2
	list = &example.PodList{}
	require.NoError(t, store.GetList(ctx, "/pods/", storage.ListOptions{Recursive: true, Predicate: pred}, list))
	require.Len(t, list.Items, 2)
	require.NotEmpty(t, list.Continue)
	require.EqualValues(t, 2, reads.GetReadsAndReset())
}

// TestObjectSizeLimit rejects an object over the limit with 413, stores
// one just under it, and stores one far above etcd's 1.5 MiB by default. An
// object small in protobuf but over the limit in JSON is refused.
func TestObjectSizeLimit(t *testing.T) {
	ctx := context.Background()
	store := newStoreOn(t, newBackend(t, func(o *Options) { o.MaxObjectSize = 1 << 20 }), defaultSetup())
	big := func(n int) *example.Pod {
		return &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: "ns",
			Annotations: map[string]string{"payload": strings.Repeat("x", n)}}}
	}
	err := store.Create(ctx, "/pods/ns/big", big(1<<20), &example.Pod{}, 0)
	require.True(t, apierrors.IsRequestEntityTooLargeError(err), "got %v", err)
	require.Contains(t, err.Error(), "limit is 1048576 bytes")
	// Nothing was stored.
	err = store.Get(ctx, "/pods/ns/big", storage.GetOptions{}, &example.Pod{})
	require.True(t, storage.IsNotFound(err), "got %v", err)

	require.NoError(t, store.Create(ctx, "/pods/ns/big", big(1<<19), &example.Pod{}, 0))
	// An update over the limit fails the same way and keeps the old object.
	err = store.GuaranteedUpdate(ctx, "/pods/ns/big", &example.Pod{}, false, nil, storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
		p := obj.(*example.Pod)
		p.Annotations["payload"] = strings.Repeat("y", 2<<20)
		return p, nil
	}), nil)
	require.True(t, apierrors.IsRequestEntityTooLargeError(err), "got %v", err)

	// The default limit, 15 MiB, takes a 5 MiB object.
	store = newStoreOn(t, newBackend(t, nil), defaultSetup())
	require.NoError(t, store.Create(ctx, "/pods/ns/big", big(5<<20), &example.Pod{}, 0))
	out := &example.Pod{}
	require.NoError(t, store.Get(ctx, "/pods/ns/big", storage.GetOptions{}, out))
	require.Len(t, out.Annotations["payload"], 5<<20)

	// The limit is on the object's JSON, what a watch sends, though it is
	// stored in protobuf: a payload of control characters is 6 times larger
	// in JSON, where each is an escape.
	store = newStoreOn(t, newBackend(t, func(o *Options) { o.MaxObjectSize = 1 << 20 }), defaultSetup())
	err = store.Create(ctx, "/pods/ns/escaped", &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "escaped", Namespace: "ns",
		Annotations: map[string]string{"payload": strings.Repeat("\x01", 200<<10)}}}, &example.Pod{}, 0)
	require.True(t, apierrors.IsRequestEntityTooLargeError(err), "got %v", err)
	require.Regexp(t, `the object is \d+ bytes as JSON; the limit is 1048576 bytes`, err.Error())
	err = store.Get(ctx, "/pods/ns/escaped", storage.GetOptions{}, &example.Pod{})
	require.True(t, storage.IsNotFound(err), "got %v", err)

	// No limit may let in an object a client-go watch could not be sent.
	_, err = New(ctx, Options{DatabaseURL: newDatabaseURL(t), MaxObjectSize: MaxWatchableObjectSize + 1})
	require.ErrorContains(t, err, "refuse an event over 16 MiB")
}

// TestSelectiveListsUseTheIndex lists with a selective label selector more
// often than PostgreSQL needs before it would switch a cached statement to
// its generic plan, and requires the GIN index to answer every time: the
// generic plan walks the whole key range instead (100 ms against 1.3 ms at
// 100k objects). PostgreSQL's cumulative statistics count the index scans;
// a backend reports them within about ten seconds of going idle.
func TestSelectiveListsUseTheIndex(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabaseURL(t)
	store := newPodStore(t, dsn, func(o *setupOptions) { o.attrFunc = podAttrs })
	for i := range 3000 {
		p := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%04d", i), Namespace: "ns",
			Labels: map[string]string{"cohort": fmt.Sprint(i % 1000)}}}
		require.NoError(t, store.Create(ctx, "/pods/ns/"+p.Name, p, &example.Pod{}, 0))
	}
	_, indexScans := indexStats(t, dsn, "kv_labels")
	before := settledIndexScans(t, indexScans)

	const lists = 12
	for i := range lists {
		list := &example.PodList{}
		pred := storage.SelectionPredicate{Label: labels.SelectorFromSet(labels.Set{"cohort": fmt.Sprint(i * 37)}), Field: fields.Everything(), GetAttrs: podAttrs}
		require.NoError(t, store.GetList(ctx, "/pods/", storage.ListOptions{Recursive: true, Predicate: pred}, list))
		require.Len(t, list.Items, 3)
	}
	require.Eventually(t, func() bool { return indexScans()-before >= lists }, 30*time.Second, 500*time.Millisecond,
		"every selective list must scan the labels index; %d of %d did", indexScans()-before, lists)
}

// indexStats analyses sluice.kv and returns a connection and a function
// that reads how many scans the named index has had.
func indexStats(t *testing.T, dsn, index string) (*pgx.Conn, func() int64) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctx) })
	_, err = conn.Exec(ctx, "ANALYZE sluice.kv")
	require.NoError(t, err)
	return conn, func() int64 {
		var n int64
		// A new snapshot of the statistics for each read.
		_, err := conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()")
		require.NoError(t, err)
		require.NoError(t, conn.QueryRow(ctx, "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = $1", index).Scan(&n))
		return n
	}
}

// settledIndexScans waits until the writes' statistics stop moving and
// returns the count.
func settledIndexScans(t *testing.T, indexScans func() int64) int64 {
	var before int64
	require.Eventually(t, func() bool {
		n := indexScans()
		settled := n == before
		before = n
		return settled
	}, 30*time.Second, 2*time.Second)
	return before
}

// TestEnvironmentFieldUsesItsIndex: a field-selected list of one
// environment's jobs is answered by kv_field_environment, which holds only
// the objects that have an environment (the store leaves empty field
// values out of the fields column).
func TestEnvironmentFieldUsesItsIndex(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabaseURL(t)
	envAttrs := func(obj runtime.Object) (labels.Set, fields.Set, error) {
		p := obj.(*example.Pod)
		return p.Labels, fields.Set{"metadata.name": p.Name, "metadata.namespace": p.Namespace, "spec.environment": p.Spec.NodeName}, nil
	}
	store := newPodStore(t, dsn, func(o *setupOptions) {
		o.attrFunc = envAttrs
		o.indexedFields = []string{"spec.environment"}
	})
	for i := range 2000 {
		env := ""
		if i%100 == 0 {
			env = []string{"staging", "production"}[i/100%2]
		}
		p := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%04d", i), Namespace: "ns"}, Spec: example.PodSpec{NodeName: env}}
		require.NoError(t, store.Create(ctx, "/pods/ns/"+p.Name, p, &example.Pod{}, 0))
	}
	conn, indexScans := indexStats(t, dsn, "kv_field_environment")
	var indexed int64
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM sluice.kv WHERE fields ? 'spec.environment'").Scan(&indexed))
	require.Equal(t, int64(20), indexed, "only objects with an environment have the field")
	before := settledIndexScans(t, indexScans)

	list := func(sel fields.Selector) []string {
		out := &example.PodList{}
		pred := storage.SelectionPredicate{Label: labels.Everything(), Field: sel, GetAttrs: envAttrs}
		require.NoError(t, store.GetList(ctx, "/pods/", storage.ListOptions{Recursive: true, Predicate: pred}, out))
		var names []string
		for _, p := range out.Items {
			names = append(names, p.Name)
		}
		return names
	}
	got := list(fields.OneTermEqualSelector("spec.environment", "production"))
	require.Len(t, got, 10)
	require.Equal(t, "p0100", got[0])
	require.Eventually(t, func() bool { return indexScans() > before }, 30*time.Second, 500*time.Millisecond,
		"the environment list must scan kv_field_environment")
	require.Len(t, list(fields.OneTermEqualSelector("spec.environment", "")), 1980, "no environment reads as empty")
	require.Len(t, list(fields.OneTermNotEqualSelector("spec.environment", "staging")), 1990)
}
