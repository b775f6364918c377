package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Memory is what a process (or, for PostgreSQL, the postmaster and all its
// backends) holds, in bytes.
type Memory struct {
	// RSS is the resident set now; for PostgreSQL the sum of PSS, which
	// counts shared buffers once instead of once per backend.
	RSS int64 `json:"rssBytes"`
	// Peak is the high-water mark of RSS (VmHWM); for PostgreSQL the sum
	// of the backends' peaks, an upper bound.
	Peak int64 `json:"peakBytes"`
}

// processMemory reads /proc for one process.
func processMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS":
			m.RSS = kib(v)
		case "VmHWM":
			m.Peak = kib(v)
		}
	}
	return m, sc.Err()
}

// treeMemory sums the PSS and peaks of a process and its children, as
// PostgreSQL's backends are.
func treeMemory(pid int) (Memory, error) {
	children, err := childrenOf(pid)
	if err != nil {
		return Memory{}, err
	}
	var total Memory
	for _, p := range append([]int{pid}, children...) {
		pss, err := pssOf(p)
		if err != nil {
			continue // a backend that exited meanwhile
		}
		m, err := processMemory(p)
		if err != nil {
			continue
		}
		total.RSS += pss
		total.Peak += m.Peak
	}
	return total, nil
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var children []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, err := parentOf(child); err == nil && ppid == pid {
			children = append(children, child)
		}
	}
	return children, nil
}

func parentOf(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// pid (comm) state ppid ...; comm may contain spaces and parentheses.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return strconv.Atoi(fields[1])
}

func pssOf(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			return kib(v), nil
		}
	}
	return 0, fmt.Errorf("no Pss in /proc/%d/smaps_rollup", pid)
}

func kib(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
	return n * 1024
}

// etcdDBSize reads etcd's backend size (total, including free pages, and
// in use) from its metrics.
func etcdDBSize(ctx context.Context, etcdURL string) (total, inUse int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, etcdURL+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		f, perr := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if perr != nil {
			continue
		}
		switch name {
		case "etcd_mvcc_db_total_size_in_bytes":
			total = int64(f)
		case "etcd_mvcc_db_total_size_in_use_in_bytes":
			inUse = int64(f)
		}
	}
	return total, inUse, nil
}

// postgresDBSize is the size of the database on disk: tables, indexes and
// TOAST of Sluice's schema.
func postgresDBSize(ctx context.Context, dsn string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var size int64
	err = conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size)
	return size, err
}

func serverVersion(ctx context.Context, dsn string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v string
	err = conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v, err
}

// process is one process of the stack whose CPU time is read.
type process struct {
	name string
	pid  int
	// tree adds the CPU time of its children: PostgreSQL's backends.
	tree bool
}

// loadGenerator names the benchmark's own process among a stack's.
const loadGenerator = "load generator"

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every
// Linux architecture Go supports (sysconf(_SC_CLK_TCK) without cgo).
const clockTicks = 100

// cpuSeconds reads the user and system CPU time a process has used; with
// tree, also that of its living children and of the children it has
// reaped (PostgreSQL's backends come and go with their connections).
func (p process) cpuSeconds() (float64, error) {
	t, err := processCPU(p.pid)
	if err != nil || !p.tree {
		return t.own, err
	}
	total := t.own + t.reaped
	children, err := childrenOf(p.pid)
	if err != nil {
		return 0, err
	}
	for _, child := range children {
		if c, err := processCPU(child); err == nil {
			total += c.own
		}
	}
	return total, nil
}

// cpuTimes are a process's CPU times, in seconds.
type cpuTimes struct {
	own    float64 // utime + stime
	reaped float64 // cutime + cstime: children that exited and were waited for
}

// processCPU reads utime, stime, cutime and cstime (fields 14 to 17) of
// /proc/<pid>/stat.
func processCPU(pid int) (cpuTimes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, err
	}
	// pid (comm) state ppid ...; comm may contain spaces and parentheses,
	// so count from after its closing one: state is the first field there.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return cpuTimes{}, fmt.Errorf("short /proc/%d/stat", pid)
	}
	var ticks [4]float64
	for i := range ticks {
		v, err := strconv.ParseFloat(f[11+i], 64)
		if err != nil {
			return cpuTimes{}, err
		}
		ticks[i] = v
	}
	return cpuTimes{own: (ticks[0] + ticks[1]) / clockTicks, reaped: (ticks[2] + ticks[3]) / clockTicks}, nil
}

// cpuSnapshot reads every process's CPU time; a process that has exited is
// left out.
func cpuSnapshot(procs []process) map[string]float64 {
	out := map[string]float64{}
	for _, p := range procs {
		if s, err := p.cpuSeconds(); err == nil {
			out[p.name] = s
		}
	}
	return out
}

// cpuSince is the CPU time each process used since before.
func cpuSince(procs []process, before map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for name, s := range cpuSnapshot(procs) {
		if b, ok := before[name]; ok {
			out[name] = s - b
		}
	}
	return out
}
