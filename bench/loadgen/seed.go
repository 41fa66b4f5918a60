package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// SeedConfig is the state to create: Proxies server proxies spread round-robin over Hosts
// hosts (so each host holds about the same number), and Clusters clusters of 4 nodes.
type SeedConfig struct {
	Proxies, Hosts, Clusters int
	Concurrency              int
	// Timeout bounds the whole seeding, each request included: a broker that serializes
	// creations keeps requests queued for Concurrency times its creation time.
	Timeout time.Duration
	// progressEvery is the time between progress lines (0: every 5 s).
	progressEvery time.Duration
}

// ErrSeedTimeout is seeding that did not finish within SeedConfig.Timeout.
var ErrSeedTimeout = errors.New("seeding timed out")

// SeedProxy describes proxy i of a seeded state: host h = i mod hosts gets the address
// 10.a.b.1 and its k-th proxy listens on 6000+k with nodes on 7000+2k and 7001+2k.
func SeedProxy(i, hosts int) (addr, host string, nodes [2]string) {
	h, k := i%hosts, i/hosts
	host = fmt.Sprintf("10.%d.%d.1", h/256, h%256)
	addr = fmt.Sprintf("%s:%d", host, 6000+k)
	nodes = [2]string{fmt.Sprintf("%s:%d", host, 7000+2*k), fmt.Sprintf("%s:%d", host, 7001+2*k)}
	return addr, host, nodes
}

// SeedCluster is the name of seeded cluster i.
func SeedCluster(i int) string { return fmt.Sprintf("c%05d", i) }

// SeedStats says what seeding did.
type SeedStats struct {
	Proxies, Clusters int           // created now
	Existing          int           // already there (409 ALREADY_EXISTED)
	Elapsed           time.Duration // whole seeding
	ProxyTime         time.Duration
	ClusterTime       time.Duration
}

// Seed creates the state through the public API. It is idempotent enough to rerun:
// ALREADY_EXISTED answers count as present. It writes a progress line to log every few
// seconds and gives up with ErrSeedTimeout when cfg.Timeout passes.
func Seed(c *Client, cfg SeedConfig, log io.Writer) (SeedStats, error) {
	var st SeedStats
	start := time.Now()
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	deadline := start.Add(timeout)
	var created, existing atomic.Int64
	call := func(method, path string, body []byte) error {
		if time.Now().After(deadline) {
			return ErrSeedTimeout
		}
		status, resp, err := c.CallDeadline(method, path, body, deadline)
		switch {
		case errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrNoFreeConns):
			return fmt.Errorf("%w: %s %s: %v", ErrSeedTimeout, method, path, err)
		case err != nil:
			return fmt.Errorf("%s %s: %w", method, path, err)
		case status == 200:
			created.Add(1)
		case status == 409 && errorLabel(status, resp, nil) == "409 ALREADY_EXISTED":
			existing.Add(1)
		default:
			return fmt.Errorf("%s %s: %s: %s", method, path, errorLabel(status, resp, nil), truncate(resp, 200))
		}
		return nil
	}
	phase := func(what string, n int, f func(i int) error) error {
		t := time.Now()
		stop := seedProgress(log, what, n, t, cfg.progressEvery, &created, &existing)
		err := parallel(n, cfg.Concurrency, f)
		stop()
		if errors.Is(err, ErrSeedTimeout) {
			return fmt.Errorf("%w after %s: %d of %d %s present (%d new); raise -seed-timeout or seed fewer: %v",
				ErrSeedTimeout, timeout, created.Load()+existing.Load(), n, what, created.Load(), err)
		}
		return err
	}

	err := phase("proxies", cfg.Proxies, func(i int) error {
		addr, host, nodes := SeedProxy(i, cfg.Hosts)
		body, _ := json.Marshal(map[string]any{"proxy_address": addr, "nodes": nodes, "host": host})
		return call("POST", c.API()+"/proxies/meta", body)
	})
	if err != nil {
		return st, err
	}
	st.ProxyTime = time.Since(start)
	st.Proxies = int(created.Swap(0))
	proxyExisting := existing.Swap(0)
	fmt.Fprintf(log, "seed: %d proxies on %d hosts registered (%d new) in %.1fs\n", cfg.Proxies, cfg.Hosts, st.Proxies, st.ProxyTime.Seconds())

	t := time.Now()
	err = phase("clusters", cfg.Clusters, func(i int) error {
		return call("POST", c.API()+"/clusters/meta/"+SeedCluster(i), []byte(`{"node_number":4}`))
	})
	st.ClusterTime = time.Since(t)
	st.Clusters = int(created.Load())
	st.Existing = int(existing.Load() + proxyExisting)
	st.Elapsed = time.Since(start)
	if err == nil {
		fmt.Fprintf(log, "seed: %d clusters of 4 nodes (%d new) in %.1fs\n", cfg.Clusters, st.Clusters, st.ClusterTime.Seconds())
	}
	return st, err
}

// seedProgress writes a line to log every interval while a seeding phase of n items runs:
// how many are present, the rate, and the time left at that rate. The returned func stops it.
func seedProgress(log io.Writer, what string, n int, start time.Time, every time.Duration, created, existing *atomic.Int64) (stop func()) {
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				made, had := created.Load(), existing.Load()
				elapsed := time.Since(start)
				rate := float64(made+had) / elapsed.Seconds()
				left := "unknown"
				if rate > 0 {
					left = (time.Duration(float64(int64(n)-made-had)/rate) * time.Second).Round(time.Second).String()
				}
				fmt.Fprintf(log, "seed: %s %d/%d (%d new) after %s, %.1f/s, %s to go\n",
					what, made+had, n, made, elapsed.Round(time.Second), rate, left)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// parallel runs f(0..n-1) on up to conc goroutines and returns the first error; after an
// error no new items start.
func parallel(n, conc int, f func(i int) error) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		failed   atomic.Bool
	)
	for range max(1, min(conc, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// Discover lists the clusters and proxies the server has, through the paged listings.
func Discover(c *Client) (State, error) {
	st := State{API: c.API()}
	var err error
	if st.Clusters, err = listAll(c, "/clusters/names", "names"); err != nil {
		return st, err
	}
	st.Proxies, err = listAll(c, "/proxies/addresses", "addresses")
	return st, err
}

func listAll(c *Client, path, field string) ([]string, error) {
	const page = 1000
	var all []string
	for off := 0; ; off += page {
		status, body, err := c.Call("GET", fmt.Sprintf("%s%s?offset=%d&limit=%d", c.API(), path, off, page), nil)
		if err != nil {
			return nil, err
		}
		if status != 200 {
			return nil, fmt.Errorf("GET %s: %s", path, errorLabel(status, body, nil))
		}
		var resp map[string][]string
		if err := json.Unmarshal(body, &resp); err != nil {
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		items := resp[field]
		if off > 0 && len(items) > 0 && items[0] == all[0] {
			return all, nil // the server ignores offset: what we have is all it gives
		}
		all = append(all, items...)
		// Stop at the first short page: a broker without paging returns everything at once.
		if len(items) < page {
			return all, nil
		}
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// ClusterProxies reads the views of the given clusters and returns the proxies they use.
func ClusterProxies(c *Client, clusters []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, name := range clusters {
		status, body, err := c.Call("GET", c.API()+"/clusters/meta/"+name, nil)
		if err != nil {
			return nil, err
		}
		if status != 200 {
			return nil, fmt.Errorf("GET cluster %s: %s", name, errorLabel(status, body, nil))
		}
		var v struct {
			Cluster *struct {
				Nodes []struct {
					ProxyAddress string `json:"proxy_address"`
				} `json:"nodes"`
			} `json:"cluster"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, fmt.Errorf("GET cluster %s: %w", name, err)
		}
		if v.Cluster == nil {
			continue
		}
		for _, n := range v.Cluster.Nodes {
			if !seen[n.ProxyAddress] {
				seen[n.ProxyAddress] = true
				out = append(out, n.ProxyAddress)
			}
		}
	}
	return out, nil
}
