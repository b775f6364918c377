package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sluice-dev/sluice/pkg/storage/postgres"
)

// PGBench is the physical limit: pgbench running, on the same PostgreSQL in
// the same run, the statements sluice-apiserver runs for a create and for
// a label-selected list, with no apiserver in front.
type PGBench struct {
	Objects int `json:"objects"`
	// Insert is the create statement with 16 clients, as the 16-client
	// create batch; Select the list of one cohort with 1 client, as the
	// label-selected list.
	Insert PGBenchResult `json:"insert"`
	Select PGBenchResult `json:"select"`
}

// PGBenchResult is one pgbench run.
type PGBenchResult struct {
	Clients   int     `json:"clients"`
	Seconds   int     `json:"seconds"`
	TPS       float64 `json:"tps"`
	LatencyMs float64 `json:"latencyAverageMs"`
	Script    string  `json:"script"`
}

// runPGBench builds both scripts from a stored job and the storage
// package's statements, and runs them. sluice-apiserver must be stopped, so
// that nothing else competes for the database.
//
// It also writes the plan of the list statement, as sluice-apiserver has it
// planned, with EXPLAIN ANALYZE into out/explain-list-<objects>.txt.
func runPGBench(ctx context.Context, binDir, dsn, dir, out string, objects, seconds int) (*PGBench, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var key string
	var value []byte
	var lbls map[string]string
	var rv int64
	err = conn.QueryRow(ctx, `SELECT key, value, labels, (SELECT max(rv) FROM sluice.kv) FROM sluice.kv
		WHERE key LIKE '%/pipelinejobs/' || $1 || '/' || $2`, benchNamespace, jobName(1)).Scan(&key, &value, &lbls, &rv)
	if err != nil {
		return nil, fmt.Errorf("reading a stored job: %w", err)
	}
	prefix := strings.TrimSuffix(key, jobName(1))

	// Keys no resource uses, so that no watcher or list sees the rows.
	insert, err := postgres.CreateStatement("", value, lbls).Inline(func(n int, _ any) string {
		if n == 1 {
			return "'/pgbench/' || :client_id || '/' || :n"
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	insert = "\\set n random(1, 9000000000000000000)\n" + oneLine(insert) + ";\n"

	listStatement := postgres.ListStatement(prefix, rv, labels.SelectorFromSet(labels.Set{labelCohort: "c0000"}), 500)
	list, err := listStatement.Inline(func(n int, _ any) string {
		if n == 5 {
			// Immutable all the way (unlike jsonb_build_object), so the
			// planner folds it to a constant for each run, as it sees
			// sluice-apiserver's bound value.
			return fmt.Sprintf(`('{"%s":"c' || lpad(:c::text, 4, '0') || '"}')::jsonb`, labelCohort)
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	list = fmt.Sprintf("\\set c random(0, %d)\n", cohorts-1) + oneLine(list) + ";\n"

	if err := explainList(ctx, conn, listStatement, filepath.Join(out, fmt.Sprintf("explain-list-%d.txt", objects))); err != nil {
		return nil, err
	}

	res := &PGBench{Objects: objects}
	// As sluice-apiserver runs them: writes as cached prepared statements,
	// selective lists as unnamed ones, planned for their values.
	// The select goes first: rows the inserts add after rv would join its
	// scan of the history for changes since rv, which no list by
	// sluice-apiserver at the current revision meets.
	if res.Select, err = pgbench(ctx, binDir, dsn, dir, "select", list, 1, "extended", seconds); err != nil {
		return res, err
	}
	if res.Insert, err = pgbench(ctx, binDir, dsn, dir, "insert", insert, 16, "prepared", seconds); err != nil {
		return res, err
	}
	logf("   pgbench: %.0f inserts/s (16 clients), label-selected list %.2f ms (1 client)", res.Insert.TPS, res.Select.LatencyMs)
	return res, nil
}

// explainList writes the plan of a label-selected list, with its timings
// and buffers, planned for its values as sluice-apiserver plans it.
func explainList(ctx context.Context, conn *pgx.Conn, st postgres.Statement, file string) error {
	rows, err := conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, SETTINGS) "+st.SQL, append([]any{pgx.QueryExecModeDescribeExec}, st.Args...)...)
	if err != nil {
		return fmt.Errorf("explaining the list: %w", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("explaining the list: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// oneLine joins a statement's lines: pgbench reads one command per line.
func oneLine(sql string) string {
	return strings.Join(strings.Fields(sql), " ")
}

func pgbench(ctx context.Context, binDir, dsn, dir, name, script string, clients int, protocol string, seconds int) (PGBenchResult, error) {
	r := PGBenchResult{Clients: clients, Seconds: seconds, Script: script}
	file := filepath.Join(dir, "pgbench-"+name+".sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		return r, err
	}
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "pgbench"), "--no-vacuum", "--protocol="+protocol,
		"--client="+strconv.Itoa(clients), "--jobs="+strconv.Itoa(min(clients, 2)), "--time="+strconv.Itoa(r.Seconds),
		"--file="+file, dsn).CombinedOutput()
	if err != nil {
		return r, fmt.Errorf("pgbench %s: %w\n%s", name, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "tps = ") && len(f) >= 3:
			r.TPS, _ = strconv.ParseFloat(f[2], 64)
		case strings.HasPrefix(line, "latency average = ") && len(f) >= 4:
			r.LatencyMs, _ = strconv.ParseFloat(f[3], 64)
		}
	}
	if r.TPS == 0 {
		return r, fmt.Errorf("pgbench %s: no tps in its output:\n%s", name, out)
	}
	return r, nil
}
