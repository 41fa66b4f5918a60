package main

import (
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// TestClusterLifeSurvivesRestarts walks a cluster through its whole life over HTTP — create
// 4 nodes, add 4, expand, commit every task, shrink to 4, commit, delete the free nodes,
// delete the cluster — and restarts the real process (SIGKILL and SIGTERM in turn) between
// every two steps: each time it must come back with exactly the state it acknowledged.
func TestClusterLifeSurvivesRestarts(t *testing.T) {
	dir, listen := t.TempDir(), freeAddr(t)
	p := startFulcrum(t, dir, listen)
	restarts := 0
	step := func(name string) {
		t.Helper()
		before := p.mustDo("GET", "/metadata", "")
		var ms meta.MetaStore
		json.Unmarshal(before, &ms)
		if err := meta.Validate(&ms); err != nil {
			t.Fatalf("after %s: %v", name, err)
		}
		sig := syscall.SIGKILL
		if restarts%2 == 1 {
			sig = syscall.SIGTERM
		}
		p.kill(sig, 5*time.Second)
		restarts++
		p = startFulcrum(t, dir, listen)
		if after := p.mustDo("GET", "/metadata", ""); string(after) != string(before) {
			t.Fatalf("after %s and a %v restart the state differs\nbefore %s\nafter  %s", name, sig, before, after)
		}
	}
	for h := 0; h < 8; h++ {
		addr := fmt.Sprintf("10.0.%d.1:6000", h)
		p.mustDo("POST", "/proxies/meta", proxyBody(addr, fmt.Sprintf("host%d", h)))
	}
	step("register")
	p.mustDo("POST", "/clusters/meta/life", `{"node_number":4}`)
	step("create")
	p.mustDo("PATCH", "/clusters/nodes/life", `{"node_number":4}`)
	step("add nodes")
	p.mustDo("POST", "/clusters/migrations/expand/life", "")
	step("expand")
	commitAllTasks(t, p, step)
	p.mustDo("POST", "/clusters/migrations/shrink/life/4", "")
	step("shrink")
	commitAllTasks(t, p, step)
	p.mustDo("DELETE", "/clusters/free_nodes/life", "")
	step("delete free nodes")
	var info meta.ClusterInfo
	json.Unmarshal(p.mustDo("GET", "/clusters/info/life", ""), &info)
	if info != (meta.ClusterInfo{Name: "life", NodeNumber: 4, NodeNumberWithSlots: 4}) {
		t.Fatalf("after the scale-in: %+v", info)
	}
	p.mustDo("DELETE", "/clusters/meta/life", "")
	step("delete cluster")
	if got := string(p.mustDo("GET", "/clusters/meta/life", "")); got != `{"cluster":null}` {
		t.Fatalf("deleted cluster answers %s", got)
	}
}

// commitAllTasks commits what the cluster view shows, one task per step, until no task is left.
func commitAllTasks(t *testing.T, p *process, step func(string)) {
	t.Helper()
	for round := 0; round < 50; round++ {
		var body struct{ Cluster *meta.ClusterView }
		json.Unmarshal(p.mustDo("GET", "/clusters/meta/life", ""), &body)
		var task []byte
		for _, n := range body.Cluster.Nodes {
			for _, r := range n.Slots {
				if r.Tag.Kind == meta.TagMigrating && task == nil {
					task, _ = json.Marshal(map[string]any{"cluster_name": "life", "slot_range": r})
				}
			}
		}
		if task == nil {
			return
		}
		p.mustDo("PUT", "/clusters/migrations", string(task))
		step("commit")
		if code, _, _ := p.do("PUT", "/clusters/migrations", string(task)); code != 404 {
			t.Fatalf("a repeated commit after restart answered %d, want 404", code)
		}
	}
	t.Fatal("tasks do not converge")
}
