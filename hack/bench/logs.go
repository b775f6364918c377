package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sluice-dev/sluice/pkg/storage/postgres"
	pgtest "github.com/sluice-dev/sluice/pkg/testing/postgres"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// LogCost is what the log archive costs per job: the output of a job's
// actions as the controller archives it (pods/log with timestamps),
// written through postgres.LogArchive on PostgreSQL alone, as
// sluice-apiserver's pipelinejobs/log does.
type LogCost struct {
	Jobs int `json:"jobs"`
	// Actions per job, and their output sizes before compression.
	Actions     int   `json:"actions"`
	ActionBytes []int `json:"actionBytes"`
	// RawBytesPerJob is the output kept; StoredBytesPerJob the
	// gzip-compressed chunks; DiskBytesPerJob the tables' size on disk
	// (sluice.logs and sluice.log_chunks with their TOAST and indexes).
	RawBytesPerJob    float64 `json:"rawBytesPerJob"`
	StoredBytesPerJob float64 `json:"storedBytesPerJob"`
	DiskBytesPerJob   float64 `json:"diskBytesPerJob"`
	// WriteMsPerJob and ReadMsPerJob are the time to archive, and to read
	// back, all of one job's output, one action after the other.
	WriteMsPerJob float64 `json:"writeMsPerJob"`
	ReadMsPerJob  float64 `json:"readMsPerJob"`
}

// logActionBytes are the output sizes of the actions of the measured job:
// a checkout, a dependency download, a compile, a verbose test run, an
// image build and a deploy.
var logActionBytes = []int{2 << 10, 24 << 10, 8 << 10, 160 << 10, 40 << 10, 6 << 10}

// measureLogs archives jobs jobs' output into a PostgreSQL of its own and
// reads it back.
func measureLogs(ctx context.Context, dir string, jobs int) (*LogCost, error) {
	logf("== log archive: %d jobs of %d actions", jobs, len(logActionBytes))
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	srv, err := pgtest.Start(ctx, pgtest.Options{Dir: dir})
	if err != nil {
		return nil, err
	}
	defer func() { _ = srv.Stop(); _ = os.RemoveAll(dir) }()
	if err := testutil.ExecSQL(ctx, srv.DSN("postgres"), "CREATE DATABASE sluice"); err != nil {
		return nil, err
	}
	backend, err := postgres.New(ctx, postgres.Options{DatabaseURL: srv.DSN("sluice"), Migrate: true})
	if err != nil {
		return nil, err
	}
	defer backend.Close()
	archive := backend.Logs()

	cost := &LogCost{Jobs: jobs, Actions: len(logActionBytes), ActionBytes: logActionBytes}
	rng := rand.New(rand.NewPCG(1, 2))
	outputs := make([]string, len(logActionBytes))
	for i, n := range logActionBytes {
		outputs[i] = ciOutput(rng, n)
	}
	key := func(job, action int) postgres.LogKey {
		return postgres.LogKey{JobUID: types.UID(fmt.Sprintf("job-%06d", job)), Step: fmt.Sprintf("step-%d", action/2), Attempt: 1, Action: fmt.Sprintf("action-%d", action)}
	}
	start := time.Now()
	for j := range jobs {
		for a, out := range outputs {
			if _, err := archive.Write(ctx, key(j, a), "bench", fmt.Sprintf("job-%06d", j), strings.NewReader(out), 10<<20); err != nil {
				return nil, err
			}
		}
	}
	cost.WriteMsPerJob = float64(time.Since(start).Microseconds()) / 1000 / float64(jobs)

	start = time.Now()
	for j := range jobs {
		for a := range outputs {
			r, _, err := archive.Open(ctx, key(j, a))
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(io.Discard, r)
			r.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	cost.ReadMsPerJob = float64(time.Since(start).Microseconds()) / 1000 / float64(jobs)

	conn, err := pgx.Connect(ctx, srv.DSN("sluice"))
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	var raw, stored, disk int64
	if err := conn.QueryRow(ctx, `SELECT sum(bytes), sum(stored_bytes) FROM sluice.logs`).Scan(&raw, &stored); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE sluice.logs, sluice.log_chunks`); err != nil {
		return nil, err
	}
	if err := conn.QueryRow(ctx, `SELECT pg_total_relation_size('sluice.logs') + pg_total_relation_size('sluice.log_chunks')`).Scan(&disk); err != nil {
		return nil, err
	}
	cost.RawBytesPerJob = float64(raw) / float64(jobs)
	cost.StoredBytesPerJob = float64(stored) / float64(jobs)
	cost.DiskBytesPerJob = float64(disk) / float64(jobs)
	logf("   %.0f KiB of output per job, %.0f KiB compressed, %.0f KiB on disk; %.1f ms to archive a job, %.1f ms to read it",
		cost.RawBytesPerJob/1024, cost.StoredBytesPerJob/1024, cost.DiskBytesPerJob/1024, cost.WriteMsPerJob, cost.ReadMsPerJob)
	return cost, nil
}

// ciOutput is about n bytes of output in the form the archive keeps, a
// kubelet timestamp and a line, of the kinds CI steps print: compiler and
// test lines with names, durations, counts and the odd hash, from a
// seeded generator, so every run measures the same bytes.
func ciOutput(rng *rand.Rand, n int) string {
	words := []string{"pkg/registry/pipelinejob", "pkg/storage/postgres", "pkg/controller", "cmd/sluice-apiserver",
		"internal/auth", "api/v1", "web/handlers", "pkg/util/retry"}
	tests := []string{"TestServe", "TestCreate", "TestWatchOrder", "TestRetryBackoff", "TestLogin", "TestMigrate"}
	t := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var b strings.Builder
	for b.Len() < n {
		t = t.Add(time.Duration(rng.IntN(400_000_000)))
		b.WriteString(t.Format("2006-01-02T15:04:05.000000000Z07:00"))
		b.WriteByte(' ')
		w := words[rng.IntN(len(words))]
		switch rng.IntN(6) {
		case 0:
			fmt.Fprintf(&b, "=== RUN   %s/case_%d\n", tests[rng.IntN(len(tests))], rng.IntN(200))
		case 1:
			fmt.Fprintf(&b, "--- PASS: %s/case_%d (%.2fs)\n", tests[rng.IntN(len(tests))], rng.IntN(200), rng.Float64())
		case 2:
			fmt.Fprintf(&b, "ok  \tgithub.com/example/app/%s\t%.3fs\tcoverage: %.1f%% of statements\n", w, 3*rng.Float64(), 100*rng.Float64())
		case 3:
			fmt.Fprintf(&b, "go: downloading github.com/example/%s v1.%d.%d\n", w[strings.LastIndex(w, "/")+1:], rng.IntN(30), rng.IntN(10))
		case 4:
			fmt.Fprintf(&b, "#%d [build %d/%d] COPY %s /src/%s sha256:%016x%016x\n", rng.IntN(40), rng.IntN(9), 9, w, w, rng.Uint64(), rng.Uint64())
		default:
			fmt.Fprintf(&b, "%s: %d files, %d lines changed, took %dms\n", w, rng.IntN(50), rng.IntN(5000), rng.IntN(3000))
		}
	}
	return b.String()
}

// logsMarkdown is the log archive's section of the results.
func logsMarkdown(c *LogCost, date string) string {
	var sizes []string
	for _, n := range c.ActionBytes {
		sizes = append(sizes, fmt.Sprintf("%d", n>>10))
	}
	return fmt.Sprintf("`make bench` (its log archive part: `go run ./hack/bench -logs-only`), %s: %d jobs of %d actions "+
		"whose output is %s KiB, timestamped lines as a kubelet serves them, written through `postgres.LogArchive` on PostgreSQL alone.\n\n"+
		"| per job | |\n|---|---:|\n"+
		"| output archived | %.0f KiB |\n| stored (gzip chunks) | %.0f KiB (%.1f×) |\n| on disk (`sluice.logs` and `sluice.log_chunks`, TOAST and indexes) | %.0f KiB |\n"+
		"| archive all its output | %.1f ms |\n| read it all back | %.1f ms |\n",
		date[:10], c.Jobs, c.Actions, strings.Join(sizes, ", "),
		c.RawBytesPerJob/1024, c.StoredBytesPerJob/1024, c.RawBytesPerJob/c.StoredBytesPerJob, c.DiskBytesPerJob/1024,
		c.WriteMsPerJob, c.ReadMsPerJob)
}

// writeLogResults prints the log archive's results, and with updateDocs
// puts them into docs/benchmarks.md.
func writeLogResults(c *LogCost, updateDocs bool) error {
	md := logsMarkdown(c, time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("\n%s\n", md)
	if !updateDocs {
		return nil
	}
	return replaceGenerated(filepath.Join("docs", "benchmarks.md"), "bench:logs", md)
}
