// Command benchreport turns `go test -bench -benchmem` output into a
// markdown table with each benchmark's ratio to its baseline. It reads the
// output on stdin (or runs go test itself with -run), takes the median of
// the runs of each benchmark (± is the largest deviation of a run's ns/op
// from it), and compares every sub-benchmark with the
// Baseline sub-benchmark of the same top-level benchmark; a group without
// one is compared with BenchmarkEvent/Baseline, the baseline of the whole
// request path.
//
//	go test -run '^$' -bench . -benchmem -count 5 ./internal/bench | benchreport
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// mainBaseline is the baseline of a group that has none of its own.
const mainBaseline = "Event/Baseline"

func main() {
	run := flag.String("run", "", "run `go test` with these space-separated arguments instead of reading stdin")
	flag.Parse()
	in := io.Reader(os.Stdin)
	if *run != "" {
		cmd := exec.Command("go", append([]string{"test"}, strings.Fields(*run)...)...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			fail(err)
		}
		if err := cmd.Start(); err != nil {
			fail(err)
		}
		defer func() {
			if err := cmd.Wait(); err != nil {
				fail(err)
			}
		}()
		in = out
	}
	results, order, err := parse(in)
	if err != nil {
		fail(err)
	}
	if len(order) == 0 {
		fail(fmt.Errorf("no benchmark results in the input"))
	}
	fmt.Print(table(results, order))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchreport:", err)
	os.Exit(1)
}

// sample is one result line's figures.
type sample struct{ ns, bytes, allocs float64 }

// result is every run of one benchmark.
type result struct {
	runs []sample
}

// median returns the median of each figure over the runs, as benchstat
// reports: one run slowed by a noisy neighbour moves it little.
func (r *result) median() sample {
	pick := func(f func(sample) float64) float64 {
		xs := make([]float64, len(r.runs))
		for i, x := range r.runs {
			xs[i] = f(x)
		}
		sort.Float64s(xs)
		n := len(xs)
		if n%2 == 1 {
			return xs[n/2]
		}
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return sample{
		ns:     pick(func(s sample) float64 { return s.ns }),
		bytes:  pick(func(s sample) float64 { return s.bytes }),
		allocs: pick(func(s sample) float64 { return s.allocs }),
	}
}

// spread returns the largest relative deviation of a run's ns/op from the
// median.
func (r *result) spread() float64 {
	m := r.median().ns
	var d float64
	for _, x := range r.runs {
		d = math.Max(d, math.Abs(x.ns-m)/m)
	}
	return d
}

// parse reads benchmark lines: "BenchmarkName-N  iters  X ns/op  Y B/op  Z allocs/op".
func parse(in io.Reader) (map[string]*result, []string, error) {
	results := map[string]*result{}
	var order []string
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(os.Stderr, line) // go test's own output stays visible
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		var s sample
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				s.ns = v
			case "B/op":
				s.bytes = v
			case "allocs/op":
				s.allocs = v
			}
		}
		if s.ns == 0 {
			continue
		}
		r, ok := results[name]
		if !ok {
			r = &result{}
			results[name] = r
			order = append(order, name)
		}
		r.runs = append(r.runs, s)
	}
	return results, order, sc.Err()
}

// baselineOf returns the name of the baseline name is compared with, or ""
// when there is none in the input.
func baselineOf(name string, results map[string]*result) string {
	group, _, _ := strings.Cut(name, "/")
	if b := group + "/Baseline"; results[b] != nil {
		return b
	}
	if results[mainBaseline] != nil {
		return mainBaseline
	}
	return ""
}

func table(results map[string]*result, order []string) string {
	var b strings.Builder
	b.WriteString("| benchmark | runs | ns/op | ± | B/op | allocs/op | vs | ns ratio | B ratio | allocs ratio | allocs beyond |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n")
	for _, name := range order {
		r := results[name]
		m := r.median()
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.0f%% | %.0f | %.0f |", name, len(r.runs), m.ns, 100*r.spread(), m.bytes, m.allocs)
		base := baselineOf(name, results)
		if base == "" || base == name {
			b.WriteString(" | | | | |\n")
			continue
		}
		bm := results[base].median()
		fmt.Fprintf(&b, " %s | %s | %s | %s | %+.0f |\n", base, ratio(m.ns, bm.ns), ratio(m.bytes, bm.bytes), ratio(m.allocs, bm.allocs), m.allocs-bm.allocs)
	}
	return b.String()
}

func ratio(x, base float64) string {
	if base == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", x/base)
}
