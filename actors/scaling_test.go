package actors

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// coordinator plays undermoon's coordinator against an engine: it reads views the way the
// coordinator does, commits what they show, and checks after every step that what proxies
// can see is consistent and never goes back in epoch.
type coordinator struct {
	t      *testing.T
	e      *Engine
	epochs map[string]uint64 // last epoch each proxy was shown
}

func newCoordinator(t *testing.T, e *Engine) *coordinator {
	return &coordinator{t: t, e: e, epochs: map[string]uint64{}}
}

// check asserts the invariants and the per-proxy epoch rule after a step.
func (c *coordinator) check(step string) {
	c.t.Helper()
	ms := metadata(c.t, c.e)
	if err := meta.Validate(ms); err != nil {
		c.t.Fatalf("%s: %v", step, err)
	}
	for addr := range ms.AllProxies {
		pv := proxyView(c.t, c.e, addr)
		if pv.Epoch < c.epochs[addr] {
			c.t.Fatalf("%s: proxy %s went back from epoch %d to %d", step, addr, c.epochs[addr], pv.Epoch)
		}
		c.epochs[addr] = pv.Epoch
	}
	for name := range ms.Clusters {
		c.tasksOnBothEnds(step, clusterView(c.t, c.e, name))
	}
}

// tasksOnBothEnds: every Migrating range shown on a source master is shown as Importing,
// with the same meta, on its destination master, and the other way round.
func (c *coordinator) tasksOnBothEnds(step string, v *meta.ClusterView) {
	c.t.Helper()
	seen := map[string]int{}
	for _, n := range v.Nodes {
		for _, s := range n.Slots {
			if s.Tag.Kind == meta.TagNone {
				continue
			}
			m := s.Tag.Meta
			key := fmt.Sprint(s.RangeList, *m)
			switch {
			case s.Tag.Kind == meta.TagMigrating && n.Address == m.SrcNodeAddress:
				seen[key]++
			case s.Tag.Kind == meta.TagImporting && n.Address == m.DstNodeAddress:
				seen[key]--
			default:
				c.t.Fatalf("%s: %s range on the wrong node %s: %+v", step, s.Tag.Kind, n.Address, *m)
			}
		}
	}
	for k, n := range seen {
		if n != 0 {
			c.t.Fatalf("%s: task %s is not shown on both ends", step, k)
		}
	}
}

// commitVisible commits every Migrating range the cluster view shows until none is left.
func (c *coordinator) commitVisible(name string) {
	c.t.Helper()
	for round := 0; ; round++ {
		if round > 1000 {
			c.t.Fatal("migration does not converge")
		}
		v := clusterView(c.t, c.e, name)
		committed := false
		for _, n := range v.Nodes {
			for _, s := range n.Slots {
				if s.Tag.Kind != meta.TagMigrating {
					continue
				}
				ok(c.t, c.e.CommitMigration(name, s.RangeList, s.Tag.Meta.Epoch))
				wantErr(c.t, c.e.CommitMigration(name, s.RangeList, s.Tag.Meta.Epoch), meta.ErrMigrationTaskNotFound)
				committed = true
				c.check("commit")
			}
		}
		if !committed {
			if metadata(c.t, c.e).Clusters[name].IsMigrating() {
				c.t.Fatal("tasks are stored but none is visible")
			}
			return
		}
	}
}

// TestScalingGrid is undermoon's grid (store.rs tests test_migration … test_scaling_up_and_down):
// hosts 2..6 × proxies per host 1..6 × migration limit 1 and 0: scale out, commit every
// visible task, scale back in, commit, delete the free nodes.
func TestScalingGrid(t *testing.T) {
	for hosts := 2; hosts <= 6; hosts++ {
		for per := 1; per <= 6; per++ {
			for _, limit := range []int{1, 0} {
				total := hosts * per // proxies; a chunk needs 2 on different hosts
				start := 4 * max(1, total/8)
				if total < 4 {
					continue // not enough proxies to scale out at all
				}
				added := 4 * ((total/2)*2/4 - start/4) // as many nodes as the proxies allow
				if added <= 0 {
					added = 4
				}
				t.Run(fmt.Sprintf("%dx%d/limit%d", hosts, per, limit), func(t *testing.T) {
					e := startEngine(t, t.TempDir(), Options{MigrationLimit: limit})
					addProxies(t, e, hosts, per)
					c := newCoordinator(t, e)
					ok(t, e.CreateCluster("c", int64(start)))
					c.check("create")
					r := e.AddNodes("c", int64(added), Format{})
					for errors.Is(r.Err, meta.ErrNoAvailableResource) && added > 4 {
						added -= 4
						r = e.AddNodes("c", int64(added), Format{})
					}
					if r.Err != nil {
						t.Fatalf("%d proxies on %d hosts cannot hold %d more nodes: %v", total, hosts, added, r.Err)
					}
					var newNodes []meta.NodeView
					if err := json.Unmarshal(ok(t, r), &newNodes); err != nil || len(newNodes) != added {
						t.Fatalf("add nodes answered %d nodes (%v), want %d", len(newNodes), err, added)
					}
					c.check("add nodes")
					ok(t, e.Expand("c"))
					c.check("expand")
					wantErr(t, e.Expand("c"), meta.ErrMigrationRunning)
					wantErr(t, e.PatchClusterConfig("c", map[string]string{"compression_strategy": "allow_all"}), meta.ErrMigrationRunning)
					c.commitVisible("c")
					wantErr(t, e.Expand("c"), meta.ErrSlotsAlreadyEven)
					ok(t, e.Shrink("c", int64(start)))
					c.check("shrink")
					c.commitVisible("c")
					ok(t, e.DeleteFreeNodes("c"))
					c.check("delete free nodes")
					wantErr(t, e.DeleteFreeNodes("c"), meta.ErrFreeNodeNotFound)
					var info meta.ClusterInfo
					json.Unmarshal(ok(t, e.ClusterInfo("c")), &info)
					if info.NodeNumber != start || info.NodeNumberWithSlots != start || info.IsMigrating {
						t.Fatalf("after scaling back: %+v", info)
					}
					if n := freeProxyCount(t, e); n != total-start/2 {
						t.Fatalf("%d free proxies, want %d", n, total-start/2)
					}
				})
			}
		}
	}
}

// TestMigrationLimitViews: 1 → 2 chunks shows 2 migrating nodes with limit 1, 4 unlimited.
func TestMigrationLimitViews(t *testing.T) {
	for limit, want := range map[int]int{1: 2, 0: 4} {
		e := startEngine(t, t.TempDir(), Options{MigrationLimit: limit})
		addProxies(t, e, 4, 1)
		ok(t, e.CreateCluster("c", 4))
		ok(t, e.AddNodes("c", 4, Format{}))
		ok(t, e.Expand("c"))
		n := 0
		for _, node := range clusterView(t, e, "c").Nodes {
			for _, s := range node.Slots {
				if s.Tag.Kind != meta.TagNone {
					n++
					break
				}
			}
		}
		if n != want {
			t.Errorf("limit %d: %d nodes show a migration, want %d", limit, n, want)
		}
	}
}

// TestFailureDuringMigration fails over a proxy holding a migrating or importing range
// between steps; the task epochs move once and everything still converges.
func TestFailureDuringMigration(t *testing.T) {
	for _, tc := range []struct{ phase, side string }{{"expand", "source"}, {"expand", "destination"}, {"shrink", "source"}, {"shrink", "destination"}} {
		side := tc.side
		t.Run(tc.phase+"/"+side, func(t *testing.T) {
			e := startEngine(t, t.TempDir(), Options{MigrationLimit: 0})
			addProxies(t, e, 6, 2)
			c := newCoordinator(t, e)
			if tc.phase == "expand" {
				ok(t, e.CreateCluster("c", 4))
				ok(t, e.AddNodes("c", 4, Format{}))
				ok(t, e.Expand("c"))
			} else {
				ok(t, e.CreateCluster("c", 8))
				ok(t, e.Shrink("c", 4))
			}
			v := clusterView(t, e, "c")
			var victim string
			var oldEpoch uint64
			for _, n := range v.Nodes {
				for _, s := range n.Slots {
					if (side == "source" && s.Tag.Kind == meta.TagMigrating) || (side == "destination" && s.Tag.Kind == meta.TagImporting) {
						victim, oldEpoch = n.ProxyAddress, s.Tag.Meta.Epoch
					}
				}
			}
			ok(t, e.ReportFailure(victim, "coord"))
			ok(t, e.Failover(victim, Format{}))
			c.check("failover")
			// The old task epoch is gone: commits with it are refused.
			for _, n := range clusterView(t, e, "c").Nodes {
				for _, s := range n.Slots {
					if s.Tag.Kind == meta.TagMigrating && s.Tag.Meta.Epoch == oldEpoch && (s.Tag.Meta.SrcProxyAddress == victim || s.Tag.Meta.DstProxyAddress == victim) {
						t.Fatalf("a task of the failed proxy kept epoch %d", oldEpoch)
					}
				}
			}
			before := metadata(t, e).Clusters["c"]
			if r := e.Failover(victim, Format{}); string(r.Body) != `{"proxy":null}` {
				t.Fatalf("repeated failover: %s %v", r.Body, r.Err)
			}
			after := metadata(t, e).Clusters["c"]
			if fmt.Sprint(before.Chunks) != fmt.Sprint(after.Chunks) {
				t.Fatal("a repeated failover changed the cluster again")
			}
			c.commitVisible("c")
			ok(t, e.BalanceCluster("c"))
			c.check("balance")
		})
	}
}

func TestScalingErrors(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 4, 2)
	ok(t, e.CreateCluster("c", 4))
	wantErr(t, e.AddNodes("nope", 4, Format{}), meta.ErrClusterNotFound)
	wantErr(t, e.AddNodes("no.pe", 4, Format{}), meta.ErrInvalidClusterName)
	wantErr(t, e.AddNodes("c", 3, Format{}), meta.ErrInvalidNodeNumber)
	wantErr(t, e.AddNodes("c", 400, Format{}), meta.ErrNoAvailableResource)
	wantErr(t, e.ReachNodes("c", 4, Format{}), meta.ErrNodeNumAlreadyEnough)
	wantErr(t, e.DeleteFreeNodes("c"), meta.ErrFreeNodeNotFound)
	wantErr(t, e.Expand("c"), meta.ErrSlotsAlreadyEven)
	wantErr(t, e.Shrink("c", 4), meta.ErrInvalidNodeNumber)
	wantErr(t, e.CommitMigration("c", meta.RangeList{{0, 1}}, 3), meta.ErrMigrationTaskNotFound)
	wantErr(t, e.CommitMigration("nope", meta.RangeList{{0, 1}}, 3), meta.ErrClusterNotFound)
	var nodes []meta.NodeView
	json.Unmarshal(ok(t, e.ReachNodes("c", 12, Format{})), &nodes)
	if len(nodes) != 8 {
		t.Fatalf("PUT nodes to 12 answered %d new nodes, want 8", len(nodes))
	}
	for _, n := range nodes {
		if len(n.Slots) != 0 {
			t.Fatal("new nodes must carry no slots")
		}
	}
	wantErr(t, e.Shrink("c", 4), meta.ErrFreeNodeFound)
	ok(t, e.DeleteFreeNodes("c"))
	if info := clusterView(t, e, "c"); len(info.Nodes) != 4 {
		t.Fatalf("free nodes not deleted: %d nodes", len(info.Nodes))
	}
}

func TestOrderedProxyScaling(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{OrderedProxy: true})
	for i := 0; i < 8; i++ {
		idx := i
		addr := fmt.Sprintf("pod-%d:6000", i)
		ok(t, e.AddProxy(addr, [2]string{addr + "1", addr + "2"}, "k8s", &idx))
	}
	ok(t, e.CreateCluster("c", 4))
	ok(t, e.AddNodes("c", 4, Format{}))
	v := clusterView(t, e, "c")
	for i, n := range v.Nodes {
		if want := fmt.Sprintf("pod-%d:6000", i/2); n.ProxyAddress != want {
			t.Fatalf("node %d on %s, want %s", i, n.ProxyAddress, want)
		}
	}
	ok(t, e.Expand("c"))
	newCoordinator(t, e).commitVisible("c")
	// Failover only swaps roles; the proxy is neither replaced nor marked failed.
	if r := e.Failover("pod-0:6000", Format{}); string(r.Body) != `{"proxy":null}` {
		t.Fatalf("ordered failover: %s %v", r.Body, r.Err)
	}
	ms := metadata(t, e)
	if ms.Clusters["c"].Chunks[0].RolePosition != meta.SecondChunkMaster || len(ms.FailedProxies) != 0 {
		t.Fatalf("ordered failover: %+v failed=%v", ms.Clusters["c"].Chunks[0], ms.FailedProxies)
	}
}
