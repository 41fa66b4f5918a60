package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/seed248d40c9/fulcrum/bench/resultsfile"
)

// memInfo is a process's memory as the kernel and the Go runtime see it.
type memInfo struct {
	RSS, HWM  int64 // VmRSS, VmHWM (peak)
	HeapInuse int64 // go_memstats_heap_inuse_bytes from /metrics, 0 if unknown
}

func readMem(pid int, baseURL string) memInfo {
	var m memInfo
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		if kb, err := statusField(b, "VmRSS:"); err == nil {
			m.RSS = kb << 10
		}
		if kb, err := statusField(b, "VmHWM:"); err == nil {
			m.HWM = kb << 10
		}
	}
	if resp, err := probe.Get(baseURL + "/metrics"); err == nil {
		if v, err := parseMetric(resp.Body, "go_memstats_heap_inuse_bytes"); err == nil {
			m.HeapInuse = int64(v)
		}
		resp.Body.Close()
	}
	return m
}

func (m memInfo) String() string {
	return fmt.Sprintf("RSS %s (peak %s), Go heap in use %s", mib(m.RSS), mib(m.HWM), mib(m.HeapInuse))
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// restartTiming is one cold start on an existing data dir.
type restartTiming struct {
	Healthz, FirstRead time.Duration
	Mem                memInfo
}

// cmdScale measures the memory and start-up targets (README, Targets): seed a large state (default
// 10,000 clusters on 22,000 proxies), read the RSS, restart Fulcrum on the same data dir a
// few times and time exec → /healthz → a real cluster read.
func cmdScale(args []string) error {
	fset := flag.NewFlagSet("scale", flag.ContinueOnError)
	var sf seedFlags
	sf.register(fset)
	bin := fset.String("fulcrum", "bin/fulcrum", "fulcrum binary")
	results := fset.String("results", "bench/RESULTS.md", "results file; only its <!-- loadgen-scale --> block is rewritten")
	jsonPath := fset.String("json", "bench/scale-results.json", "coordinator report at scale as JSON")
	restarts := fset.Int("restarts", 3, "cold starts to time")
	dur := fset.Duration("d", 10*time.Second, "coordinator run at scale (0: none)")
	conc := fset.Int("c", 64, "concurrent clients of the coordinator run")
	keep := fset.Bool("keep", false, "keep the temporary data dir and logs")
	// The scale defaults differ from the suite's.
	_ = fset.Set("clusters", "10000")
	_ = fset.Set("proxies", "22000")
	_ = fset.Set("hosts", "500")
	if err := fset.Parse(args); err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	load0 := loadAvg()
	tmp, removeTmp, err := workDir("scale", "fulcrum-scale-", *keep)
	if err != nil {
		return err
	}
	defer removeTmp()
	data := filepath.Join(tmp, "data")
	serveArgs := []string{"serve", "--listen", "{addr}", "--data-dir", data}
	srv, err := StartProc(*bin, serveArgs, filepath.Join(tmp, "fulcrum-seed.log"), healthy, 30*time.Second)
	if err != nil {
		return err
	}
	c, err := NewClient(srv.URL, max(*conc, sf.Concurrency), 60*time.Second, V2)
	if err != nil {
		srv.Kill()
		return err
	}
	seed, err := Seed(c, sf.SeedConfig, os.Stderr)
	if err != nil {
		srv.Kill()
		return err
	}
	st, err := Discover(c)
	if err != nil {
		srv.Kill()
		return err
	}
	time.Sleep(2 * time.Second) // let the last batches settle before reading memory
	seededMem := readMem(srv.Pid(), srv.URL)
	fmt.Fprintf(os.Stderr, "scale: %d clusters, %d proxies; seeding process %s\n", len(st.Clusters), len(st.Proxies), seededMem)

	var coord *Report
	var loadedMem memInfo
	if *dur > 0 {
		sc := CoordinatorScenario(st)
		started := time.Now()
		res := Run(ctx, c, sc, RunConfig{Concurrency: *conc, Duration: *dur, Warmup: 2 * time.Second,
			Progress: NewProgress(os.Stderr), RSS: ProcRSS(srv.Pid()), Target: "fulcrum " + srv.URL, ServerPid: srv.Pid()})
		coord = NewReport(res, started)
		coord.WriteText(os.Stderr)
		time.Sleep(time.Second)
		loadedMem = readMem(srv.Pid(), srv.URL)
		fmt.Fprintf(os.Stderr, "scale: after the coordinator run: %s\n", loadedMem)
		if err := writeJSON(*jsonPath, coord); err != nil {
			srv.Kill()
			return err
		}
	}
	t := time.Now()
	if err := srv.Stop(); err != nil {
		return fmt.Errorf("fulcrum stop: %w", err)
	}
	stopTime := time.Since(t)
	size := dirSize(data)

	// Cold starts: time exec → /healthz 200 → the last cluster's meta read answers the cluster.
	probeName := st.Clusters[len(st.Clusters)-1]
	var runs []restartTiming
	var roundMem memInfo
	for i := range *restarts {
		var healthAt time.Time
		ready := func(url string) bool {
			if healthAt.IsZero() {
				if !healthy(url) {
					return false
				}
				healthAt = time.Now()
			}
			return serving(st.API, probeName)(url)
		}
		p, err := StartProc(*bin, serveArgs, filepath.Join(tmp, fmt.Sprintf("fulcrum-restart%d.log", i)), ready, 60*time.Second)
		if err != nil {
			return err
		}
		time.Sleep(time.Second)
		r := restartTiming{Healthz: healthAt.Sub(p.Started), FirstRead: p.Ready, Mem: readMem(p.Pid(), p.URL)}
		if i == *restarts-1 {
			// Steady state of a polled broker: every cluster and proxy view read once (views
			// are rendered on first read and cached).
			pc, err := NewClient(p.URL, 16, 30*time.Second, V2)
			if err == nil {
				err = readEveryView(pc, st)
			}
			if err != nil {
				p.Kill()
				return err
			}
			time.Sleep(time.Second)
			roundMem = readMem(p.Pid(), p.URL)
			fmt.Fprintf(os.Stderr, "scale: restart %d after one read of every view: %s\n", i+1, roundMem)
		}
		if err := p.Stop(); err != nil {
			return fmt.Errorf("fulcrum stop: %w", err)
		}
		fmt.Fprintf(os.Stderr, "scale: restart %d: /healthz after %s, cluster read after %s; %s\n", i+1,
			r.Healthz.Round(time.Millisecond), r.FirstRead.Round(time.Millisecond), r.Mem)
		runs = append(runs, r)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "## Scale: memory and start-up (`make bench-scale`, generated by bench/loadgen)\n\n")
	fmt.Fprintf(&b, "Date: %s. Commit: %s. Machine: %s; 1-minute load average before the run: %s.\n\n", resultsfile.Now(), resultsfile.Commit(), Machine(), load0)
	fmt.Fprintf(&b, "Command: `bin/loadgen scale -fulcrum %s -clusters %d -proxies %d -hosts %d -restarts %d -d %s -c %d` "+
		"(Fulcrum with default flags on a temporary data dir).\n\n", *bin, sf.Clusters, sf.Proxies, sf.Hosts, *restarts, *dur, *conc)
	fmt.Fprintf(&b, "Seeded through the public API: %s proxies on %d hosts in %.1f s; %s clusters of 4 nodes in %.1f s "+
		"(%.0f creates/s, %d concurrent). Store file: %s. SIGTERM → exit: %s.\n\n",
		count(sf.Proxies), sf.Hosts, seed.ProxyTime.Seconds(), count(sf.Clusters), seed.ClusterTime.Seconds(),
		float64(seed.Clusters)/max(seed.ClusterTime.Seconds(), 1e-9), sf.Concurrency, mib(size), stopTime.Round(time.Millisecond))
	b.WriteString("| measurement | value | target (200 MB = 190.7 MiB) |\n|---|---:|---|\n")
	fmt.Fprintf(&b, "| RSS of the process that created the state (VmRSS; peak VmHWM) | %s (peak %s) | ≤ 200 MB: %s |\n",
		mib(seededMem.RSS), mib(seededMem.HWM), verdict(seededMem.RSS <= 200e6))
	fmt.Fprintf(&b, "| Go heap in use after seeding | %s | |\n", mib(seededMem.HeapInuse))
	if coord != nil && coord.ServerRSS != nil {
		fmt.Fprintf(&b, "| RSS peak during the %.0f s coordinator run at scale (1 s samples) | %s | ≤ 200 MB: %s |\n",
			coord.DurationS, mib(coord.ServerRSS.Bytes), verdict(coord.ServerRSS.Bytes <= 200e6))
		fmt.Fprintf(&b, "| 1 s after the coordinator run | %s (peak %s, Go heap %s) | ≤ 200 MB: %s |\n",
			mib(loadedMem.RSS), mib(loadedMem.HWM), mib(loadedMem.HeapInuse), verdict(loadedMem.RSS <= 200e6))
	}
	var fr []time.Duration
	for i, r := range runs {
		fr = append(fr, r.FirstRead)
		fmt.Fprintf(&b, "| restart %d: exec → /healthz 200 | %s | |\n", i+1, r.Healthz.Round(time.Millisecond))
		fmt.Fprintf(&b, "| restart %d: exec → `GET /clusters/meta/%s` answers the cluster | %s | ≤ 1 s: %s |\n", i+1, probeName,
			r.FirstRead.Round(time.Millisecond), verdict(r.FirstRead <= time.Second))
		fmt.Fprintf(&b, "| restart %d: RSS 1 s after start (state loaded from disk) | %s (peak %s, Go heap %s) | ≤ 200 MB: %s |\n",
			i+1, mib(r.Mem.RSS), mib(r.Mem.HWM), mib(r.Mem.HeapInuse), verdict(r.Mem.RSS <= 200e6))
	}
	if roundMem.RSS > 0 {
		fmt.Fprintf(&b, "| restart %d, then every cluster and proxy view read once (all views cached) | %s (peak %s, Go heap %s) | ≤ 200 MB: %s |\n",
			len(runs), mib(roundMem.RSS), mib(roundMem.HWM), mib(roundMem.HeapInuse), verdict(roundMem.RSS <= 200e6))
	}
	if len(fr) > 0 {
		slices.Sort(fr)
		fmt.Fprintf(&b, "\nMedian cold start to the first cluster read: **%s**.\n", fr[len(fr)/2].Round(time.Millisecond))
	}
	if coord != nil {
		l := coord.Latency
		fmt.Fprintf(&b, "\nCoordinator scenario at this scale (%d connections, %.0f s): %s req/s, p50 %s ms, p99 %s ms, p99.9 %s ms, %d errors ([%s](%s)).\n",
			coord.Concurrency, coord.DurationS, thousands(coord.Throughput), msStr(l.P50), msStr(l.P99), msStr(l.P999), coord.Errors,
			filepath.Base(*jsonPath), filepath.Base(*jsonPath))
	}
	if err := resultsfile.Update(*results, "loadgen-scale", b.String()); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "scale: wrote %s\n", *results)
	return nil
}

// readEveryView reads every cluster's and every proxy's view once, untimed.
func readEveryView(c *Client, st State) error {
	n := len(st.Clusters)
	return parallel(n+len(st.Proxies), 16, func(i int) error {
		path := st.API + "/clusters/meta/" + st.Clusters[min(i, n-1)]
		if i >= n {
			path = st.API + "/proxies/meta/" + st.Proxies[i-n]
		}
		status, body, err := c.Call("GET", path, nil)
		if err == nil && status != 200 {
			err = fmt.Errorf("GET %s: %s", path, errorLabel(status, body, nil))
		}
		return err
	})
}
