package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// Options configure a throw-away server.
type Options struct {
	// Dir is where the data directory, socket and log go. A new directory
	// under the system temp dir is used when empty. When the server runs as
	// the postgres user (the caller is root) and that user cannot reach Dir
	// (a checkout under /root, or in a private temp dir), the files go to a
	// new directory under the system temp dir and Dir becomes a link to it.
	Dir string
	// Port to listen on, on 127.0.0.1. A free port is picked when zero.
	Port int
	// Durable keeps fsync and synchronous commit on. Tests leave it off for
	// speed; benchmarks and crash tests turn it on so they measure and
	// exercise what production runs.
	Durable bool
	// Settings are extra postgresql.conf parameters, e.g. "max_connections": "300".
	Settings map[string]string
	// DiskFault lets the test fill the disk under the server's databases
	// with Server.SetDiskFull (diskfull.go). It needs a C compiler.
	DiskFault bool
}

// Server is a PostgreSQL server started by this package.
type Server struct {
	// Dir holds data/, the log file and the owner file.
	Dir     string
	link    string // Options.Dir when it is a link to Dir
	Port    int
	binDir  string
	asUser  string // OS user the server runs as; "" for the current user
	dataDir string
	// diskFault is Options.DiskFault; faultEnv loads its library.
	diskFault bool
	faultEnv  []string
}

// ownerFile records the PID of the process that started a server, so a later
// Start can stop servers whose owner died without stopping them.
const ownerFile = "owner.pid"

// dirPrefix names the directories this package creates in the temp dir.
const dirPrefix = "sluice-postgres-"

// Start initialises a new cluster with initdb and starts it with pg_ctl,
// listening on 127.0.0.1 only, with trust authentication for the superuser
// "postgres". It returns once the server accepts connections.
//
// PostgreSQL refuses to run as root; when the caller is root, the server runs
// as the "postgres" system user that Debian's package creates.
func Start(ctx context.Context, opts Options) (*Server, error) {
	binDir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	reapOrphans(binDir)

	s := &Server{Dir: opts.Dir, Port: opts.Port, binDir: binDir, diskFault: opts.DiskFault}
	if os.Geteuid() == 0 {
		s.asUser = "postgres"
	}
	if s.Dir != "" && s.asUser != "" && !ReachableByOthers(filepath.Dir(s.Dir)) {
		if s.Dir, err = linkToTempDir(s.Dir); err != nil {
			return nil, err
		}
		s.link = opts.Dir
	}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", dirPrefix); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	s.dataDir = filepath.Join(s.Dir, "data")
	if s.asUser != "" {
		if err := chownTo(s.Dir, s.asUser); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(s.Dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}

	if s.diskFault {
		if s.faultEnv, err = s.buildDiskFullLibrary(ctx); err != nil {
			return nil, err
		}
	}

	if _, err := os.Stat(filepath.Join(s.dataDir, "PG_VERSION")); err != nil {
		if err := s.run(ctx, "initdb", "--pgdata", s.dataDir, "--username", "postgres", "--auth", "trust",
			"--encoding", "UTF8", "--locale", "C", "--no-instructions"); err != nil {
			return nil, fmt.Errorf("initdb: %w", err)
		}
	}

	// A port picked as free may be taken before the server binds it; try a
	// few times before giving up.
	for attempt := 0; ; attempt++ {
		if opts.Port == 0 {
			if s.Port, err = testutil.FreePort(); err != nil {
				return nil, err
			}
		}
		err = s.start(ctx, opts)
		if err == nil || opts.Port != 0 || attempt == 4 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, opts Options) error {
	settings := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"port":                    strconv.Itoa(s.Port),
		"unix_socket_directories": s.Dir,
		"max_connections":         "200",
		"shared_buffers":          "128MB",
	}
	if !opts.Durable {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pgOpts []string
	for _, k := range keys {
		pgOpts = append(pgOpts, fmt.Sprintf("-c %s=%s", k, settings[k]))
	}
	logFile := filepath.Join(s.Dir, "postgres.log")
	err := s.runWithEnv(ctx, s.faultEnv, "pg_ctl", "start", "--pgdata", s.dataDir, "--log", logFile, "--wait", "--timeout", "60",
		"-o", strings.Join(pgOpts, " "))
	if err != nil {
		tail, _ := os.ReadFile(logFile)
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("pg_ctl start on port %d: %w\n%s", s.Port, err, tail)
	}
	return nil
}

// PID is the process id of the postmaster, the parent of every backend.
func (s *Server) PID() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// BinDir is the directory of the PostgreSQL programs (pgbench, psql).
func (s *Server) BinDir() string { return s.binDir }

// DSN returns the URL of database name on this server, as the superuser.
func (s *Server) DSN(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, database)
}

// Stop stops the server with a fast shutdown: sessions are disconnected and
// everything committed is flushed.
func (s *Server) Stop() error {
	return s.run(context.Background(), "pg_ctl", "stop", "--pgdata", s.dataDir, "--mode", "fast", "--wait", "--timeout", "60")
}

// Kill stops the server the way a crash would: no checkpoint, the next start
// replays the WAL.
func (s *Server) Kill() error {
	return s.run(context.Background(), "pg_ctl", "stop", "--pgdata", s.dataDir, "--mode", "immediate", "--wait", "--timeout", "60")
}

// Restart starts a stopped server again on the same port and data.
func (s *Server) Restart(ctx context.Context, opts Options) error {
	return s.start(ctx, opts)
}

// Remove stops the server if it runs and deletes its directory.
func (s *Server) Remove() error {
	stopErr := s.Stop()
	if _, err := os.Stat(filepath.Join(s.dataDir, "postmaster.pid")); err == nil {
		return stopErr
	}
	if s.link != "" {
		_ = os.Remove(s.link)
	}
	return os.RemoveAll(s.Dir)
}

// ReachableByOthers reports whether every directory from dir up to the root
// lets other users through, so that the postgres user can reach what is in
// dir. The Patroni helper, whose members run as that user too, asks it.
func ReachableByOthers(dir string) bool {
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// linkToTempDir makes a new server directory under the system temp dir, where
// the postgres user can reach it and reapOrphans finds it, and makes dir a link
// to it. dir may be absent, an earlier link, or an empty directory.
func linkToTempDir(dir string) (string, error) {
	if fi, err := os.Lstat(dir); err == nil {
		if fi.Mode()&os.ModeSymlink != 0 {
			if err := os.Remove(dir); err != nil {
				return "", err
			}
		} else if err := os.Remove(dir); err != nil {
			return "", fmt.Errorf("%s cannot be reached by the postgres user and is not an empty directory that could become a link: %w", dir, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return "", err
	}
	if err := os.Symlink(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	return tmp, nil
}

func (s *Server) run(ctx context.Context, tool string, args ...string) error {
	return s.runWithEnv(ctx, nil, tool, args...)
}

// runWithEnv runs tool with env added to this process's environment; the
// server started by pg_ctl inherits it.
func (s *Server) runWithEnv(ctx context.Context, env []string, tool string, args ...string) error {
	path := filepath.Join(s.binDir, tool)
	var cmd *exec.Cmd
	if s.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
		cmd.Dir = s.Dir // the caller's working directory may be closed to that user
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	// Run outside our process group, so that Ctrl-C on a test does not kill
	// the server before the test's cleanup stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// FindBinDir locates initdb and pg_ctl: on PATH, or in Debian's versioned
// /usr/lib/postgresql/N/bin, newest first.
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: run hack/install-postgres.sh, or set SLUICE_TEST_DATABASE_URL")
}

func versionOf(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

func chownTo(dir, username string) error {
	cred, err := SystemUser(username)
	if err != nil {
		return err
	}
	return ChownTree(dir, cred)
}

// SystemUser is the credential of the OS user username: a server started
// as root runs as the postgres user that Debian's package creates,
// PostgreSQL refusing to run as root.
func SystemUser(username string) (*syscall.Credential, error) {
	u, err := user.Lookup(username)
	if err != nil {
		return nil, fmt.Errorf("running as root needs the %q system user (Debian's postgresql package creates it): %w", username, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// ChownTree gives dir and everything in it to cred's user and group.
func ChownTree(dir string, cred *syscall.Credential) error {
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(cred.Uid), int(cred.Gid))
	})
}

// reapOrphans stops and removes servers left behind by test processes that
// died before their cleanup ran (a killed `go test`, a CI timeout).
func reapOrphans(binDir string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || processAlive(pid) {
			continue
		}
		if fi, err := os.Stat(dir); err != nil || time.Since(fi.ModTime()) < time.Second {
			continue
		}
		s := &Server{Dir: dir, binDir: binDir, dataDir: filepath.Join(dir, "data")}
		if os.Geteuid() == 0 {
			s.asUser = "postgres"
		}
		_ = s.Kill()
		_ = os.RemoveAll(dir)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
