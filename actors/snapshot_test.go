package actors

import (
	"testing"
)

// TestSnapshotIsImmutable: the state the pool hands out for long reads does not change
// under its reader, and the next change makes the pool hand out a new one.
func TestSnapshotIsImmutable(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 3, 2)
	snap := snapshotOf(t, e)
	if snapshotOf(t, e) != snap {
		t.Fatal("an unchanged state was copied again")
	}
	proxies, epoch := len(snap.proxies), snap.epoch
	ok(t, e.CreateCluster("c", 4))
	ok(t, e.DeleteProxy("127.0.0.3:7001"))
	if len(snap.proxies) != proxies || snap.epoch != epoch || len(snap.clusters) != 0 {
		t.Fatal("a change reached a snapshot already handed out")
	}
	for _, p := range snap.proxies {
		if p.Cluster != "" {
			t.Fatalf("proxy %s of the old snapshot is in cluster %q", p.ProxyAddress, p.Cluster)
		}
	}
	next := snapshotOf(t, e)
	if next == snap || len(next.clusters) != 1 || len(next.proxies) != proxies-1 {
		t.Fatal("the snapshot after a change does not show it")
	}
}

// TestCheckResourcesOverSnapshot: the check (computed off the pool) follows the state.
func TestCheckResourcesOverSnapshot(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 4, 2)
	ok(t, e.CreateCluster("c", 12))
	if got := string(ok(t, e.CheckResources())); got != `{"hosts_cannot_fail":[]}` {
		t.Fatalf("4 hosts x 2 proxies, 12 nodes: %s", got)
	}
	ok(t, e.DeleteCluster("c"))
	ok(t, e.CreateCluster("c", 16))
	if got := string(ok(t, e.CheckResources())); got == `{"hosts_cannot_fail":[]}` {
		t.Fatalf("no spare proxies, yet every host can fail: %s", got)
	}
}
