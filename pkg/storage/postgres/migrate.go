package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the advisory lock held while migrations run, so that
// replicas starting together apply each migration exactly once.
const migrationLockKey int64 = 0x5100CE01

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. File names are
// NNNN_description.sql; versions must be 1, 2, 3, ... without holes.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %q: want NNNN_description.sql", e.Name())
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %q: %w", e.Name(), err)
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: expected version %d", m.name, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this binary writes and reads.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are part of the binary; tests catch this
	}
	return len(ms)
}

// ErrSchemaMismatch is returned when the database's schema is not the one
// this binary expects and migrations are not allowed to fix it.
type ErrSchemaMismatch struct {
	Database, Binary int
	Reason           string
}

func (e *ErrSchemaMismatch) Error() string {
	return fmt.Sprintf("database schema version is %d, this binary needs %d: %s", e.Database, e.Binary, e.Reason)
}

// migrate brings the schema up to date. With apply false it only checks.
// It holds an advisory lock for the duration, so concurrent starts wait for
// each other instead of racing.
func migrate(ctx context.Context, pool *pgxpool.Pool, apply bool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, advisoryLock, migrationLockKey); err != nil {
		return fmt.Errorf("taking the migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), advisoryUnlock, migrationLockKey)
	}()

	var current int
	err = conn.QueryRow(ctx, selectSchemaVersion).Scan(&current)
	if err != nil && !isUndefinedTable(err) {
		return err
	}
	switch {
	case current > len(ms):
		return &ErrSchemaMismatch{Database: current, Binary: len(ms), Reason: "the database was migrated by a newer Sluice; run that version or newer"}
	case current == len(ms):
		return nil
	case !apply:
		return &ErrSchemaMismatch{Database: current, Binary: len(ms), Reason: "migrations are disabled; start once with them enabled"}
	}
	if _, err := conn.Exec(ctx, createVersionTable); err != nil {
		return err
	}
	for _, m := range ms[current:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, insertSchemaVersion, m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %s: %w", m.name, err)
		}
	}
	return nil
}
