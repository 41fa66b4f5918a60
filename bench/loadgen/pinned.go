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

// pinnedFlags configure the suite's placement runs: reads and durable writes on fresh
// servers pinned to known CPUs (the durable target is measured with the server pinned
// to one core), and the same unpinned, so the figures are the server's own on a known core
// budget and can be read against the shared-machine ones.
type pinnedFlags struct {
	serverCPUs, loadgenCPUs string
	rounds                  int
	failureTTL              time.Duration
}

func (p *pinnedFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.serverCPUs, "pin-server", "0", "CPUs of the server in the pinned runs, e.g. 0 or 0,1 (empty: skip the placement runs)")
	fs.StringVar(&p.loadgenCPUs, "pin-loadgen", "1", "CPUs of the load generator in the pinned runs")
	fs.IntVar(&p.rounds, "pinned-rounds", 2, "rounds of the placement runs; each runs every placement once, interleaved")
	fs.DurationVar(&p.failureTTL, "pinned-failure-ttl", time.Second, "--failure-ttl of the placement servers (see DurableScenario)")
}

// placement is where a placement run puts the server and the load generator, and how the
// server runs.
type placement struct {
	label  string
	pinned bool     // server on -pin-server, this process on -pin-loadgen; else both unpinned
	env    []string // extra environment of the server
}

// The placements, run interleaved. "one P" is what Go picks for a process pinned to one
// core and what fulcrum serve ran with before it raised GOMAXPROCS to 2 (cmd/fulcrum/procs.go).
var placements = []placement{
	{"pinned", true, nil},
	{"pinned, one P (GOMAXPROCS=1)", true, []string{"GOMAXPROCS=1"}},
	{"unpinned", false, nil},
}

// pinnedRun is one fresh server of the placement runs: the reads, then the durable writes.
type pinnedRun struct {
	Placement   string  `json:"placement"`
	ServerCPUs  string  `json:"server_cpus"`  // "all" when unpinned
	LoadgenCPUs string  `json:"loadgen_cpus"` // "all" when unpinned
	Round       int     `json:"round"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	Reads       *Report `json:"reads"`
	Durable     *Report `json:"durable"`
}

// runPinned starts a fresh server for each round and placement, seeds it with the suite's
// state, and drives the reads and then the durable scenario, the server and this process
// pinned as the placement says.
func runPinned(ctx context.Context, f *suiteFlags, tmp string) ([]pinnedRun, error) {
	if runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "suite: placement runs skipped: one CPU, nothing to pin the load generator to")
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
		for i, pl := range placements {
			dir := filepath.Join(tmp, fmt.Sprintf("placement-%d-%d", round, i))
			args := []string{"serve", "--listen", "{addr}", "--data-dir", dir, "--failure-ttl", f.pinned.failureTTL.String()}
			run := pinnedRun{Placement: pl.label, Round: round, ServerCPUs: "all", LoadgenCPUs: "all"}
			var srvOn, lgOn []int
			if pl.pinned {
				srvOn, lgOn = srvCPUs, lgCPUs
				run.ServerCPUs, run.LoadgenCPUs = f.pinned.serverCPUs, f.pinned.loadgenCPUs
				if lgOn == nil {
					run.LoadgenCPUs = "all"
				}
			}
			srv, err := StartProcOn(srvOn, pl.env, f.fulcrum, args, dir+".log", healthy, 30*time.Second)
			if err != nil {
				return nil, err
			}
			err = placementOnce(ctx, f, srv, lgOn, &run)
			if stopErr := srv.Stop(); err == nil && stopErr != nil {
				err = fmt.Errorf("fulcrum stop: %w", stopErr)
			}
			if err != nil {
				return nil, err
			}
			runs = append(runs, run)
			os.RemoveAll(dir)
		}
	}
	return runs, nil
}

// placementOnce seeds srv, then runs the reads and the durable scenario from this process
// pinned to lgCPUs (nil: unpinned).
func placementOnce(ctx context.Context, f *suiteFlags, srv *Proc, lgCPUs []int, run *pinnedRun) error {
	c, err := NewClient(srv.URL, f.conc, 10*time.Second, f.Dialect)
	if err != nil {
		return err
	}
	if _, err := Seed(c, f.SeedConfig, io.Discard); err != nil {
		return err
	}
	st, err := Discover(c)
	if err != nil {
		return err
	}
	if run.GOMAXPROCS, err = gomaxprocs(srv.URL); err != nil {
		return err
	}
	if lgCPUs != nil {
		restore, err := pinSelf(lgCPUs)
		if err != nil {
			return err
		}
		defer restore()
	}
	cfg := RunConfig{Concurrency: f.conc, Duration: f.dur, Warmup: f.warmup, Progress: NewProgress(os.Stderr),
		RSS: ProcRSS(srv.Pid()), Target: fmt.Sprintf("fulcrum %s (%s, round %d)", srv.URL, run.Placement, run.Round), ServerPid: srv.Pid()}
	for _, sc := range []struct {
		rep **Report
		sc  *Scenario
	}{{&run.Reads, ReadsScenario(st)}, {&run.Durable, DurableScenario(st, runID())}} {
		started := time.Now()
		res := Run(ctx, c, sc.sc, cfg)
		*sc.rep = NewReport(res, started)
		(*sc.rep).WriteText(os.Stderr)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
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

// pinnedMarkdown is the placement section of the results.
func pinnedMarkdown(f *suiteFlags, runs []pinnedRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Reads and durable writes, pinned and unpinned: server on CPU %s, load generator on CPU %s\n\n", f.pinned.serverCPUs, f.pinned.loadgenCPUs)
	fmt.Fprintf(&b, "Each row is a fresh `%s serve --failure-ttl %s`, seeded with %s clusters and %s proxies, then the **reads** "+
		"scenario and the **durable** scenario, %d clients each (%s API, gzip %s), %s after a %s warm-up. **pinned**: the server "+
		"on CPU %s (affinity set before exec, as `taskset` does, so Go sizes GOMAXPROCS for the pinned CPUs; Fulcrum raises it to "+
		"at least 2) and this process on CPU %s, so the server's figures are its own on a known core budget; **one P**: the same "+
		"with GOMAXPROCS=1, what Fulcrum ran with before (DESIGN.md, \"Durability rule\"); **unpinned**: both free on every CPU, "+
		"as the shared-machine table above. The **durable** scenario is failure reports spread over every proxy, each from a new "+
		"reporter, so every request is a durable change (fsync before the answer); the short TTL keeps each proxy's record to the "+
		"last second's reports, a handful, as a fleet of a few coordinators makes (with the default 60 s a record would reach "+
		"the 64 live reporters a proxy keeps, and further reports would be refused with TOO_MANY_REPORTERS). Placements run interleaved, "+
		"round after round. Server CPU per request is the steadier figure: throughput moves with whatever else the machine runs "+
		"(the rest of the machine column: during the reads / during the durable writes).\n\n",
		f.fulcrum, f.pinned.failureTTL, count(f.Clusters), count(f.Proxies), f.conc, f.API, onOff(f.Gzip), f.dur, f.warmup,
		f.pinned.serverCPUs, f.pinned.loadgenCPUs)
	b.WriteString("| round | placement | server CPUs | loadgen CPUs | GOMAXPROCS | reads req/s | reads p99 ms | server CPU µs/read | durable writes/s | durable p99 ms | server CPU µs/write | errors | rest of machine, cores | targets (reads; durable, pinned) |\n")
	b.WriteString("|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range runs {
		rd, du := r.Reads, r.Durable
		targets := readsVerdict(rd)
		if r.ServerCPUs != "all" {
			targets += "; " + durableVerdict(du)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %d | %s | %s | %.1f | %s | %s | %.1f | %d | %.2f / %.2f | %s |\n",
			r.Round, r.Placement, r.ServerCPUs, r.LoadgenCPUs, r.GOMAXPROCS,
			thousands(rd.Throughput), msStr(rd.Latency.P99), rd.CPU.ServerUsPerRequest,
			thousands(du.Throughput), msStr(du.Latency.P99), du.CPU.ServerUsPerRequest,
			rd.Errors+du.Errors, rd.CPU.OtherCores, du.CPU.OtherCores, targets)
	}
	var lines []string
	for _, pl := range placements {
		var reads, readCPU, writes, writeCPU []float64
		for _, r := range runs {
			if r.Placement == pl.label {
				reads, readCPU = append(reads, r.Reads.Throughput), append(readCPU, r.Reads.CPU.ServerUsPerRequest)
				writes, writeCPU = append(writes, r.Durable.Throughput), append(writeCPU, r.Durable.CPU.ServerUsPerRequest)
			}
		}
		if len(reads) > 0 {
			lines = append(lines, fmt.Sprintf("- %s: median %s reads/s at %.1f µs of server CPU per read; %s durable writes/s at %.1f µs per write",
				pl.label, thousands(median(reads)), median(readCPU), thousands(median(writes)), median(writeCPU)))
		}
	}
	if len(lines) > 0 {
		b.WriteString("\nMedians over the rounds:\n\n" + strings.Join(lines, "\n") + "\n")
	}
	return b.String()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// readsVerdict and durableVerdict judge a run against the targets (README, Targets).
func readsVerdict(r *Report) string {
	return fmt.Sprintf("reads %s", verdict(readsMet(r)))
}

func durableVerdict(r *Report) string {
	return fmt.Sprintf("≥ 10,000 writes/s %s", verdict(r.Throughput >= 10000 && r.Errors == 0))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
