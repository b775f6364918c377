package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/apis/example"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
)

// fuzzPodAttrs are the selectable fields of the fuzzed Pods: spec.nodeName
// and metadata.name are indexed (pushed into SQL), spec.hostname and
// metadata.namespace are answered in Go only.
func fuzzPodAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	p := obj.(*example.Pod)
	return p.Labels, fields.Set{
		"metadata.name":      p.Name,
		"metadata.namespace": p.Namespace,
		"spec.nodeName":      p.Spec.NodeName,
		"spec.hostname":      p.Spec.Hostname,
	}, nil
}

// fuzzValues are the label keys and values and the field values of the
// objects FuzzSelectorPushDown lists: SQL and LIKE metacharacters, JSON,
// unicode, empty, and label values at and over the API's 63 characters.
var fuzzValues = []string{
	"", "a", "A", "a_b", "a.b", "a-b", "100", "100%", "%_%", "it's", `"quoted"`, `back\slash`,
	`{"json":1}`, "$1", "?", "日本語", "emoji-🚀", "tab\there", strings.Repeat("v", 63), strings.Repeat("v", 64), "x",
}

// podKey is the storage key of a Pod in the fuzzed stores.
func podKey(p *example.Pod) string { return "/pods/" + p.Namespace + "/" + p.Name }

// FuzzSelectorPushDown lists a fixed set of objects, whose labels and
// indexed fields hold hostile strings, with any label and field selector
// that parse, and requires exactly the objects the Go predicate accepts, in
// key order: in one list and in pages of one to four objects followed by
// their continue tokens. The store pushes what it can of the selectors into
// SQL; that must never change an answer, and no selector a client can send
// may make the list fail.
func FuzzSelectorPushDown(f *testing.F) {
	for _, seed := range []struct{ label, field string }{
		{"", ""},
		{"v=a_b", ""}, {"v==100", ""}, {"v!=a_b", ""}, {"v in (a_b,100,z)", ""}, {"v notin (a_b,a.b)", ""},
		{"v", ""}, {"!v", ""}, {"a_b", ""}, {"!a_b", ""}, {"a.b=key", ""}, {"tier=", ""}, {"tier!=", ""},
		{"tier in (,a)", ""}, {"idx>5", ""}, {"idx<3", ""}, {"app=web,tier!=x,!a-b", ""},
		{"v=" + strings.Repeat("v", 63), ""}, {"v in (A,a)", ""},
		{"", "spec.nodeName=a_b"}, {"", "spec.nodeName==100%"}, {"", "spec.nodeName!=it's"}, {"", "spec.nodeName="},
		{"", "spec.nodeName!="}, {"", `spec.nodeName=back\\slash`}, {"", "spec.nodeName=%_%"}, {"", `spec.nodeName={"json":1}`},
		{"", "spec.nodeName=日本語"}, {"", "spec.nodeName=tab\there"}, {"", "spec.nodeName=a,spec.nodeName!=b"},
		{"", "metadata.name=p09-it's"}, {"", "metadata.name!=p01"}, {"", "metadata.namespace=ns-a"},
		{"", "spec.hostname!=a"}, {"", "spec.hostname="}, {"", "unknown.field=x"},
		{"app in (web,db)", "spec.nodeName!=x,metadata.namespace!=ns-b"},
	} {
		f.Add(seed.label, seed.field, uint8(1), false)
	}
	f.Add("v!=x", "spec.nodeName!=", uint8(0), true)
	f.Add("", "", uint8(2), true)

	ctx := context.Background()
	store := newPodStore(f, newDatabaseURL(f), func(o *setupOptions) {
		o.attrFunc = fuzzPodAttrs
		o.indexedFields = []string{"spec.nodeName", "metadata.name"}
	})
	apps := []string{"web", "db", "a_b"}
	for i, v := range fuzzValues {
		name := fmt.Sprintf("p%02d", i)
		if i%3 == 0 && v != "" && !strings.Contains(v, "/") {
			name += "-" + v // hostile keys too
		}
		lbls := map[string]string{"v": v, "idx": strconv.Itoa(i), "app": apps[i%3], "tier": fuzzValues[(i*7)%len(fuzzValues)]}
		if i%2 == 0 {
			lbls[v] = "key" // hostile label keys
		}
		if i%4 == 0 {
			delete(lbls, "v")
		}
		if i == 1 {
			lbls = nil // no labels at all: NULL in SQL
		}
		p := &example.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: []string{"ns-a", "ns-b"}[i%2], Labels: lbls},
			Spec:       example.PodSpec{NodeName: v, Hostname: fuzzValues[(i*3)%len(fuzzValues)]},
		}
		require.NoError(f, store.Create(ctx, podKey(p), p, &example.Pod{}, 0), "create %q", name)
	}
	// The oracle's objects are the stored ones as the store decodes them.
	everything := &example.PodList{}
	require.NoError(f, store.GetList(ctx, "/pods/", storage.ListOptions{Recursive: true, Predicate: storage.Everything}, everything))
	require.Len(f, everything.Items, len(fuzzValues))
	all := everything.Items
	sort.Slice(all, func(i, j int) bool { return podKey(&all[i]) < podKey(&all[j]) })

	f.Fuzz(func(t *testing.T, labelSelector, fieldSelector string, pageSize uint8, oneNamespace bool) {
		ls, err := labels.Parse(labelSelector)
		if err != nil {
			return // the apiserver answers 400 before the storage
		}
		fs, err := fields.ParseSelector(fieldSelector)
		if err != nil {
			return
		}
		key := "/pods/"
		if oneNamespace {
			key = "/pods/ns-a/"
		}
		pred := storage.SelectionPredicate{Label: ls, Field: fs, GetAttrs: fuzzPodAttrs}
		var want []string
		for i := range all {
			if !strings.HasPrefix(podKey(&all[i]), key) {
				continue
			}
			if ok, err := pred.Matches(&all[i]); err == nil && ok {
				want = append(want, podKey(&all[i]))
			}
		}
		where := fmt.Sprintf("list %s with label selector %q, field selector %q", key, labelSelector, fieldSelector)

		list := &example.PodList{}
		if err := store.GetList(ctx, key, storage.ListOptions{Recursive: true, Predicate: pred}, list); err != nil {
			t.Fatalf("%s: %v (a client sees %d)", where, err, clientStatus(err).Code)
		}
		if got := itemKeys(list); !slices.Equal(got, want) {
			t.Fatalf("%s:\n got  %q\n want %q", where, got, want)
		}

		pred.Limit = 1 + int64(pageSize%4)
		var got []string
		var rv string
		for page := 0; ; page++ {
			if page > len(want)+1 {
				t.Fatalf("%s in pages of %d: still a continue token after %d pages", where, pred.Limit, page)
			}
			list := &example.PodList{}
			if err := store.GetList(ctx, key, storage.ListOptions{Recursive: true, Predicate: pred}, list); err != nil {
				t.Fatalf("%s, page %d of %d: %v (a client sees %d)", where, page, pred.Limit, err, clientStatus(err).Code)
			}
			if int64(len(list.Items)) > pred.Limit {
				t.Fatalf("%s: a page of %d items, limit %d", where, len(list.Items), pred.Limit)
			}
			if page == 0 {
				rv = list.ResourceVersion
			} else if list.ResourceVersion != rv {
				t.Fatalf("%s: page %d at resourceVersion %s, the first at %s", where, page, list.ResourceVersion, rv)
			}
			got = append(got, itemKeys(list)...)
			if list.Continue == "" {
				break
			}
			pred.Continue = list.Continue
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s in pages of %d:\n got  %q\n want %q", where, pred.Limit, got, want)
		}
	})
}

func itemKeys(list *example.PodList) []string {
	var keys []string
	for i := range list.Items {
		keys = append(keys, podKey(&list.Items[i]))
	}
	return keys
}

// clientStatus is the Status a client receives for an error of GetList:
// the generic registry's list error mapping, then the API handler's.
func clientStatus(err error) *metav1.Status {
	if err == nil {
		return &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusOK}
	}
	return responsewriters.ErrorToAPIStatus(storeerr.InterpretListError(err, schema.GroupResource{Resource: "pods"}))
}

// continueWrite is one write of FuzzContinueToken's history: key holds an
// object of resourceVersion rv from rv on, or none if deleted.
type continueWrite struct {
	rv      int64
	key     string
	deleted bool
}

// FuzzContinueToken lists Pods, of one namespace or of all, with any
// continue token and limit, over a history of writes part of which is
// compacted. The token is fuzzed as the string a client sends or, when
// startKey is set, as the key and revision inside one the apiserver would
// decode. A token the apiserver cannot decode is a 400, and so is a key with
// a NUL before its end; a token below the compacted revision a 410; one
// above the current revision the apiserver's "too large resource version"
// (a 504 to retry, as from etcd3); any other token gives exactly the page of
// the state at its revision, from its key on, inside the listed prefix, with
// the right continue token and remainingItemCount. Nothing panics, and
// nothing is a 500.
func FuzzContinueToken(f *testing.F) {
	ctx := context.Background()
	b := newBackend(f, nil)
	pods := newStoreOn(f, b, defaultSetup())
	other := defaultSetup()
	other.resourcePref = "/otherpods/"
	others := newStoreOn(f, b, other)

	var history []continueWrite
	record := func(key string, deleted bool) {
		rv, err := pods.GetCurrentResourceVersion(ctx)
		require.NoError(f, err)
		history = append(history, continueWrite{rv: int64(rv), key: key, deleted: deleted})
	}
	create := func(s *Store, key string) {
		parts := strings.Split(key, "/")
		p := &example.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: parts[2], Name: parts[3]}}
		require.NoError(f, s.Create(ctx, key, p, &example.Pod{}, 0), "create %s", key)
		if s == pods {
			record(key, false)
		}
	}
	update := func(key string) {
		require.NoError(f, pods.GuaranteedUpdate(ctx, key, &example.Pod{}, false, nil,
			storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
				p := obj.(*example.Pod)
				p.Spec.NodeName += "x"
				return p, nil
			}), nil), "update %s", key)
		record(key, false)
	}
	remove := func(key string) {
		require.NoError(f, pods.Delete(ctx, key, &example.Pod{}, nil, storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{}), "delete %s", key)
		record(key, true)
	}

	// Namespaces around ns-a in key order: "ns-a." sorts before "ns-a/",
	// "ns-a0" right after its prefix range ends.
	for _, ns := range []string{"ns-a", "ns-a.", "ns-a0", "ns-b"} {
		for i := range 4 {
			create(pods, fmt.Sprintf("/pods/%s/p%d", ns, i))
		}
	}
	create(others, "/otherpods/ns-a/other-0")
	create(others, "/otherpods/ns-a/p1")
	update("/pods/ns-a/p1")
	remove("/pods/ns-a/p2")
	create(pods, "/pods/ns-a/p5")
	compacted := history[len(history)-1].rv
	require.NoError(f, pods.Compact(ctx, compacted))
	require.Equal(f, compacted, pods.CompactRevision())
	update("/pods/ns-a/p3")
	remove("/pods/ns-a/p0")
	create(pods, "/pods/ns-a/p2")
	update("/pods/ns-b/p0")
	current := history[len(history)-1].rv

	// stateAt is the keys under prefix, from key from on, at rv, with the
	// resourceVersion of each.
	type item struct {
		key string
		rv  int64
	}
	stateAt := func(rv int64, prefix, from string) []item {
		objects := map[string]int64{}
		for _, w := range history {
			switch {
			case w.rv > rv:
			case w.deleted:
				delete(objects, w.key)
			default:
				objects[w.key] = w.rv
			}
		}
		var items []item
		for key, rv := range objects {
			if strings.HasPrefix(key, prefix) && key >= from {
				items = append(items, item{key, rv})
			}
		}
		sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
		return items
	}

	// Seeds: the tokens of real paginated lists, at the current and at an
	// older revision, and variants of them.
	token := func(key, prefix string, rv int64) string {
		t, err := storage.EncodeContinue(key, prefix, rv)
		require.NoError(f, err)
		return t
	}
	for _, all := range []bool{false, true} {
		prefix := "/pods/ns-a/"
		if all {
			prefix = "/pods/"
		}
		for _, rv := range []string{"", strconv.FormatInt(compacted, 10)} {
			opts := storage.ListOptions{Recursive: true, ResourceVersion: rv, Predicate: storage.SelectionPredicate{
				Label: labels.Everything(), Field: fields.Everything(), Limit: 2}}
			for {
				list := &example.PodList{}
				require.NoError(f, pods.GetList(ctx, prefix, opts, list))
				if list.Continue == "" {
					break
				}
				f.Add(list.Continue, "", int64(0), uint8(2), all)
				f.Add(list.Continue[:len(list.Continue)/2], "", int64(0), uint8(2), all)
				f.Add(list.Continue, "", int64(0), uint8(0), !all) // the other scope's token
				opts.ResourceVersion, opts.Predicate.Continue = "", list.Continue
			}
		}
	}
	raw := func(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }
	for _, seed := range []string{
		"",
		token("/pods/ns-a/p1\x00", "/pods/ns-a/", compacted-1), // below the compacted revision
		token("/pods/ns-a/p1\x00", "/pods/ns-a/", -1),          // continue at the latest revision
		token("/pods/ns-a/p1\x00", "/pods/ns-a/", current+1000),
		token("/otherpods/ns-a/other-0\x00", "/otherpods/", current),
		token("/pods/ns-a/p1", "/pods/ns-a/", compacted),
		token("/pods/ns-a/", "/pods/", current),
		token("/pods/ns-a0/p0", "/pods/", current),
		raw(`{"v":"meta.k8s.io/v1","rv":5,"start":"../ns-b/p0"}`),
		raw(`{"v":"meta.k8s.io/v1","rv":5,"start":"/../../otherpods/ns-a/other-0"}`),
		raw(`{"v":"meta.k8s.io/v1","rv":0,"start":"p1"}`),
		raw(`{"v":"meta.k8s.io/v1","rv":5,"start":""}`),
		raw(`{"v":"meta.k8s.io/v2","rv":5,"start":"p1"}`),
		raw(`{"v":"meta.k8s.io/v1","rv":9223372036854775807,"start":"p1"}`),
		raw(`{"v":"meta.k8s.io/v1","rv":-9223372036854775808,"start":"p9"}`),
		raw(`{"v":"meta.k8s.io/v1","rv":5,"start":"p1\u00e9"}`),
		raw(`[]`), raw(`null`), "!!!", "AAAA", "eyJ2IjoibWV0YS5rOHMuaW8vdjEi", "%00",
	} {
		f.Add(seed, "", int64(0), uint8(3), false)
	}
	// Tokens a client may make up, which the decoder accepts: the fuzzer
	// rarely reaches them by mutating base64.
	for _, seed := range []struct {
		start string
		rv    int64
	}{
		{"p1\x00", current}, {"p1", compacted}, {"p3", compacted - 1}, {"p3", -1}, {"p3", current + 1},
		{"ns-b/p0\x00", current}, {"../ns-b/p0", current}, {"/", current}, {"p1é", current}, {"p1\x00", 0},
	} {
		f.Add("", seed.start, seed.rv, uint8(1), false)
		f.Add("", seed.start, seed.rv, uint8(3), true)
	}

	f.Fuzz(func(t *testing.T, continueToken, startKey string, tokenRV int64, limit uint8, allNamespaces bool) {
		prefix := "/pods/ns-a/"
		if allNamespaces {
			prefix = "/pods/"
		}
		if startKey != "" {
			// The token, as the apiserver encodes one, of any key and
			// revision.
			data, err := json.Marshal(map[string]any{"v": "meta.k8s.io/v1", "rv": tokenRV, "start": startKey})
			if err != nil {
				t.Fatal(err)
			}
			continueToken = base64.RawURLEncoding.EncodeToString(data)
		}
		opts := storage.ListOptions{Recursive: true, Predicate: storage.SelectionPredicate{
			Label: labels.Everything(), Field: fields.Everything(), Limit: int64(limit % 8), Continue: continueToken}}
		list := &example.PodList{}
		err := pods.GetList(ctx, prefix, opts, list)
		status := clientStatus(err)
		where := fmt.Sprintf("list %s, limit %d, continue %q", prefix, opts.Predicate.Limit, continueToken)

		rv, from := current, prefix
		if continueToken != "" {
			key, tokenRV, decodeErr := storage.DecodeContinue(continueToken, prefix)
			if decodeErr != nil {
				if status.Code != http.StatusBadRequest {
					t.Fatalf("%s: a token the apiserver cannot decode (%v) must be a 400, got %d: %v", where, decodeErr, status.Code, err)
				}
				return
			}
			if tokenRV > 0 {
				rv = tokenRV
			}
			from = key
		}
		switch {
		case strings.Contains(strings.TrimSuffix(from, "\x00"), "\x00"):
			// A NUL inside the key: no token the store hands out has one,
			// and PostgreSQL's text cannot hold it.
			if status.Code != http.StatusBadRequest {
				t.Fatalf("%s: a key with a NUL before its end must be a 400, got %d: %v", where, status.Code, err)
			}
			return
		case rv > current:
			if !storage.IsTooLargeResourceVersion(err) {
				t.Fatalf("%s: a token at revision %d, above the current %d, must be the apiserver's too-large resource version, got %v", where, rv, current, err)
			}
			return
		case rv < compacted:
			if status.Code != http.StatusGone || status.Reason != metav1.StatusReasonExpired {
				t.Fatalf("%s: a token at revision %d, below the compacted %d, must be a 410 Expired, got %d %s: %v", where, rv, compacted, status.Code, status.Reason, err)
			}
			return
		case err != nil:
			t.Fatalf("%s: %v (a client sees %d)", where, err, status.Code)
		}

		state := stateAt(rv, prefix, from)
		want := state
		if opts.Predicate.Limit > 0 && int64(len(want)) > opts.Predicate.Limit {
			want = want[:opts.Predicate.Limit]
		}
		var got []item
		for i := range list.Items {
			p := &list.Items[i]
			itemRV, err := strconv.ParseInt(p.ResourceVersion, 10, 64)
			if err != nil {
				t.Fatalf("%s: item %s has resourceVersion %q", where, podKey(p), p.ResourceVersion)
			}
			got = append(got, item{podKey(p), itemRV})
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s at revision %d, from %q:\n got  %v\n want %v", where, rv, from, got, want)
		}
		if list.ResourceVersion != strconv.FormatInt(rv, 10) {
			t.Fatalf("%s: list at resourceVersion %s, want %d", where, list.ResourceVersion, rv)
		}
		more := len(state) > len(want)
		if !more {
			if list.Continue != "" || list.RemainingItemCount != nil {
				t.Fatalf("%s: the last page has continue %q, remainingItemCount %v", where, list.Continue, list.RemainingItemCount)
			}
			return
		}
		nextKey, nextRV, err := storage.DecodeContinue(list.Continue, prefix)
		if err != nil {
			t.Fatalf("%s: the next continue token %q: %v", where, list.Continue, err)
		}
		if last := want[len(want)-1].key; nextKey != last+"\x00" || nextRV != rv {
			t.Fatalf("%s: the next token continues at %q, revision %d; want after %q at %d", where, nextKey, nextRV, last, rv)
		}
		if remaining := int64(len(state) - len(want)); list.RemainingItemCount == nil || *list.RemainingItemCount != remaining {
			t.Fatalf("%s: remainingItemCount %v, want %d", where, list.RemainingItemCount, remaining)
		}
	})
}

// TestContinueTokenWithNULInsideKey: a continue token whose key holds a NUL
// before its end, which FuzzContinueToken found to fail the list with a
// 500, is the client's 400. The store's own tokens end in their only NUL.
func TestContinueTokenWithNULInsideKey(t *testing.T) {
	ctx, store := testSetup(t)
	require.NoError(t, store.Create(ctx, "/pods/ns/p", &example.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}, &example.Pod{}, 0))
	rv, err := store.GetCurrentResourceVersion(ctx)
	require.NoError(t, err)
	token, err := storage.EncodeContinue("/pods/ns/p\x00x", "/pods/ns/", int64(rv))
	require.NoError(t, err)
	err = store.GetList(ctx, "/pods/ns/", storage.ListOptions{Recursive: true, Predicate: storage.SelectionPredicate{
		Label: labels.Everything(), Field: fields.Everything(), Limit: 1, Continue: token}}, &example.PodList{})
	require.Equal(t, int32(http.StatusBadRequest), clientStatus(err).Code, "got %v", err)
	require.Contains(t, err.Error(), `invalid continue token: continue key is not valid: "p\x00x"`)
}
