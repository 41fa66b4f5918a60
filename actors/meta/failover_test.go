package meta

import (
	"reflect"
	"testing"
)

func slotsOf(t *testing.T, v *ClusterView, node int) string {
	t.Helper()
	return mustJSON(t, v.Nodes[node].Slots)
}

func TestFailoverSlots(t *testing.T) {
	c := exampleCluster()
	// The first master's proxy fails: its partner's nodes 3 and 2 hold part 0 and part 1.
	if !Takeover(c, "10.0.0.1:6001", 4) {
		t.Fatal("takeover changed nothing")
	}
	v := c.View(1)
	if v.Nodes[3].Repl.Role != "master" || slotsOf(t, v, 3) != `[{"range_list":[[0,8191]],"tag":"None"}]` ||
		slotsOf(t, v, 2) != `[{"range_list":[[8192,16383]],"tag":"None"}]` || v.Nodes[0].Repl.Role != "replica" {
		t.Fatalf("after takeover: %s", mustJSON(t, v.Nodes))
	}
	r := &ProxyResource{ProxyAddress: "10.0.0.5:6001", Host: "10.0.0.5", NodeAddresses: [2]string{"10.0.0.5:7001", "10.0.0.5:7002"}}
	ReplaceProxy(c, "10.0.0.1:6001", r, 5)
	// Then the second master's proxy fails: the replacement's nodes 0 and 1 take over.
	Takeover(c, "10.0.0.2:6002", 6)
	v = c.View(1)
	if v.Nodes[0].Address != "10.0.0.5:7001" || slotsOf(t, v, 0) != `[{"range_list":[[0,8191]],"tag":"None"}]` ||
		slotsOf(t, v, 1) != `[{"range_list":[[8192,16383]],"tag":"None"}]` || c.Epoch != 6 {
		t.Fatalf("after second takeover: %s", mustJSON(t, v.Nodes))
	}
}

func TestTakeoverIsIdempotent(t *testing.T) {
	c := exampleCluster()
	Takeover(c, "10.0.0.2:6002", 4)
	before := c.Clone()
	if Takeover(c, "10.0.0.2:6002", 5) {
		t.Fatal("a repeated takeover changed the cluster")
	}
	if !reflect.DeepEqual(c, before) {
		t.Fatal("a repeated takeover modified the record")
	}
}

func TestTakeoverBumpsAffectedTasksOnly(t *testing.T) {
	c := migratingCluster()
	// Chunk 1's proxy 0 holds the destination of the part-0 task only.
	Takeover(c, "10.0.0.3:6001", 12)
	epochs := func(ch, part int) uint64 { return c.Chunks[ch].MigratingSlots[part][0].Meta.Epoch }
	if epochs(0, 0) != 12 || epochs(1, 0) != 12 {
		t.Errorf("affected task epochs = %d/%d, want 12 on both copies", epochs(0, 0), epochs(1, 0))
	}
	if epochs(0, 1) != 9 || epochs(1, 1) != 9 {
		t.Errorf("unaffected task epochs = %d/%d, want 9", epochs(0, 1), epochs(1, 1))
	}
	before := c.Clone()
	Takeover(c, "10.0.0.3:6001", 13)
	if !reflect.DeepEqual(c, before) {
		t.Error("a repeated failover changed the tasks again")
	}
	// The task now shows the new master of its destination.
	v := c.View(0)
	for _, s := range v.Nodes[0].Slots {
		if s.Tag.Kind == TagMigrating && (s.Tag.Meta.DstNodeAddress != "10.0.0.4:7002" || s.Tag.Meta.Epoch != 12) {
			t.Errorf("task after takeover = %+v", s.Tag.Meta)
		}
	}
}

func TestBalance(t *testing.T) {
	c := exampleCluster()
	Takeover(c, "10.0.0.1:6001", 4)
	Balance(c, func(a string) bool { return a == "10.0.0.1:6001" }, 5)
	if c.Chunks[0].RolePosition != SecondChunkMaster || c.Epoch != 5 {
		t.Fatalf("balance with an unhealthy proxy: %s, epoch %d", c.Chunks[0].RolePosition, c.Epoch)
	}
	Balance(c, func(string) bool { return false }, 6)
	if c.Chunks[0].RolePosition != Normal || c.Epoch != 6 {
		t.Fatalf("balance of a healthy chunk: %s, epoch %d", c.Chunks[0].RolePosition, c.Epoch)
	}
}

// resourceCase registers 4 hosts x 2 proxies and allocates one cluster of n nodes.
func resourceCase(t *testing.T, nodes int) []string {
	t.Helper()
	all := testProxies(4, 2)
	pairs, err := AllocateChunks(all, Links{}, nodes/2)
	if err != nil {
		t.Fatal(err)
	}
	c := &ClusterStore{Name: "c", Chunks: NewChunks(pairs, SplitSlots(len(pairs)))}
	proxies := map[string]*ProxyResource{}
	for _, p := range all {
		proxies[p.ProxyAddress] = p
	}
	for _, a := range c.Proxies() {
		p := *proxies[a]
		p.Cluster = "c"
		proxies[a] = &p
	}
	return HostsCannotFail(proxies, without(all, pairs), map[string]*ClusterStore{"c": c})
}

func TestHostsCannotFail(t *testing.T) {
	if got := resourceCase(t, 12); len(got) != 0 {
		t.Errorf("12 nodes on 4x2 proxies: hosts_cannot_fail = %v, want []", got)
	}
	if got := resourceCase(t, 16); len(got) == 0 {
		t.Error("16 nodes on 4x2 proxies (no spare): every host can fail, want some that cannot")
	}
}
