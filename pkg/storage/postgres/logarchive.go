package postgres

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"k8s.io/apimachinery/pkg/types"
)

// LogArchive keeps the output of the actions of jobs in PostgreSQL, beside
// the storage engine but not through storage.Interface: a log is not an
// API object, has no revision and is never watched. Each log is one row of
// sluice.logs, which says what it is, and its content in sluice.log_chunks,
// gzip-compressed chunks of about logChunkBytes, so that a reader streams a
// large log without holding it, and a tail reads only the last chunks.
//
// The archive does not parse what it stores. Its one rule about content is
// that a log cut to its last bytes is cut at a line boundary.
type LogArchive struct {
	b *Backend
}

// Logs returns the backend's log archive.
func (b *Backend) Logs() *LogArchive { return &LogArchive{b: b} }

// logChunkBytes is how much output one chunk holds before compression.
const logChunkBytes = 256 << 10

// ErrLogNotFound is returned by Open for a log that is not archived.
var ErrLogNotFound = errors.New("log not archived")

// LogKey names the log of one action of one attempt of a step of a job.
// The job is named by its UID, so a job created again under the same name
// never reads the earlier job's logs.
type LogKey struct {
	JobUID  types.UID
	Step    string
	Attempt int32
	Action  string
}

func (k LogKey) String() string {
	return fmt.Sprintf("%s/%s/%d/%s", k.JobUID, k.Step, k.Attempt, k.Action)
}

// LogInfo describes an archived log.
type LogInfo struct {
	LogKey
	// Namespace and Job name the job, for deleting a namespace's logs and
	// for reading.
	Namespace, Job string
	// Bytes is the size of the content kept; TruncatedBytes how many bytes
	// at its start were dropped to keep at most the archive's limit.
	Bytes, TruncatedBytes int64
	// StoredBytes is the compressed size.
	StoredBytes int64
	// ArchivedAt is when the log was stored.
	ArchivedAt time.Time
}

// Write stores what r yields as the log of key, replacing any log stored
// under key before, in one transaction: a reader sees the old log or the
// new one, never a part. It keeps the last maxBytes bytes at most (all of
// them when maxBytes <= 0); a log cut is cut after a newline, so its first
// line is whole. It reads r to its end either way.
// A database error is an API status, as the store's are: 503 when the
// database is unavailable, 507 when it is out of disk space (the earlier
// log, if any, is kept).
func (a *LogArchive) Write(ctx context.Context, key LogKey, namespace, job string, r io.Reader, maxBytes int64) (LogInfo, error) {
	info := LogInfo{LogKey: key, Namespace: namespace, Job: job}
	chunks, err := readChunks(r, maxBytes, &info)
	if err != nil {
		return info, err
	}
	var stored [][]byte
	for _, c := range chunks {
		z, err := compress(c)
		if err != nil {
			return info, err
		}
		stored = append(stored, z)
		info.StoredBytes += int64(len(z))
	}
	err = pgx.BeginFunc(ctx, a.b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, deleteLogSQL, string(key.JobUID), key.Step, key.Attempt, key.Action); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, insertLogSQL, string(key.JobUID), key.Step, key.Attempt, key.Action, namespace, job,
			info.Bytes, info.TruncatedBytes, info.StoredBytes).Scan(&info.ArchivedAt); err != nil {
			return err
		}
		for i, z := range stored {
			if _, err := tx.Exec(ctx, insertLogChunkSQL, string(key.JobUID), key.Step, key.Attempt, key.Action, i, z); err != nil {
				return err
			}
		}
		return nil
	})
	return info, interpret("", err)
}

// readChunks reads r into chunks of about logChunkBytes, keeping the last
// maxBytes bytes, cut after a newline, and fills in info's sizes. It holds
// at most maxBytes plus one chunk in memory.
func readChunks(r io.Reader, maxBytes int64, info *LogInfo) ([][]byte, error) {
	var (
		chunks [][]byte
		kept   int64
	)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		c := make([]byte, logChunkBytes)
		n, err := io.ReadFull(br, c)
		if n > 0 {
			chunks = append(chunks, c[:n])
			kept += int64(n)
			// Drop whole chunks that lie before the last maxBytes.
			for maxBytes > 0 && len(chunks) > 1 && kept-int64(len(chunks[0])) >= maxBytes {
				kept -= int64(len(chunks[0]))
				info.TruncatedBytes += int64(len(chunks[0]))
				chunks = chunks[1:]
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if maxBytes > 0 && kept > maxBytes {
		// Cut inside the first chunk, after the first newline at or past
		// the cut, so the log starts with a whole line.
		cut := kept - maxBytes
		first := chunks[0]
		if nl := bytes.IndexByte(first[cut:], '\n'); nl >= 0 {
			cut += int64(nl) + 1
		} else {
			cut = int64(len(first))
		}
		chunks[0] = first[cut:]
		kept -= cut
		info.TruncatedBytes += cut
		if len(chunks[0]) == 0 {
			chunks = chunks[1:]
		}
	}
	info.Bytes = kept
	return chunks, nil
}

func compress(b []byte) ([]byte, error) {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Info returns what is archived under key, or ErrLogNotFound.
func (a *LogArchive) Info(ctx context.Context, key LogKey) (LogInfo, error) {
	info := LogInfo{LogKey: key}
	err := a.b.pool.QueryRow(ctx, logInfoSQL, string(key.JobUID), key.Step, key.Attempt, key.Action).
		Scan(&info.Namespace, &info.Job, &info.Bytes, &info.TruncatedBytes, &info.StoredBytes, &info.ArchivedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return info, ErrLogNotFound
	}
	return info, err
}

// List returns the logs archived for a job, ordered by step name, attempt
// and action name; the job's snapshot of its pipeline says in which order
// they ran.
func (a *LogArchive) List(ctx context.Context, jobUID types.UID) ([]LogInfo, error) {
	rows, err := a.b.pool.Query(ctx, listLogsSQL, string(jobUID))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (LogInfo, error) {
		info := LogInfo{LogKey: LogKey{JobUID: jobUID}}
		err := row.Scan(&info.Step, &info.Attempt, &info.Action, &info.Namespace, &info.Job,
			&info.Bytes, &info.TruncatedBytes, &info.StoredBytes, &info.ArchivedAt)
		return info, err
	})
}

// Open returns a reader of the log archived under key, or ErrLogNotFound.
// It reads the chunks one at a time, each in its own query, so that a slow
// reader holds no connection; a log replaced meanwhile reads as the new
// one from the next chunk on, which Write's callers never do to a log that
// is being read (a log is archived once its container has ended).
func (a *LogArchive) Open(ctx context.Context, key LogKey) (io.ReadCloser, LogInfo, error) {
	info, err := a.Info(ctx, key)
	if err != nil {
		return nil, info, err
	}
	return &chunkReader{ctx: ctx, a: a, key: key}, info, nil
}

// chunkReader reads a log chunk by chunk.
type chunkReader struct {
	ctx  context.Context
	a    *LogArchive
	key  LogKey
	next int
	cur  io.Reader
	done bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for {
		if r.cur != nil {
			n, err := r.cur.Read(p)
			if errors.Is(err, io.EOF) {
				r.cur = nil
				err = nil
			}
			if n > 0 || err != nil {
				return n, err
			}
		}
		if r.done {
			return 0, io.EOF
		}
		var z []byte
		err := r.a.b.pool.QueryRow(r.ctx, logChunkSQL, string(r.key.JobUID), r.key.Step, r.key.Attempt, r.key.Action, r.next).Scan(&z)
		if errors.Is(err, pgx.ErrNoRows) {
			r.done = true
			continue
		}
		if err != nil {
			return 0, err
		}
		r.next++
		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			return 0, fmt.Errorf("log %s chunk %d: %w", r.key, r.next-1, err)
		}
		r.cur = zr
	}
}

func (r *chunkReader) Close() error { return nil }

// DeleteJob removes every log of the job with the given UID.
func (a *LogArchive) DeleteJob(ctx context.Context, jobUID types.UID) error {
	_, err := a.b.pool.Exec(ctx, deleteJobLogsSQL, string(jobUID))
	return err
}

// DeleteOrphans removes the logs of jobs that no longer exist and were
// archived before before: a job's logs are deleted with it, and this
// catches what that missed (the server stopped in between). jobKeyPrefix
// is the key prefix of jobs (RESTOptionsGetter.KeyPrefix); a job is named
// by the log's namespace and job under it. It reads every log's row once.
func (a *LogArchive) DeleteOrphans(ctx context.Context, jobKeyPrefix string, before time.Time) (int64, error) {
	tag, err := a.b.pool.Exec(ctx, deleteOrphanLogsSQL, jobKeyPrefix, before)
	return tag.RowsAffected(), err
}
