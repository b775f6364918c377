package linearizability

import (
	"fmt"
	"math"
)

// Kind is the storage call an operation made.
type Kind uint8

const (
	// Create is storage.Interface.Create.
	Create Kind = iota
	// Get is a Get of the current object.
	Get
	// Update is a GuaranteedUpdate with a resourceVersion precondition.
	Update
	// Delete is a Delete, with or without a resourceVersion precondition.
	Delete
	// List is a consistent GetList of the whole prefix (resourceVersion "").
	List
	// ListExact is a GetList at an exact earlier revision
	// (resourceVersionMatch=Exact).
	ListExact
	// listRead is one key's part of a List, as the model checks it.
	listRead
)

func (k Kind) String() string {
	return [...]string{"create", "get", "update", "delete", "list", "list-exact", "list-read"}[k]
}

// Outcome is how an operation ended, as a client tells errors apart.
type Outcome uint8

const (
	// OK is success.
	OK Outcome = iota
	// AlreadyExists is a create of a key that exists.
	AlreadyExists
	// NotFound is a get, update or delete of a key that does not exist.
	NotFound
	// Conflict is a failed resourceVersion precondition.
	Conflict
	// Unknown is any other error (503, a timeout, a dropped connection): a
	// write may or may not have taken effect, and may take effect later.
	Unknown
)

func (o Outcome) String() string {
	return [...]string{"ok", "exists", "not found", "conflict", "unknown"}[o]
}

// Infinity is the return time of an operation whose outcome is unknown: it
// may take effect at any moment after its call.
const Infinity = math.MaxInt64

// Item is a key's object as a read saw it.
type Item struct {
	Value string
	RV    int64
}

// Record is one storage call of a history.
type Record struct {
	Client int
	Kind   Kind
	// Key is the key of a create, get, update or delete; empty for lists.
	Key string
	// Value is what a create or an update wrote; what a get read; what a
	// delete removed.
	Value string
	// Precondition is the resourceVersion an update or a delete required;
	// 0 for none.
	Precondition int64
	// AtRV is the revision a ListExact asked for.
	AtRV int64
	// Call and Return are monotonic times in nanoseconds; Return is
	// Infinity for an outcome that is not known.
	Call, Return int64
	Outcome      Outcome
	// RV is the object's revision: the revision a write created, the one a
	// get read, or the revision of a list.
	RV int64
	// Items are what a list returned, by key.
	Items map[string]Item
	// Err is the error of an Unknown outcome.
	Err error
}

func (r Record) String() string {
	switch r.Kind {
	case List, ListExact:
		return fmt.Sprintf("c%d %s at %d -> %s rv=%d %v", r.Client, r.Kind, r.AtRV, r.Outcome, r.RV, r.Items)
	}
	return fmt.Sprintf("c%d %s %s value=%q if=%d -> %s rv=%d", r.Client, r.Kind, r.Key, r.Value, r.Precondition, r.Outcome, r.RV)
}

// History is what Run recorded.
type History struct {
	// Keys are every key the operations touched: a list that does not return
	// one of them says it does not exist.
	Keys    []string
	Records []Record
}

// Counts are how many operations ended each way.
func (h History) Counts() map[Outcome]int {
	c := map[Outcome]int{}
	for _, r := range h.Records {
		c[r.Outcome]++
	}
	return c
}

// Unknown returns the operations whose outcome is not known.
func (h History) Unknown() []Record {
	var out []Record
	for _, r := range h.Records {
		if r.Outcome == Unknown {
			out = append(out, r)
		}
	}
	return out
}
