package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where a benchmark ran.
func Machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, err := statusField(b, "MemTotal:"); err == nil {
			mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %d CPUs%s%s, %s %s/%s", cpu, runtime.NumCPU(), mem, kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// mdRow is one results-table row of a report.
func mdRow(scenario, server string, r *Report, target string) string {
	l := r.Latency
	rss := "–"
	if r.ServerRSS != nil {
		rss = mib(r.ServerRSS.Bytes)
	}
	cpu := fmt.Sprintf("%.2f / %.2f / %.2f", r.CPU.ServerCores, r.CPU.LoadgenCores, r.CPU.OtherCores)
	perReq := "–"
	if r.CPU.ServerUsPerRequest > 0 {
		perReq = fmt.Sprintf("%.1f", r.CPU.ServerUsPerRequest)
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n", scenario, server,
		thousands(r.Throughput), msStr(l.P50), msStr(l.P90), msStr(l.P99), msStr(l.P999), msStr(l.Max),
		r.Errors, rss, cpu, perReq, target)
}

const mdHeader = "| scenario | server | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | server RSS (peak) | CPU cores: server / loadgen / rest of machine | server CPU µs/req | target |\n" +
	"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"

// mdOps is the per-operation breakdown of a report.
func mdOps(r *Report) string {
	var b strings.Builder
	for _, op := range r.Ops {
		l := op.Latency
		errs := fmt.Sprint(op.Errors)
		if len(op.ErrorsBy) > 0 {
			var parts []string
			for k, v := range op.ErrorsBy {
				parts = append(parts, fmt.Sprintf("%s ×%d", k, v))
			}
			errs += " (" + strings.Join(parts, ", ") + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Scenario, op.Name, count(int(op.Requests)),
			thousands(op.Throughput), msStr(l.P50), msStr(l.P99), msStr(l.P999), msStr(l.Max), errs)
	}
	return b.String()
}

const mdOpsHeader = "| scenario | operation | requests | req/s | p50 ms | p99 ms | p99.9 ms | max ms | errors |\n" +
	"|---|---|---:|---:|---:|---:|---:|---:|---|\n"

// verdict says whether a read or write run met a target.
func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

func readsTarget(r *Report) string {
	return fmt.Sprintf("≥ 50,000 req/s, p99 ≤ 10 ms: %s", verdict(readsMet(r)))
}

// readsMet says whether a reads run meets the read target (README, Targets).
func readsMet(r *Report) bool { return r.Throughput >= 50000 && r.Latency.P99 <= 10 && r.Errors == 0 }

func mutationsTarget(r *Report) string {
	return fmt.Sprintf("≥ 2,000/s: %s", verdict(r.Throughput >= 2000))
}

// loadAvg is the 1-minute load average: other work on a shared machine skews every number.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

// underLoadNote says, if the machine was busy with other work around or during a run, that
// the figures are the shared machine's: a load average of half the CPUs or more before or
// after the run, or other processes using half a core or more during a scenario. Empty when
// the machine was quiet.
func underLoadNote(loadBefore, loadAfter string, cpus int, reports []*Report) string {
	before, _ := strconv.ParseFloat(loadBefore, 64)
	after, _ := strconv.ParseFloat(loadAfter, 64)
	other := 0.0
	for _, r := range reports {
		if r != nil {
			other = max(other, r.CPU.OtherCores)
		}
	}
	if before < float64(cpus)/2 && after < float64(cpus)/2 && other < 0.5 {
		return ""
	}
	return fmt.Sprintf("**Measured under load**: 1-minute load average %s before and %s after the run on %d CPUs, and up to "+
		"%.2f cores used by other processes during a scenario. These are the shared machine's figures, not Fulcrum's own: "+
		"rerun `make bench` on a quiet machine before reading them against the targets.\n\n", loadBefore, loadAfter, cpus, other)
}
