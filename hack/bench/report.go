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

// serverMemory is the memory of the server that holds the objects:
// sluice-apiserver for Sluice, kube-apiserver for the CRDs.
func serverMemory(r *Run) (float64, bool) {
	name := "sluice-apiserver"
	if r.System == "crd" {
		name = "kube-apiserver"
	}
	return memOf(name)(r)
}

// storeMemory is the memory of the database: PostgreSQL or etcd.
func storeMemory(r *Run) (float64, bool) {
	name := "postgres"
	if r.System == "crd" {
		name = "etcd"
	}
	return memOf(name)(r)
}

func dbSize(r *Run) (float64, bool) {
	name := "postgres"
	if r.System == "crd" {
		name = "etcd"
	}
	v, ok := r.DBBytes[name]
	return float64(v) / (1 << 20), ok
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
	{"RSS of the server holding the objects¹", "MiB", false, serverMemory},
	{"RSS of the database²", "MiB", false, storeMemory},
	{"kube-apiserver RSS", "MiB", false, memOf("kube-apiserver")},
	{"database size on disk²", "MiB", false, dbSize},
}

func find(res *Results, system string, n int) *Run {
	for _, r := range res.Runs {
		if r.System == system && r.Objects == n {
			return r
		}
	}
	return nil
}

func markdown(res *Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "`%s`, %s, %d cores, %.0f GiB, %s.\n\n", res.Command, res.Date[:10], res.Machine.Cores,
		float64(res.Machine.MemoryBytes)/(1<<30), res.Machine.CPU)
	for _, n := range res.Objects {
		s, c := find(res, "sluice", n), find(res, "crd", n)
		if s == nil || c == nil {
			continue
		}
		fmt.Fprintf(&b, "#### %s objects\n\n", count(n))
		b.WriteString("| metric | Sluice | CRD | Sluice ÷ CRD | better |\n|---|---:|---:|---:|---|\n")
		for _, m := range metrics {
			sv, sok := m.get(s)
			cv, cok := m.get(c)
			if !sok && !cok {
				continue
			}
			ratio := "–"
			if sok && cok && cv != 0 {
				ratio = fmt.Sprintf("%.2f", sv/cv)
			}
			better := "lower"
			if m.higher {
				better = "higher"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", m.name, value(sv, sok, m.unit), value(cv, cok, m.unit), ratio, better)
		}
		for _, r := range []*Run{s, c} {
			switch {
			case r.Failure != "" && r.Stored > 0:
				fmt.Fprintf(&b, "\n**%s failed** with %s of %s jobs stored: %s. Its figures above were measured then, so the ratios compare them with %s's at %s.\n",
					label(r.System), thousands(r.Stored), thousands(n), r.Failure, label(other(r.System)), thousands(n))
			case r.Failure != "":
				fmt.Fprintf(&b, "\n**%s failed**: %s\n", label(r.System), r.Failure)
			}
		}
		if s.Watch != nil && c.Watch != nil {
			fmt.Fprintf(&b, "\nWatch: %d writes/s targeted; achieved %.0f/s (Sluice) and %.0f/s (CRD).",
				s.Watch.TargetRate, s.Watch.AchievedRate, c.Watch.AchievedRate)
			for _, r := range []*Run{s, c} {
				if r.Watch.Delivered < r.Watch.Expected {
					fmt.Fprintf(&b, " %s delivered %d of %d events within 30s of the last write; %d of %d streams were closed by the server (first: %s).",
						label(r.System), r.Watch.Delivered, r.Watch.Expected, r.Watch.ClosedEarly, r.Watch.Watchers, r.Watch.FirstClose)
				}
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Object sizes (JSON): %d B, %d B (5 KiB class), %d B with a finished status.\n",
			s.ObjectBytes["1KiB"], s.ObjectBytes["5KiB"], s.ObjectBytes["1KiB+status"])
		for _, pg := range res.PGBench {
			if pg.Objects != n {
				continue
			}
			fmt.Fprintf(&b, "PostgreSQL alone (pgbench, the same statements on the same server): %.0f inserts/s with 16 clients", pg.Insert.TPS)
			if v, ok := createRate("1KiB", 16)(s); ok {
				fmt.Fprintf(&b, ", of which Sluice's creates reach %.0f%%", 100*v/pg.Insert.TPS)
			}
			fmt.Fprintf(&b, "; the label-selected list in %.2f ms", pg.Select.LatencyMs)
			if v, ok := labelListP50(s); ok {
				fmt.Fprintf(&b, " (%.1f ms through kube-apiserver and sluice-apiserver)", v)
			}
			b.WriteString(".\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("¹ sluice-apiserver for Sluice, kube-apiserver for the CRDs. ² PostgreSQL (PSS of all backends) for Sluice, etcd for the CRDs.\n")
	return b.String()
}

func other(system string) string {
	if system == "crd" {
		return "sluice"
	}
	return "crd"
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
	if system == "crd" {
		return "CRD"
	}
	return "Sluice"
}

func value(v float64, ok bool, unit string) string {
	if !ok {
		return "failed"
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
		for _, system := range []string{"sluice", "crd"} {
			var xys plotter.XYs
			for _, n := range res.Objects {
				if r := find(res, system, n); r != nil {
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
				args = append(args, label(system), xys)
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
