package linearizability

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
)

// Hand-made histories on keys "a" and "b". Times are [call, return].

func write(client int, kind Kind, key, value string, precondition, call, ret int64, o Outcome, rv int64) Record {
	return Record{Client: client, Kind: kind, Key: key, Value: value, Precondition: precondition, Call: call, Return: ret, Outcome: o, RV: rv}
}

func get(client int, key, value string, call, ret int64, rv int64) Record {
	o := OK
	if rv == 0 {
		o = NotFound
	}
	return Record{Client: client, Kind: Get, Key: key, Value: value, Call: call, Return: ret, Outcome: o, RV: rv}
}

func list(client int, call, ret, rv int64, items map[string]Item) Record {
	return Record{Client: client, Kind: List, Call: call, Return: ret, Outcome: OK, RV: rv, Items: items}
}

func check(t *testing.T, records ...Record) Result {
	t.Helper()
	return Check(History{Keys: []string{"a", "b"}, Records: records}, 10*time.Second)
}

func requireLinearizable(t *testing.T, records ...Record) {
	t.Helper()
	r := check(t, records...)
	require.Equal(t, porcupine.Ok, r.Linearizable)
	require.Empty(t, r.RevisionErrors)
}

func requireIllegal(t *testing.T, records ...Record) Result {
	t.Helper()
	r := check(t, records...)
	require.Equal(t, porcupine.Illegal, r.Linearizable)
	return r
}

func TestSequentialHistory(t *testing.T) {
	requireLinearizable(t,
		get(0, "a", "", 0, 1, 0),
		write(0, Create, "a", "v1", 0, 2, 3, OK, 2),
		write(1, Create, "a", "x", 0, 4, 5, AlreadyExists, 0),
		get(1, "a", "v1", 6, 7, 2),
		write(0, Update, "a", "v2", 2, 8, 9, OK, 3),
		write(1, Update, "a", "v3", 2, 10, 11, Conflict, 0),
		list(1, 12, 13, 3, map[string]Item{"a": {"v2", 3}}),
		write(0, Delete, "a", "v2", 1, 14, 15, Conflict, 0),
		write(0, Delete, "a", "v2", 0, 16, 17, OK, 4),
		write(1, Update, "a", "v4", 4, 18, 19, NotFound, 0),
		write(1, Delete, "a", "", 0, 20, 21, NotFound, 0),
		list(1, 22, 23, 4, map[string]Item{}),
	)
}

// The doctored history of a store that serves a read from a stale cache:
// the get starts after the update returned and still sees the old value.
func TestStaleReadIsIllegal(t *testing.T) {
	r := requireIllegal(t,
		write(0, Create, "a", "v1", 0, 0, 1, OK, 2),
		write(0, Update, "a", "v2", 2, 2, 3, OK, 3),
		get(1, "a", "v1", 4, 5, 2),
	)
	// The visualisation a failing test writes.
	path := filepath.Join(t.TempDir(), "stale.html")
	require.NoError(t, r.Visualize(path))
	html, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(html), `get() -\u003e \"v1\" rv 2`, "the visualisation names the stale read")
}

// A read concurrent with a write may see either side of it.
func TestConcurrentReadSeesEitherSide(t *testing.T) {
	for _, seen := range []Record{get(1, "a", "v1", 3, 4, 2), get(1, "a", "v2", 3, 4, 3)} {
		requireLinearizable(t,
			write(0, Create, "a", "v1", 0, 0, 1, OK, 2),
			write(0, Update, "a", "v2", 2, 2, 5, OK, 3),
			seen,
		)
	}
}

func TestPreconditions(t *testing.T) {
	created := write(0, Create, "a", "v1", 0, 0, 1, OK, 2)
	t.Run("update succeeds against another revision", func(t *testing.T) {
		requireIllegal(t, created, write(0, Update, "a", "v2", 7, 2, 3, OK, 3))
	})
	t.Run("update conflicts at the current revision", func(t *testing.T) {
		requireIllegal(t, created, write(0, Update, "a", "v2", 2, 2, 3, Conflict, 0))
	})
	t.Run("delete conflicts without a precondition", func(t *testing.T) {
		requireIllegal(t, created, write(0, Delete, "a", "", 0, 2, 3, Conflict, 0))
	})
	t.Run("delete returns another value than it removed", func(t *testing.T) {
		requireIllegal(t, created, write(0, Delete, "a", "v0", 0, 2, 3, OK, 3))
	})
	t.Run("create succeeds on an existing key", func(t *testing.T) {
		requireIllegal(t, created, write(1, Create, "a", "v2", 0, 2, 3, OK, 3))
	})
	t.Run("a write below the key's revision", func(t *testing.T) {
		requireIllegal(t, created, write(0, Update, "a", "v2", 2, 2, 3, OK, 2))
	})
}

func TestListIsASnapshotAtItsRevision(t *testing.T) {
	a := write(0, Create, "a", "va", 0, 0, 1, OK, 2)
	b := write(0, Create, "b", "vb", 0, 2, 3, OK, 3)
	t.Run("at its revision", func(t *testing.T) {
		requireLinearizable(t, a, b, list(1, 4, 5, 3, map[string]Item{"a": {"va", 2}, "b": {"vb", 3}}))
	})
	t.Run("concurrent with a write, before it", func(t *testing.T) {
		requireLinearizable(t, a, write(0, Create, "b", "vb", 0, 2, 6, OK, 3), list(1, 4, 5, 2, map[string]Item{"a": {"va", 2}}))
	})
	t.Run("missing a key written at or below its revision", func(t *testing.T) {
		requireIllegal(t, a, b, list(1, 4, 5, 3, map[string]Item{"b": {"vb", 3}}))
	})
	t.Run("a key written above its revision", func(t *testing.T) {
		requireIllegal(t, a, write(0, Create, "b", "vb", 0, 2, 6, OK, 3), list(1, 4, 5, 2, map[string]Item{"a": {"va", 2}, "b": {"vb", 3}}))
	})
	t.Run("stale", func(t *testing.T) {
		r := check(t, a, b, list(1, 4, 5, 2, map[string]Item{"a": {"va", 2}}))
		require.Len(t, r.RevisionErrors, 1)
		require.Contains(t, r.RevisionErrors[0], "stale")
	})
	t.Run("a later write below the list's revision", func(t *testing.T) {
		requireIllegal(t, a, list(1, 2, 3, 5, map[string]Item{"a": {"va", 2}}), write(0, Update, "a", "v2", 2, 4, 5, OK, 4))
	})
	t.Run("an exact list that differs", func(t *testing.T) {
		exact := Record{Client: 1, Kind: ListExact, AtRV: 3, Call: 6, Return: 7, Outcome: OK, RV: 3, Items: map[string]Item{"a": {"va", 2}}}
		r := check(t, a, b, list(1, 4, 5, 3, map[string]Item{"a": {"va", 2}, "b": {"vb", 3}}), exact)
		require.Len(t, r.RevisionErrors, 1)
		require.Contains(t, r.RevisionErrors[0], "differs")
	})
}

func TestRevisionRules(t *testing.T) {
	t.Run("a revision handed out twice", func(t *testing.T) {
		r := check(t, write(0, Create, "a", "va", 0, 0, 1, OK, 2), write(0, Create, "b", "vb", 0, 2, 3, OK, 2))
		require.NotEmpty(t, r.RevisionErrors)
		require.Contains(t, strings.Join(r.RevisionErrors, "\n"), "handed out twice")
	})
	t.Run("a revision below one returned before", func(t *testing.T) {
		r := check(t, write(0, Create, "a", "va", 0, 0, 1, OK, 5), write(0, Create, "b", "vb", 0, 2, 3, OK, 4))
		require.Len(t, r.RevisionErrors, 1)
		require.Contains(t, r.RevisionErrors[0], "not above 5")
	})
	t.Run("concurrent writes in any order", func(t *testing.T) {
		requireLinearizable(t, write(0, Create, "a", "va", 0, 0, 3, OK, 5), write(0, Create, "b", "vb", 0, 1, 2, OK, 4))
	})
}

// A write whose outcome is unknown may have happened, at a revision the
// first read tells, or not at all; but nothing else.
func TestUnknownOutcome(t *testing.T) {
	lost := write(0, Create, "a", "v1", 0, 0, 1, Unknown, 0)
	requireLinearizable(t, lost, get(1, "a", "", 2, 3, 0))
	requireLinearizable(t, lost, get(1, "a", "v1", 2, 3, 7), get(1, "a", "v1", 4, 5, 7))
	requireLinearizable(t, lost, get(1, "a", "", 2, 3, 0), get(1, "a", "v1", 4, 5, 7)) // it took effect late
	requireIllegal(t, lost, get(1, "a", "v1", 2, 3, 7), get(1, "a", "v1", 4, 5, 8))
	requireIllegal(t, lost, get(1, "a", "v2", 2, 3, 7))
	// An update of unknown outcome with a precondition that cannot hold never happened.
	requireIllegal(t,
		write(0, Create, "a", "v1", 0, 0, 1, OK, 2),
		write(0, Update, "a", "v2", 9, 2, 3, Unknown, 0),
		get(1, "a", "v2", 4, 5, 3),
	)
}
