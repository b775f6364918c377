package postgres

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/storage"
)

// Statement is an SQL statement exactly as the store runs it, with its
// arguments. The benchmark replays statements with pgbench, to measure how
// close a request through the apiserver comes to what PostgreSQL alone can
// do with the same SQL.
type Statement struct {
	SQL  string
	Args []any
}

// CreateStatement is the statement a create of value under key runs. The
// store runs lockKeySQL before it, in the same round trip and transaction
// (see write); a replay of this statement alone leaves that lock out.
func CreateStatement(key string, value []byte, labels map[string]string) Statement {
	return Statement{SQL: createSQL, Args: []any{key, value, jsonbOrNil(labels), nil, int64(0)}}
}

// ListStatement is the statement the first page of a list of the keys
// under prefix, at revision rv, selected by sel, runs.
func ListStatement(prefix string, rv int64, sel labels.Selector, limit int) Statement {
	return PageStatement(prefix, "", rv, storage.SelectionPredicate{Label: sel}, nil, limit)
}

// PageStatement is the statement a page of a list of the keys under prefix,
// at revision rv, selected by pred, runs in a store whose indexed fields
// are indexedFields: the page after the key after ("" for the first page),
// of limit rows. A store reads one row more than a page of n objects, to
// know whether there are more: its limit is n+1.
func PageStatement(prefix, after string, rv int64, pred storage.SelectionPredicate, indexedFields []string, limit int) Statement {
	r := prefixRange(prefix)
	if after != "" {
		r = r.startingAt(after + "\x00")
	}
	s := &Store{indexedFields: map[string]bool{}}
	for _, f := range indexedFields {
		s.indexedFields[f] = true
	}
	filter := s.pushDown(pred, 5)
	return Statement{
		SQL:  fmt.Sprintf(listAtSQL, r.where(2, 3), filter.where),
		Args: append([]any{rv, r.from, r.to, limit}, filter.args...),
	}
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// Inline returns the statement with each $n replaced by expr(n, arg), or
// by the argument as an SQL literal when expr returns "", for tools such as
// pgbench that take SQL text.
func (s Statement) Inline(expr func(n int, arg any) string) (string, error) {
	var err error
	out := placeholder.ReplaceAllStringFunc(s.SQL, func(m string) string {
		n, _ := strconv.Atoi(m[1:])
		if n < 1 || n > len(s.Args) {
			err = fmt.Errorf("no argument for %s", m)
			return m
		}
		if e := expr(n, s.Args[n-1]); e != "" {
			return "(" + e + ")"
		}
		lit, lerr := literal(s.Args[n-1])
		if lerr != nil {
			err = lerr
		}
		return lit
	})
	return out, err
}

func literal(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "NULL", nil
	case int, int64, int32:
		return fmt.Sprint(v), nil
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'", nil
	case []byte:
		return fmt.Sprintf("'\\x%x'::bytea", v), nil
	case map[string]string:
		b, err := json.Marshal(v)
		return "'" + strings.ReplaceAll(string(b), "'", "''") + "'", err
	}
	return "", fmt.Errorf("no SQL literal for %T", v)
}
