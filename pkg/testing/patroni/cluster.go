package patroni

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"sigs.k8s.io/yaml"

	"github.com/sluice-dev/sluice/pkg/testing/controlplane"
	pgtest "github.com/sluice-dev/sluice/pkg/testing/postgres"
	"github.com/sluice-dev/sluice/pkg/testing/testutil"
)

// The cluster's timing. Patroni's defaults (a 30 s TTL, a 10 s loop) make a
// failover take most of a minute; these keep Patroni's rule
// loop_wait + 2*retry_timeout <= ttl and make one take about 10 s after
// the primary's machine is lost, and a second or two after its postmaster
// dies with Patroni still running.
const (
	leaderTTL    = 10
	loopWait     = 1
	retryTimeout = 4
)

// Options configure a cluster.
type Options struct {
	// Dir holds etcd's data, the members' data directories and every log.
	// A new directory under the system temp dir is used when empty. It must
	// be reachable by the postgres user when the caller is root.
	Dir string
	// Members is how many PostgreSQL members to start: 2 when zero.
	Members int
}

// Cluster is a running Patroni cluster: etcd and its members.
type Cluster struct {
	// Dir holds everything the cluster writes.
	Dir string
	// Scope is Patroni's name of the cluster, its key prefix in etcd.
	Scope string
	// EtcdURL is the client URL of the DCS.
	EtcdURL string
	// Members are the PostgreSQL members, named m0, m1, ...
	Members []*Member

	etcd    *controlplane.Process
	binDir  string // PostgreSQL's programs
	cred    *syscall.Credential
	patroni string // the patroni program
}

// Member is one PostgreSQL server and the Patroni that runs it.
type Member struct {
	Name string
	// Dir holds its Patroni configuration, its data directory and its logs.
	Dir string
	// Port is PostgreSQL's port on 127.0.0.1.
	Port int
	// APIURL is Patroni's REST API, http://127.0.0.1:<port>.
	APIURL string

	c  *Cluster
	mu sync.Mutex
	p  *process // nil while killed
}

// ownerFile records the PID of the process that started a cluster, so that
// a later Start can reap the PostgreSQL servers of one whose owner died.
const ownerFile = "owner.pid"

// dirPrefix names the directories this package creates in the temp dir.
const dirPrefix = "sluice-patroni-"

// Start starts etcd and the members, and returns once one member is the
// primary and every other one is its streaming synchronous standby. On
// error, whatever was started has been stopped.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Members == 0 {
		opts.Members = 2
	}
	c := &Cluster{Dir: opts.Dir, Scope: "sluice"}
	if c.patroni, err = exec.LookPath("patroni"); err != nil {
		return nil, errors.New("patroni not found: run hack/install-patroni.sh (Debian's patroni package)")
	}
	if _, err := exec.LookPath("patronictl"); err != nil {
		return nil, errors.New("patronictl not found: run hack/install-patroni.sh (Debian's patroni package)")
	}
	if c.binDir, err = pgtest.FindBinDir(); err != nil {
		return nil, err
	}
	etcdBin, err := controlplane.Binary("etcd")
	if err != nil {
		return nil, err
	}
	if c.cred, err = postgresUser(); err != nil {
		return nil, err
	}
	reapOrphans()
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", dirPrefix); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	// The members run as the postgres user, which must get through.
	if err := os.Chmod(c.Dir, 0o755); err != nil {
		return nil, err
	}
	if c.cred != nil && !pgtest.ReachableByOthers(filepath.Dir(c.Dir)) {
		return nil, fmt.Errorf("%s cannot be reached by the postgres user the members run as: leave Options.Dir empty for a directory under %s", c.Dir, os.TempDir())
	}
	if err := os.WriteFile(filepath.Join(c.Dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if err := c.startEtcd(ctx, etcdBin); err != nil {
		return nil, err
	}
	for i := range opts.Members {
		m, err := c.newMember(i)
		if err != nil {
			return nil, err
		}
		c.Members = append(c.Members, m)
	}
	// The first member bootstraps the cluster with initdb; the others, once
	// it is the primary, copy it with pg_basebackup.
	if err := c.Members[0].start(); err != nil {
		return nil, err
	}
	if _, err := c.Primary(ctx); err != nil {
		return nil, err
	}
	for _, m := range c.Members[1:] {
		if err := m.start(); err != nil {
			return nil, err
		}
	}
	if err := c.WaitHealthy(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// startEtcd starts a one-node etcd for the DCS, on ports of its own.
func (c *Cluster) startEtcd(ctx context.Context, binary string) error {
	for attempt := 1; ; attempt++ {
		err := c.tryStartEtcd(ctx, binary)
		// A port picked as free may have been taken before etcd bound it.
		if err == nil || attempt == 5 || !c.etcd.Exited() || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
	}
}

func (c *Cluster) tryStartEtcd(ctx context.Context, binary string) error {
	dataDir := filepath.Join(c.Dir, "etcd")
	if err := os.RemoveAll(dataDir); err != nil {
		return err
	}
	clientPort, err := testutil.FreePort()
	if err != nil {
		return err
	}
	peerPort, err := testutil.FreePort()
	if err != nil {
		return err
	}
	c.EtcdURL = fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	c.etcd, err = controlplane.StartProcess(c.Dir, "etcd", binary, []string{
		"--name=default",
		"--data-dir=" + dataDir,
		"--listen-client-urls=" + c.EtcdURL,
		"--advertise-client-urls=" + c.EtcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--log-level=warn",
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return c.etcd.WaitFor(ctx, "etcd health", func(ctx context.Context) error {
		return testutil.GetOK(ctx, c.EtcdURL+"/health", `"health":"true"`)
	})
}

// newMember writes the Patroni configuration of member i.
func (c *Cluster) newMember(i int) (*Member, error) {
	m := &Member{Name: "m" + strconv.Itoa(i), c: c}
	m.Dir = filepath.Join(c.Dir, m.Name)
	var err error
	if m.Port, err = testutil.FreePort(); err != nil {
		return nil, err
	}
	apiPort, err := testutil.FreePort()
	if err != nil {
		return nil, err
	}
	m.APIURL = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	if err := os.MkdirAll(filepath.Join(m.Dir, "log"), 0o755); err != nil {
		return nil, err
	}
	pgAddress := fmt.Sprintf("127.0.0.1:%d", m.Port)
	apiAddress := fmt.Sprintf("127.0.0.1:%d", apiPort)
	config := map[string]any{
		"scope": c.Scope,
		"name":  m.Name,
		"log":   map[string]any{"level": "INFO"},
		"restapi": map[string]any{
			"listen":          apiAddress,
			"connect_address": apiAddress,
		},
		"etcd3": map[string]any{"hosts": []string{strings.TrimPrefix(c.EtcdURL, "http://")}},
		"bootstrap": map[string]any{
			// The cluster-wide settings Patroni keeps in the DCS.
			"dcs": map[string]any{
				"ttl":           leaderTTL,
				"loop_wait":     loopWait,
				"retry_timeout": retryTimeout,
				// A commit returns only once the synchronous standby has it,
				// and only that standby may be promoted: a failover loses
				// no acknowledged commit.
				"synchronous_mode": true,
				// Fail over when the primary's PostgreSQL crashes, rather
				// than restart it in place for up to 5 minutes; with
				// synchronous replication this loses nothing.
				"primary_start_timeout": 0,
				"postgresql": map[string]any{
					"use_pg_rewind": true,
					"use_slots":     true,
					"parameters": map[string]any{
						"max_connections": 200,
					},
				},
			},
			"initdb": []any{map[string]string{"encoding": "UTF8"}, map[string]string{"locale": "C"}},
		},
		"postgresql": map[string]any{
			"listen":          pgAddress,
			"connect_address": pgAddress,
			"data_dir":        m.dataDir(),
			"bin_dir":         c.binDir,
			"pgpass":          filepath.Join(m.Dir, "pgpass"),
			// An old primary whose WAL diverged rejoins with pg_rewind; if
			// that fails, with a new copy of the primary (pg_basebackup)
			// rather than not at all.
			"remove_data_directory_on_rewind_failure": true,
			"authentication": map[string]any{
				"superuser":   map[string]string{"username": "postgres"},
				"replication": map[string]string{"username": "replicator"},
			},
			// Throw-away servers on 127.0.0.1 only: no passwords.
			"pg_hba": []string{
				"local all all trust",
				"host all all 127.0.0.1/32 trust",
				"host replication all 127.0.0.1/32 trust",
			},
			"parameters": map[string]any{
				"unix_socket_directories": m.Dir,
				"logging_collector":       "on",
				"log_directory":           filepath.Join(m.Dir, "log"),
				"log_filename":            "postgresql.log",
				"log_line_prefix":         "%m [%p] %q%u@%d ",
			},
		},
	}
	b, err := yaml.Marshal(config)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(m.configFile(), b, 0o644); err != nil {
		return nil, err
	}
	return m, chownTree(m.Dir, c.cred)
}

func (m *Member) configFile() string { return filepath.Join(m.Dir, "patroni.yml") }
func (m *Member) dataDir() string    { return filepath.Join(m.Dir, "data") }
func (m *Member) logFile() string    { return filepath.Join(m.Dir, "patroni.log") }

// start starts the member's Patroni.
func (m *Member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p != nil && !m.p.exited() {
		return fmt.Errorf("%s: Patroni is already running", m.Name)
	}
	p, err := startProcess(m.Dir, m.logFile(), m.c.cred, []string{"HOME=" + m.Dir}, m.c.patroni, m.configFile())
	if err != nil {
		return err
	}
	m.p = p
	return nil
}

// URL is the URL of database on this member alone, as the superuser.
func (m *Member) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", m.Port, database)
}

// URL is the multi-host URL of database: a client tries the members in
// turn and keeps the first that accepts writes, so it finds the primary
// wherever it is.
func (c *Cluster) URL(database string) string {
	hosts := make([]string, len(c.Members))
	for i, m := range c.Members {
		hosts[i] = fmt.Sprintf("127.0.0.1:%d", m.Port)
	}
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable&target_session_attrs=read-write", strings.Join(hosts, ","), database)
}

// status is the HTTP status of a GET of one of Patroni's health endpoints
// on the member, or 0 when its REST API does not answer.
func (m *Member) status(ctx context.Context, path string) int {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.APIURL+path, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// inRecovery asks the member's PostgreSQL whether it is a standby.
func (m *Member) inRecovery(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, m.URL("postgres"))
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var recovery bool
	err = conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&recovery)
	return recovery, err
}

// isPrimary reports whether Patroni says the member holds the leader lock
// (GET /primary is 200) and its PostgreSQL accepts writes.
func (m *Member) isPrimary(ctx context.Context) bool {
	if m.status(ctx, "/primary") != http.StatusOK {
		return false
	}
	recovery, err := m.inRecovery(ctx)
	return err == nil && !recovery
}

// isReplica reports whether Patroni says the member is a running replica
// (GET /replica is 200) and its PostgreSQL is a standby.
func (m *Member) isReplica(ctx context.Context) bool {
	if m.status(ctx, "/replica") != http.StatusOK {
		return false
	}
	recovery, err := m.inRecovery(ctx)
	return err == nil && recovery
}

// Primary waits until exactly one member is the primary and returns it.
func (c *Cluster) Primary(ctx context.Context) (*Member, error) {
	return c.waitForPrimary(ctx, "a primary", nil)
}

// WaitForNewPrimary waits until a member other than old is the primary,
// and returns it.
func (c *Cluster) WaitForNewPrimary(ctx context.Context, old *Member) (*Member, error) {
	return c.waitForPrimary(ctx, "a primary other than "+old.Name, old)
}

func (c *Cluster) waitForPrimary(ctx context.Context, what string, not *Member) (*Member, error) {
	var found *Member
	err := c.waitFor(ctx, what, func(ctx context.Context) error {
		var primaries []string
		found = nil
		for _, m := range c.Members {
			if m.isPrimary(ctx) {
				primaries = append(primaries, m.Name)
				found = m
			}
		}
		switch {
		case len(primaries) == 0:
			return errors.New("no member is the primary")
		case len(primaries) > 1:
			return fmt.Errorf("more than one primary: %v", primaries)
		case found == not:
			return fmt.Errorf("%s is still the primary", found.Name)
		}
		return nil
	})
	return found, err
}

// clusterView is what GET /cluster says of the members.
type clusterView struct {
	Members []struct {
		Name  string `json:"name"`
		Role  string `json:"role"`
		State string `json:"state"`
	} `json:"members"`
}

// WaitHealthy waits until one member is the primary and every other member
// is a running synchronous standby that streams from it: the state in
// which a failover loses nothing.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	primary, err := c.Primary(ctx)
	if err != nil {
		return err
	}
	return c.waitFor(ctx, "every standby to be synchronous and streaming from "+primary.Name, func(ctx context.Context) error {
		if !primary.isPrimary(ctx) {
			return fmt.Errorf("%s is no longer the primary", primary.Name)
		}
		for _, m := range c.Members {
			if m != primary && m.status(ctx, "/sync") != http.StatusOK {
				return fmt.Errorf("Patroni does not report %s as a running synchronous standby", m.Name)
			}
		}
		conn, err := pgx.Connect(ctx, primary.URL("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		var streaming int
		err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state IN ('sync', 'quorum')`).Scan(&streaming)
		if err != nil {
			return err
		}
		if streaming != len(c.Members)-1 {
			return fmt.Errorf("%d of %d standbys stream synchronously from %s", streaming, len(c.Members)-1, primary.Name)
		}
		return nil
	})
}

// View returns Patroni's view of the members (GET /cluster on the first
// member whose REST API answers), one "name role state" line each, for
// logs and failure messages.
func (c *Cluster) View(ctx context.Context) string {
	for _, m := range c.Members {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.APIURL+"/cluster", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		var v clusterView
		if err := yaml.Unmarshal(body, &v); err != nil {
			continue
		}
		var lines []string
		for _, mv := range v.Members {
			lines = append(lines, fmt.Sprintf("%s %s %s", mv.Name, mv.Role, mv.State))
		}
		return strings.Join(lines, "; ")
	}
	return "no member's REST API answers"
}

// Kill kills the member's Patroni and then its postmaster with SIGKILL, as
// if its machine had died. The member stays down until Restart. If it was
// the primary, its leader key in etcd expires after the TTL and the
// synchronous standby is promoted.
func (m *Member) Kill() error {
	m.mu.Lock()
	if m.p != nil {
		m.p.kill()
	}
	m.mu.Unlock()
	return m.KillPostmaster()
}

// Killed reports whether the member's Patroni is down: it was killed (Kill)
// and not restarted, or it died.
func (m *Member) Killed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.p == nil || m.p.exited()
}

// KillPostmaster kills the member's postmaster with SIGKILL and leaves its
// Patroni running. PostgreSQL's backends end when they notice their
// postmaster is gone. If the member was the primary, Patroni fails over to
// the synchronous standby at once (primary_start_timeout is 0), and then
// starts the old primary again as a replica of the new one.
func (m *Member) KillPostmaster() error {
	pid, err := postmasterPID(m.dataDir())
	if err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("%s: kill -9 %d: %w", m.Name, pid, err)
	}
	return nil
}

// Restart starts the Patroni of a member that was killed, and returns once
// it runs as a replica: Patroni rejoins it to the current primary, with
// pg_rewind when its WAL diverged, and with a new copy of the primary when
// that fails.
func (m *Member) Restart(ctx context.Context) error {
	// Backends of the killed postmaster may outlive it for a moment; the
	// server cannot start again before they are gone, and Patroni retries
	// until then.
	if err := m.start(); err != nil {
		return err
	}
	return m.c.waitFor(ctx, m.Name+" to run as a replica", func(ctx context.Context) error {
		if !m.isReplica(ctx) {
			return fmt.Errorf("%s is not a running replica", m.Name)
		}
		return nil
	})
}

// Switchover makes to the primary through a planned switchover: patronictl
// asks the primary's Patroni to stop its PostgreSQL cleanly, hand over the
// leader lock to to, and come back as its replica. It returns once to is
// the primary.
func (c *Cluster) Switchover(ctx context.Context, to *Member) error {
	from, err := c.Primary(ctx)
	if err != nil {
		return err
	}
	if from == to {
		return fmt.Errorf("%s is the primary already", to.Name)
	}
	cmd := exec.CommandContext(ctx, "patronictl", "--config-file", from.configFile(), "switchover", c.Scope,
		"--leader", from.Name, "--candidate", to.Name, "--force")
	cmd.Env = append(os.Environ(), "HOME="+c.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("patronictl switchover from %s to %s: %w\n%s", from.Name, to.Name, err, out)
	}
	return c.waitFor(ctx, to.Name+" to be the primary", func(ctx context.Context) error {
		if !to.isPrimary(ctx) {
			return fmt.Errorf("%s is not the primary", to.Name)
		}
		return nil
	})
}

// waitFor polls check until it succeeds or ctx ends; the error then says
// what was awaited, the last failure, and Patroni's view of the cluster.
func (c *Cluster) waitFor(ctx context.Context, what string, check func(context.Context) error) error {
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("patroni: timed out waiting for %s: %v (cluster: %s)", what, last, c.View(context.Background()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LogTails returns the last n bytes of every log of the cluster (etcd,
// each Patroni, each PostgreSQL), each under a header, for a failing test.
func (c *Cluster) LogTails(n int) string {
	var b strings.Builder
	files := []string{filepath.Join(c.Dir, "etcd.log")}
	for _, m := range c.Members {
		files = append(files, m.logFile(), filepath.Join(m.Dir, "log", "postgresql.log"))
	}
	for _, f := range files {
		content, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if len(content) > n {
			content = content[len(content)-n:]
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", f, content)
	}
	return b.String()
}

// Stop stops every member (Patroni stops its PostgreSQL) and etcd, and
// removes the cluster's directory.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, m := range c.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.mu.Lock()
			if m.p != nil {
				m.p.stop(30 * time.Second)
			}
			m.mu.Unlock()
			// Whatever Patroni left running (it was killed, or did not stop
			// its server in time).
			killServer(m.dataDir())
		}()
	}
	wg.Wait()
	if c.etcd != nil {
		_ = c.etcd.Stop(10 * time.Second)
	}
	_ = os.RemoveAll(c.Dir)
}

// killServer kills the postmaster running on dataDir, if any, and its
// backends.
func killServer(dataDir string) {
	pid, err := postmasterPID(dataDir)
	if err != nil {
		return
	}
	// The postmaster leads its own process group (Patroni starts it in a
	// session of its own), and its backends are in it.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// reapOrphans stops the PostgreSQL servers of clusters whose test process
// died before its cleanup ran (a killed `go test`, a CI timeout), and
// removes their directories. Patroni and etcd died with that process.
func reapOrphans() {
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
		members, _ := filepath.Glob(filepath.Join(dir, "m*", "data"))
		for _, data := range members {
			killServer(data)
		}
		_ = os.RemoveAll(dir)
	}
}
