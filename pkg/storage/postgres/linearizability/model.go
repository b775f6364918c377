package linearizability

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// input is one operation on one key, as the model sees it. A List becomes
// one listRead per key, all at the list's revision.
type input struct {
	Kind         Kind
	Key          string
	Value        string // written by a create or an update
	Precondition int64  // of an update or a delete; 0 for none
}

// output is what the operation returned for its key.
type output struct {
	Outcome Outcome
	Exists  bool   // get, listRead
	Value   string // read by a get or a listRead; removed by a delete
	RV      int64  // written by a write; read by a get or a listRead
	ListRV  int64  // the revision of the list a listRead belongs to
}

// keyState is the model's state of one key.
type keyState struct {
	Exists bool
	Value  string
	// RV is the revision of the last write to the key, a delete included.
	// RVKnown is false after a write whose outcome is unknown took effect:
	// the first read of the key then tells it.
	RV      int64
	RVKnown bool
	// Floor is the revision the next write must be above: the key's last
	// write, or a list that read the key at a later revision (a write at or
	// below that revision would have been in the list).
	Floor int64
}

// keyModel is the sequential specification of one key of the store.
// Outcomes that are not known make it nondeterministic: such a write both
// took effect and did not.
var keyModel = porcupine.NondeterministicModel{
	Partition: partitionByKey,
	Init:      func() []any { return []any{keyState{RVKnown: true}} },
	Step: func(state, in, out any) []any {
		return step(state.(keyState), in.(input), out.(output))
	},
	DescribeOperation: func(in, out any) string { return describe(in.(input), out.(output)) },
	DescribeState: func(state any) string {
		s := state.(keyState)
		if !s.Exists {
			return fmt.Sprintf("absent (rv %s)", rvString(s))
		}
		return fmt.Sprintf("%q rv %s", s.Value, rvString(s))
	},
}

var model = keyModel.ToModel()

func rvString(s keyState) string {
	if !s.RVKnown {
		return "?"
	}
	return fmt.Sprint(s.RV)
}

// partitionByKey checks each key on its own: the model's operations touch
// one key each, so the history is linearizable iff each key's is.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := op.Input.(input).Key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

// preconditionMayHold reports whether s may satisfy a precondition on rv.
func preconditionMayHold(s keyState, rv int64) bool {
	return rv == 0 || !s.RVKnown || s.RV == rv
}

// preconditionMayFail reports whether s may fail a precondition on rv.
func preconditionMayFail(s keyState, rv int64) bool {
	return rv != 0 && (!s.RVKnown || s.RV != rv)
}

// written is the state after a write that returned revision rv.
func written(exists bool, value string, rv int64) keyState {
	return keyState{Exists: exists, Value: value, RV: rv, RVKnown: true, Floor: rv}
}

// step returns the states s can move to when in returns out; none if it cannot.
func step(s keyState, in input, out output) []any {
	unchanged := []any{s}
	// A write whose outcome is unknown: unchanged, or done with a revision
	// we do not know (above the floor, as every write is).
	maybe := func(applies bool, exists bool, value string) []any {
		if !applies {
			return unchanged
		}
		return []any{s, keyState{Exists: exists, Value: value, Floor: s.Floor}}
	}
	switch in.Kind {
	case Create:
		switch out.Outcome {
		case OK:
			if s.Exists || out.RV <= s.Floor {
				return nil
			}
			return []any{written(true, in.Value, out.RV)}
		case AlreadyExists:
			if !s.Exists {
				return nil
			}
			return unchanged
		case Unknown:
			return maybe(!s.Exists, true, in.Value)
		}
	case Update:
		switch out.Outcome {
		case OK:
			if !s.Exists || !preconditionMayHold(s, in.Precondition) || out.RV <= s.Floor {
				return nil
			}
			return []any{written(true, in.Value, out.RV)}
		case Conflict:
			if !s.Exists || !preconditionMayFail(s, in.Precondition) {
				return nil
			}
			return unchanged
		case NotFound:
			if s.Exists {
				return nil
			}
			return unchanged
		case Unknown:
			return maybe(s.Exists && preconditionMayHold(s, in.Precondition), true, in.Value)
		}
	case Delete:
		switch out.Outcome {
		case OK:
			// A delete returns the object it removed, at the delete's revision.
			if !s.Exists || out.Value != s.Value || !preconditionMayHold(s, in.Precondition) || out.RV <= s.Floor {
				return nil
			}
			return []any{written(false, "", out.RV)}
		case Conflict:
			if !s.Exists || !preconditionMayFail(s, in.Precondition) {
				return nil
			}
			return unchanged
		case NotFound:
			if s.Exists {
				return nil
			}
			return unchanged
		case Unknown:
			return maybe(s.Exists && preconditionMayHold(s, in.Precondition), false, "")
		}
	case Get:
		return read(s, out, 0)
	case listRead:
		// The list saw the key as it was at the list's revision: the key's
		// last write is at or below it, and its next write will be above it.
		if s.RVKnown && s.RV > out.ListRV {
			return nil
		}
		if out.Exists && out.RV > out.ListRV {
			return nil
		}
		return read(s, out, out.ListRV)
	}
	return nil
}

// read checks a read against s and raises the floor to floor.
func read(s keyState, out output, floor int64) []any {
	if out.Outcome == NotFound {
		out.Exists = false
	} else if out.Outcome != OK {
		return nil
	}
	if out.Exists != s.Exists || out.Value != s.Value {
		return nil
	}
	if out.Exists {
		if s.RVKnown && out.RV != s.RV {
			return nil
		}
		s.RV, s.RVKnown = out.RV, true
		floor = max(floor, out.RV)
	}
	s.Floor = max(s.Floor, floor)
	return []any{s}
}

func describe(in input, out output) string {
	var call string
	switch in.Kind {
	case Create:
		call = fmt.Sprintf("create(%q)", in.Value)
	case Update:
		call = fmt.Sprintf("update(%q if rv %d)", in.Value, in.Precondition)
	case Delete:
		if in.Precondition != 0 {
			call = fmt.Sprintf("delete(if rv %d)", in.Precondition)
		} else {
			call = "delete()"
		}
	case Get:
		call = "get()"
	case listRead:
		call = fmt.Sprintf("list@%d", out.ListRV)
	}
	switch {
	case out.Outcome != OK && out.Outcome != NotFound || in.Kind == Create && out.Outcome == NotFound:
		return fmt.Sprintf("%s -> %s", call, out.Outcome)
	case in.Kind == Get || in.Kind == listRead:
		if !out.Exists && (in.Kind == listRead || out.Outcome == NotFound) {
			return call + " -> absent"
		}
		return fmt.Sprintf("%s -> %q rv %d", call, out.Value, out.RV)
	case in.Kind == Delete && out.Outcome == OK:
		return fmt.Sprintf("%s -> removed %q at rv %d", call, out.Value, out.RV)
	case out.Outcome == NotFound:
		return call + " -> not found"
	}
	return fmt.Sprintf("%s -> rv %d", call, out.RV)
}
