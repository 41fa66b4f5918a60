// Command loadgen is Fulcrum's benchmark harness: it seeds a realistic undermoon broker
// state through the public API (/api/v2 or /api/v3), drives request mixes at a chosen
// concurrency, and reports throughput, latency percentiles, errors and the server's RSS. It
// talks only HTTP, with or without gzip, so it measures Fulcrum, a Fulcrum replica, or
// undermoon's own mem_broker (0.5: -api v2; 0.6: -api v3 -gzip) alike.
//
//	loadgen run -url http://127.0.0.1:7799 -seed -scenario coordinator,mutations -c 64 -d 30s
//	loadgen run -url http://127.0.0.1:7799 -api v3 -gzip -seed -seed-timeout 1h -scenario reads
//	loadgen seed -url ... -proxies 2200 -hosts 50 -clusters 1000
//	loadgen reference -from http://127.0.0.1:7799 -listen 127.0.0.1:7800
//	loadgen suite -fulcrum bin/fulcrum        (what make bench runs; writes bench/RESULTS.md)
//	loadgen scale -fulcrum bin/fulcrum        (10,000 clusters: RSS and restart time)
//	loadgen etcd -fulcrum bin/fulcrum -etcdlocal bin/etcdlocal   (the broker on a 3-member etcd beside bbolt)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = cmdRun(args)
	case "seed":
		err = cmdSeed(args)
	case "reference":
		err = cmdReference(args)
	case "suite":
		err = cmdSuite(args)
	case "scale":
		err = cmdScale(args)
	case "etcd":
		err = cmdEtcd(args)
	case "help":
		fmt.Println("usage: loadgen [run|seed|reference|suite|scale|etcd] [flags]; loadgen <command> -h lists the flags")
	default:
		err = fmt.Errorf("unknown command %q (run, seed, reference, suite, scale, etcd)", cmd)
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
		}
		os.Exit(1)
	}
}

// signalContext is cancelled by SIGINT/SIGTERM, so ^C ends a run early with a report.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// workDir makes a command's temporary directory (data and logs). remove deletes it,
// unless keep: then its path is printed, so that they can be read after the run.
func workDir(cmd, pattern string, keep bool) (dir string, remove func(), err error) {
	dir, err = os.MkdirTemp("", pattern)
	if err != nil {
		return "", nil, err
	}
	if keep {
		fmt.Fprintln(os.Stderr, cmd+": keeping", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// seedFlags are shared by the commands that seed.
type seedFlags struct{ SeedConfig }

func (s *seedFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&s.Proxies, "proxies", 2200, "server proxies to register (2 Redis nodes each)")
	fs.IntVar(&s.Hosts, "hosts", 50, "hosts the proxies are spread over (the host field)")
	fs.IntVar(&s.Clusters, "clusters", 1000, "clusters of 4 nodes to create")
	fs.IntVar(&s.Concurrency, "seed-c", 64, "concurrent requests while seeding")
	fs.DurationVar(&s.Timeout, "seed-timeout", 30*time.Minute, "bound on the whole seeding, each request included "+
		"(undermoon's mem_broker creates about one cluster per second at 2,200 proxies)")
}

// dialectFlags choose the API version and encoding, the same for every command.
type dialectFlags struct{ Dialect }

func (d *dialectFlags) register(fs *flag.FlagSet, gzip bool) {
	fs.StringVar(&d.API, "api", "v2", "broker API: v2 (undermoon ≤ 0.5, Fulcrum) or v3 (undermoon 0.6, Fulcrum)")
	fs.BoolVar(&d.Gzip, "gzip", gzip, "send Accept-Encoding: gzip, as coordinators do (gzip answers are decoded either way)")
}

// driveFlags are how each scenario is driven, the same for run and suite.
type driveFlags struct {
	balancerQuery string
	conc          int
	dur, warmup   time.Duration
}

func (d *driveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.balancerQuery, "balancer-query", "limit=10000", "query string of GET /balancer")
	fs.IntVar(&d.conc, "c", 64, "concurrent clients (keep-alive connections)")
	fs.DurationVar(&d.dur, "d", 10*time.Second, "measured duration of each scenario")
	fs.DurationVar(&d.warmup, "warmup", 2*time.Second, "unrecorded warm-up before each scenario")
}

// runFlags are the knobs of a load run.
type runFlags struct {
	url, scenarios, mix, jsonPath, cpuProfile string
	serverPid                                 int
	timeout                                   time.Duration
	seed, metricsRSS                          bool
	driveFlags
	seedFlags
	dialectFlags
}

func (r *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.url, "url", "http://127.0.0.1:7799", "base URL of the broker (the API is under /api/<-api>)")
	fs.StringVar(&r.scenarios, "scenario", "coordinator", "comma list of: reads, coordinator, mutations, reports (failure reports only), durable (failure reports over every proxy, for a short --failure-ttl), reads+writes (an eighth of the clients report failures), balancer")
	fs.StringVar(&r.mix, "mix", "report=5,config=3,create=2", "mutations mix: weights of failure reports, config patches, cluster create/delete")
	fs.StringVar(&r.jsonPath, "json", "", "also write the reports as JSON to this file")
	fs.StringVar(&r.cpuProfile, "cpuprofile", "", "write the load generator's CPU profile to this file")
	fs.IntVar(&r.serverPid, "server-pid", 0, "read the server's RSS from /proc/<pid>/status (local server)")
	fs.DurationVar(&r.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.BoolVar(&r.seed, "seed", false, "seed the state first (409 ALREADY_EXISTED counts as present)")
	fs.BoolVar(&r.metricsRSS, "metrics-rss", true, "read the server's RSS from GET /metrics (process_resident_memory_bytes)")
	r.driveFlags.register(fs)
	r.seedFlags.register(fs)
	r.dialectFlags.register(fs, false)
}

func (r *runFlags) rssProbe(c *Client) RSSProbe {
	switch {
	case r.serverPid > 0:
		return ProcRSS(r.serverPid)
	case r.metricsRSS:
		return MetricsRSS(c.URL("/metrics"))
	}
	return nil
}

// scenarioFor builds a named scenario over st.
// conc is the run's concurrency: reads+writes gives an eighth of the clients to writes.
func scenarioFor(c *Client, name string, st State, mix MutationMix, balancerQuery, runID string, conc int) (*Scenario, error) {
	switch name {
	case "mutations", "reports", "reads+writes":
		// Writes go to the seeded clusters and their proxies (see MutationsScenario).
		mst := seededOnly(st)
		busy, err := ClusterProxies(c, mst.Clusters)
		if err != nil {
			return nil, err
		}
		switch name {
		case "mutations":
			mst.Proxies = busy
			return MutationsScenario(mst, mix, runID), nil
		case "reports":
			// Durable writes only, every one a new failure report: the write path of Fulcrum
			// (group commit) against the reference's (one fsync per write).
			sc := MutationsScenario(State{API: st.API, Proxies: busy}, MutationMix{Report: 1}, runID)
			sc.Name = "reports"
			return sc, nil
		}
		return ReadsUnderWritesScenario(st, busy, conc/8, runID), nil
	case "durable":
		return DurableScenario(st, runID), nil
	case "coordinator":
		return CoordinatorScenario(st), nil
	case "reads":
		return ReadsScenario(st), nil
	case "balancer":
		return BalancerScenario(balancerQuery), nil
	}
	return nil, fmt.Errorf("unknown scenario %q (reads, coordinator, mutations, reports, durable, reads+writes, balancer)", name)
}

// seededOnly drops clusters a previous mutations run left behind (names start with "lg"),
// so config patches go to stable clusters.
func seededOnly(st State) State {
	out := State{API: st.API, Proxies: st.Proxies}
	for _, c := range st.Clusters {
		if !strings.HasPrefix(c, "lg") {
			out.Clusters = append(out.Clusters, c)
		}
	}
	return out
}

func runID() string { return fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff) }

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var rf runFlags
	rf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	mix, err := ParseMutationMix(rf.mix)
	if err != nil {
		return err
	}
	if rf.cpuProfile != "" {
		f, err := os.Create(rf.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	ctx, cancel := signalContext()
	defer cancel()
	c, err := NewClient(rf.url, rf.conc, rf.timeout, rf.Dialect)
	if err != nil {
		return err
	}
	if rf.seed {
		if _, err := Seed(c, rf.SeedConfig, os.Stderr); err != nil {
			return err
		}
	}
	st, err := Discover(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "state: %d clusters, %d proxies\n", len(st.Clusters), len(st.Proxies))
	var reports []*Report
	for _, name := range strings.Split(rf.scenarios, ",") {
		sc, err := scenarioFor(c, strings.TrimSpace(name), st, mix, rf.balancerQuery, runID(), rf.conc)
		if err != nil {
			return err
		}
		started := time.Now()
		res := Run(ctx, c, sc, RunConfig{
			Concurrency: rf.conc, Duration: rf.dur, Warmup: rf.warmup,
			Progress: NewProgress(os.Stderr), RSS: rf.rssProbe(c), Target: rf.url, ServerPid: rf.serverPid,
		})
		rep := NewReport(res, started)
		rep.WriteText(os.Stdout)
		fmt.Println()
		reports = append(reports, rep)
		if ctx.Err() != nil {
			break
		}
	}
	if rf.jsonPath != "" {
		return writeJSON(rf.jsonPath, reports)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func cmdSeed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:7799", "base URL of the broker")
	var sf seedFlags
	sf.register(fs)
	var df dialectFlags
	df.register(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := NewClient(*url, sf.Concurrency, 30*time.Second, df.Dialect)
	if err != nil {
		return err
	}
	_, err = Seed(c, sf.SeedConfig, os.Stdout)
	return err
}

func cmdReference(args []string) error {
	fs := flag.NewFlagSet("reference", flag.ContinueOnError)
	from := fs.String("from", "http://127.0.0.1:7799", "broker whose cluster and proxy views are served")
	listen := fs.String("listen", "127.0.0.1:7800", "listen address")
	dataDir := fs.String("data-dir", "", "directory of the failure-report log (default: a temporary one, removed at exit)")
	api := fs.String("api", "v2", "API version read from -from and served (v2 or v3)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" {
		tmp, err := os.MkdirTemp("", "fulcrum-reference-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dataDir = tmp
	}
	c, err := NewClient(*from, 16, 30*time.Second, Dialect{API: *api, Gzip: true})
	if err != nil {
		return err
	}
	st, err := Discover(c)
	if err != nil {
		return err
	}
	ref, err := LoadReference(c, st)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Printf("reference: net/http + RWMutex map serving %d cluster and %d proxy views on %s\n",
		len(ref.clusters), len(ref.proxies), ln.Addr())
	ctx, cancel := signalContext()
	defer cancel()
	go func() { <-ctx.Done(); ln.Close() }()
	if err := ref.Serve(ln, *dataDir); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
