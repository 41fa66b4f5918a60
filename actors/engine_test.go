package actors

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

func startEngine(t testing.TB, dir string, o Options) *Engine {
	t.Helper()
	o.DataDir = dir
	e, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop() })
	return e
}

func ok(t testing.TB, r Result) []byte {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("unexpected error %v", r.Err)
	}
	return r.Body
}

func wantErr(t testing.TB, r Result, want error) {
	t.Helper()
	if !errors.Is(r.Err, want) {
		t.Fatalf("got error %v, want %v", r.Err, want)
	}
}

// addProxies registers hosts x perHost proxies 127.0.0.H:70PP as undermoon's tests do.
func addProxies(t testing.TB, e *Engine, hosts, perHost int) {
	t.Helper()
	for h := 1; h <= hosts; h++ {
		for p := 0; p < perHost; p++ {
			addr := fmt.Sprintf("127.0.0.%d:70%02d", h, p)
			ok(t, e.AddProxy(addr, [2]string{fmt.Sprintf("127.0.0.%d:60%02d", h, 2*p), fmt.Sprintf("127.0.0.%d:60%02d", h, 2*p+1)}, "", nil))
		}
	}
}

func metadata(t testing.TB, e *Engine) *meta.MetaStore {
	t.Helper()
	var ms meta.MetaStore
	if err := json.Unmarshal(ok(t, e.Metadata()), &ms); err != nil {
		t.Fatal(err)
	}
	return &ms
}

func epoch(t testing.TB, e *Engine) uint64 {
	t.Helper()
	var n uint64
	fmt.Sscan(string(ok(t, e.Epoch())), &n)
	return n
}

func proxyView(t testing.TB, e *Engine, addr string) *meta.ProxyView {
	t.Helper()
	var body struct{ Proxy *meta.ProxyView }
	if err := json.Unmarshal(ok(t, e.ProxyMeta(addr, Format{})), &body); err != nil {
		t.Fatal(err)
	}
	return body.Proxy
}

func clusterView(t testing.TB, e *Engine, name string) *meta.ClusterView {
	t.Helper()
	var body struct{ Cluster *meta.ClusterView }
	if err := json.Unmarshal(ok(t, e.ClusterMeta(name, Format{})), &body); err != nil {
		t.Fatal(err)
	}
	return body.Cluster
}

func freeProxyCount(t testing.TB, e *Engine) int {
	t.Helper()
	ms := metadata(t, e)
	n := 0
	for addr, p := range ms.AllProxies {
		if p.Cluster == "" && len(ms.Failures[addr]) == 0 && !contains(ms.FailedProxies, addr) {
			n++
		}
	}
	return n
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestAddAndRemoveProxy(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	wantErr(t, e.AddProxy("127.0.0.1", [2]string{"a:1", "a:2"}, "", nil), meta.ErrInvalidProxyAddress)
	ok(t, e.AddProxy("127.0.0.1:7000", [2]string{"127.0.0.1:6000", "127.0.0.1:6001"}, "", nil))
	if got := epoch(t, e); got != 1 {
		t.Fatalf("epoch after one proxy = %d, want 1", got)
	}
	pv := proxyView(t, e, "127.0.0.1:7000")
	if pv.Epoch != 1 || len(pv.Nodes) != 0 || len(pv.Peers) != 0 || len(pv.FreeNodes) != 2 {
		t.Fatalf("free proxy view = %+v", pv)
	}
	wantErr(t, e.AddProxy("127.0.0.1:7000", [2]string{"x:1", "x:2"}, "", nil), meta.ErrAlreadyExisted)
	if got := epoch(t, e); got != 1 {
		t.Fatalf("re-adding bumped the epoch to %d", got)
	}
	if got := proxyView(t, e, "127.0.0.1:7000").FreeNodes[0]; got != "127.0.0.1:6000" {
		t.Fatalf("re-adding changed the nodes to %s", got)
	}
	ok(t, e.DeleteProxy("127.0.0.1:7000"))
	wantErr(t, e.DeleteProxy("127.0.0.1:7000"), meta.ErrProxyNotFound)
	if string(ok(t, e.ProxyMeta("127.0.0.1:7000", Format{}))) != `{"proxy":null}` {
		t.Fatal("deleted proxy still has a view")
	}
}

func TestProxyHost(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	ok(t, e.AddProxy("127.0.0.1:7000", [2]string{"a:1", "a:2"}, "", nil))
	ok(t, e.AddProxy("127.0.0.1:7001", [2]string{"a:3", "a:4"}, "localhost2", nil))
	ms := metadata(t, e)
	if ms.AllProxies["127.0.0.1:7000"].Host != "127.0.0.1" || ms.AllProxies["127.0.0.1:7001"].Host != "localhost2" {
		t.Fatalf("hosts = %+v %+v", ms.AllProxies["127.0.0.1:7000"], ms.AllProxies["127.0.0.1:7001"])
	}
}

func TestAddAndRemoveCluster(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 4, 3)
	before := epoch(t, e)
	ok(t, e.CreateCluster("c1", 4))
	if epoch(t, e) <= before {
		t.Fatal("creating a cluster did not bump the epoch")
	}
	wantErr(t, e.CreateCluster("c1", 4), meta.ErrAlreadyExisted)
	wantErr(t, e.CreateCluster("c.2", 4), meta.ErrInvalidClusterName)
	for _, n := range []int64{0, 3, 5, -4} {
		wantErr(t, e.CreateCluster("c2", n), meta.ErrInvalidNodeNumber)
	}
	if string(ok(t, e.ClusterNames(0, -1))) != `{"names":["c1"]}` {
		t.Fatal("names after create")
	}
	var info meta.ClusterInfo
	json.Unmarshal(ok(t, e.ClusterInfo("c1")), &info)
	if info != (meta.ClusterInfo{Name: "c1", NodeNumber: 4, NodeNumberWithSlots: 4}) {
		t.Fatalf("info = %+v", info)
	}
	if n := freeProxyCount(t, e); n != 10 {
		t.Fatalf("%d free proxies after a 4-node cluster, want 10", n)
	}
	ok(t, e.CreateCluster("c2", 8))
	for _, name := range []string{"c1", "c2"} {
		cv := clusterView(t, e, name)
		for _, n := range cv.Nodes {
			pv := proxyView(t, e, n.ProxyAddress)
			if len(pv.Nodes) != 2 || len(pv.FreeNodes) != 0 || pv.Epoch != cv.Epoch {
				t.Fatalf("proxy %s of %s: %+v", n.ProxyAddress, name, pv)
			}
		}
	}
	checkStore(t, e)
	ok(t, e.DeleteCluster("c1"))
	wantErr(t, e.DeleteCluster("c1"), meta.ErrClusterNotFound)
	wantErr(t, e.ClusterInfo("c1"), meta.ErrClusterNotFound)
	ok(t, e.DeleteCluster("c2"))
	if n := freeProxyCount(t, e); n != 12 {
		t.Fatalf("%d free proxies after deleting every cluster, want 12", n)
	}
	if string(ok(t, e.ClusterMeta("c1", Format{}))) != `{"cluster":null}` {
		t.Fatal("deleted cluster still has a view")
	}
	// The same name can be created again at once.
	ok(t, e.CreateCluster("c1", 4))
	if clusterView(t, e, "c1") == nil {
		t.Fatal("re-created cluster has no view")
	}
}

type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(c.now.Load(), 0) }
func (c *fakeClock) advance(d time.Duration) { c.now.Add(int64(d / time.Second)) }

func TestFailuresAndFailover(t *testing.T) {
	clock := &fakeClock{}
	clock.now.Store(1_700_000_000)
	e := startEngine(t, t.TempDir(), Options{Now: clock.Now, FailureQuorum: 1, FailureTTL: 60 * time.Second})
	addProxies(t, e, 3, 2)
	free := freeProxyCount(t, e)
	before := epoch(t, e)
	ok(t, e.ReportFailure("127.0.0.1:7000", "coord1"))
	if epoch(t, e) != before+1 || freeProxyCount(t, e) != free-1 {
		t.Fatal("a first report must bump the epoch and take the proxy out of the free set")
	}
	ok(t, e.ReportFailure("127.0.0.1:7000", "coord1"))
	if epoch(t, e) != before+1 {
		t.Fatal("a repeated report changed the epoch")
	}
	ok(t, e.ReportFailure("10.9.9.9:1", "coord1")) // unknown proxies are accepted, and never listed
	if got := string(ok(t, e.Failures())); got != `{"addresses":["127.0.0.1:7000"]}` {
		t.Fatalf("failures = %s", got)
	}
	clock.advance(61 * time.Second)
	if got := string(ok(t, e.Failures())); got != `{"addresses":[]}` {
		t.Fatalf("expired failures = %s", got)
	}
	ok(t, e.ReportFailure("127.0.0.1:7000", "coord1")) // counts again after expiry
	ok(t, e.DeleteProxy("127.0.0.1:7000"))

	ok(t, e.CreateCluster("c", 4))
	cv := clusterView(t, e, "c")
	master := cv.Nodes[0].ProxyAddress
	partner := cv.Nodes[2].ProxyAddress
	ok(t, e.ReportFailure(master, "coord1"))
	var got struct{ Proxy *meta.ProxyView }
	json.Unmarshal(ok(t, e.Failover(master, Format{})), &got)
	if got.Proxy == nil || got.Proxy.Address == master || len(got.Proxy.Nodes) != 2 {
		t.Fatalf("failover reply = %+v", got.Proxy)
	}
	for _, n := range got.Proxy.Nodes {
		if n.Repl.Role != "replica" {
			t.Fatalf("the replacement must hold the replicas until balance: %+v", n)
		}
	}
	if pv := proxyView(t, e, partner); pv.Nodes[0].Repl.Role != "master" || pv.Nodes[1].Repl.Role != "master" {
		t.Fatalf("the partner must hold both masters: %+v", pv.Nodes)
	}
	if string(ok(t, e.FailedProxies(0, -1))) != fmt.Sprintf(`{"addresses":[%q]}`, master) {
		t.Fatal("the failed proxy is not listed as failed")
	}
	if pv := proxyView(t, e, master); len(pv.Nodes) != 0 {
		t.Fatal("the failed proxy is still in the cluster")
	}
	// Later failovers of the replaced proxy only mark it.
	if string(ok(t, e.Failover(master, Format{}))) != `{"proxy":null}` {
		t.Fatal("failover of a replaced proxy")
	}
	checkStore(t, e)
	// Re-registering brings it back: failures cleared, epoch up, but 409.
	before = epoch(t, e)
	wantErr(t, e.AddProxy(master, [2]string{"x:1", "x:2"}, "", nil), meta.ErrAlreadyExisted)
	if epoch(t, e) != before+1 || contains(metadata(t, e).FailedProxies, master) {
		t.Fatal("re-registering did not clear the failure marks")
	}
	ok(t, e.BalanceCluster("c"))
	if pv := proxyView(t, e, partner); pv.Nodes[0].Repl.Role != "master" || pv.Nodes[1].Repl.Role != "replica" {
		t.Fatalf("balance did not restore the roles: %+v", pv.Nodes)
	}
}

func TestFailoverWithoutSpare(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 2, 1)
	ok(t, e.CreateCluster("c", 4))
	before := epoch(t, e)
	wantErr(t, e.Failover("127.0.0.2:7000", Format{}), meta.ErrNoAvailableResource)
	ms := metadata(t, e)
	c := ms.Clusters["c"]
	if c.Chunks[0].RolePosition != meta.FirstChunkMaster || !contains(ms.FailedProxies, "127.0.0.2:7000") || c.Epoch <= before {
		t.Fatalf("the takeover and the failed mark must be kept: %+v failed=%v", c, ms.FailedProxies)
	}
	// Balance keeps the roles while the failed proxy is still in the chunk.
	ok(t, e.BalanceCluster("c"))
	if metadata(t, e).Clusters["c"].Chunks[0].RolePosition != meta.FirstChunkMaster {
		t.Fatal("balance restored a chunk with a failed proxy")
	}
	checkStore(t, e)
}

func TestSetEpoch(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 2, 1)
	ok(t, e.CreateCluster("c", 4))
	wantErr(t, e.SetEpoch(epoch(t, e)), meta.ErrEpochSmallerThanCurrent)
	ok(t, e.SetEpoch(233))
	if epoch(t, e) != 233 || clusterView(t, e, "c").Epoch != 233 || proxyView(t, e, "127.0.0.1:7000").Epoch != 233 {
		t.Fatal("PUT /epoch must set the global and every cluster epoch")
	}
}

func TestConfigChange(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 2, 1)
	ok(t, e.CreateCluster("c", 4))
	before := clusterView(t, e, "c").Epoch
	ok(t, e.PatchClusterConfig("c", map[string]string{"compression_strategy": "set_get_only"}))
	cv := clusterView(t, e, "c")
	if cv.Config.CompressionStrategy != "set_get_only" || cv.Epoch <= before {
		t.Fatalf("config change: %+v epoch %d", cv.Config, cv.Epoch)
	}
	var ce *meta.ConfigError
	if r := e.PatchClusterConfig("c", map[string]string{"compression_strategy": "all", "migration_scan_count": "3"}); !errors.As(r.Err, &ce) {
		t.Fatalf("invalid config: %v", r.Err)
	}
	if clusterView(t, e, "c").Config.MigrationConfig.ScanCount != 16 {
		t.Fatal("a refused config change applied part of itself")
	}
	wantErr(t, e.PatchClusterConfig("nope", nil), meta.ErrClusterNotFound)
	wantErr(t, e.PatchClusterConfig("no.pe", nil), meta.ErrInvalidClusterName)
}

// checkStore asserts the invariants (README, Targets) on the durable state and that the actors serve
// exactly what is on disk.
func checkStore(t testing.TB, e *Engine) {
	t.Helper()
	ms := metadata(t, e)
	if err := meta.Validate(ms); err != nil {
		t.Fatalf("invariant broken: %v", err)
	}
	for name, c := range ms.Clusters {
		want, _ := json.Marshal(struct {
			Cluster *meta.ClusterView `json:"cluster"`
		}{c.View(0)})
		if got := ok(t, e.ClusterMeta(name, Format{})); string(got) != string(want) {
			t.Fatalf("cluster %s: actor serves\n%s\nstore has\n%s", name, got, want)
		}
	}
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	e, err := Start(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addProxies(t, e, 3, 2)
	ok(t, e.CreateCluster("a", 4))
	ok(t, e.CreateCluster("b", 4))
	ok(t, e.Failover(clusterView(t, e, "a").Nodes[0].ProxyAddress, Format{}))
	ok(t, e.PatchClusterConfig("b", map[string]string{"migration_scan_count": "7"}))
	before := ok(t, e.Metadata())
	views := string(ok(t, e.ClusterMeta("a", Format{}))) + string(ok(t, e.ProxyMeta("127.0.0.3:7001", Format{})))
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	e = startEngine(t, dir, Options{})
	if after := ok(t, e.Metadata()); string(after) != string(before) {
		t.Fatalf("state changed across a restart\nbefore %s\nafter  %s", before, after)
	}
	if got := string(ok(t, e.ClusterMeta("a", Format{}))) + string(ok(t, e.ProxyMeta("127.0.0.3:7001", Format{}))); got != views {
		t.Fatalf("views changed across a restart\nbefore %s\nafter  %s", views, got)
	}
	checkStore(t, e)
}

// TestConcurrentMutations drives many clients at once; afterwards the invariants hold, no
// proxy is in two clusters, and every acknowledged create is there.
func TestConcurrentMutations(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 6, 6)
	var wg sync.WaitGroup
	var live sync.Map // cluster name → true if its last acknowledged change created it
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				name := fmt.Sprintf("c%d", (w*7+i)%12)
				switch i % 3 {
				case 0, 1:
					if r := e.CreateCluster(name, 4*int64(1+i%3)); r.Err == nil {
						live.Store(name, true)
					}
				case 2:
					if r := e.DeleteCluster(name); r.Err == nil {
						live.Store(name, false)
					}
				}
				addr := fmt.Sprintf("10.1.%d.%d:6000", w, i)
				if r := e.AddProxy(addr, [2]string{addr + "1", addr + "2"}, fmt.Sprintf("h%d", i%5), nil); r.Err != nil {
					t.Errorf("add proxy %s: %v", addr, r.Err)
				}
				e.ReportFailure(fmt.Sprintf("127.0.0.%d:70%02d", 1+i%6, w%6), fmt.Sprintf("r%d", w))
			}
		}(w)
	}
	wg.Wait()
	checkStore(t, e)
	ms := metadata(t, e)
	if len(ms.AllProxies) != 36+16*30 {
		t.Fatalf("%d proxies registered, want %d", len(ms.AllProxies), 36+16*30)
	}
	// Clusters are created and deleted by name from several workers, so only names whose
	// operations all succeeded in one direction are certain; the store must agree with the
	// actors for every name either way.
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("c%d", i)
		_, inStore := ms.Clusters[name]
		served := string(ok(t, e.ClusterMeta(name, Format{}))) != `{"cluster":null}`
		if inStore != served {
			t.Fatalf("cluster %s: in store %v, served %v", name, inStore, served)
		}
	}
}
