package main

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/superstep/superstep/bench/webload"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// stat is median, min and max of a figure over runs.
type stat struct{ med, min, max float64 }

func summarize(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{m, s[0], s[len(s)-1]}
}

// group is the runs of one workload, size, mode and worker count.
type group struct {
	workload, size, mode string
	workers              int
	runs                 []Result
}

func (g *group) stat(f func(Result) float64) stat {
	var xs []float64
	for _, r := range g.runs {
		xs = append(xs, f(r))
	}
	return summarize(xs)
}

func groups(runs []Result) []*group {
	var gs []*group
	idx := map[string]*group{}
	for _, r := range runs {
		k := fmt.Sprintf("%s/%s/%s/%d", r.Workload, r.Size, r.Mode, r.Workers)
		g := idx[k]
		if g == nil {
			g = &group{workload: r.Workload, size: r.Size, mode: r.Mode, workers: r.Workers}
			idx[k] = g
			gs = append(gs, g)
		}
		g.runs = append(g.runs, r)
	}
	return gs
}

// find is the group of wl, mode and workers (0: any) at wl's largest
// input size: the targets and the per-workload plots speak of that size.
func find(gs []*group, wl, mode string, workers int) *group {
	return findAt(gs, wl, largestSize(gs, wl), mode, workers)
}

// findAt is the group of wl at one size, mode and workers (0: any).
func findAt(gs []*group, wl, size, mode string, workers int) *group {
	for _, g := range gs {
		if g.workload == wl && g.size == size && g.mode == mode && (workers == 0 || g.workers == workers) {
			return g
		}
	}
	return nil
}

// sizesOf is wl's --size entries in run order.
func sizesOf(gs []*group, wl string) []string {
	var out []string
	for _, g := range gs {
		if g.workload == wl && !slices.Contains(out, g.size) {
			out = append(out, g.size)
		}
	}
	return out
}

// largestSize is the size entry of wl with the most input bytes.
func largestSize(gs []*group, wl string) string {
	best, bytes := "", int64(-1)
	for _, g := range gs {
		if g.workload == wl && g.mode != ModeSearch && g.runs[0].InputBytes > bytes {
			best, bytes = g.size, g.runs[0].InputBytes
		}
	}
	if bytes < 0 {
		for _, g := range gs {
			if g.workload == wl {
				return g.size
			}
		}
	}
	return best
}

func wall(r Result) float64 { return r.WallS }

// machine describes this machine in one line.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	mem := "unknown memory"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				mem = fmt.Sprintf("%.1f GiB memory", kb/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s, %s, %s/%s", runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func mib(b float64) string {
	if b < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", b/(1<<20))
}

// writeReport writes report.md, results.csv, results.json and one SVG plot
// per workload under cfg.Out.
func writeReport(cfg Config, runs []Result) error {
	gs := groups(runs)
	if err := writeJSON(filepath.Join(cfg.Out, "results.json"), runs); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(cfg.Out, "results.csv"), runs); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Superstep benchmark report\n\n")
	fmt.Fprintf(&b, "Machine: %s.\n\n", machine())
	fmt.Fprintf(&b, "Size `%s`, %d measured run(s) after one warm-up per row; every output validated before its time counts. "+
		"Times are wall seconds, median [min–max]. COST = median Superstep time / median single-thread baseline time. "+
		"CPU = user+system seconds of the harness and its children (separate-process mode: plus the coordinator and workers, from /proc/PID/stat).\n\n",
		cfg.Size, cfg.Runs)
	var rssNotes []string
	for _, wl := range cfg.Workloads {
		fmt.Fprintf(&b, "## %s\n\n", wl)
		sizes := sizesOf(gs, wl)
		for _, size := range sizes {
			if len(sizes) > 1 {
				fmt.Fprintf(&b, "### size %s\n\n", size)
			}
			writeTable(&b, gs, wl, size, &rssNotes)
		}
		if wl == "pagerank" {
			writePagerank(&b, gs)
		}
		if wl == "webindex" {
			writeWebindex(&b, gs)
		}
		if wl == "supersteps" {
			writeSupersteps(&b, gs)
		}
		if wl == "shuffle" {
			fmt.Fprintf(&b, "\nShuffle: baseline is one raw loopback TCP copy of the map output's bytes; embedded and process fetch the same partition "+
				"from worker 0 with FetchPartition (gRPC streaming), as a reducer does. The in-process executor has no transport, so there is no local row.\n")
		}
		fmt.Fprintf(&b, "\n![%s: time vs workers](%s.svg)\n\n", wl, wl)
		if err := plotWorkload(filepath.Join(cfg.Out, wl+".svg"), wl, gs); err != nil {
			return err
		}
		if len(sizes) > 1 {
			writeThroughput(&b, gs, wl)
			fmt.Fprintf(&b, "\n![%s: throughput vs input size](%s-throughput.svg)\n\n", wl, wl)
			if err := plotThroughput(filepath.Join(cfg.Out, wl+"-throughput.svg"), wl, gs); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(&b, "Peak RSS sources:\n\n")
	for _, n := range rssNotes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	fmt.Fprintf(&b, "\n## Targets\n\n")
	for _, t := range targets(gs) {
		fmt.Fprintf(&b, "- %s\n", t)
	}
	return os.WriteFile(filepath.Join(cfg.Out, "report.md"), []byte(b.String()), 0o644)
}

// writeTable writes the main table of wl at one size: per mode and worker
// count, wall time, COST against the baseline at the same size, CPU, peak
// RSS, rates and shuffle bytes. It adds each mode's RSS source to notes.
func writeTable(b *strings.Builder, gs []*group, wl, size string, notes *[]string) {
	base := findAt(gs, wl, size, ModeBaseline, 0)
	for _, g := range gs {
		if g.workload == wl && g.size == size {
			r := g.runs[0]
			fmt.Fprintf(b, "Input: %d records, %.1f MiB.\n\n", r.Records, float64(r.InputBytes)/(1<<20))
			break
		}
	}
	fmt.Fprintf(b, "| mode | workers | wall s (median [min–max]) | COST | CPU s | peak RSS | records/s | input MB/s | shuffle raw | shuffle compressed |\n")
	fmt.Fprintf(b, "|---|---|---|---|---|---|---|---|---|---|\n")
	for _, g := range gs {
		if g.workload != wl || g.size != size || g.mode == ModeSearch {
			continue
		}
		w := g.stat(wall)
		cost := "—"
		if base != nil && g.mode != ModeBaseline {
			cost = fmt.Sprintf("%.2f", w.med/base.stat(wall).med)
		}
		fmt.Fprintf(b, "| %s | %s | %.3f [%.3f–%.3f] | %s | %.2f | %s | %.0f | %.1f | %s | %s |\n",
			g.mode, g.workersLabel(), w.med, w.min, w.max, cost,
			g.stat(func(r Result) float64 { return r.UserS + r.SysS }).med,
			mib(g.stat(func(r Result) float64 { return float64(r.PeakRSS) }).med),
			g.stat(func(r Result) float64 { return r.RecordsPerS }).med,
			g.stat(func(r Result) float64 { return r.MBPerS }).med,
			mib(g.stat(func(r Result) float64 { return float64(r.ShuffleRaw) }).med),
			mib(g.stat(func(r Result) float64 { return float64(r.ShuffleBytes) }).med))
		note := fmt.Sprintf("%s: %s", g.mode, g.runs[0].RSSSource)
		if !slices.Contains(*notes, note) {
			*notes = append(*notes, note)
		}
	}
}

func (g *group) workersLabel() string {
	if g.mode == ModeBaseline {
		return "1 thread"
	}
	return strconv.Itoa(g.workers)
}

// throughput is the rate the throughput table and plot show for wl:
// records/s for terasort (its size is a record count), input MB/s else.
func throughput(wl string) (unit string, rate func(Result) float64, size func(Result) float64) {
	if wl == "terasort" {
		return "records/s", func(r Result) float64 { return r.RecordsPerS }, func(r Result) float64 { return float64(r.Records) }
	}
	return "input MB/s", func(r Result) float64 { return r.MBPerS }, func(r Result) float64 { return float64(r.InputBytes) / (1 << 20) }
}

// series is one line of the throughput plot: a mode at a worker count.
type series struct {
	mode    string
	workers int
}

func (s series) String() string {
	if s.mode == ModeBaseline {
		return "baseline (1 thread)"
	}
	if s.workers == 1 {
		return s.mode + ", 1 worker"
	}
	return fmt.Sprintf("%s, %d workers", s.mode, s.workers)
}

// seriesOf is wl's modes and worker counts in report order.
func seriesOf(gs []*group, wl string) []series {
	var out []series
	for _, g := range gs {
		s := series{g.mode, g.workers}
		if g.workload == wl && g.mode != ModeSearch && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// writeThroughput writes wl's throughput table: one row per input size,
// one column per mode and worker count, the median rate in each cell.
func writeThroughput(b *strings.Builder, gs []*group, wl string) {
	unit, rate, sizeOf := throughput(wl)
	sizeUnit, prec := "input MiB", 1
	if wl == "terasort" {
		sizeUnit, prec = "records", 0
	}
	ss := seriesOf(gs, wl)
	fmt.Fprintf(b, "\nThroughput against input size (%s, median of the runs):\n\n| size | %s |", unit, sizeUnit)
	for _, s := range ss {
		fmt.Fprintf(b, " %s |", s)
	}
	fmt.Fprintf(b, "\n|---|---|%s\n", strings.Repeat("---|", len(ss)))
	for _, size := range sizesOf(gs, wl) {
		var in float64
		var cells []string
		for _, s := range ss {
			g := findAt(gs, wl, size, s.mode, s.workers)
			if g == nil {
				cells = append(cells, "—")
				continue
			}
			in = sizeOf(g.runs[0])
			cells = append(cells, strconv.FormatFloat(g.stat(rate).med, 'f', prec, 64))
		}
		fmt.Fprintf(b, "| %s | %.4g | %s |\n", size, in, strings.Join(cells, " | "))
	}
}

// plotThroughput draws wl's median throughput against input size (log
// scale), one line per mode and worker count.
func plotThroughput(path, wl string, gs []*group) error {
	unit, rate, sizeOf := throughput(wl)
	p := plot.New()
	p.Title.Text = wl + ": throughput vs input size (median)"
	p.X.Label.Text = "input MiB (log scale)"
	if wl == "terasort" {
		p.X.Label.Text = "records (log scale)"
	}
	p.Y.Label.Text = unit
	p.Y.Min = 0
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	var top float64
	for i, s := range seriesOf(gs, wl) {
		var pts plotter.XYs
		for _, size := range sizesOf(gs, wl) {
			if g := findAt(gs, wl, size, s.mode, s.workers); g != nil {
				x := sizeOf(g.runs[0])
				pts = append(pts, plotter.XY{X: x, Y: g.stat(rate).med})
				if !slices.ContainsFunc(ticks, func(t plot.Tick) bool { return t.Value == x }) {
					ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', 4, 64)})
				}
			}
		}
		if len(pts) == 0 {
			continue
		}
		slices.SortFunc(pts, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		for _, pt := range pts {
			top = max(top, pt.Y)
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, sc.Color = plotutil.Color(i), plotutil.Color(i)
		sc.Shape = plotutil.Shape(i)
		if s.mode == ModeBaseline {
			l.Color, sc.Color = color.Black, color.Black
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l, sc)
		p.Legend.Add(s.String(), l, sc)
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Max = 1.3 * top // room for the legend
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// targets states each performance target, whether it is met and by how much.
func targets(gs []*group) []string {
	var out []string
	verdict := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**missed**"
	}
	if base, ss := find(gs, "wordcount", ModeBaseline, 0), find(gs, "wordcount", ModeEmbedded, 2); base != nil && ss != nil {
		c := ss.stat(wall).med / base.stat(wall).med
		out = append(out, fmt.Sprintf("wordcount COST <= 1.0 at 2 workers (embedded cluster): COST %.2f, %s (%+.0f%% vs target)", c, verdict(c <= 1), (c-1)*100))
	} else {
		out = append(out, "wordcount COST <= 1.0 at 2 workers: not measured in this run")
	}
	for _, wl := range []string{"wordcount", "terasort"} {
		for _, n := range []int{1, 2} {
			l, e := find(gs, wl, ModeLocal, n), find(gs, wl, ModeEmbedded, n)
			if l == nil || e == nil {
				continue
			}
			o := e.stat(wall).med/l.stat(wall).med - 1
			out = append(out, fmt.Sprintf("gRPC overhead <= 10%% (%s, %d workers, embedded vs in-process): %+.1f%%, %s (by %.1f points)", wl, n, o*100, verdict(o <= 0.10), (o-0.10)*100))
		}
	}
	if base, ss := find(gs, "pagerank", ModeBaseline, 0), find(gs, "pagerank", ModeLocal, 2); base != nil && ss != nil {
		c := ss.stat(wall).med / base.stat(wall).med
		out = append(out, fmt.Sprintf("pagerank Superstep/baseline <= 1.0 at 2 workers (in-process, 2 slots): %.2f, %s (%+.0f%% vs target)", c, verdict(c <= 1), (c-1)*100))
	}
	if base, ss := find(gs, "webindex", ModeBaseline, 0), find(gs, "webindex", ModeLocal, 2); base != nil && ss != nil {
		c := ss.stat(wall).med / base.stat(wall).med
		out = append(out, fmt.Sprintf("webindex Superstep/baseline at 2 workers (in-process, 2 slots): %.2f (no target set; below 1.0 beats one thread)", c))
	}
	if s := find(gs, "webindex", ModeSearch, 0); s != nil {
		p50, p99 := s.runs[0].P50Ms, s.runs[0].P99Ms
		out = append(out, fmt.Sprintf("webindex search p50 <= 0.1 ms: %.3f ms, %s (%.1fx the target)", p50, verdict(p50 <= 0.1), p50/0.1))
		out = append(out, fmt.Sprintf("webindex search p99 <= 0.5 ms: %.3f ms, %s (%.1fx the target)", p99, verdict(p99 <= 0.5), p99/0.5))
	}
	for _, n := range []int{1, 2} {
		if g := find(gs, "supersteps", ModeEmbedded, n); g != nil {
			ms := g.stat(wall).med * 1000 / Supersteps
			out = append(out, fmt.Sprintf("fixed cost per superstep <= 2 ms (embedded, %d workers): %.2f ms, %s (%.1fx the target)", n, ms, verdict(ms <= 2), ms/2))
		}
	}
	if base := find(gs, "shuffle", ModeBaseline, 0); base != nil {
		for _, m := range []string{ModeEmbedded, ModeProcess} {
			g := find(gs, "shuffle", m, 0)
			if g == nil {
				continue
			}
			f := base.stat(wall).med / g.stat(wall).med
			out = append(out, fmt.Sprintf("shuffle >= 50%% of raw TCP (%s): %.0f%% of TCP throughput, %s (%+.0f points)", m, f*100, verdict(f >= 0.5), (f-0.5)*100))
		}
	} else {
		out = append(out, "shuffle >= 50% of raw TCP: not measured in this run")
	}
	// TLS (--tls): the cost of mutual TLS and tokens, same run, medians:
	// issue 12's budgets are 10% of wordcount's time and 25% of the
	// shuffle's throughput (a throughput lost, 1 - plain/TLS time).
	for _, c := range []struct {
		wl         string
		budget     float64
		throughput bool
	}{{"wordcount", 0.10, false}, {"shuffle", 0.25, true}} {
		for _, m := range [][2]string{{ModeEmbedded, ModeEmbeddedTLS}, {ModeProcess, ModeProcessTLS}} {
			for _, n := range []int{0, 1, 2} {
				if c.wl == "shuffle" && n != 0 || c.wl != "shuffle" && n == 0 {
					continue
				}
				plain, tl := find(gs, c.wl, m[0], n), find(gs, c.wl, m[1], n)
				if plain == nil || tl == nil {
					continue
				}
				p, q := plain.stat(wall), tl.stat(wall)
				cost, what := q.med/p.med-1, "time"
				if c.throughput {
					cost, what = 1-p.med/q.med, fmt.Sprintf("of the throughput (time %+.1f%%)", (q.med/p.med-1)*100)
				}
				out = append(out, fmt.Sprintf("TLS costs <= %.0f%% (%s, %s, %d workers): %.1f%% %s (plain %.3fs [%.3f–%.3f], TLS %.3fs [%.3f–%.3f], medians of %d and %d runs), %s",
					c.budget*100, c.wl, m[0], plain.workers, cost*100, what, p.med, p.min, p.max, q.med, q.min, q.max, len(plain.runs), len(tl.runs), verdict(cost <= c.budget)))
			}
		}
	}
	return out
}

// writePagerank writes the pagerank table: each mode's ratio to the
// baseline end to end (read, 20 iterations, write) and to its 20 iterations
// alone, peak RSS and messages per second.
func writePagerank(b *strings.Builder, gs []*group) {
	base := find(gs, "pagerank", ModeBaseline, 0)
	if base == nil {
		return
	}
	bw := base.stat(wall).med
	compute := base.stat(func(r Result) float64 { return r.ComputeS }).med
	read := base.stat(func(r Result) float64 { return r.ReadS }).med
	msgs := base.runs[0].Messages
	fmt.Fprintf(b, "\nPageRank, %d iterations, %d messages (distinct edges x iterations: bsp.Result does not carry the tasks' "+
		"IterReport.Messages, so this is the count before map-side combining). Baseline phases (median): read %.3f s, "+
		"compute %.3f s, the rest writing the ranks.\n\n", pagerankIters, msgs, read, compute)
	fmt.Fprintf(b, "| mode | workers | wall s | / baseline (read+compute+write) | / baseline compute only | peak RSS | messages/s |\n")
	fmt.Fprintf(b, "|---|---|---|---|---|---|---|\n")
	for _, g := range gs {
		if g.workload != "pagerank" {
			continue
		}
		w := g.stat(wall).med
		workers := strconv.Itoa(g.workers)
		if g.mode == ModeBaseline {
			workers = "1 thread"
		}
		fmt.Fprintf(b, "| %s | %s | %.3f | %.2f | %.2f | %s | %.3g |\n", g.mode, workers, w, w/bw, w/compute,
			mib(g.stat(func(r Result) float64 { return float64(r.PeakRSS) }).med),
			g.stat(func(r Result) float64 { return r.MessagesPerS }).med)
	}
	if compute > 0 {
		fmt.Fprintf(b, "| baseline, compute only | 1 thread | %.3f | %.2f | 1.00 | — | %.3g |\n", compute, compute/bw, float64(msgs)/compute)
	}
}

// writeWebindex writes the webindex table: the rates over the compressed
// input and over its HTML, the index size against both, and the search
// latency.
func writeWebindex(b *strings.Builder, gs []*group) {
	base := find(gs, "webindex", ModeBaseline, 0)
	var html, comp int64
	for _, g := range gs {
		if g.workload == "webindex" && g.mode != ModeSearch {
			html, comp = g.runs[0].HTMLBytes, g.runs[0].InputBytes
			break
		}
	}
	if html > 0 {
		fmt.Fprintf(b, "\nCorpus: %.1f MiB compressed, %.1f MiB of HTML (%.1fx). The baseline is `baseline.WebIndex`: one goroutine reads, "+
			"extracts, ranks (power iteration) and tokenizes into a map from term to postings, and writes one terms file.\n\n",
			float64(comp)/(1<<20), float64(html)/(1<<20), float64(html)/float64(max(comp, 1)))
		fmt.Fprintf(b, "| mode | workers | wall s | Superstep/baseline | peak RSS | compressed MB/s | HTML MB/s | index size | index / compressed | index / HTML |\n")
		fmt.Fprintf(b, "|---|---|---|---|---|---|---|---|---|---|\n")
		for _, g := range gs {
			if g.workload != "webindex" || g.mode == ModeSearch {
				continue
			}
			w := g.stat(wall).med
			ratio, workers := "—", strconv.Itoa(g.workers)
			if g.mode == ModeBaseline {
				workers = "1 thread"
			} else if base != nil {
				ratio = fmt.Sprintf("%.2f", w/base.stat(wall).med)
			}
			ib := g.stat(func(r Result) float64 { return float64(r.IndexBytes) }).med
			fmt.Fprintf(b, "| %s | %s | %.3f | %s | %s | %.1f | %.1f | %s | %.2f | %.2f |\n", g.mode, workers, w, ratio,
				mib(g.stat(func(r Result) float64 { return float64(r.PeakRSS) }).med),
				g.stat(func(r Result) float64 { return r.MBPerS }).med, g.stat(func(r Result) float64 { return r.HTMLMBPerS }).med,
				mib(ib), ib/float64(comp), ib/float64(html))
		}
	}
	if s := find(gs, "webindex", ModeSearch, 0); s != nil {
		r := s.runs[0]
		fmt.Fprintf(b, "\nSearch latency (index built in-process with 2 slots; `search.Searcher.Search`, top 10 with snippets; %d queries drawn "+
			"from the titles with seed %d, %d of them two-word phrases; one warm-up pass, then each query timed once): "+
			"p50 %.3f ms, p99 %.3f ms, max %.3f ms (targets: p50 <= 0.1 ms, p99 <= 0.5 ms).\n",
			r.Queries, webload.Seed, webload.PhraseQueries, r.P50Ms, r.P99Ms, r.MaxMs)
	}
}

func writeJSON(path string, runs []Result) error {
	if runs == nil {
		runs = []Result{}
	}
	b, err := json.MarshalIndent(runs, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func writeCSV(path string, runs []Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"workload", "size", "mode", "workers", "run", "records", "input_bytes", "wall_s", "user_s", "sys_s",
		"peak_rss_bytes", "records_per_s", "input_mb_per_s", "shuffle_raw_bytes", "shuffle_compressed_bytes", "validated", "peak_rss_source"})
	ff := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	for _, r := range runs {
		w.Write([]string{r.Workload, r.Size, r.Mode, strconv.Itoa(r.Workers), strconv.Itoa(r.Run), strconv.FormatInt(r.Records, 10),
			strconv.FormatInt(r.InputBytes, 10), ff(r.WallS), ff(r.UserS), ff(r.SysS), strconv.FormatInt(r.PeakRSS, 10),
			ff(r.RecordsPerS), ff(r.MBPerS), strconv.FormatInt(r.ShuffleRaw, 10), strconv.FormatInt(r.ShuffleBytes, 10),
			strconv.FormatBool(r.Validated), r.RSSSource})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// plotWorkload draws median wall time against workers, one line per mode,
// with the single-thread baseline as a horizontal line.
func plotWorkload(path, wl string, gs []*group) error {
	p := plot.New()
	p.Title.Text = wl + ": wall time vs workers (median)"
	p.X.Label.Text = "workers"
	p.Y.Label.Text = "seconds"
	p.Y.Min = 0
	size := largestSize(gs, wl)
	if len(sizesOf(gs, wl)) > 1 {
		p.Title.Text += ", size " + size
	}
	maxW := 1
	for _, g := range gs {
		if g.workload == wl && g.size == size {
			maxW = max(maxW, g.workers)
		}
	}
	p.X.Min, p.X.Max = 0.5, float64(maxW)+0.5
	i := 0
	for _, mode := range []string{ModeLocal, ModeEmbedded, ModeProcess} {
		var pts plotter.XYs
		for _, g := range gs {
			if g.workload == wl && g.size == size && g.mode == mode {
				pts = append(pts, plotter.XY{X: float64(g.workers), Y: g.stat(wall).med})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, s.Color = plotutil.Color(i), plotutil.Color(i)
		s.Shape = plotutil.Shape(i)
		p.Add(l, s)
		p.Legend.Add(mode, l, s)
		i++
	}
	if base := find(gs, wl, ModeBaseline, 0); base != nil {
		y := base.stat(wall).med
		bl := plotter.NewFunction(func(float64) float64 { return y })
		bl.Color = color.Black
		bl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(bl)
		p.Legend.Add("single-thread baseline", bl)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}

// writeSupersteps writes the fixed cost of a superstep: each mode's median
// wall time of the ten-superstep job divided by ten.
func writeSupersteps(b *strings.Builder, gs []*group) {
	fmt.Fprintf(b, "\nFixed cost per superstep (a job of %d trivial supersteps, %d records; wall / %d; target <= 2 ms on the embedded cluster):\n\n",
		Supersteps, superstepsRecords, Supersteps)
	fmt.Fprintf(b, "| mode | workers | ms per superstep (median [min–max]) |\n|---|---|---|\n")
	for _, g := range gs {
		if g.workload != "supersteps" || g.mode == ModeBaseline {
			continue
		}
		st := g.stat(wall)
		fmt.Fprintf(b, "| %s | %d | %.2f [%.2f–%.2f] |\n", g.mode, g.workers, st.med*1000/Supersteps, st.min*1000/Supersteps, st.max*1000/Supersteps)
	}
}
