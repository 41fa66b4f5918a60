package main

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// RunConfig says how hard and how long to drive a scenario.
type RunConfig struct {
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration // requests started during the warm-up are not recorded
	Progress    *Progress     // nil: silent
	RSS         RSSProbe      // nil: no RSS in the report
	Target      string        // base URL, for the report
	ServerPid   int           // local server: its CPU time is measured too (0: unknown)
}

// opStats is one worker's record of one operation.
type opStats struct {
	hist *Histogram
	errs map[string]int64
}

// Result is what a run measured, before formatting.
type Result struct {
	Scenario string
	Ops      []string
	Hists    []*Histogram // per op
	Total    *Histogram
	Errs     []map[string]int64 // per op: label → count
	Elapsed  time.Duration      // measured window
	Timeline []int64            // requests completed in each second of the window
	RSS      RSSSample
	Cfg      RunConfig
	// CPU time used during the measured window by the load generator and, if its pid is
	// known, the server: on a shared 2-core machine the split says who is the bottleneck.
	LoadgenCPU, ServerCPU time.Duration
	MachineCPU            time.Duration // every process, from /proc/stat
}

// Run drives sc against c with cfg.Concurrency closed-loop workers: each sends a request,
// waits for the answer, records its latency, and sends the next (like wrk). Latency is the
// service time seen by a client; a server that stalls slows the offered load too, so read
// p99.9 with that in mind (there is no coordinated-omission correction).
func Run(ctx context.Context, c *Client, sc *Scenario, cfg RunConfig) *Result {
	var (
		measuring, stop atomic.Bool
		done, failed    atomic.Int64
		wg              sync.WaitGroup
	)
	stats := make([][]opStats, cfg.Concurrency)
	workers := make([]Worker, cfg.Concurrency)
	for i := range workers {
		workers[i] = sc.NewWorker(i)
		stats[i] = make([]opStats, len(sc.Ops))
		for j := range stats[i] {
			stats[i][j] = opStats{hist: NewHistogram(), errs: map[string]int64{}}
		}
	}
	for i := range workers {
		wg.Add(1)
		go func(w Worker, st []opStats) {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			var gunzipped bytes.Buffer
			for !stop.Load() {
				r := w.Next()
				rec := measuring.Load()
				t0 := time.Now()
				err := c.Do(req, resp, r.Method, r.Path, r.Body)
				// Decoding is part of the request, as it is for a coordinator.
				var body []byte
				if err == nil {
					body, err = decodeBody(resp, &gunzipped)
				}
				d := time.Since(t0)
				status := 0
				if err == nil {
					status = resp.StatusCode()
				}
				w.Done(r, status, body)
				if !rec {
					continue
				}
				label := ""
				switch {
				case errors.Is(err, ErrBadGzip):
					label = ErrBadGzip.Error()
				case err != nil || status != 200:
					label = errorLabel(status, body, err)
				case sc.Check != nil:
					label = sc.Check(r.Op, body)
				}
				done.Add(1)
				if label != "" {
					st[r.Op].errs[label]++
					failed.Add(1)
					continue
				}
				st[r.Op].hist.Record(d)
			}
		}(workers[i], stats[i])
	}

	res := &Result{Scenario: sc.Name, Ops: sc.Ops, Cfg: cfg}
	sleep(ctx, cfg.Warmup)
	start := time.Now()
	cpu0, srv0, all0 := selfCPU(), serverCPU(cfg.ServerPid), machineBusy()
	measuring.Store(true)
	if cfg.Progress != nil {
		cfg.Progress.Start(sc.Name, cfg.Duration)
	}
	var rss []RSSSample
	tick := time.NewTicker(time.Second)
	deadline := time.NewTimer(cfg.Duration)
	last := int64(0)
loop:
	for {
		select {
		case <-tick.C:
			n := done.Load()
			res.Timeline = append(res.Timeline, n-last)
			last = n
			if cfg.RSS != nil {
				if s, err := cfg.RSS(); err == nil {
					rss = append(rss, s)
				}
			}
			if cfg.Progress != nil {
				cfg.Progress.Update(time.Since(start), n, failed.Load())
			}
		case <-deadline.C:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	tick.Stop()
	measuring.Store(false)
	res.Elapsed = time.Since(start)
	res.LoadgenCPU = selfCPU() - cpu0
	res.MachineCPU = machineBusy() - all0
	if cfg.ServerPid > 0 {
		res.ServerCPU = serverCPU(cfg.ServerPid) - srv0
	}
	stop.Store(true)
	wg.Wait()
	if cfg.Progress != nil {
		cfg.Progress.Finish(res.Elapsed, done.Load(), failed.Load())
	}
	if cfg.RSS != nil {
		if s, err := cfg.RSS(); err == nil {
			rss = append(rss, s)
		}
		res.RSS = peakRSS(rss)
	}

	// Untimed clean-up, e.g. delete clusters created by the mutations mix.
	for _, w := range workers {
		for _, r := range w.Cleanup() {
			status, body, _ := c.Call(r.Method, r.Path, r.Body)
			w.Done(r, status, body)
		}
	}

	res.Total = NewHistogram()
	res.Hists = make([]*Histogram, len(sc.Ops))
	res.Errs = make([]map[string]int64, len(sc.Ops))
	for j := range sc.Ops {
		res.Hists[j] = NewHistogram()
		res.Errs[j] = map[string]int64{}
		for i := range stats {
			res.Hists[j].Merge(stats[i][j].hist)
			for k, v := range stats[i][j].errs {
				res.Errs[j][k] += v
			}
		}
		res.Total.Merge(res.Hists[j])
	}
	return res
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func serverCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	d, _ := ProcCPU(pid)
	return d
}
