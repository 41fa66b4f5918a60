package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/seed248d40c9/fulcrum/bench/resultsfile"
)

// suiteFlags configure the make-bench run.
type suiteFlags struct {
	fulcrum, results, png, jsonPath, goBench, kafka string
	balancerConc                                    int
	keep                                            bool
	driveFlags
	seedFlags
	dialectFlags
	pinned pinnedFlags
}

// cmdSuite is what make bench runs: start a Fulcrum on a temporary data dir, seed it,
// drive every scenario, drive the net/http reference with the same reads, stop Fulcrum,
// then the placement runs (reads and durable writes on fresh servers, pinned and unpinned,
// see runPinned), and write the marked block of bench/RESULTS.md, a JSON file and the
// latency plot. Every client asks for gzip unless -gzip=false, as coordinators do.
func cmdSuite(args []string) error {
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	var f suiteFlags
	fs.StringVar(&f.fulcrum, "fulcrum", "bin/fulcrum", "fulcrum binary")
	fs.StringVar(&f.results, "results", "bench/RESULTS.md", "results file; only its <!-- loadgen --> block is rewritten")
	fs.StringVar(&f.png, "png", "bench/coordinator-latency.png", "latency plot of the coordinator scenario")
	fs.StringVar(&f.jsonPath, "json", "bench/loadgen-results.json", "every report as JSON")
	fs.StringVar(&f.goBench, "gobench", "", "output of go test -bench to quote in the results (optional)")
	fs.StringVar(&f.kafka, "kafka-bootstrap", "", "passed to fulcrum serve; empty: the balancer answers 503 and its scenario is skipped")
	fs.IntVar(&f.balancerConc, "balancer-c", 2, "concurrent clients of the balancer scenario (each GET is a CPU-heavy plan search)")
	fs.BoolVar(&f.keep, "keep", false, "keep the temporary data dir and logs")
	f.driveFlags.register(fs)
	f.seedFlags.register(fs)
	f.dialectFlags.register(fs, true)
	f.pinned.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()

	load0 := loadAvg()
	tmp, removeTmp, err := workDir("suite", "fulcrum-bench-", f.keep)
	if err != nil {
		return err
	}
	defer removeTmp()
	// The reports and mutations scenarios send each failure report from a new reporter, so
	// that every one is a real write; a proxy keeps at most 64 live reporters (then
	// TOO_MANY_REPORTERS), so the server forgets reports after the placement runs' short TTL,
	// as a fleet of a few coordinators keeps a handful per proxy.
	serveArgs := []string{"serve", "--listen", "{addr}", "--data-dir", filepath.Join(tmp, "data"),
		"--failure-ttl", f.pinned.failureTTL.String()}
	if f.kafka != "" {
		serveArgs = append(serveArgs, "--kafka-bootstrap", f.kafka)
	}
	srv, err := StartProc(f.fulcrum, serveArgs, filepath.Join(tmp, "fulcrum.log"), healthy, 30*time.Second)
	if err != nil {
		return err
	}
	defer func() {
		if srv != nil {
			srv.Kill()
		}
	}()
	ready := srv.Ready
	fmt.Fprintf(os.Stderr, "suite: fulcrum pid %d at %s (ready in %s)\n", srv.Pid(), srv.URL, srv.Ready.Round(time.Millisecond))

	c, err := NewClient(srv.URL, f.conc, 10*time.Second, f.Dialect)
	if err != nil {
		return err
	}
	seed, err := Seed(c, f.SeedConfig, os.Stderr)
	if err != nil {
		return err
	}
	st, err := Discover(c)
	if err != nil {
		return err
	}
	mix := DefaultMutationMix
	cfg := RunConfig{Concurrency: f.conc, Duration: f.dur, Warmup: f.warmup, Progress: NewProgress(os.Stderr),
		RSS: ProcRSS(srv.Pid()), Target: "fulcrum " + srv.URL, ServerPid: srv.Pid()}
	run := func(name string, cfg RunConfig, cl *Client) (*Report, *Result, error) {
		sc, err := scenarioFor(cl, name, st, mix, f.balancerQuery, runID(), cfg.Concurrency)
		if err != nil {
			return nil, nil, err
		}
		started := time.Now()
		res := Run(ctx, cl, sc, cfg)
		rep := NewReport(res, started)
		rep.WriteText(os.Stderr)
		return rep, res, ctx.Err()
	}
	var reports []*Report
	reads, readsRes, err := run("reads", cfg, c)
	if err != nil {
		return err
	}
	reports = append(reports, reads)
	// The reference right after Fulcrum's reads, so both see the same machine: this binary,
	// as a separate process, serving the same views.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ref, err := StartProc(self, []string{"reference", "-from", srv.URL, "-listen", "{addr}", "-api", f.API},
		filepath.Join(tmp, "reference.log"), healthy, 60*time.Second)
	if err != nil {
		return err
	}
	rc, err := NewClient(ref.URL, f.conc, 10*time.Second, f.Dialect)
	if err != nil {
		ref.Kill()
		return err
	}
	rcfg := cfg
	rcfg.RSS, rcfg.Target, rcfg.ServerPid = ProcRSS(ref.Pid()), "reference "+ref.URL, ref.Pid()
	refReads, refRes, err := run("reads", rcfg, rc)
	var refWrites *Report
	if err == nil {
		// Durable writes on the same reference while it is up; Fulcrum's run of the same
		// scenario comes last (its failure reports would slow the mutations scenario).
		refWrites, _, err = run("reports", rcfg, rc)
	}
	if stopErr := ref.Stop(); stopErr != nil {
		fmt.Fprintln(os.Stderr, "suite: reference stop:", stopErr)
	}
	if err != nil {
		return err
	}
	reports = append(reports, refReads, refWrites)

	coord, coordRes, err := run("coordinator", cfg, c)
	if err != nil {
		return err
	}
	muts, _, err := run("mutations", cfg, c)
	if err != nil {
		return err
	}
	reports = append(reports, coord, muts)

	// The balancer scenario runs only if GET /balancer answers 200 now.
	var bal *Report
	balPath := "/balancer?" + f.balancerQuery
	status, body, berr := c.Call("GET", balPath, nil)
	balSkip := ""
	switch {
	case berr != nil:
		balSkip = fmt.Sprintf("GET %s failed: %v", balPath, berr)
	case status != 200:
		balSkip = fmt.Sprintf("GET %s answered %s: `%s`", balPath, errorLabel(status, body, nil), truncate(body, 160))
	default:
		bcfg := cfg
		bcfg.Concurrency = f.balancerConc
		bc, err := NewClient(srv.URL, f.balancerConc, 60*time.Second, f.Dialect)
		if err != nil {
			return err
		}
		if bal, _, err = run("balancer", bcfg, bc); err != nil {
			return err
		}
		reports = append(reports, bal)
	}
	if balSkip != "" {
		fmt.Fprintln(os.Stderr, "suite: balancer skipped:", balSkip)
	}

	writes, _, err := run("reports", cfg, c)
	if err != nil {
		return err
	}
	reports = append(reports, writes)

	t := time.Now()
	stopErr := srv.Stop()
	stopTime := time.Since(t)
	srv = nil
	if stopErr != nil {
		return fmt.Errorf("fulcrum stop: %w", stopErr)
	}
	pinned, err := runPinned(ctx, &f, tmp)
	if err != nil {
		return fmt.Errorf("pinned runs: %w", err)
	}
	for _, r := range pinned {
		reports = append(reports, r.Reads, r.Durable)
	}

	if err := writeJSON(f.jsonPath, reports); err != nil {
		return err
	}
	series := []Series{
		{Label: "coordinator: all", Curve: coordRes.Total.Curve(), Count: coordRes.Total.Count()},
		{Label: "coordinator: cluster meta", Curve: coordRes.Hists[opClusterMeta].Curve(), Count: coordRes.Hists[opClusterMeta].Count()},
		{Label: "coordinator: proxy meta", Curve: coordRes.Hists[opProxyMeta].Curve(), Count: coordRes.Hists[opProxyMeta].Count()},
		{Label: "reads: fulcrum", Curve: readsRes.Total.Curve(), Count: readsRes.Total.Count()},
		{Label: "reads: net/http reference", Curve: refRes.Total.Curve(), Count: refRes.Total.Count()},
	}
	title := fmt.Sprintf("Fulcrum latency by percentile, %d connections, %s clusters / %s proxies", f.conc, count(len(st.Clusters)), count(len(st.Proxies)))
	if err := PlotPercentiles(f.png, title, series, 10); err != nil {
		return err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "## HTTP load: `make bench` (generated by bench/loadgen; do not edit inside the markers)\n\n")
	fmt.Fprintf(&b, "Date: %s. Commit: %s. Machine: %s; 1-minute load average before the run: %s.\n\n", resultsfile.Now(), resultsfile.Commit(), Machine(), load0)
	b.WriteString(underLoadNote(load0, loadAvg(), runtime.NumCPU(), reports))
	fmt.Fprintf(&b, "Server: `%s serve --listen 127.0.0.1:<free port> --data-dir <temp dir> --failure-ttl %s` "+
		"(bbolt, fsync on, group commit; JSON log at level info to a file; the short TTL keeps each proxy's failure "+
		"record to the last reports, below the 64 live reporters a proxy keeps); ready %s after exec on an empty store, "+
		"stopped by SIGTERM in %s.\n", f.fulcrum, f.pinned.failureTTL, ready.Round(time.Millisecond), stopTime.Round(time.Millisecond))
	fmt.Fprintf(&b, "Load generator: on the same 2-core machine (it shares the cores with the server, as the stack's "+
		"first measurements with wrk did, except in the pinned runs below), closed loop, %d keep-alive connections (fasthttp HostClient), "+
		"%s measured after a %s warm-up per scenario; `/api/%s` paths, `Accept-Encoding: gzip` %s (gzip answers decoded "+
		"inside the timed request, as a coordinator does).\n\n",
		f.conc, f.dur, f.warmup, f.API, map[bool]string{true: "sent, as coordinators do", false: "not sent"}[f.Gzip])
	fmt.Fprintf(&b, "Seeded through the public API: %s proxies on %d hosts in %.1f s, then %s clusters of 4 nodes in %.1f s "+
		"(%.0f creates/s at %d concurrent requests). State during the runs: %s clusters, %s proxies.\n\n",
		count(f.Proxies), f.Hosts, seed.ProxyTime.Seconds(), count(f.Clusters), seed.ClusterTime.Seconds(),
		float64(seed.Clusters)/max(seed.ClusterTime.Seconds(), 1e-9), f.Concurrency, count(len(st.Clusters)), count(len(st.Proxies)))
	fmt.Fprintf(&b, "Commands:\n\n```sh\nmake bench   # go test -bench, then:\nbin/loadgen suite -fulcrum %s -api %s -gzip=%t -c %d -d %s -warmup %s -proxies %d -hosts %d -clusters %d -pin-server %s -pin-loadgen %s -pinned-rounds %d\n"+
		"# the same scenarios by hand against any broker (Fulcrum; undermoon 0.5: -api v2; undermoon 0.6: -api v3 -gzip):\n"+
		"bin/loadgen run -url http://127.0.0.1:7799 -api %s -gzip=%t -seed -scenario reads,coordinator,mutations -c %d -d %s -json out.json\n"+
		"bin/loadgen reference -from http://127.0.0.1:7799 -listen 127.0.0.1:7800 &\n"+
		"bin/loadgen run -url http://127.0.0.1:7800 -gzip=%t -scenario reads -metrics-rss=false -server-pid $! -c %d -d %s\n```\n\n",
		f.fulcrum, f.API, f.Gzip, f.conc, f.dur, f.warmup, f.Proxies, f.Hosts, f.Clusters, f.pinned.serverCPUs, f.pinned.loadgenCPUs,
		f.pinned.rounds, f.API, f.Gzip, f.conc, f.dur, f.Gzip, f.conc, f.dur)
	b.WriteString("Scenarios: **reads** = `GET /clusters/meta/<name>` and `GET /proxies/meta/<addr>` over every cluster and proxy, " +
		"shuffled (the read target (README, Targets)); **coordinator** = one undermoon coordinator round after another " +
		"(failed set, proxy addresses paged by 100, cluster names paged by 100, every cluster's meta, failed set, every proxy's meta); " +
		"**mutations** = durable writes, 50 % `POST /failures/<proxy in a cluster>/<fresh reporter>`, 30 % `PATCH /clusters/config/<name>` " +
		"(a new `migration_scan_count`), 20 % `POST` then `DELETE /clusters/meta/<new name>` (4 nodes); **reports** = only the failure reports " +
		"(the reference appends each to a file and fsyncs it before answering, under a log mutex of its own, so its readers never wait for the disk); " +
		"**durable** = failure reports over every proxy, each from a new reporter (the placement runs below); " +
		"**balancer** = `GET /balancer?" + f.balancerQuery + "`.\n\n")

	b.WriteString(mdHeader)
	b.WriteString(mdRow("reads", "Fulcrum (fasthttp + actors)", reads, readsTarget(reads)))
	b.WriteString(mdRow("reads", "reference (net/http + RWMutex map)", refReads, "comparison only"))
	b.WriteString(mdRow("reports", "Fulcrum (group commit)", writes, "comparison of durable writes"))
	b.WriteString(mdRow("reports", "reference (one fsync per write)", refWrites, "comparison only"))
	b.WriteString(mdRow("coordinator", "Fulcrum", coord, "(same reads, plus listings)"))
	b.WriteString(mdRow("mutations", "Fulcrum", muts, mutationsTarget(muts)))
	if bal != nil {
		b.WriteString(mdRow("balancer", "Fulcrum", bal, "planner: see the planner benchmarks"))
	}
	if balSkip != "" {
		fmt.Fprintf(&b, "\n**balancer: skipped** — %s. Run `make bench-load` or `bin/loadgen suite -kafka-bootstrap <brokers>` "+
			"(or `bin/loadgen run -scenario balancer`) once GET /balancer answers.\n", balSkip)
	}
	fmt.Fprintf(&b, "\nfasthttp + actors vs net/http + RWMutex on the same reads, run back to back: **%.2f×** the throughput "+
		"(%s vs %s req/s), p99 %s ms vs %s ms, server CPU **%.1f vs %.1f µs per request** (the CPU cost is the steadier "+
		"comparison: throughput moves with whatever else the shared machine runs).\n\n",
		reads.Throughput/max(refReads.Throughput, 1e-9), thousands(reads.Throughput), thousands(refReads.Throughput),
		msStr(reads.Latency.P99), msStr(refReads.Latency.P99), reads.CPU.ServerUsPerRequest, refReads.CPU.ServerUsPerRequest)
	fmt.Fprintf(&b, "Durable writes (every `POST /failures/<proxy>/<new reporter>` on disk before its answer), %d clients: "+
		"**%.2f×** (%s vs %s writes/s), p99 %s ms vs %s ms — group commit against one fsync per write.\n\n",
		f.conc, writes.Throughput/max(refWrites.Throughput, 1e-9), thousands(writes.Throughput), thousands(refWrites.Throughput),
		msStr(writes.Latency.P99), msStr(refWrites.Latency.P99))
	if len(pinned) > 0 {
		b.WriteString(pinnedMarkdown(&f, pinned) + "\n")
	}
	b.WriteString("Per operation:\n\n" + mdOpsHeader + mdOps(coord) + mdOps(muts) + "\n")
	fmt.Fprintf(&b, "Latency by percentile ([%s](%s); y axis logarithmic; dashed: the 10 ms p99 target):\n\n![coordinator latency](%s)\n\n",
		filepath.Base(f.png), filepath.Base(f.png), filepath.Base(f.png))
	fmt.Fprintf(&b, "Every report as JSON: [%s](%s).\n", filepath.Base(f.jsonPath), filepath.Base(f.jsonPath))
	if f.goBench != "" {
		if out, err := os.ReadFile(f.goBench); err == nil {
			b.WriteString("\nGo micro-benchmarks of the same `make bench` (`go test -run '^$' -bench . -benchmem -benchtime 2s ./...`):\n\n```text\n")
			for line := range strings.Lines(string(out)) {
				if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "pkg:") {
					b.WriteString(line)
				}
			}
			b.WriteString("```\n")
		}
	}
	if err := resultsfile.Update(f.results, "loadgen", b.String()); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "suite: wrote %s, %s, %s\n", f.results, f.png, f.jsonPath)
	return nil
}
