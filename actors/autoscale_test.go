package actors

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// autoEngine registers n fake proxies (RESP servers) on n fake hosts.
func autoEngine(t *testing.T, n int, epoch int64, o Options) (*Engine, map[string]*fakeProxy) {
	t.Helper()
	if o.EpochPollInterval == 0 {
		o.EpochPollInterval = 20 * time.Millisecond
	}
	e := startEngine(t, t.TempDir(), o)
	proxies := map[string]*fakeProxy{}
	for i := 0; i < n; i++ {
		p := startFakeProxy(t, epoch)
		proxies[p.addr()] = p
		ok(t, e.AddProxy(p.addr(), [2]string{p.addr() + "0", p.addr() + "1"}, "host"+string(rune('a'+i)), nil))
	}
	return e, proxies
}

func info(t *testing.T, e *Engine, name string) meta.ClusterInfo {
	t.Helper()
	var i meta.ClusterInfo
	if err := json.Unmarshal(ok(t, e.ClusterInfo(name)), &i); err != nil {
		t.Fatal(err)
	}
	return i
}

func TestAutoScaleOutWaitsForProxiesThenExpands(t *testing.T) {
	e, proxies := autoEngine(t, 6, 1_000_000, Options{})
	ok(t, e.CreateCluster("c", 4))
	ok(t, e.AutoScale("c", 12))
	if got := info(t, e, "c"); got.NodeNumber != 12 || !got.IsMigrating {
		t.Fatalf("after auto scale-out: %+v", got)
	}
	for addr, p := range proxies {
		if p.calls.Load() == 0 && metadata(t, e).AllProxies[addr].Cluster == "c" {
			t.Fatalf("proxy %s of the cluster was never asked for its epoch", addr)
		}
	}
	newCoordinator(t, e).commitVisible("c")
	// Shrinking through the same call starts a shrink and keeps the nodes.
	ok(t, e.AutoScale("c", 4))
	if got := info(t, e, "c"); got.NodeNumber != 12 || !got.IsMigrating {
		t.Fatalf("after auto scale-in: %+v", got)
	}
	newCoordinator(t, e).commitVisible("c")
	// Once committed, a retry deletes the slot-less nodes and finds nothing else to do.
	ok(t, e.AutoScale("c", 4))
	if got := info(t, e, "c"); got.NodeNumber != 4 || got.IsMigrating {
		t.Fatalf("after auto no-op: %+v", got)
	}
}

func TestAutoScaleProxyNotSync(t *testing.T) {
	e, proxies := autoEngine(t, 4, 0, Options{EpochPollFailures: 3})
	ok(t, e.CreateCluster("c", 4))
	for _, p := range proxies {
		p.close() // every proxy is unreachable
	}
	start := time.Now()
	wantErr(t, e.AutoScale("c", 8), meta.ErrProxyNotSync)
	if time.Since(start) > 10*time.Second {
		t.Fatal("the wait for unreachable proxies was not bounded")
	}
	// The nodes were added but no slots moved; the lock is free again.
	if got := info(t, e, "c"); got.NodeNumber != 8 || got.NodeNumberWithSlots != 4 || got.IsMigrating {
		t.Fatalf("after PROXY_NOT_SYNC: %+v", got)
	}
	ok(t, e.DeleteFreeNodes("c"))
}

// autoScaleWaiting starts an auto-scale of cluster "c" from 4 to 8 nodes and returns once it
// polls the proxies, which lag behind the cluster's epoch: it holds the scale lock until
// they catch up (proxies' epoch). done gets its answer.
func autoScaleWaiting(t *testing.T) (e *Engine, proxies map[string]*fakeProxy, done chan Result) {
	t.Helper()
	e, proxies = autoEngine(t, 6, 0, Options{EpochPollMax: 1000})
	ok(t, e.CreateCluster("c", 4))
	done = make(chan Result, 1)
	go func() { done <- e.AutoScale("c", 8) }()
	deadline := time.Now().Add(5 * time.Second)
	for polled := false; !polled; {
		for _, p := range proxies {
			polled = polled || p.calls.Load() > 0
		}
		if time.Now().After(deadline) {
			t.Fatal("the auto-scale never polled the proxies")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return e, proxies, done
}

func TestScaleLockRefusesConcurrentScaling(t *testing.T) {
	e, proxies, done := autoScaleWaiting(t)
	wantErr(t, e.AddNodes("c", 4, Format{}), meta.ErrNodeNumberChanging)
	wantErr(t, e.ReachNodes("c", 16, Format{}), meta.ErrNodeNumberChanging)
	wantErr(t, e.AutoScale("c", 16), meta.ErrNodeNumberChanging)
	wantErr(t, e.Expand("c"), meta.ErrNodeNumberChanging)
	wantErr(t, e.Shrink("c", 4), meta.ErrNodeNumberChanging)
	wantErr(t, e.DeleteFreeNodes("c"), meta.ErrNodeNumberChanging)
	// Reads and non-scaling changes are not blocked by the lock.
	ok(t, e.ClusterMeta("c", Format{}))
	ok(t, e.PatchClusterConfig("c", map[string]string{"migration_scan_count": "8"}))
	for _, p := range proxies {
		p.epoch.Store(1 << 40) // the proxies catch up
	}
	select {
	case r := <-done:
		ok(t, r)
	case <-time.After(10 * time.Second):
		t.Fatal("auto-scale did not finish after the proxies caught up")
	}
	if got := info(t, e, "c"); got.NodeNumber != 8 || !got.IsMigrating {
		t.Fatalf("after the auto-scale: %+v", got)
	}
	checkStore(t, e)
}

// TestDeleteUnderScaleLock: a cluster deleted while an auto-scale waits for its proxies
// answers the auto-scale CLUSTER_NOT_FOUND, its true outcome, not OUTCOME_UNKNOWN.
func TestDeleteUnderScaleLock(t *testing.T) {
	e, _, done := autoScaleWaiting(t)
	ok(t, e.DeleteCluster("c"))
	select {
	case r := <-done:
		wantErr(t, r, meta.ErrClusterNotFound)
	case <-time.After(time.Minute):
		t.Fatal("the auto-scale was never answered")
	}
	checkStore(t, e)
}

// TestConcurrentScalingNeverCorruptsPlans races many scaling calls on one cluster: each
// is refused with NODE_NUMBER_CHANGING or applied whole, and the store stays valid.
func TestConcurrentScalingNeverCorruptsPlans(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{MigrationLimit: 0})
	addProxies(t, e, 6, 4)
	ok(t, e.CreateCluster("c", 8))
	results := make(chan Result, 64)
	for i := 0; i < 16; i++ {
		go func(i int) {
			switch i % 4 {
			case 0:
				results <- e.AddNodes("c", 4, Format{})
			case 1:
				results <- e.Expand("c")
			case 2:
				results <- e.Shrink("c", 4)
			default:
				results <- e.DeleteFreeNodes("c")
			}
		}(i)
	}
	for i := 0; i < 16; i++ {
		r := <-results
		if r.Err != nil && meta.Code(r.Err) == "" {
			t.Fatalf("unexpected error %v", r.Err)
		}
	}
	checkStore(t, e)
	newCoordinator(t, e).commitVisible("c")
	checkStore(t, e)
}
