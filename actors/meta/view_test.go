package meta

import (
	"encoding/json"
	"strings"
	"testing"
)

// exampleCluster is undermoon's example store: 2 proxies on 2 hosts, one 4-node cluster.
func exampleCluster() *ClusterStore {
	return &ClusterStore{Epoch: 3, Name: "mycluster", Config: DefaultClusterConfig(), Chunks: []ChunkStore{{
		RolePosition:   Normal,
		StableSlots:    [2]RangeList{{{0, 8191}}, {{8192, 16383}}},
		ProxyAddresses: [2]string{"10.0.0.1:6001", "10.0.0.2:6002"},
		Hosts:          [2]string{"10.0.0.1", "10.0.0.2"},
		NodeAddresses:  [4]string{"10.0.0.1:7001", "10.0.0.1:7002", "10.0.0.2:7003", "10.0.0.2:7004"},
	}}}
}

const cfgJSON = `{"compression_strategy":"disabled","migration_config":{"max_migration_time":10800,"max_blocking_time":10000,"scan_interval":500,"scan_count":16}}`

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProxyViewMatchesUndermoon(t *testing.T) {
	got := mustJSON(t, exampleCluster().View(1).ProxyView("10.0.0.1:6001"))
	want := `{"address":"10.0.0.1:6001","epoch":3,"nodes":[` +
		`{"address":"10.0.0.1:7001","proxy_address":"10.0.0.1:6001","cluster_name":"mycluster","slots":[{"range_list":[[0,8191]],"tag":"None"}],"repl":{"role":"master","peers":[{"node_address":"10.0.0.2:7004","proxy_address":"10.0.0.2:6002"}]}},` +
		`{"address":"10.0.0.1:7002","proxy_address":"10.0.0.1:6001","cluster_name":"mycluster","slots":[],"repl":{"role":"replica","peers":[{"node_address":"10.0.0.2:7003","proxy_address":"10.0.0.2:6002"}]}}],` +
		`"free_nodes":[],"peers":[{"proxy_address":"10.0.0.2:6002","cluster_name":"mycluster","slots":[{"range_list":[[8192,16383]],"tag":"None"}]}],` +
		`"clusters_config":{"mycluster":` + cfgJSON + `}}`
	if got != want {
		t.Errorf("proxy view\n got %s\nwant %s", got, want)
	}
}

func TestClusterViewRoles(t *testing.T) {
	v := exampleCluster().View(1)
	f := func(i int, addr, role, peer string, slots int) {
		t.Helper()
		n := v.Nodes[i]
		if n.Address != addr || n.Repl.Role != role || n.Repl.Peers[0].NodeAddress != peer || len(n.Slots) != slots {
			t.Errorf("node %d = %+v", i, n)
		}
	}
	f(0, "10.0.0.1:7001", "master", "10.0.0.2:7004", 1)
	f(1, "10.0.0.1:7002", "replica", "10.0.0.2:7003", 0)
	f(2, "10.0.0.2:7003", "master", "10.0.0.1:7002", 1)
	f(3, "10.0.0.2:7004", "replica", "10.0.0.1:7001", 0)
}

func TestFreeProxyView(t *testing.T) {
	p := &ProxyResource{ProxyAddress: "h:1", NodeAddresses: [2]string{"h:2", "h:3"}, Host: "h"}
	got := mustJSON(t, FreeProxyView(p, 7))
	want := `{"address":"h:1","epoch":7,"nodes":[],"free_nodes":["h:2","h:3"],"peers":[],"clusters_config":{}}`
	if got != want {
		t.Errorf("free proxy view\n got %s\nwant %s", got, want)
	}
}

func TestPeersMergeBothMastersOfOneProxy(t *testing.T) {
	c := exampleCluster()
	c.Chunks[0].RolePosition = FirstChunkMaster
	pv := c.View(1).ProxyView("10.0.0.2:6002")
	if len(pv.Peers) != 1 || pv.Peers[0].ProxyAddress != "10.0.0.1:6001" || len(pv.Peers[0].Slots) != 2 {
		t.Fatalf("peers = %+v, want one entry for 10.0.0.1:6001 with both ranges", pv.Peers)
	}
}

// migratingCluster is a scale-out of the example from 1 to 2 chunks, one task per part.
func migratingCluster() *ClusterStore {
	c := exampleCluster()
	c.Chunks = append(c.Chunks, ChunkStore{RolePosition: Normal,
		ProxyAddresses: [2]string{"10.0.0.3:6001", "10.0.0.4:6001"}, Hosts: [2]string{"10.0.0.3", "10.0.0.4"},
		NodeAddresses: [4]string{"10.0.0.3:7001", "10.0.0.3:7002", "10.0.0.4:7001", "10.0.0.4:7002"}})
	c.Chunks[0].StableSlots = [2]RangeList{{{0, 4095}}, {{8192, 12287}}}
	for part, r := range []RangeList{{{4096, 8191}}, {{12288, 16383}}} {
		m := MigrationMeta{Epoch: 9, SrcChunkIndex: 0, SrcChunkPart: part, DstChunkIndex: 1, DstChunkPart: part}
		c.Chunks[0].MigratingSlots[part] = []MigrationSlotRange{{RangeList: r, IsMigrating: true, Meta: m}}
		c.Chunks[1].MigratingSlots[part] = []MigrationSlotRange{{RangeList: r, IsMigrating: false, Meta: m}}
	}
	return c
}

func nodesShowingMigration(v *ClusterView) int {
	n := 0
	for _, node := range v.Nodes {
		for _, s := range node.Slots {
			if s.Tag.Kind != TagNone {
				n++
				break
			}
		}
	}
	return n
}

func TestMigrationLimit(t *testing.T) {
	c := migratingCluster()
	if n := nodesShowingMigration(c.View(1)); n != 2 {
		t.Errorf("limit 1: %d nodes show a migration, want 2", n)
	}
	if n := nodesShowingMigration(c.View(0)); n != 4 {
		t.Errorf("unlimited: %d nodes show a migration, want 4", n)
	}
	// The hidden task's source still owns its slots, as stable ones.
	v := c.View(1)
	if got := mustJSON(t, v.Nodes[2].Slots); got != `[{"range_list":[[8192,16383]],"tag":"None"}]` {
		t.Errorf("source of the hidden task shows %s", got)
	}
	got := mustJSON(t, v.Nodes[0].Slots)
	want := `[{"range_list":[[0,4095]],"tag":"None"},{"range_list":[[4096,8191]],"tag":{"Migrating":{"epoch":9,"src_proxy_address":"10.0.0.1:6001","src_node_address":"10.0.0.1:7001","dst_proxy_address":"10.0.0.3:6001","dst_node_address":"10.0.0.3:7001"}}}]`
	if got != want {
		t.Errorf("source master slots\n got %s\nwant %s", got, want)
	}
	info := c.Info(1)
	if info.NodeNumber != 8 || info.NodeNumberWithSlots != 8 || !info.IsMigrating {
		t.Errorf("info = %+v", info)
	}
}

func TestChunkStoreJSONRoundTrip(t *testing.T) {
	c := migratingCluster()
	b := mustJSON(t, c)
	var back ClusterStore
	if err := json.Unmarshal([]byte(b), &back); err != nil {
		t.Fatal(err)
	}
	if again := mustJSON(t, &back); again != b {
		t.Errorf("round trip changed the record\n got %s\nwant %s", again, b)
	}
	if want := `"stable_slots":[null,null]`; !strings.Contains(b, want) {
		t.Errorf("slot-less chunk not stored as %s: %s", want, b)
	}
}
