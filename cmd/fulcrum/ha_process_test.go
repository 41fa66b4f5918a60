package main

// Broker high availability on etcd (issue 12), shown with real processes: several
// `fulcrum serve --etcd-endpoints` over the shared 3-member test etcd (make test starts it:
// FULCRUM_TEST_ETCD_ENDPOINTS), each test under an etcd prefix of its own.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
)

// seedHA registers proxies on 8 hosts through the instances in turn, so that clusters can
// be created, and records them.
func seedHA(t *testing.T, nodes []*haNode, l *ledger) {
	t.Helper()
	for i := range 32 {
		addr := fmt.Sprintf("192.168.%d.%d:6000", i%8, i/8)
		n := nodes[i%len(nodes)]
		if code, body, err := haDo(n.base(), "POST", "/api/v2/proxies/meta", proxyBody(addr, fmt.Sprintf("host%d", i%8))); err != nil || code != 200 {
			t.Fatalf("register %s through %s: %d %s %v", addr, n.listen, code, body, err)
		}
		l.proxies = append(l.proxies, addr)
	}
}

// Three instances under a steady stream of writes sent to all of them: each is killed -9 in
// turn (the leader whenever it has not been killed yet) and restarted, the leader is
// stopped with SIGTERM and restarted, then the etcd raft leader is killed -9 and restarted. After every kill every surviving instance acknowledges
// writes again within haResumeBound; at the end every instance serves every acknowledged
// write and the same epoch, no instance ever showed an epoch going down, and a fresh
// instance with an empty data dir serves the whole state.
func TestHAKillsUnderWrites(t *testing.T) {
	t.Parallel()
	b := newHABroker(t, "kills", 3)
	for _, n := range b.nodes {
		b.start(n)
	}
	leader := b.waitLeader(20 * time.Second)
	l := newLedger()
	seedHA(t, b.nodes, l)
	epochs := watchEpochs(b)
	s := b.writeStream(4, l)
	s.waitResumed(time.Now(), haResumeBound, "the start")
	s.steady()

	killed := map[*haNode]bool{}
	for range b.nodes {
		victim, role := leader, "leader"
		if killed[victim] {
			role = "follower"
			for _, n := range b.nodes {
				if !killed[n] {
					victim = n
					break
				}
			}
		}
		killed[victim] = true
		at := time.Now()
		b.kill(victim)
		seen := epochs.highest() // every epoch shown was committed
		s.waitResumed(at, haResumeBound, "kill -9 of the "+role+" "+victim.listen)
		// Epochs go on from the highest committed one, whoever leads now.
		if now := b.leaderEpoch(); now <= seen {
			t.Fatalf("after the kill of %s the leader's epoch is %d, not above %d shown before", victim.listen, now, seen)
		}
		b.start(victim)
		s.waitResumed(time.Now(), haResumeBound, "the restart of "+victim.listen)
		leader = b.waitLeader(20 * time.Second)
	}

	// A leader stopped with SIGTERM exits cleanly and hands over at once (it revokes its
	// lease): no wait for the lease to expire.
	at := time.Now()
	if err := leader.p.kill(syscall.SIGTERM, 10*time.Second); err != nil {
		t.Fatalf("the leader's exit after SIGTERM: %v", err)
	}
	leader.p = nil
	s.waitResumed(at, haResumeBound, "SIGTERM of the leader "+leader.listen)
	b.start(leader)
	s.waitResumed(time.Now(), haResumeBound, "the restart of "+leader.listen)

	// One etcd member of three — the raft leader — killed -9, then restarted.
	endpoints := etcdtest.Endpoints(t)
	members := etcdtest.Cluster(t)
	member := etcdLeader(t, endpoints)
	at = time.Now()
	if err := members.StopMember(member, true); err != nil {
		t.Fatal(err)
	}
	down := true
	restart := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := members.StartMember(ctx, member); err != nil {
			t.Errorf("restart etcd member %d: %v", member+1, err)
		}
		down = false
	}
	t.Cleanup(func() {
		if down {
			restart()
		}
	})
	s.waitResumed(at, haResumeBound, fmt.Sprintf("kill -9 of etcd member %d (the raft leader)", member+1))
	restart()
	s.waitResumed(time.Now(), haResumeBound, fmt.Sprintf("the restart of etcd member %d", member+1))

	s.halt()
	t.Logf("write stream: %s", l)
	l.checkAnswers(t)
	if len(l.proxies) < 100 || len(l.clusters) == 0 || len(l.reports) == 0 || l.maxEpoch == 0 {
		t.Fatalf("too few acknowledged writes of some kind: the stream did not run (%s)", l)
	}
	ms := b.converge(20 * time.Second)
	l.check(t, "every instance", ms) // converge: every instance serves these same bytes
	for _, n := range b.live() {
		l.waitServed(t, n, 20*time.Second)
	}
	for who, e := range b.epochs() {
		if e != fmt.Sprint(ms.GlobalEpoch) {
			t.Fatalf("%s: GET /epoch %s, the state's global epoch is %d", who, e, ms.GlobalEpoch)
		}
	}
	epochs.check(t)

	fresh := b.add(endpoints)
	b.start(fresh)
	l.check(t, "a fresh instance", b.converge(20*time.Second))
	l.waitServed(t, fresh, 20*time.Second)
	if got := b.waitLeader(20 * time.Second); got == fresh {
		t.Fatalf("the fresh instance %s took the leadership from a live leader", fresh.listen)
	}
}

// probe sends writes to one instance only and keeps its answers.
type probe struct {
	mu      sync.Mutex
	answers []probeAnswer
	stop    chan struct{}
	done    chan struct{}
}

type probeAnswer struct {
	sent time.Time
	addr string // the proxy it registers
	code int    // 0: no answer
	err  string // the JSON error code
}

func probeWrites(n *haNode) *probe {
	p := &probe{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			a := probeAnswer{sent: time.Now(), addr: fmt.Sprintf("10.250.%d.%d:6000", i/256%256, i%256)}
			code, body, err := haDo(n.base(), "POST", "/api/v2/proxies/meta", proxyBody(a.addr, fmt.Sprintf("host%d", i%8)))
			if err == nil {
				a.code = code
				var e struct{ Error string }
				json.Unmarshal(body, &e)
				a.err = e.Error
			}
			p.mu.Lock()
			p.answers = append(p.answers, a)
			p.mu.Unlock()
		}
	}()
	return p
}

// checkProbeAnswers fails the test if who answered a probe write outside
// allowedFailures, or acknowledged a proxy that no instance serves in ms.
func checkProbeAnswers(t *testing.T, who string, answers []probeAnswer, cut time.Time, ms *meta.MetaStore, l *ledger) {
	t.Helper()
	counts := map[string]int{}
	for _, a := range answers {
		key := fmt.Sprintf("%d %s", a.code, a.err)
		if a.code == 0 {
			key = "no answer"
		}
		counts[key]++
		if a.code != 200 && !allowedFailures[key] {
			t.Errorf("%s answered %s (sent %v after the cut)", who, key, a.sent.Sub(cut).Round(time.Millisecond))
		}
		if a.code == 200 && ms.AllProxies[a.addr] == nil {
			t.Fatalf("%s acknowledged %s (sent %v after the cut), which no instance serves",
				who, a.addr, a.sent.Sub(cut).Round(time.Millisecond))
		}
	}
	t.Logf("%s's answers after the cut: %v; write stream: %s", who, counts, l)
}

func (p *probe) halt() []probeAnswer {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	return p.snapshot()
}

func (p *probe) last() probeAnswer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.answers) == 0 {
		return probeAnswer{}
	}
	return p.answers[len(p.answers)-1]
}

func (p *probe) snapshot() []probeAnswer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.answers)
}

// refused says whether a write answered the contract's refusal of an instance that lost
// etcd or knows no leader.
func (a probeAnswer) refused() bool {
	return a.code == 503 && (a.err == "ETCD_UNAVAILABLE" || a.err == "NO_LEADER")
}

// The leader loses etcd (every connection through cuttable proxies, cut at once) while the
// writes go on: a follower takes over within haResumeBound; the old leader refuses writes
// (503 ETCD_UNAVAILABLE or NO_LEADER), and any write it did acknowledge after the cut is in
// the state the others serve, as is everything it acknowledged before; healed, it follows
// the new leader and accepts writes again.
func TestHAPartitionedLeaderCannotWrite(t *testing.T) {
	t.Parallel()
	b := newHABroker(t, "partition", 0)
	endpoints := etcdtest.Endpoints(t)
	var proxies []*etcdtest.Proxy
	var via []string
	for _, ep := range endpoints {
		p := etcdtest.NewProxy(t, strings.TrimPrefix(ep, "http://"))
		proxies = append(proxies, p)
		via = append(via, p.URL())
	}
	old := b.add(via)
	b.start(old)
	if got := b.waitLeader(20*time.Second, old); got != old {
		t.Fatalf("the only instance does not lead")
	}
	others := []*haNode{b.add(endpoints), b.add(endpoints)}
	for _, n := range others {
		b.start(n)
	}
	if got := b.waitLeader(20 * time.Second); got != old {
		t.Fatalf("%s took the leadership from %s", got.listen, old.listen)
	}
	l := newLedger()
	seedHA(t, b.nodes, l)
	s := b.writeStream(4, l)
	s.waitResumed(time.Now(), haResumeBound, "the start")
	s.steady()

	pr := probeWrites(old)
	cut := time.Now()
	for _, p := range proxies {
		p.Cut()
	}
	s.waitResumed(cut, haResumeBound, "the leader's partition from etcd", others...)
	took := b.waitLeader(haResumeBound, others...)
	t.Logf("%s leads after the partition of %s", took.listen, old.listen)

	// The old leader says why it refuses, in /ha and in its answers.
	waitFor(t, 20*time.Second, "the partitioned leader refuses writes with 503", func() bool {
		ans := pr.snapshot()
		return len(ans) > 0 && ans[len(ans)-1].refused()
	})
	waitFor(t, 20*time.Second, "the partitioned instance's /ha says role unavailable", func() bool {
		st, err := old.status()
		return err == nil && st.Role == "unavailable"
	})
	checkUnavailable(t, old)
	answers := pr.halt()

	heal := time.Now()
	for _, p := range proxies {
		p.Heal()
	}
	// Back as a follower of the new leader, and writing again through it.
	if got := b.waitLeader(30 * time.Second); got != took {
		t.Fatalf("after the heal %s leads, want %s (which took over)", got.listen, took.listen)
	}
	s.waitResumed(heal, 30*time.Second, "the heal", old)
	s.halt()

	ms := b.converge(20 * time.Second)
	l.check(t, "every instance", ms)
	for _, n := range b.nodes {
		l.waitServed(t, n, 20*time.Second)
	}
	l.checkAnswers(t)
	checkProbeAnswers(t, "the partitioned leader", answers, cut, ms, l)
}

// The calls an undermoon coordinator makes (spec §1.2: failure reports, the failed set,
// failover, migration commits), all sent to a follower, work as on a single broker, and
// every instance serves their results. The instances take tokens, so the follower forwards
// the operator's token with its changes, and the coordinator's calls come without one, from
// loopback (a coordinator network), as undermoon's do.
func TestHACoordinatorCallsOnAFollower(t *testing.T) {
	t.Parallel()
	b := newHABroker(t, "coordinator", 3)
	const token = "operator-token"
	b.extra = []string{"--auth-token-file", tokenFile(t, token)}
	for _, n := range b.nodes {
		b.start(n)
	}
	leader := b.waitLeader(20 * time.Second)
	var f *haNode
	for _, n := range b.nodes {
		if n != leader {
			f = n
			break
		}
	}
	// An operator's change carries the token, a coordinator's call none.
	call := func(method, path, body string, want int) []byte {
		t.Helper()
		tok := token
		if strings.HasPrefix(path, "/failures/") || strings.HasPrefix(path, "/proxies/failover/") || path == "/clusters/migrations" || method == "GET" {
			tok = ""
		}
		code, got, err := haDoToken(f.base(), tok, method, "/api/v2"+path, body)
		if err != nil || code != want {
			t.Fatalf("%s %s on the follower: %d %s %v, want %d", method, path, code, got, err, want)
		}
		return got
	}
	// The same answer from every instance (a follower's reads lag by the watch delay).
	everywhere := func(path string) []byte {
		t.Helper()
		return b.same("/api/v2"+path, 20*time.Second)
	}

	// Without the token, or with another, the follower's change is refused and nothing
	// changes; /ha needs none.
	for _, tok := range []string{"", "other-token"} {
		if code, got, err := haDoToken(f.base(), tok, "POST", "/api/v2/proxies/meta", proxyBody("10.7.9.9:6000", "host9")); err != nil || code != 401 {
			t.Fatalf("a change through the follower with token %q: %d %s %v, want 401", tok, code, got, err)
		}
	}
	if code, got, err := haGet(f.base(), "/ha"); err != nil || code != 200 {
		t.Fatalf("GET /ha without a token: %d %s %v", code, got, err)
	}

	for i := range 8 {
		call("POST", "/proxies/meta", proxyBody(fmt.Sprintf("10.7.%d.%d:6000", i%4, i/4), fmt.Sprintf("host%d", i%4)), 200)
	}
	call("POST", "/clusters/meta/shop", `{"node_number":4}`, 200)
	var view struct{ Cluster *meta.ClusterView }
	json.Unmarshal(everywhere("/clusters/meta/shop"), &view)
	if view.Cluster == nil || len(view.Cluster.Nodes) != 4 {
		t.Fatalf("cluster after create: %+v", view.Cluster)
	}
	victim := view.Cluster.Nodes[0].ProxyAddress

	// Failure detection: a report, then the failure list, on every instance.
	call("POST", "/failures/"+victim+"/coord-1", "", 200)
	if got := string(everywhere("/failures")); !strings.Contains(got, victim) {
		t.Fatalf("GET /failures after the report: %s", got)
	}
	// Failover: the replacement's view, and every instance shows it in the cluster.
	var repl struct{ Proxy *meta.ProxyView }
	json.Unmarshal(call("POST", "/proxies/failover/"+victim, "", 200), &repl)
	if repl.Proxy == nil || repl.Proxy.Address == victim {
		t.Fatalf("failover answered no replacement: %+v", repl.Proxy)
	}
	if got := string(everywhere("/proxies/failed/addresses")); !strings.Contains(got, victim) {
		t.Fatalf("failed set after the failover: %s", got)
	}
	json.Unmarshal(everywhere("/clusters/meta/shop"), &view)
	for _, n := range view.Cluster.Nodes {
		if n.ProxyAddress == victim {
			t.Fatalf("the failed proxy %s is still in the cluster", victim)
		}
	}
	everywhere("/proxies/meta/" + repl.Proxy.Address)

	// Scale out and commit every migration task as the coordinator does: each task read
	// once every instance shows it (a follower's reads lag its forwarded writes by the
	// watch delay), each commit sent to the follower.
	call("PATCH", "/clusters/nodes/shop", `{"node_number":4}`, 200)
	call("POST", "/clusters/migrations/expand/shop", "", 200)
	commits := 0
	for round := 0; ; round++ {
		if round == 50 {
			t.Fatal("migration tasks do not converge")
		}
		json.Unmarshal(everywhere("/clusters/meta/shop"), &view)
		var task []byte
		for _, n := range view.Cluster.Nodes {
			for _, r := range n.Slots {
				if r.Tag.Kind == meta.TagMigrating && task == nil {
					task, _ = json.Marshal(map[string]any{"cluster_name": "shop", "slot_range": r})
				}
			}
		}
		if task == nil {
			break
		}
		call("PUT", "/clusters/migrations", string(task), 200)
		// A repeated commit is a 404, which the coordinator takes as done.
		call("PUT", "/clusters/migrations", string(task), 404)
		commits++
	}
	if commits == 0 {
		t.Fatal("the expand made no migration task")
	}
	t.Logf("%d migration tasks committed through the follower %s (leader %s)", commits, f.listen, leader.listen)
	var info meta.ClusterInfo
	json.Unmarshal(everywhere("/clusters/info/shop"), &info)
	if info.NodeNumber != 8 || info.NodeNumberWithSlots != 8 {
		t.Fatalf("after %d commits: %+v", commits, info)
	}
	if got := string(everywhere("/proxies/meta/10.7.9.9:6000")); got != `{"proxy":null}` {
		t.Fatalf("the refused change was applied: %s", got)
	}
}

// Without etcd, /ha says so: the bbolt backend, one instance that writes, no revision; and
// it needs no token, like /healthz.
func TestHAStatusOnBbolt(t *testing.T) {
	t.Parallel()
	n := &haNode{listen: freeAddr(t), dataDir: t.TempDir()}
	n.p = startFulcrum(t, n.dataDir, n.listen, "--auth-token-file", tokenFile(t, "a-token"))
	st, err := n.status()
	if err != nil || st != (haStatus{Backend: "bbolt", Role: "single", Instance: n.listen}) {
		t.Fatalf("GET /ha on bbolt: %+v %v", st, err)
	}
}
