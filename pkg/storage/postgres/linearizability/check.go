package linearizability

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/sluice-dev/sluice/pkg/testing/testoutput"
)

// Result is the verdict on a history.
type Result struct {
	// Linearizable is porcupine's verdict on the per-key model: Ok, Illegal,
	// or Unknown if the check ran out of time.
	Linearizable porcupine.CheckResult
	// RevisionErrors break the revision rules (unique, increasing in real
	// time, lists fresh) or an exact list's repeatability.
	RevisionErrors []string
	// Operations is how many model operations were checked (a list counts
	// once per key).
	Operations int

	info porcupine.LinearizationInfo
}

// OK reports whether the history passed every check.
func (r Result) OK() bool { return r.Linearizable == porcupine.Ok && len(r.RevisionErrors) == 0 }

// Visualize writes porcupine's HTML visualisation of the checked history,
// with the longest linearization of each key it found, to path.
func (r Result) Visualize(path string) error {
	return porcupine.VisualizePath(model, r.info, path)
}

// Check checks h with the per-key model, spending at most timeout in
// porcupine, and checks its revisions.
func Check(h History, timeout time.Duration) Result {
	ops := operations(h)
	res, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	return Result{Linearizable: res, info: info, Operations: len(ops), RevisionErrors: checkRevisions(h)}
}

// operations turns a history into the model's operations. A List is split
// into one read per key, each with the list's call and return times and its
// revision; the model requires each key's read to be the state at that
// revision, which with checkRevisions makes the list one snapshot. Reads
// that failed are left out (they changed nothing), an exact list is checked
// by checkRevisions, and a write whose outcome is unknown stays pending
// until the end of time.
func operations(h History) []porcupine.Operation {
	var ops []porcupine.Operation
	add := func(r Record, in input, out output) {
		ops = append(ops, porcupine.Operation{ClientId: r.Client, Input: in, Call: r.Call, Output: out, Return: r.Return})
	}
	for _, r := range h.Records {
		switch r.Kind {
		case Get:
			if r.Outcome == Unknown {
				continue
			}
			add(r, input{Kind: Get, Key: r.Key}, output{Outcome: r.Outcome, Exists: r.Outcome == OK, Value: r.Value, RV: r.RV})
		case List:
			if r.Outcome != OK {
				continue
			}
			for _, k := range h.Keys {
				item, ok := r.Items[k]
				add(r, input{Kind: listRead, Key: k}, output{Outcome: OK, Exists: ok, Value: item.Value, RV: item.RV, ListRV: r.RV})
			}
		case ListExact:
		default:
			ret := r.Return
			if r.Outcome == Unknown {
				ret = Infinity
			}
			r.Return = ret
			add(r, input{Kind: r.Kind, Key: r.Key, Value: r.Value, Precondition: r.Precondition},
				output{Outcome: r.Outcome, Value: r.Value, RV: r.RV})
		}
	}
	return ops
}

// checkRevisions checks what the model cannot see across keys:
//   - every acknowledged write has a revision no other write has;
//   - it is above every revision any operation returned before it was
//     called (so the revision order of writes agrees with real time);
//   - a consistent list's revision is at or above every revision returned
//     before it was called (it is not stale);
//   - an exact list at a revision returns what a consistent list at that
//     revision returned.
func checkRevisions(h History) []string {
	var errs []string
	type seen struct{ at, rv int64 }
	var returned []seen
	writers := map[int64]Record{}
	consistent := map[int64]Record{}
	for _, r := range h.Records {
		if r.Outcome != OK {
			continue
		}
		switch r.Kind {
		case Create, Update, Delete:
			if other, dup := writers[r.RV]; dup {
				errs = append(errs, fmt.Sprintf("revision %d handed out twice: %v and %v", r.RV, other, r))
			}
			writers[r.RV] = r
		case List:
			consistent[r.RV] = r
		case ListExact:
			continue // an old revision, by request
		}
		returned = append(returned, seen{r.Return, r.RV})
	}
	sort.Slice(returned, func(i, j int) bool { return returned[i].at < returned[j].at })
	highest := make([]int64, len(returned)) // highest[i]: max rv returned[0..i]
	for i, s := range returned {
		highest[i] = s.rv
		if i > 0 {
			highest[i] = max(highest[i], highest[i-1])
		}
	}
	// highestBefore is the highest revision returned strictly before t.
	highestBefore := func(t int64) int64 {
		i := sort.Search(len(returned), func(i int) bool { return returned[i].at >= t })
		if i == 0 {
			return 0
		}
		return highest[i-1]
	}
	for _, r := range h.Records {
		if r.Outcome != OK {
			continue
		}
		switch r.Kind {
		case Create, Update, Delete:
			if before := highestBefore(r.Call); r.RV <= before {
				errs = append(errs, fmt.Sprintf("%v: revision %d is not above %d, returned before it was called", r, r.RV, before))
			}
		case List:
			if before := highestBefore(r.Call); r.RV < before {
				errs = append(errs, fmt.Sprintf("%v: stale, revision %d was returned before it was called", r, before))
			}
		case ListExact:
			if c, ok := consistent[r.AtRV]; ok && !maps.Equal(c.Items, r.Items) {
				errs = append(errs, fmt.Sprintf("%v: differs from the consistent list at that revision %v", r, c))
			}
		}
	}
	return errs
}

// RequireLinearizable checks h and fails t if it is not linearizable or
// breaks a revision rule, writing the visualisation to the test's output
// directory and logging its path: $TEST_OUTPUT_DIR if set, the test's
// artifact directory under -artifacts, otherwise a directory under the
// system temp dir that is kept.
func RequireLinearizable(t testing.TB, h History, timeout time.Duration) Result {
	t.Helper()
	start := time.Now()
	r := Check(h, timeout)
	t.Logf("checked %d operations (%d storage calls, outcomes %v) in %v: %s, %d revision errors",
		r.Operations, len(h.Records), h.Counts(), time.Since(start).Round(time.Millisecond), r.Linearizable, len(r.RevisionErrors))
	if r.OK() {
		return r
	}
	for _, e := range r.RevisionErrors {
		t.Error(e)
	}
	if r.Linearizable != porcupine.Ok {
		path, err := writeVisualization(t, r)
		if err != nil {
			t.Errorf("writing the visualisation: %v", err)
		} else {
			t.Errorf("history is not linearizable (%s): see %s", r.Linearizable, path)
		}
	}
	t.FailNow()
	return r
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func writeVisualization(t testing.TB, r Result) (string, error) {
	dir, err := testoutput.Dir(t)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, unsafeName.ReplaceAllString(t.Name(), "_")+".linearizability.html")
	return path, r.Visualize(path)
}
