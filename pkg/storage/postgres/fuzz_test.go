package postgres

import (
	"context"
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
