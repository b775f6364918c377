package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	pgtest "github.com/sluice-dev/sluice/pkg/testing/postgres"
)

// logLines is n numbered lines, as a step prints them.
func logLines(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "2026-12-03T12:00:00.%09dZ line %06d of the build\n", i, i)
	}
	return b.String()
}

func readLog(t *testing.T, a *LogArchive, key LogKey) (string, LogInfo) {
	t.Helper()
	r, info, err := a.Open(context.Background(), key)
	require.NoError(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b), info
}

// TestLogArchiveRoundTrip: what is written reads back byte for byte, small
// or spanning many chunks, and is stored compressed.
func TestLogArchiveRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := newBackend(t, nil).Logs()
	for _, tc := range []struct {
		name    string
		content string
	}{
		{"empty", ""},
		{"one line without a newline", "done"},
		{"a few lines", logLines(0, 10)},
		{"many chunks", logLines(0, 30000)}, // ~1.5 MiB, 6 chunks
		{"exactly one chunk", strings.Repeat("x", logChunkBytes-1) + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := LogKey{JobUID: "uid-1", Step: "build", Attempt: 1, Action: strings.ReplaceAll(tc.name, " ", "-")}
			info, err := a.Write(ctx, key, "team-a", "release-1", strings.NewReader(tc.content), 0)
			require.NoError(t, err)
			assert.Equal(t, int64(len(tc.content)), info.Bytes)
			assert.Zero(t, info.TruncatedBytes)
			got, read := readLog(t, a, key)
			assert.Equal(t, tc.content, got)
			assert.Equal(t, info.Bytes, read.Bytes)
			assert.Equal(t, "release-1", read.Job)
			if len(tc.content) > 100_000 {
				assert.Less(t, read.StoredBytes, read.Bytes/4, "a build log compresses")
			}
		})
	}
}

// TestLogArchiveTruncates: a log longer than the limit keeps its last
// bytes, starting at a whole line, and says how much it dropped.
func TestLogArchiveTruncates(t *testing.T) {
	ctx := context.Background()
	a := newBackend(t, nil).Logs()
	content := logLines(0, 40000) // 52 bytes a line, ~2 MiB
	const limit = 1 << 20
	key := LogKey{JobUID: "uid-1", Step: "build", Attempt: 1, Action: "compile"}
	info, err := a.Write(ctx, key, "team-a", "release-1", strings.NewReader(content), limit)
	require.NoError(t, err)
	got, _ := readLog(t, a, key)
	assert.LessOrEqual(t, int64(len(got)), int64(limit))
	assert.Greater(t, int64(len(got)), int64(limit)-100, "no more than a line short of the limit")
	assert.True(t, strings.HasSuffix(content, got), "the last bytes are kept")
	assert.True(t, strings.HasPrefix(got, "2026-12-03T12:00:00."), "the first line is whole: %.60q", got)
	assert.Equal(t, int64(len(content)-len(got)), info.TruncatedBytes)
	assert.Equal(t, int64(len(got)), info.Bytes)

	// A single line longer than the limit keeps nothing rather than half a line.
	key.Action = "one-long-line"
	info, err = a.Write(ctx, key, "team-a", "release-1", strings.NewReader(strings.Repeat("y", 5000)), 1000)
	require.NoError(t, err)
	got, _ = readLog(t, a, key)
	assert.Empty(t, got)
	assert.Equal(t, int64(5000), info.TruncatedBytes)
}

// TestLogArchiveIncompressible: random output (a build that prints binary
// data) is stored whole, chunk by chunk.
func TestLogArchiveIncompressible(t *testing.T) {
	ctx := context.Background()
	a := newBackend(t, nil).Logs()
	raw := make([]byte, 600<<10)
	_, err := rand.Read(raw)
	require.NoError(t, err)
	content := base64.StdEncoding.EncodeToString(raw)
	key := LogKey{JobUID: "uid-2", Step: "test", Attempt: 2, Action: "unit"}
	_, err = a.Write(ctx, key, "team-a", "release-2", strings.NewReader(content), 0)
	require.NoError(t, err)
	got, _ := readLog(t, a, key)
	assert.Equal(t, content, got)
}

// TestLogArchiveReplaceListDelete: writing a log again replaces it whole;
// List names a job's logs; DeleteJob removes them and nothing of another
// job.
func TestLogArchiveReplaceListDelete(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t, nil)
	a := b.Logs()
	write := func(uid, step string, attempt int32, action, content string) {
		_, err := a.Write(ctx, LogKey{JobUID: types.UID(uid), Step: step, Attempt: attempt, Action: action}, "team-a", "j-"+uid, strings.NewReader(content), 0)
		require.NoError(t, err)
	}
	write("uid-1", "build", 1, "compile", logLines(0, 20000))
	write("uid-1", "build", 1, "compile", "retried\n") // the same log again
	write("uid-1", "build", 2, "compile", "attempt 2\n")
	write("uid-1", "test", 1, "unit", "ok\n")
	write("uid-2", "build", 1, "compile", "another job\n")

	got, _ := readLog(t, a, LogKey{JobUID: "uid-1", Step: "build", Attempt: 1, Action: "compile"})
	assert.Equal(t, "retried\n", got, "no chunk of the longer log survives")
	var chunks int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM sluice.log_chunks WHERE job_uid = 'uid-1'`).Scan(&chunks))
	assert.Equal(t, 3, chunks)

	list, err := a.List(ctx, "uid-1")
	require.NoError(t, err)
	var names []string
	for _, l := range list {
		names = append(names, fmt.Sprintf("%s/%d/%s", l.Step, l.Attempt, l.Action))
	}
	assert.Equal(t, []string{"build/1/compile", "build/2/compile", "test/1/unit"}, names)

	require.NoError(t, a.DeleteJob(ctx, "uid-1"))
	list, err = a.List(ctx, "uid-1")
	require.NoError(t, err)
	assert.Empty(t, list)
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM sluice.log_chunks WHERE job_uid = 'uid-1'`).Scan(&chunks))
	assert.Zero(t, chunks, "chunks go with their log")
	_, _, err = a.Open(ctx, LogKey{JobUID: "uid-1", Step: "test", Attempt: 1, Action: "unit"})
	assert.ErrorIs(t, err, ErrLogNotFound)
	got, _ = readLog(t, a, LogKey{JobUID: "uid-2", Step: "build", Attempt: 1, Action: "compile"})
	assert.Equal(t, "another job\n", got)
}

// TestReadChunksKeepsLittleInMemory: the reader keeps whole chunks only
// while they may still be among the last maxBytes.
func TestReadChunksKeepsLittleInMemory(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef\n"), 200_000) // 3.4 MiB
	var info LogInfo
	chunks, err := readChunks(bytes.NewReader(content), 300<<10, &info)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(chunks), 3, "at most the chunks that hold the last 300 KiB")
	var kept []byte
	for _, c := range chunks {
		kept = append(kept, c...)
	}
	assert.True(t, bytes.HasSuffix(content, kept))
	assert.Equal(t, int64(len(content)), info.Bytes+info.TruncatedBytes)
}

// TestLogArchiveDeleteOrphans: the sweep removes the logs of jobs whose
// key is gone, and only those archived before the time it is given.
func TestLogArchiveDeleteOrphans(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t, nil)
	a := b.Logs()
	const prefix = "/registry/sluice.dev/pipelinejobs/"
	for _, job := range []string{"kept", "gone"} {
		_, err := a.Write(ctx, LogKey{JobUID: types.UID("uid-" + job), Step: "build", Attempt: 1, Action: "compile"}, "team-a", job, strings.NewReader("out\n"), 0)
		require.NoError(t, err)
	}
	_, err := b.pool.Exec(ctx, `INSERT INTO sluice.kv (key, rv, create_rv, value) VALUES ($1, 2, 2, '\x00')`, prefix+"team-a/kept")
	require.NoError(t, err)

	n, err := a.DeleteOrphans(ctx, prefix, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	assert.Zero(t, n, "logs archived after the cut-off stay: their job may be new")

	n, err = a.DeleteOrphans(ctx, prefix, time.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	_, err = a.Info(ctx, LogKey{JobUID: "uid-gone", Step: "build", Attempt: 1, Action: "compile"})
	assert.ErrorIs(t, err, ErrLogNotFound)
	_, err = a.Info(ctx, LogKey{JobUID: "uid-kept", Step: "build", Attempt: 1, Action: "compile"})
	assert.NoError(t, err)
}

// TestLogArchiveDiskFull: a log the database has no disk space for is
// refused with 507, and the log stored before under its key is kept; once
// space returns, it is stored.
func TestLogArchiveDiskFull(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server, err := pgtest.Start(ctx, pgtest.Options{DiskFault: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Remove() })
	a := newBackendOn(t, server.DSN("postgres"), nil).Logs()
	key := LogKey{JobUID: "uid-1", Step: "build", Attempt: 1, Action: "compile"}
	_, err = a.Write(ctx, key, "team-a", "release-1", strings.NewReader("first\n"), 0)
	require.NoError(t, err)

	// Random bytes do not compress: the log needs new pages.
	big := make([]byte, 4<<20)
	_, _ = rand.Read(big)
	require.NoError(t, server.SetDiskFull(true))
	_, err = a.Write(ctx, key, "team-a", "release-1", bytes.NewReader(big), 0)
	require.Error(t, err)
	require.True(t, isInsufficientStorage(err), "507, not %v", err)
	require.Contains(t, err.Error(), "out of disk space")
	got, _ := readLog(t, a, key)
	require.Equal(t, "first\n", got, "the earlier log is kept")

	require.NoError(t, server.SetDiskFull(false))
	_, err = a.Write(ctx, key, "team-a", "release-1", bytes.NewReader(big), 0)
	require.NoError(t, err)
	got, _ = readLog(t, a, key)
	require.Equal(t, string(big), got)
}
