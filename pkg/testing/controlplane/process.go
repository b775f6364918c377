package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Process is a child process whose output goes to <dir>/<name>.log.
type Process struct {
	Name    string
	LogFile string
	// logStart is where this process's output begins in LogFile, which
	// earlier processes of the same name (a restart) wrote before it.
	logStart int64
	cmd      *exec.Cmd
	done     chan struct{}
	err      error
}

// StartProcess starts binary with args. The child gets SIGKILL if this
// process dies, so a killed test never leaves a control plane behind.
func StartProcess(dir, name, binary string, args []string, env ...string) (*Process, error) {
	logFile := filepath.Join(dir, name+".log")
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	info, err := log.Stat()
	if err != nil {
		log.Close()
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, LogFile: logFile, logStart: info.Size(), cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM, waits up to grace for the process to exit, then kills it.
func (p *Process) Stop(grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		return p.Kill()
	}
}

// Kill sends SIGKILL and waits for the process to exit.
func (p *Process) Kill() error {
	if p.Exited() {
		return nil
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return nil
}

// LogTail returns the last n bytes of this process's output, for error
// messages: not what an earlier process of the same name wrote to its log.
func (p *Process) LogTail(n int) string {
	b, _ := os.ReadFile(p.LogFile)
	if int64(len(b)) >= p.logStart {
		b = b[p.logStart:]
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// WaitFor polls check every interval until it returns nil, the process
// exits, or ctx ends. The error says which, with the tail of the log.
func (p *Process) WaitFor(ctx context.Context, what string, check func(context.Context) error) error {
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited while waiting for %s: %v\n%s", p.Name, what, p.err, p.LogTail(3000))
		case <-ctx.Done():
			return fmt.Errorf("%s: timed out waiting for %s: %v\n%s", p.Name, what, last, p.LogTail(3000))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// BinDir finds the directory holding the pinned control-plane binaries:
// $SLUICE_BIN_DIR, or bin/ at the root of the Sluice checkout containing the
// working directory.
func BinDir() (string, error) {
	if dir := os.Getenv("SLUICE_BIN_DIR"); dir != "" {
		return dir, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/sluice-dev/sluice\n") {
			return filepath.Join(dir, "bin"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the Sluice checkout and SLUICE_BIN_DIR is not set")
		}
		dir = parent
	}
}

// Binary returns the path of a pinned tool, or an error telling how to build it.
func Binary(name string) (string, error) {
	dir, err := BinDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s not found in %s: run `make tools`", name, dir)
	}
	return path, nil
}
