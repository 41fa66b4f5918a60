package main

import (
	"strings"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
)

// A follower loses etcd while the others go on writing: its writes are refused (503) or
// forwarded to the leader (then served by all), and healed, it serves every write made
// while it was cut off.
func TestHAPartitionedFollowerCatchesUp(t *testing.T) {
	t.Parallel()
	b := newHABroker(t, "follower-cut", 0)
	endpoints := etcdtest.Endpoints(t)
	leader := b.add(endpoints)
	b.start(leader)
	b.waitLeader(20*time.Second, leader)
	var proxies []*etcdtest.Proxy
	var via []string
	for _, ep := range endpoints {
		p := etcdtest.NewProxy(t, strings.TrimPrefix(ep, "http://"))
		proxies = append(proxies, p)
		via = append(via, p.URL())
	}
	cutOff := b.add(via)
	b.start(cutOff)
	third := b.add(endpoints)
	b.start(third)
	if got := b.waitLeader(20 * time.Second); got != leader {
		t.Fatalf("%s took the leadership from %s", got.listen, leader.listen)
	}
	l := newLedger()
	seedHA(t, b.nodes, l)
	s := b.writeStream(4, l)
	s.waitResumed(time.Now(), haResumeBound, "the start")
	s.steady()

	pr := probeWrites(cutOff)
	cut := time.Now()
	for _, p := range proxies {
		p.Cut()
	}
	var last haStatus
	waitFor(t, 20*time.Second, "the cut-off follower's /ha says role unavailable", func() bool {
		st, err := cutOff.status()
		if err == nil && st != last {
			t.Logf("%v after the cut, /ha: %+v; its last write answered %d %s", time.Since(cut).Round(time.Millisecond), st, pr.last().code, pr.last().err)
			last = st
		}
		return err == nil && st.Role == "unavailable"
	})
	checkUnavailable(t, cutOff)
	// The others keep writing while it is cut off.
	s.waitResumed(time.Now(), haResumeBound, "the follower's partition", leader, third)
	// Its reads go on from the state it has.
	if code, _, err := haGet(cutOff.base(), "/api/v2/clusters/names"); err != nil || code != 200 {
		t.Fatalf("a read on the cut-off follower: %d %v", code, err)
	}
	answers := pr.halt()

	heal := time.Now()
	for _, p := range proxies {
		p.Heal()
	}
	if got := b.waitLeader(30 * time.Second); got != leader {
		t.Fatalf("after the heal %s leads, want %s", got.listen, leader.listen)
	}
	s.waitResumed(heal, 30*time.Second, "the heal", cutOff)
	s.halt()
	ms := b.converge(20 * time.Second)
	l.check(t, "every instance", ms)
	for _, n := range b.nodes {
		l.waitServed(t, n, 20*time.Second)
	}
	l.checkAnswers(t)
	checkProbeAnswers(t, "the cut-off follower", answers, cut, ms, l)
}
