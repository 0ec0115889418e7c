// Command benchtable reads `go test -bench` output on stdin and prints one
// table: every metric of every benchmark, the median over its runs (-count),
// and the target where there is one. The raw output stays the input
// of benchstat; this is only the summary `make bench` ends with.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// targets are the targets, by benchmark (without the -N suffix)
// and unit.
var targets = map[string]string{
	"BenchmarkAdmission/annotated ns/op":                                      "< 150 µs, <= 2x noop",
	"BenchmarkAdmission/annotated allocs/op":                                  "< 1,000",
	"BenchmarkAdmission/unannotated ns/op":                                    "near noop",
	"BenchmarkSidecarFootprint binary-MB":                                     "< 15 MB",
	"BenchmarkSidecarFootprint idle-RSS-MiB":                                  "< 12 MiB",
	"BenchmarkSidecarFootprint 50rps-RSS-MiB":                                 "< 16 MiB",
	"BenchmarkSidecarFootprint redis-cmds/probe":                              "1 round trip",
	"BenchmarkServeTLS/shared-cores admissions/s":                             ">= 3,000 (generator on the same cores)",
	"BenchmarkServeTLS/shared-cores errors":                                   "0",
	"BenchmarkServeTLS/shared-cores RSS-MiB":                                  "< 50 MiB",
	"BenchmarkServeTLS/server-one-core admissions/s":                          ">= 1,500 (3,000 on 2 cores)",
	"BenchmarkServeTLS/server-one-core errors":                                "0",
	"BenchmarkServeTLS/server-one-core RSS-MiB":                               "< 50 MiB",
	"BenchmarkServeTLS/paced-1500-per-s-one-core p99-ms":                      "< 5 ms",
	"BenchmarkServeTLS/paced-1500-per-s-one-core errors":                      "0",
	"BenchmarkServeTLS/paced-1500-per-s-one-core RSS-MiB":                     "< 50 MiB",
	"BenchmarkServeTLS/noop-server-one-core admissions/s":                     "baseline: no-op webhook",
	"BenchmarkServeTLS/noop-paced-1500-per-s-one-core p99-ms":                 "baseline: no-op webhook",
	"BenchmarkAPIServerPodCreate ratio":                                       "< 1.15",
	"BenchmarkAPIServerPodCreate noop-ratio":                                  "baseline: any webhook",
	"BenchmarkAPIServerPodCreate replay-ratio":                                "baseline: our patch, not computed",
	"BenchmarkAPIServerPodCreate unannotated-ratio":                           "~1: not sent to the webhook",
	"BenchmarkAPIServerPodCreate policy-ratio":                                "policy mode: no webhook at all",
	"BenchmarkAPIServerPodCreate policy-over-webhook-ratio":                   "policy mode ÷ webhook mode",
	"BenchmarkAPIServerPodCreate policy-unannotated-ratio":                    "policies evaluated (no matchConditions)",
	"BenchmarkAPIServerPodCreate policy-mutating-mean-ms":                     "the API server's own timing of the CEL",
	"BenchmarkDetectionAndDrain/stuck-heartbeat beat-to-503-s":                "timeout (10 s) + probe period",
	"BenchmarkDetectionAndDrain/prestop-after-last-job job-end-to-prestop-s":  "< 1 s + 1 heartbeat (5 s)",
	"BenchmarkDetectionAndDrain/idle-stop stop-s":                             "< 5 s",
	"BenchmarkDetectionAndDrain/redis-drain-job-ends-2s prestop-to-drained-s": "before the ack rule: 7.68 s",
	"BenchmarkDetectionAndDrain/redis-drain-job-ends-2s longest-s":            "before the ack rule: 9.73 s",
	"BenchmarkDetectionAndDrain/plain-sigterm-busy stop-s":                    "baseline (25-30 s)",
}

type row struct {
	bench, unit string
	values      []float64
}

func main() {
	rows, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "benchmark\tmetric\tmedian\truns\ttarget")
	medians := map[string]float64{}
	for _, r := range rows {
		medians[r.bench+" "+r.unit] = median(r.values)
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", r.bench, r.unit, format(median(r.values), r.unit), len(r.values), targets[r.bench+" "+r.unit])
	}
	// The ratio the issue sets, from the same run's medians, on wall time
	// and on CPU time (steadier when other work shares the cores).
	for _, unit := range []string{"ns/op", "cpu-ns/op"} {
		noop, ok := medians["BenchmarkAdmission/noop "+unit]
		if !ok || noop == 0 {
			continue
		}
		for _, path := range []string{"unannotated", "annotated"} {
			if v, ok := medians["BenchmarkAdmission/"+path+" "+unit]; ok {
				fmt.Fprintf(w, "BenchmarkAdmission/%s\t%s x noop\t%.2f\t\t%s\n", path, unit, v/noop, map[string]string{"annotated": "<= 2", "unannotated": "~1"}[path])
			}
		}
	}
	// serve pinned to one core is saturated: twice that is what two cores
	// of serve admit when the load comes from elsewhere, as it does from an
	// API server. Derived, not measured: this machine has no third core.
	if v, ok := medians["BenchmarkServeTLS/server-one-core admissions/s"]; ok {
		fmt.Fprintf(w, "BenchmarkServeTLS/server-one-core\tadmissions/s x 2 cores (derived)\t%s\t\t>= 3,000\n", format(2*v, "admissions/s"))
	}
	// serve against the no-op webhook on the same server stack.
	for _, m := range []string{"server-one-core server-cpu-us/admission", "paced-1500-per-s-one-core server-cpu-us/admission", "paced-1500-per-s-one-core p99-ms"} {
		ours, okOurs := medians["BenchmarkServeTLS/"+m]
		noop, okNoop := medians["BenchmarkServeTLS/noop-"+m]
		if okOurs && okNoop && noop > 0 {
			bench, unit, _ := strings.Cut(m, " ")
			fmt.Fprintf(w, "BenchmarkServeTLS/%s\t%s x noop\t%.2f\t\t\n", bench, unit, ours/noop)
		}
	}
	w.Flush()
}

// parse collects the metrics of each benchmark line, in order of first
// appearance: "BenchmarkX-2  N  v1 unit1  v2 unit2 ...".
func parse(in io.Reader) ([]*row, error) {
	var rows []*row
	byKey := map[string]*row{}
	s := bufio.NewScanner(in)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		bench := fields[0]
		if i := strings.LastIndexByte(bench, '-'); i > 0 {
			bench = bench[:i] // the GOMAXPROCS suffix
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			key := bench + " " + fields[i+1]
			r, ok := byKey[key]
			if !ok {
				r = &row{bench: bench, unit: fields[i+1]}
				byKey[key] = r
				rows = append(rows, r)
			}
			r.values = append(r.values, v)
		}
	}
	return rows, s.Err()
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func format(v float64, unit string) string {
	if unit == "ns/op" || unit == "cpu-ns/op" {
		switch {
		case v >= 1e9:
			return fmt.Sprintf("%.2f s", v/1e9)
		case v >= 1e6:
			return fmt.Sprintf("%.2f ms", v/1e6)
		default:
			return fmt.Sprintf("%.0f µs", v/1e3)
		}
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
