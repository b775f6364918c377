package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writeResults writes bench-results.json, results.md and chart.png to out,
// and with updateDocs also into docs/bench/ and the generated part of
// docs/benchmarks.md.
func writeResults(res *Results, out string, updateDocs bool) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	md := markdown(res)
	chart, err := chartPNG(res)
	if err != nil {
		return err
	}
	files := map[string][]byte{"bench-results.json": j, "results.md": []byte(md), "chart.png": chart}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("\n%s\nwritten to %s/{bench-results.json,results.md,chart.png}\n", md, out)
	if !updateDocs {
		return nil
	}
	docs := filepath.Join("docs", "bench")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if name == "results.md" {
			continue
		}
		if err := os.WriteFile(filepath.Join(docs, res.Scale+"-"+name), b, 0o644); err != nil {
			return err
		}
	}
	return replaceGenerated(filepath.Join("docs", "benchmarks.md"), "bench:"+res.Scale, md+
		fmt.Sprintf("\n![chart](bench/%s-chart.png)\n\nRaw results: [bench/%s-bench-results.json](bench/%s-bench-results.json).\n", res.Scale, res.Scale, res.Scale))
}

// replaceGenerated puts text between the markers <!-- BEGIN name --> and
// <!-- END name --> of the file, appending them when absent.
func replaceGenerated(path, name, text string) error {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	begin, end := "<!-- BEGIN "+name+" -->", "<!-- END "+name+" -->"
	s := string(b)
	block := begin + "\n" + text + end
	i, k := strings.Index(s, begin), strings.Index(s, end)
	if i >= 0 && k > i {
		s = s[:i] + block + s[k+len(end):]
	} else {
		s += "\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// metric is one row of the table.
type metric struct {
	name   string
	unit   string
	higher bool // higher is better
	get    func(*Run) (float64, bool)
}

func createRate(size string, clients int) func(*Run) (float64, bool) {
	return func(r *Run) (float64, bool) {
		for _, c := range r.Creates {
			if c.Size == size && c.Clients == clients && c.Errors == 0 {
				return c.PerSec, true
			}
		}
		return 0, false
	}
}

func createP99(r *Run) (float64, bool) {
	for _, c := range r.Creates {
		if c.Size == "1KiB" && c.Clients == 16 && c.Errors == 0 {
			return c.Latency.P99, true
		}
	}
	return 0, false
}

func throughputOf(t *Throughput, f func(*Throughput) float64) (float64, bool) {
	if t == nil || t.Requests == 0 || t.Errors > 0 {
		return 0, false
	}
	return f(t), true
}

func memOf(name string) func(*Run) (float64, bool) {
	return func(r *Run) (float64, bool) {
		m, ok := r.Memory[name]
		return float64(m.RSS) / (1 << 20), ok
	}
}

// isCRD says whether a system is served by kube-apiserver from etcd.
func isCRD(system string) bool { return system != "sluice" }

// serverMemory is the memory of the server that holds the objects:
// sluice-apiserver for Sluice, kube-apiserver for the CRDs.
func serverMemory(r *Run) (float64, bool) {
	name := "sluice-apiserver"
	if isCRD(r.System) {
		name = "kube-apiserver"
	}
	return memOf(name)(r)
}

// storeMemory is the memory of the database: PostgreSQL or etcd.
func storeMemory(r *Run) (float64, bool) {
	name := "postgres"
	if isCRD(r.System) {
		name = "etcd"
	}
	return memOf(name)(r)
}

func dbSize(r *Run) (float64, bool) {
	name := "postgres"
	if isCRD(r.System) {
		name = "etcd"
	}
	v, ok := r.DBBytes[name]
	return float64(v) / (1 << 20), ok
}

// createCPU is the CPU time process used per 1,000 creates of the 1 KiB
// batch with 16 clients; "" sums every process of the stack and the load
// generator.
func createCPU(process string) func(*Run) (float64, bool) {
	return func(r *Run) (float64, bool) {
		if !onRequestPath(r.System, process) {
			return 0, false
		}
		for _, c := range r.Creates {
			if c.Size != "1KiB" || c.Clients != 16 || c.Errors > 0 || c.Requests == 0 || c.CPUSeconds == nil {
				continue
			}
			v, ok := cpuOfProcess(c.CPUSeconds, process)
			return 1000 * v / float64(c.Requests), ok
		}
		return 0, false
	}
}

// onRequestPath says whether a system's requests go through process.
// Every stack runs every process, but sluice-apiserver and PostgreSQL
// serve no CRD request and etcd no Sluice one: what they use meanwhile is
// not a cost per create, and a ratio of it would compare idle with work.
// The empty process, all of them, is on every path.
func onRequestPath(system, process string) bool {
	switch process {
	case "sluice-apiserver", "postgres":
		return !isCRD(system)
	case "etcd":
		return isCRD(system)
	}
	return true
}

// listCPU is the CPU time process used per item of the paginated list, in
// milliseconds; "server" is the server holding the objects.
func listCPU(process string) func(*Run) (float64, bool) {
	return func(r *Run) (float64, bool) {
		l := r.PaginatedList
		if l == nil || l.Items == 0 || l.CPUSeconds == nil {
			return 0, false
		}
		name := process
		if name == "server" {
			name = "sluice-apiserver"
			if isCRD(r.System) {
				name = "kube-apiserver"
			}
		}
		v, ok := cpuOfProcess(l.CPUSeconds, name)
		return 1000 * v / float64(l.Items), ok
	}
}

// watchCPU is the CPU time process used per event delivered to a watcher
// during the watch measurement, in microseconds: the writes themselves
// included, whose cost is shared by the 100 watchers of each.
func watchCPU(process string) func(*Run) (float64, bool) {
	return func(r *Run) (float64, bool) {
		wr := r.Watch
		if wr == nil || wr.Delivered == 0 || wr.CPUSeconds == nil || !onRequestPath(r.System, process) {
			return 0, false
		}
		v, ok := cpuOfProcess(wr.CPUSeconds, process)
		return 1e6 * v / float64(wr.Delivered), ok
	}
}

func cpuOfProcess(cpu map[string]float64, process string) (float64, bool) {
	if process != "" {
		v, ok := cpu[process]
		return v, ok
	}
	total := 0.0
	for _, v := range cpu {
		total += v
	}
	return total, len(cpu) > 0
}

func labelListP50(r *Run) (float64, bool) {
	return throughputOf(r.LabelList, func(t *Throughput) float64 { return t.Latency.P50 })
}

func paginatedTotal(r *Run) (float64, bool) {
	if r.PaginatedList == nil {
		return 0, false
	}
	return r.PaginatedList.Seconds, true
}

var metrics = []metric{
	{"creates/s, 1 client", "/s", true, createRate("1KiB", 1)},
	{"creates/s, 16 clients", "/s", true, createRate("1KiB", 16)},
	{"creates/s, 64 clients", "/s", true, createRate("1KiB", 64)},
	{"creates/s, 16 clients, 5 KiB", "/s", true, createRate("5KiB", 16)},
	{"create p99, 16 clients", "ms", false, createP99},
	{"status updates/s, 16 clients", "/s", true, func(r *Run) (float64, bool) {
		return throughputOf(r.StatusUpdates, func(t *Throughput) float64 { return t.PerSec })
	}},
	{"get p50", "ms", false, func(r *Run) (float64, bool) {
		return throughputOf(r.Gets, func(t *Throughput) float64 { return t.Latency.P50 })
	}},
	{"get p99", "ms", false, func(r *Run) (float64, bool) {
		return throughputOf(r.Gets, func(t *Throughput) float64 { return t.Latency.P99 })
	}},
	{"paginated full list, total", "s", false, paginatedTotal},
	{"paginated list, page p99", "ms", false, func(r *Run) (float64, bool) {
		if r.PaginatedList == nil {
			return 0, false
		}
		return r.PaginatedList.Page.P99, true
	}},
	{"label-selected list (0.1%) p50", "ms", false, labelListP50},
	{"label-selected list (0.1%) p99", "ms", false, func(r *Run) (float64, bool) {
		return throughputOf(r.LabelList, func(t *Throughput) float64 { return t.Latency.P99 })
	}},
	{"field-selected list (status.phase=Failed) p50", "ms", false, func(r *Run) (float64, bool) {
		return throughputOf(r.FieldList, func(t *Throughput) float64 { return t.Latency.P50 })
	}},
	{"watch delivery p50, 100 watchers", "ms", false, func(r *Run) (float64, bool) {
		if r.Watch == nil || r.Watch.Delivered == 0 {
			return 0, false
		}
		return r.Watch.Latency.P50, true
	}},
	{"watch delivery p99, 100 watchers", "ms", false, func(r *Run) (float64, bool) {
		if r.Watch == nil || r.Watch.Delivered == 0 {
			return 0, false
		}
		return r.Watch.Latency.P99, true
	}},
	{"watch, CPU per delivered event, all processes³", "µs", false, watchCPU("")},
	{"… kube-apiserver", "µs", false, watchCPU("kube-apiserver")},
	{"… sluice-apiserver", "µs", false, watchCPU("sluice-apiserver")},
	{"… the load generator (100 watchers decoding)", "µs", false, watchCPU(loadGenerator)},
	{"CPU per 1k creates (16 clients), all processes³", "s", false, createCPU("")},
	{"… kube-apiserver", "s", false, createCPU("kube-apiserver")},
	{"… sluice-apiserver", "s", false, createCPU("sluice-apiserver")},
	{"… PostgreSQL", "s", false, createCPU("postgres")},
	{"… etcd", "s", false, createCPU("etcd")},
	{"… kube-controller-manager", "s", false, createCPU("kube-controller-manager")},
	{"… the load generator", "s", false, createCPU(loadGenerator)},
	{"paginated list, CPU per item, the server holding the objects¹", "ms", false, listCPU("server")},
	{"paginated list, CPU per item, all processes³", "ms", false, listCPU("")},
	{"RSS of the server holding the objects¹", "MiB", false, serverMemory},
	{"RSS of the database²", "MiB", false, storeMemory},
	{"kube-apiserver RSS", "MiB", false, memOf("kube-apiserver")},
	{"database size on disk²", "MiB", false, dbSize},
}

// stackOf is a run's stack mode; older results have none and were all
// measured on the api stack.
func stackOf(r *Run) string {
	if r.Stack == "" {
		return stackAPI
	}
	return r.Stack
}

func find(res *Results, system, stack string, n int) *Run {
	for _, r := range res.Runs {
		if r.System == system && stackOf(r) == stack && r.Objects == n {
			return r
		}
	}
	return nil
}

// stacksOf are the stack modes of a results file, in the order run.
func stacksOf(res *Results) []string {
	if len(res.Stacks) > 0 {
		return res.Stacks
	}
	return []string{stackAPI}
}

var stackTitles = map[string]string{
	stackAPI:  "API-only stack (PostgreSQL, etcd, kube-apiserver, sluice-apiserver)",
	stackFull: "full stack (also kube-controller-manager with its default controllers, kube-scheduler, kwok nodes)",
}

func markdown(res *Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "`%s`, %s, %d cores, %.0f GiB, %s.\n\n", res.Command, res.Date[:10], res.Machine.Cores,
		float64(res.Machine.MemoryBytes)/(1<<30), res.Machine.CPU)
	for _, stack := range stacksOf(res) {
		for _, n := range res.Objects {
			writeTable(&b, res, stack, n)
		}
	}
	b.WriteString("¹ sluice-apiserver for Sluice, kube-apiserver for the CRDs. ² PostgreSQL (PSS of all backends) for Sluice, etcd for the CRDs. " +
		"³ CPU time (user and system, from /proc) of every process of the stack and of the load generator, during the phase; each system has a stack of its own.\n")
	return b.String()
}

// writeTable writes one stack mode at one object count: Sluice beside each
// CRD baseline measured.
func writeTable(b *strings.Builder, res *Results, stack string, n int) {
	s := find(res, "sluice", stack, n)
	if s == nil {
		return
	}
	var crds []*Run
	for _, system := range allSystems[1:] {
		if c := find(res, system, stack, n); c != nil {
			crds = append(crds, c)
		}
	}
	if len(crds) == 0 {
		return
	}
	title := count(n) + " objects"
	if len(res.Stacks) > 0 {
		title += ", " + stackTitles[stack]
	}
	fmt.Fprintf(b, "#### %s\n\n", title)
	b.WriteString("| metric | Sluice |")
	for _, c := range crds {
		fmt.Fprintf(b, " %s |", label(c.System))
	}
	for _, c := range crds {
		fmt.Fprintf(b, " Sluice ÷ %s |", label(c.System))
	}
	b.WriteString(" better |\n|---|---:|" + strings.Repeat("---:|", 2*len(crds)) + "---|\n")
	runs := append([]*Run{s}, crds...)
	for _, m := range metrics {
		vals := make([]float64, len(runs))
		oks := make([]bool, len(runs))
		any := false
		for i, r := range runs {
			vals[i], oks[i] = m.get(r)
			any = any || oks[i]
		}
		if !any {
			continue
		}
		fmt.Fprintf(b, "| %s |", m.name)
		for i, r := range runs {
			fmt.Fprintf(b, " %s |", value(vals[i], oks[i], m.unit, r.Failure != ""))
		}
		for i := range crds {
			ratio := "–"
			if oks[0] && oks[i+1] && vals[i+1] != 0 {
				ratio = fmt.Sprintf("%.2f", vals[0]/vals[i+1])
			}
			fmt.Fprintf(b, " %s |", ratio)
		}
		better := "lower"
		if m.higher {
			better = "higher"
		}
		fmt.Fprintf(b, " %s |\n", better)
	}
	for _, r := range runs {
		switch {
		case r.Failure != "" && r.Stored > 0:
			fmt.Fprintf(b, "\n**%s failed** with %s of %s jobs stored: %s. Its figures above were measured then, so the ratios compare them with Sluice's at %s.\n",
				label(r.System), thousands(r.Stored), thousands(n), r.Failure, thousands(n))
		case r.Failure != "":
			fmt.Fprintf(b, "\n**%s failed**: %s\n", label(r.System), r.Failure)
		}
	}
	if s.Watch != nil {
		fmt.Fprintf(b, "\nWatch: %d writes/s targeted; achieved %.0f/s (Sluice)", s.Watch.TargetRate, s.Watch.AchievedRate)
		for _, c := range crds {
			if c.Watch != nil {
				fmt.Fprintf(b, ", %.0f/s (%s)", c.Watch.AchievedRate, label(c.System))
			}
		}
		b.WriteString(".")
		for _, r := range runs {
			if r.Watch != nil && r.Watch.Delivered < r.Watch.Expected {
				fmt.Fprintf(b, " %s delivered %d of %d events within 30s of the last write; %d of %d streams were closed by the server (first: %s).",
					label(r.System), r.Watch.Delivered, r.Watch.Expected, r.Watch.ClosedEarly, r.Watch.Watchers, r.Watch.FirstClose)
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "Object sizes (JSON): %d B, %d B (5 KiB class), %d B with a finished status.\n",
		s.ObjectBytes["1KiB"], s.ObjectBytes["5KiB"], s.ObjectBytes["1KiB+status"])
	if stack == stacksOf(res)[0] {
		for _, pg := range res.PGBench {
			if pg.Objects != n {
				continue
			}
			fmt.Fprintf(b, "PostgreSQL alone (pgbench, the same statements on the same server): %.0f inserts/s with 16 clients", pg.Insert.TPS)
			if v, ok := createRate("1KiB", 16)(s); ok {
				fmt.Fprintf(b, ", of which Sluice's creates reach %.0f%%", 100*v/pg.Insert.TPS)
			}
			fmt.Fprintf(b, "; the label-selected list in %.2f ms", pg.Select.LatencyMs)
			if v, ok := labelListP50(s); ok {
				fmt.Fprintf(b, " (%.1f ms through kube-apiserver and sluice-apiserver)", v)
			}
			b.WriteString(".\n")
		}
	}
	b.WriteString("\n")
}

// thousands writes n with thousands separators: 1,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func label(system string) string {
	switch system {
	case "crd":
		return "CRD (full schema)"
	case "crd-minimal":
		return "CRD (minimal schema)"
	}
	return "Sluice"
}

// value formats a cell; a missing value is "failed" when its system failed
// and "–" when it does not apply (a field selector on the minimal CRDs, a
// process the stack does not run).
func value(v float64, ok bool, unit string, failed bool) string {
	if !ok {
		if failed {
			return "failed"
		}
		return "–"
	}
	switch {
	case unit == "/s":
		return fmt.Sprintf("%.0f/s", v)
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	default:
		return fmt.Sprintf("%.2f %s", v, unit)
	}
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// chartSeries are the (system, stack) pairs of a results file.
func chartSeries(res *Results) [][2]string {
	var out [][2]string
	for _, stack := range stacksOf(res) {
		for _, system := range allSystems {
			for _, r := range res.Runs {
				if r.System == system && stackOf(r) == stack {
					out = append(out, [2]string{system, stack})
					break
				}
			}
		}
	}
	return out
}

// chartPNG draws six panels against the object count, both systems in
// each: create rate, get, label-selected list, paginated full list and
// watch latencies, and the memory of the server holding the objects.
func chartPNG(res *Results) ([]byte, error) {
	panels := []struct {
		title, unit string
		get         func(*Run) (float64, bool)
	}{
		{"creates/s (16 clients)", "creates/s", createRate("1KiB", 16)},
		{"get p99", "ms", func(r *Run) (float64, bool) {
			return throughputOf(r.Gets, func(t *Throughput) float64 { return t.Latency.P99 })
		}},
		{"label-selected list (0.1%) p50", "ms", labelListP50},
		{"paginated full list, 500 per page", "s", paginatedTotal},
		{"watch delivery p99, 100 watchers", "ms", func(r *Run) (float64, bool) {
			if r.Watch == nil || r.Watch.Delivered == 0 {
				return 0, false
			}
			return r.Watch.Latency.P99, true
		}},
		{"RSS of sluice-apiserver / kube-apiserver", "MiB", serverMemory},
	}
	var plots [][]*plot.Plot
	row := []*plot.Plot{}
	for _, p := range panels {
		pl := plot.New()
		pl.Title.Text = p.title
		pl.X.Label.Text = "objects"
		pl.Y.Label.Text = p.unit
		pl.X.Scale = plot.LogScale{}
		var ticks []plot.Tick
		for _, n := range res.Objects {
			ticks = append(ticks, plot.Tick{Value: float64(n), Label: count(n)})
		}
		pl.X.Tick.Marker = plot.ConstantTicks(ticks)
		// The whole range of counts, whether or not a system has a value at
		// each: a log axis needs a positive range even for an empty panel.
		pl.X.Min, pl.X.Max = float64(slices.Min(res.Objects))/1.25, float64(slices.Max(res.Objects))*1.25
		pl.Legend.Top = true
		pl.Y.Min = 0
		var args []any
		for _, series := range chartSeries(res) {
			system, stack := series[0], series[1]
			var xys plotter.XYs
			for _, n := range res.Objects {
				if r := find(res, system, stack, n); r != nil {
					if v, ok := p.get(r); ok && !math.IsNaN(v) {
						// A run that stopped on the way was measured with
						// fewer objects: plot it where it stopped.
						x := float64(n)
						if r.Failure != "" && r.Stored > 0 && r.Stored < n {
							x = float64(r.Stored)
						}
						xys = append(xys, plotter.XY{X: x, Y: v})
					}
				}
			}
			if len(xys) > 0 {
				name := label(system)
				if len(res.Stacks) > 1 {
					name += ", " + stack
				}
				args = append(args, name, xys)
			}
		}
		if len(args) > 0 {
			if err := plotutil.AddLinePoints(pl, args...); err != nil {
				return nil, err
			}
			pl.Y.Max *= 1.25 // room for the legend above the highest point
		} else {
			pl.Title.Text += " (no data)"
			pl.Y.Max = 1
		}
		row = append(row, pl)
		if len(row) == 2 {
			plots = append(plots, row)
			row = []*plot.Plot{}
		}
	}
	img := vgimg.New(12*vg.Inch, 13*vg.Inch)
	dc := draw.New(img)
	canvases := plot.Align(plots, draw.Tiles{Rows: len(plots), Cols: 2, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}, dc)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
