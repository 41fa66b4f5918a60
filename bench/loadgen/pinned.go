package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// pinnedFlags configure the suite's pinned durable-writes runs: the BRIEF measures durable
// mutations with the server pinned to one core.
type pinnedFlags struct {
	serverCPUs, loadgenCPUs string
	rounds, clusters        int
	failureTTL              time.Duration
}

func (p *pinnedFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.serverCPUs, "pin-server", "0", "CPUs of the server in the pinned durable-writes runs (empty: skip those runs)")
	fs.StringVar(&p.loadgenCPUs, "pin-loadgen", "1", "CPUs of the load generator in the pinned durable-writes runs")
	fs.IntVar(&p.rounds, "pinned-rounds", 2, "pinned rounds; each runs a server with one P, then one with fulcrum's default")
	fs.IntVar(&p.clusters, "pinned-clusters", 300, "clusters seeded for the pinned runs")
	fs.DurationVar(&p.failureTTL, "pinned-failure-ttl", time.Second, "--failure-ttl of the pinned servers (see DurableScenario)")
}

// pinnedVariant is one server configuration of the pinned comparison.
type pinnedVariant struct {
	label string
	env   []string
}

// The variants, run interleaved: one P is what Go picks for a process pinned to one core
// and what fulcrum serve ran with before it raised GOMAXPROCS to 2 (cmd/fulcrum/procs.go).
var pinnedVariants = []pinnedVariant{
	{"one P (GOMAXPROCS=1)", []string{"GOMAXPROCS=1"}},
	{"default (two Ps)", nil},
}

// pinnedRun is one fresh server of the pinned comparison.
type pinnedRun struct {
	Variant    string  `json:"variant"`
	Round      int     `json:"round"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	Report     *Report `json:"report"`
}

// runPinned starts a fresh server pinned to the server CPUs for each variant and round,
// seeds it, and drives the durable scenario from this process pinned to the load
// generator CPUs.
func runPinned(ctx context.Context, f *suiteFlags, tmp string) ([]pinnedRun, error) {
	if runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "suite: pinned runs skipped: one CPU, nothing to pin the load generator to")
		return nil, nil
	}
	srvCPUs, err := parseCPUs(f.pinned.serverCPUs)
	if err != nil || srvCPUs == nil {
		return nil, err
	}
	lgCPUs, err := parseCPUs(f.pinned.loadgenCPUs)
	if err != nil {
		return nil, err
	}
	var runs []pinnedRun
	for round := 1; round <= f.pinned.rounds; round++ {
		for i, v := range pinnedVariants {
			dir := filepath.Join(tmp, fmt.Sprintf("pinned-%d-%d", round, i))
			args := []string{"serve", "--listen", "{addr}", "--data-dir", dir, "--failure-ttl", f.pinned.failureTTL.String()}
			srv, err := StartProcOn(srvCPUs, v.env, f.fulcrum, args, dir+".log", healthy, 30*time.Second)
			if err != nil {
				return nil, err
			}
			run, err := pinnedOnce(ctx, f, srv, lgCPUs)
			if stopErr := srv.Stop(); err == nil && stopErr != nil {
				err = fmt.Errorf("fulcrum stop: %w", stopErr)
			}
			if err != nil {
				return nil, err
			}
			run.Variant, run.Round = v.label, round
			runs = append(runs, run)
			os.RemoveAll(dir)
		}
	}
	return runs, nil
}

func pinnedOnce(ctx context.Context, f *suiteFlags, srv *Proc, lgCPUs []int) (pinnedRun, error) {
	c, err := NewClient(srv.URL, f.conc, 10*time.Second)
	if err != nil {
		return pinnedRun{}, err
	}
	seed := f.SeedConfig
	seed.Clusters = f.pinned.clusters
	if _, err := Seed(c, seed, io.Discard); err != nil {
		return pinnedRun{}, err
	}
	st, err := Discover(c)
	if err != nil {
		return pinnedRun{}, err
	}
	procs, err := gomaxprocs(srv.URL)
	if err != nil {
		return pinnedRun{}, err
	}
	if lgCPUs != nil {
		restore, err := pinSelf(lgCPUs)
		if err != nil {
			return pinnedRun{}, err
		}
		defer restore()
	}
	cfg := RunConfig{Concurrency: f.conc, Duration: f.dur, Warmup: f.warmup, Progress: NewProgress(os.Stderr),
		RSS: ProcRSS(srv.Pid()), Target: "fulcrum " + srv.URL, ServerPid: srv.Pid()}
	started := time.Now()
	res := Run(ctx, c, DurableScenario(st.Proxies, runID()), cfg)
	rep := NewReport(res, started)
	rep.WriteText(os.Stderr)
	return pinnedRun{GOMAXPROCS: procs, Report: rep}, ctx.Err()
}

// gomaxprocs reads the server's GOMAXPROCS from its Go metrics.
func gomaxprocs(url string) (int, error) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	v, err := parseMetric(resp.Body, "go_sched_gomaxprocs_threads")
	return int(v), err
}

// pinnedMarkdown is the pinned section of the results.
func pinnedMarkdown(f *suiteFlags, runs []pinnedRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Durable writes pinned: server on CPU %s, load generator on CPU %s\n\n", f.pinned.serverCPUs, f.pinned.loadgenCPUs)
	fmt.Fprintf(&b, "Each row is a fresh `%s serve --failure-ttl %s` pinned to CPU %s (affinity set before exec, as `taskset` does, so "+
		"Go sizes GOMAXPROCS for one core), seeded with %s clusters and %s proxies, then the **durable** scenario from this process "+
		"pinned to CPU %s: %d clients, %s after a %s warm-up, failure reports spread over every proxy, each from a new reporter, "+
		"so every request is a durable change (fsync before the answer). The short TTL keeps each proxy's record to the last "+
		"second's reports, a handful, as a fleet of a few coordinators makes (the `reports` scenario above, with the default "+
		"60 s, grows every record to hundreds of reporters, and rewriting them is then the cost). Variants run interleaved; "+
		"\"one P\" is GOMAXPROCS=1, what Go picks for a process pinned to one core and what Fulcrum ran with before it raised "+
		"GOMAXPROCS to 2 (DESIGN.md, \"Durability rule\").\n\n",
		f.fulcrum, f.pinned.failureTTL, f.pinned.serverCPUs, count(f.pinned.clusters), count(f.Proxies), f.pinned.loadgenCPUs,
		f.conc, f.dur, f.warmup)
	b.WriteString("| round | server | GOMAXPROCS | durable writes/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | server cores | server CPU µs/write | rest of machine, cores | BRIEF target |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range runs {
		rep := r.Report
		fmt.Fprintf(&b, "| %d | %s | %d | %s | %s | %s | %s | %s | %d | %.2f | %.1f | %.2f | %s |\n", r.Round, r.Variant, r.GOMAXPROCS,
			thousands(rep.Throughput), msStr(rep.Latency.P50), msStr(rep.Latency.P99), msStr(rep.Latency.P999), msStr(rep.Latency.Max),
			rep.Errors, rep.CPU.ServerCores, rep.CPU.ServerUsPerRequest, rep.CPU.OtherCores, durableTarget(rep))
	}
	var lines []string
	for _, v := range pinnedVariants {
		var tput, cpu []float64
		for _, r := range runs {
			if r.Variant == v.label {
				tput, cpu = append(tput, r.Report.Throughput), append(cpu, r.Report.CPU.ServerUsPerRequest)
			}
		}
		if len(tput) > 0 {
			lines = append(lines, fmt.Sprintf("%s: median %s durable writes/s, %.1f µs of server CPU per write", v.label, thousands(median(tput)), median(cpu)))
		}
	}
	if len(lines) > 0 {
		b.WriteString("\n" + strings.Join(lines, "; ") + ".\n")
	}
	return b.String()
}

func durableTarget(r *Report) string {
	return fmt.Sprintf("≥ 10,000/s pinned: %s", verdict(r.Throughput >= 10000 && r.Errors == 0))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
