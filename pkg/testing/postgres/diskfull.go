package postgres

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The disk-full fault. PostgreSQL cannot be put on a small filesystem
// without mounting one, which needs root (or user namespaces, which CI
// containers and Ubuntu's AppArmor often refuse), and no quota inside
// PostgreSQL limits what a database may store. So the fault is injected
// where the disk answers: a small library, built from preload/diskfull.c
// with the machine's C compiler and loaded into the server with LD_PRELOAD,
// fails with ENOSPC every write that would grow a file under the data
// directory's base/ (the databases' tables, indexes and temporary files)
// while the server directory holds the file diskFullFlag. Writes inside a
// file's current size still succeed, as on a real full volume. PostgreSQL is
// unchanged and meets ENOSPC in its own code: a statement that needs a new
// page fails with SQLSTATE 53100 (disk_full), one that finds room in a page
// it has succeeds.
//
// What it does not model: WAL, and the cluster's own bookkeeping (pg_xact
// and the like), keep their room, as they do with pg_wal on a volume of its
// own. A full WAL volume stops the server (PANIC), which is the database
// outage other tests cover.

//go:embed preload/diskfull.c
var diskFullSource []byte

// diskFullFlag is the file in the server directory whose presence makes the
// disk full.
const diskFullFlag = "disk-full"

// buildDiskFullLibrary compiles the fault library into the server directory
// and returns the environment that loads it into the server.
func (s *Server) buildDiskFullLibrary(ctx context.Context) ([]string, error) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		return nil, errors.New("Options.DiskFault needs a C compiler (cc) to build its library: install Debian's gcc (hack/install-cc.sh)")
	}
	src := filepath.Join(s.Dir, "diskfull.c")
	lib := filepath.Join(s.Dir, "diskfull.so")
	if err := os.WriteFile(src, diskFullSource, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", lib, src, "-ldl")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the disk-full library: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return []string{
		"LD_PRELOAD=" + lib,
		"SLUICE_DISKFULL_FLAG=" + filepath.Join(s.Dir, diskFullFlag),
		"SLUICE_DISKFULL_DIR=" + filepath.Join(s.dataDir, "base"),
	}, nil
}

// SetDiskFull fills the disk under the server's databases, or frees it
// again. It needs Options.DiskFault. It takes effect at once in every
// backend: while full, a write that needs a new page of a table or index
// fails with SQLSTATE 53100; reads, and writes that find room in an existing
// page, go on.
func (s *Server) SetDiskFull(full bool) error {
	if !s.diskFault {
		return errors.New("the server was not started with Options.DiskFault")
	}
	flag := filepath.Join(s.Dir, diskFullFlag)
	if !full {
		if err := os.Remove(flag); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	return os.WriteFile(flag, nil, 0o644)
}
