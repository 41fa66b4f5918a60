package actors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
	"github.com/seed248d40c9/fulcrum/persist"
)

// The HA tests run engines over the real 3-member etcd that make test starts (or one this
// test binary starts), each test under its own prefix.

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m)) }

// haWait bounds every wait for a role or a state to show up; a takeover after a partition
// takes about the lease TTL. etcd rounds a TTL up to its minimum (about 2 s). Requests keep
// the default timeout (5 s): other test binaries share the cluster and may kill its raft
// leader, and a new one takes a second or two to be elected.
const (
	haWait = 30 * time.Second
	haTTL  = 2 * time.Second
)

// haMember is one engine of an HA broker and its store.
type haMember struct {
	e     *Engine
	store *persist.EtcdStore
}

func openHAStore(t *testing.T, endpoints []string, prefix, id string) *persist.EtcdStore {
	t.Helper()
	return OpenEtcdRetrying(t, persist.EtcdConfig{Endpoints: endpoints, Prefix: prefix, ID: id, LeaseTTL: haTTL})
}

// OpenEtcdRetrying opens an EtcdStore, trying again (bounded) while its lease cannot be
// granted: another test binary sharing the cluster may have killed its raft leader, and a
// lease grant is not retried by the client.
func OpenEtcdRetrying(t testing.TB, cfg persist.EtcdConfig) *persist.EtcdStore {
	t.Helper()
	deadline := time.Now().Add(haWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), haWait)
		s, err := persist.OpenEtcd(ctx, cfg)
		cancel()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startHA starts an engine on etcd; it is stopped, and its store closed, when the test ends.
func startHA(t *testing.T, endpoints []string, prefix, id string, o Options) *haMember {
	t.Helper()
	s := openHAStore(t, endpoints, prefix, id)
	o.Store = s
	e, err := Start(o)
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	m := &haMember{e, s}
	t.Cleanup(func() {
		e.Stop()
		s.Close()
	})
	return m
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(haWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", haWait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// okLeading makes a change on m, which leads: under load (the race detector, a busy
// machine) a lease can lapse and the leadership move for a moment, and an HA client retries
// NO_LEADER and ETCD_UNAVAILABLE (bounded).
func okLeading(t *testing.T, m *haMember, change func() Result) []byte {
	t.Helper()
	deadline := time.Now().Add(haWait)
	for {
		r := change()
		if (!errors.Is(r.Err, ErrNoLeader) && !errors.Is(r.Err, ErrEtcdUnavailable)) || time.Now().After(deadline) {
			return ok(t, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitRole(t *testing.T, m *haMember, role string) {
	t.Helper()
	waitFor(t, m.store.ID()+" to be "+role, func() bool { return m.e.HA().Role == role })
}

// twoMembers starts a and, once a leads, b.
func twoMembers(t *testing.T, name string) (leader, follower *haMember) {
	t.Helper()
	eps, prefix := etcdtest.Endpoints(t), etcdtest.Prefix(name)
	a := startHA(t, eps, prefix, "a", Options{})
	waitRole(t, a, RoleLeader)
	b := startHA(t, eps, prefix, "b", Options{})
	waitRole(t, b, RoleFollower)
	return a, b
}

// caughtUp waits until the follower serves the leader's epoch and metadata.
func caughtUp(t *testing.T, leader, follower *haMember) {
	t.Helper()
	want := epoch(t, leader.e)
	waitFor(t, fmt.Sprintf("the follower to reach epoch %d", want), func() bool { return epoch(t, follower.e) == want })
}

func TestHAStatus(t *testing.T) {
	a, b := twoMembers(t, "status")
	cases := []struct {
		m          *haMember
		role, inst string
	}{
		{a, RoleLeader, "a"},
		{b, RoleFollower, "b"},
	}
	for _, c := range cases {
		waitFor(t, c.inst+" to know the leader", func() bool { return c.m.e.HA().Leader == "a" })
		st := c.m.e.HA()
		if st.Backend != "etcd" || st.Role != c.role || st.Instance != c.inst || st.Revision <= 0 {
			t.Errorf("%s: HA() = %+v", c.inst, st)
		}
	}
	addr, local, err := b.e.WriteTarget()
	if addr != "a" || local || err != nil {
		t.Errorf("follower WriteTarget = %q %v %v, want the leader a", addr, local, err)
	}
	if _, local, err := a.e.WriteTarget(); !local || err != nil {
		t.Errorf("leader WriteTarget: local %v, %v", local, err)
	}
}

func TestHABboltIsSingle(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{Instance: "127.0.0.1:7799"})
	if st := e.HA(); st != (HAStatus{Backend: "bbolt", Role: RoleSingle, Instance: "127.0.0.1:7799"}) {
		t.Fatalf("HA() = %+v", st)
	}
	if _, local, err := e.WriteTarget(); !local || err != nil {
		t.Fatalf("WriteTarget: local %v, %v", local, err)
	}
}

// A follower serves what the leader wrote: pool reads, cluster actors, the store's
// metadata document, within the watch delay.
func TestHAFollowerServesLeaderWrites(t *testing.T) {
	a, b := twoMembers(t, "follow")
	addProxies(t, a.e, 4, 2)
	ok(t, a.e.CreateCluster("c1", 4))
	ok(t, a.e.ReportFailure("127.0.0.1:7000", "r1"))
	ok(t, a.e.PatchClusterConfig("c1", map[string]string{"compression_strategy": "set_get_only"}))
	ok(t, a.e.DeleteProxy("127.0.0.4:7001"))
	caughtUp(t, a, b)
	reads := []struct {
		name string
		read func(e *Engine) Result
	}{
		{"cluster meta", func(e *Engine) Result { return e.ClusterMeta("c1", Format{}) }},
		{"cluster info", func(e *Engine) Result { return e.ClusterInfo("c1") }},
		{"cluster names", func(e *Engine) Result { return e.ClusterNames(0, -1) }},
		{"proxy addresses", func(e *Engine) Result { return e.ProxyAddresses(0, -1) }},
		{"proxy in cluster", func(e *Engine) Result { return e.ProxyMeta(clusterView(t, a.e, "c1").Nodes[0].ProxyAddress, Format{}) }},
		{"free proxy", func(e *Engine) Result { return e.ProxyMeta("127.0.0.4:7000", Format{}) }},
		{"failures", func(e *Engine) Result { return e.Failures() }},
		{"metadata", func(e *Engine) Result { return e.Metadata() }},
	}
	for _, r := range reads {
		if got, want := ok(t, r.read(b.e)), ok(t, r.read(a.e)); !bytes.Equal(got, want) {
			t.Errorf("%s: follower %s\nleader %s", r.name, got, want)
		}
	}
	ok(t, a.e.DeleteCluster("c1"))
	caughtUp(t, a, b)
	if got := ok(t, b.e.ClusterMeta("c1", Format{})); !bytes.Equal(got, nullClusterBody) {
		t.Errorf("deleted cluster on the follower: %s", got)
	}
}

// The engine of a follower takes no change itself (the HTTP layer forwards them).
func TestHAFollowerRefusesChanges(t *testing.T) {
	_, b := twoMembers(t, "refuse")
	cases := []struct {
		name   string
		change func() Result
	}{
		{"add proxy", func() Result {
			return b.e.AddProxy("127.0.0.9:7000", [2]string{"127.0.0.9:6000", "127.0.0.9:6001"}, "", nil)
		}},
		{"create cluster", func() Result { return b.e.CreateCluster("c1", 4) }},
		{"report failure", func() Result { return b.e.ReportFailure("127.0.0.9:7000", "r") }},
		{"set epoch", func() Result { return b.e.SetEpoch(100) }},
	}
	for _, c := range cases {
		wantErr(t, c.change(), ErrNoLeader)
	}
	if n := epoch(t, b.e); n != 0 {
		t.Errorf("epoch after refused changes: %d", n)
	}
}

// When the leader's lease ends (its store closed: the lease revoked, as a clean stop
// does; a kill -9 lets it expire after the TTL), the follower takes over with every
// acknowledged change, and the epoch goes on growing from the highest one.
func TestHATakeoverKeepsStateAndEpochGrows(t *testing.T) {
	a, b := twoMembers(t, "takeover")
	addProxies(t, a.e, 4, 2)
	ok(t, a.e.CreateCluster("c1", 4))
	before := epoch(t, a.e)
	caughtUp(t, a, b)
	if err := a.store.Close(); err != nil {
		t.Fatal(err)
	}
	waitRole(t, b, RoleLeader)
	if got := epoch(t, b.e); got != before {
		t.Fatalf("new leader's epoch %d, want %d", got, before)
	}
	okLeading(t, b, func() Result {
		return b.e.AddProxy("127.0.0.5:7000", [2]string{"127.0.0.5:6000", "127.0.0.5:6001"}, "", nil)
	})
	if got := epoch(t, b.e); got <= before {
		t.Fatalf("epoch after a change on the new leader: %d, want > %d", got, before)
	}
	if v := clusterView(t, b.e, "c1"); v == nil || len(v.Nodes) != 4 {
		t.Fatalf("cluster on the new leader: %+v", v)
	}
	// The old leader, its lease gone, takes nothing.
	r := a.e.AddProxy("127.0.0.6:7000", [2]string{"127.0.0.6:6000", "127.0.0.6:6001"}, "", nil)
	if !errors.Is(r.Err, ErrNoLeader) && !errors.Is(r.Err, ErrEtcdUnavailable) {
		t.Fatalf("old leader took a change: %v", r.Err)
	}
}

// A leader cut off from etcd (a partition between it and every member) loses its lease;
// the other instance takes over; the old leader's changes are refused, never written; once
// healed it follows the new leader. Nothing it acknowledged before is lost.
func TestHAPartitionedLeaderIsFenced(t *testing.T) {
	eps, prefix := etcdtest.Endpoints(t), etcdtest.Prefix("partition")
	var proxies []*etcdtest.Proxy
	var viaProxies []string
	for _, ep := range eps {
		p := etcdtest.NewProxy(t, strings.TrimPrefix(ep, "http://"))
		proxies = append(proxies, p)
		viaProxies = append(viaProxies, p.URL())
	}
	a := startHA(t, viaProxies, prefix, "a", Options{})
	waitRole(t, a, RoleLeader)
	b := startHA(t, eps, prefix, "b", Options{})
	waitRole(t, b, RoleFollower)
	addProxies(t, a.e, 4, 2)
	acked := epoch(t, a.e)

	for _, p := range proxies {
		p.Cut()
	}
	waitRole(t, b, RoleLeader)
	for i := range 20 { // a change before and after the old leader noticed: refused either way
		r := a.e.AddProxy(fmt.Sprintf("127.0.0.7:70%02d", i), [2]string{"127.0.0.7:6000", "127.0.0.7:6001"}, "", nil)
		if r.Err == nil {
			t.Fatalf("the cut-off leader acknowledged change %d", i)
		}
	}
	if got := epoch(t, b.e); got != acked {
		t.Fatalf("new leader's epoch %d, want the acknowledged %d", got, acked)
	}
	okLeading(t, b, func() Result { return b.e.CreateCluster("c1", 4) })

	for _, p := range proxies {
		p.Heal()
	}
	waitRole(t, a, RoleFollower)
	caughtUp(t, b, a)
	for i := range 20 {
		if v := proxyView(t, a.e, fmt.Sprintf("127.0.0.7:70%02d", i)); v != nil {
			t.Fatalf("a refused change is served: %+v", v)
		}
	}
	if v := clusterView(t, a.e, "c1"); v == nil {
		t.Fatal("the healed old leader does not serve the new leader's cluster")
	}
}

// The engine's store after a takeover is the same store: a restart (a fresh instance with
// nothing on disk) serves the whole state.
func TestHAFreshInstanceServesState(t *testing.T) {
	a, _ := twoMembers(t, "fresh")
	addProxies(t, a.e, 4, 2)
	ok(t, a.e.CreateCluster("c1", 4))
	c := startHA(t, etcdtest.Endpoints(t), a.store.Prefix(), "c", Options{})
	waitRole(t, c, RoleFollower)
	caughtUp(t, a, c)
	if got, want := ok(t, c.e.Metadata()), ok(t, a.e.Metadata()); !bytes.Equal(got, want) {
		t.Fatalf("fresh instance's metadata:\n%s\nwant\n%s", got, want)
	}
}

// A batch larger than one etcd transaction takes is refused whole, and the leader stays.
func TestHARestoreAboveTxnOpsRefused(t *testing.T) {
	eps, prefix := etcdtest.Endpoints(t), etcdtest.Prefix("txnops")
	s := OpenEtcdRetrying(t, persist.EtcdConfig{Endpoints: eps, Prefix: prefix, ID: "a", LeaseTTL: haTTL, MaxTxnOps: 8})
	e, err := Start(Options{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(); s.Close() })
	m := &haMember{e, s}
	waitRole(t, m, RoleLeader)
	addProxies(t, e, 2, 2) // one record and the epoch per change
	doc := fmt.Sprintf(`{"version":"mem-broker-0.2","global_epoch":%d,"clusters":{},"all_proxies":{%s},"failed_proxies":[],"failures":{},"enable_ordered_proxy":false}`,
		epoch(t, e)+1, proxiesJSON(10))
	wantErr(t, e.RestoreMetadata([]byte(doc)), persist.ErrTooManyOps)
	if e.HA().Role != RoleLeader {
		t.Fatalf("role after a refused batch: %s", e.HA().Role)
	}
	okLeading(t, m, func() Result {
		return e.AddProxy("127.0.0.9:7000", [2]string{"127.0.0.9:6000", "127.0.0.9:6001"}, "", nil)
	})
}

func proxiesJSON(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"10.1.0.%d:7000":{"proxy_address":"10.1.0.%d:7000","host":"10.1.0.%d","node_addresses":["10.1.0.%d:6000","10.1.0.%d:6001"],"cluster":null,"index":0}`,
			i, i, i, i, i))
	}
	return strings.Join(parts, ",")
}

// A leader whose election key is gone while it still believes it leads (its lease expired
// unseen, say) is fenced: its next change is refused by etcd whole, answered NO_LEADER,
// and it follows the instance that took over.
func TestHAFencedLeaderRefusesAndFollows(t *testing.T) {
	a, b := twoMembers(t, "fenced")
	addProxies(t, a.e, 2, 1)
	cli, err := clientv3.New(clientv3.Config{Endpoints: etcdtest.Endpoints(t), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), haWait)
	defer cancel()
	resp, err := cli.Get(ctx, a.store.Prefix()+"/leader/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, kv := range resp.Kvs {
		if string(kv.Value) != "a" {
			continue
		}
		if _, err := cli.Delete(ctx, string(kv.Key)); err != nil {
			t.Fatal(err)
		}
		deleted++
	}
	if deleted != 1 {
		t.Fatalf("a's election keys: %d of %v", deleted, resp.Kvs)
	}
	waitRole(t, b, RoleLeader)
	before := epoch(t, b.e)
	r := a.e.AddProxy("127.0.0.8:7000", [2]string{"127.0.0.8:6000", "127.0.0.8:6001"}, "", nil)
	wantErr(t, r, ErrNoLeader)
	waitRole(t, a, RoleFollower)
	if got := epoch(t, b.e); got != before {
		t.Fatalf("the fenced change moved the epoch: %d, want %d", got, before)
	}
	if v := proxyView(t, b.e, "127.0.0.8:7000"); v != nil {
		t.Fatalf("the fenced change is in etcd: %+v", v)
	}
	okLeading(t, b, func() Result {
		return b.e.AddProxy("127.0.0.9:7000", [2]string{"127.0.0.9:6000", "127.0.0.9:6001"}, "", nil)
	})
	caughtUp(t, b, a)
}
