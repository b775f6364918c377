package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/storage"
)

// TestStatementsReplay runs the exported statements, inlined as pgbench
// runs them, next to the store: the create stores a row the store then
// reads, and the list returns exactly the keys the store lists.
func TestStatementsReplay(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabaseURL(t)
	store := newPodStore(t, dsn)
	for i := range 20 {
		p := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%02d", i), Namespace: "ns",
			Labels: map[string]string{"cohort": fmt.Sprint(i % 4), "it's": "quoted"}}}
		require.NoError(t, store.Create(ctx, "/pods/ns/"+p.Name, p, &example.Pod{}, 0))
	}
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)

	var rv int64
	require.NoError(t, conn.QueryRow(ctx, "SELECT max(rv) FROM sluice.kv").Scan(&rv))
	sel := labels.SelectorFromSet(labels.Set{"cohort": "2"})
	sql, err := ListStatement("/pods/ns/", rv, sel, 500).Inline(func(int, any) string { return "" })
	require.NoError(t, err)
	rows, err := conn.Query(ctx, sql)
	require.NoError(t, err)
	var keys []string
	for rows.Next() {
		var compacted, rowRV int64
		var key string
		var value []byte
		require.NoError(t, rows.Scan(&compacted, &key, &rowRV, &value))
		keys = append(keys, key)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"/pods/ns/pod-02", "/pods/ns/pod-06", "/pods/ns/pod-10", "/pods/ns/pod-14", "/pods/ns/pod-18"}, keys)

	// The create, with its key computed by an expression as pgbench's is.
	create := CreateStatement("", []byte("raw"), map[string]string{"it's": "quoted"})
	sql, err = create.Inline(func(n int, _ any) string {
		if n == 1 {
			return "'/pods/ns/' || 'replayed'"
		}
		return ""
	})
	require.NoError(t, err)
	_, err = conn.Exec(ctx, sql)
	require.NoError(t, err)
	var value []byte
	var lbls map[string]string
	require.NoError(t, conn.QueryRow(ctx, "SELECT value, labels FROM sluice.kv WHERE key = '/pods/ns/replayed'").Scan(&value, &lbls))
	require.Equal(t, "raw", string(value))
	require.Equal(t, map[string]string{"it's": "quoted"}, lbls)
}

// TestPageStatementReplay runs a field-selected page and the page after it,
// as PageStatement builds them, and requires the keys the store's own
// paginated list returns for the same selector.
func TestPageStatementReplay(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabaseURL(t)
	indexed := []string{"spec.nodeName"}
	store := newPodStore(t, dsn, func(o *setupOptions) {
		o.attrFunc = podAttrs
		o.indexedFields = indexed
	})
	for i := range 30 {
		p := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%02d", i), Namespace: "ns"},
			Spec: example.PodSpec{NodeName: fmt.Sprintf("node-%d", i%3)}}
		require.NoError(t, store.Create(ctx, "/pods/ns/"+p.Name, p, &example.Pod{}, 0))
	}
	pred := storage.SelectionPredicate{Label: labels.Everything(), Field: fields.OneTermEqualSelector("spec.nodeName", "node-1"),
		GetAttrs: podAttrs, Limit: 4}
	var want [][]string
	opts := storage.ListOptions{Recursive: true, Predicate: pred}
	for range 2 {
		var list example.PodList
		require.NoError(t, store.GetList(ctx, "/pods/ns/", opts, &list))
		var page []string
		for _, p := range list.Items {
			page = append(page, "/pods/ns/"+p.Name)
		}
		want = append(want, page)
		opts.Predicate.Continue = list.Continue
	}
	require.Equal(t, [][]string{
		{"/pods/ns/pod-01", "/pods/ns/pod-04", "/pods/ns/pod-07", "/pods/ns/pod-10"},
		{"/pods/ns/pod-13", "/pods/ns/pod-16", "/pods/ns/pod-19", "/pods/ns/pod-22"},
	}, want)

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var rv int64
	require.NoError(t, conn.QueryRow(ctx, "SELECT max(rv) FROM sluice.kv").Scan(&rv))
	after := ""
	for _, page := range want {
		st := PageStatement("/pods/ns/", after, rv, pred, indexed, len(page))
		require.Contains(t, st.SQL, "fields->>'spec.nodeName'", "the field selector is pushed into SQL")
		rows, err := conn.Query(ctx, st.SQL, append([]any{pgx.QueryExecModeDescribeExec}, st.Args...)...)
		require.NoError(t, err)
		var keys []string
		for rows.Next() {
			var compacted, rowRV int64
			var key string
			var value []byte
			require.NoError(t, rows.Scan(&compacted, &key, &rowRV, &value))
			keys = append(keys, key)
		}
		require.NoError(t, rows.Err())
		require.Equal(t, page, keys)
		after = keys[len(keys)-1]
	}
}

// TestSelectEventsPlanIsBounded: the sequencer's read costs the events it
// returns, not the events kept. It runs as a prepared statement, for which
// PostgreSQL settles on a generic plan; as one scan with an OR, that plan
// walked the whole events index, filtering (17 ms at 24,000 events, and
// most of a core of one backend during a bulk load of millions).
func TestSelectEventsPlanIsBounded(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabaseURL(t)
	store := newPodStore(t, dsn)
	const n = 3000
	for i := range n {
		p := &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%04d", i), Namespace: "ns"}}
		require.NoError(t, store.Create(ctx, "/pods/ns/"+p.Name, p, &example.Pod{}, 0))
	}
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var first, last int64
	require.NoError(t, conn.QueryRow(ctx, "SELECT min(rv), max(rv) FROM sluice.events").Scan(&first, &last))
	_, err = conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "PREPARE select_events(bigint[], bigint, int) AS "+selectEvents)
	require.NoError(t, err)
	for _, tc := range []struct {
		holes string
		after int64
		want  int
	}{
		{"{}", last, 0},       // caught up: nothing new
		{"{}", last - 10, 10}, // the ten newest
		{fmt.Sprintf("{%d,%d}", first, first+1), last, 2}, // two old holes
		{fmt.Sprintf("{%d}", first), last - 5, 6},         // a hole and the five newest
		{fmt.Sprintf("{%d}", last-1), 1<<63 - 1, 1},       // only holes
	} {
		rows, err := conn.Query(ctx, fmt.Sprintf("EXPLAIN (ANALYZE, COSTS OFF) EXECUTE select_events('%s', %d, 1000)", tc.holes, tc.after))
		require.NoError(t, err)
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		text := strings.Join(plan, "\n")
		require.NotContains(t, text, "Rows Removed by Filter", "holes %s after %d: the plan filters rows it read\n%s", tc.holes, tc.after, text)
		rows, err = conn.Query(ctx, fmt.Sprintf("EXECUTE select_events('%s', %d, 1000)", tc.holes, tc.after))
		require.NoError(t, err)
		events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (int64, error) {
			var rv int64
			return rv, row.Scan(&rv, nil, nil, nil, nil, nil, nil)
		})
		require.NoError(t, err)
		require.Len(t, events, tc.want, "holes %s after %d", tc.holes, tc.after)
	}
}
