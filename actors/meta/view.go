package meta

import (
	"encoding/json"
	"fmt"
)

// MigrationMetaView is a task's endpoints resolved to addresses.
type MigrationMetaView struct {
	Epoch           uint64 `json:"epoch"`
	SrcProxyAddress string `json:"src_proxy_address"`
	SrcNodeAddress  string `json:"src_node_address"`
	DstProxyAddress string `json:"dst_proxy_address"`
	DstNodeAddress  string `json:"dst_node_address"`
}

// Tag kinds of a SlotRange.
const (
	TagNone      = "None"
	TagMigrating = "Migrating"
	TagImporting = "Importing"
)

// SlotRangeTag is "None", {"Migrating": meta} or {"Importing": meta}.
type SlotRangeTag struct {
	Kind string
	Meta *MigrationMetaView
}

func (t SlotRangeTag) MarshalJSON() ([]byte, error) {
	if t.Kind == TagNone || t.Kind == "" {
		return []byte(`"None"`), nil
	}
	return json.Marshal(map[string]*MigrationMetaView{t.Kind: t.Meta})
}

// JSONShape is the object UnmarshalJSON reads (besides "None"), so that a strict decoder
// can check its keys.
func (*SlotRangeTag) JSONShape() any { return map[string]*MigrationMetaView(nil) }

func (t *SlotRangeTag) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != TagNone {
			return fmt.Errorf("invalid slot range tag %q", s)
		}
		*t = SlotRangeTag{Kind: TagNone}
		return nil
	}
	var m map[string]*MigrationMetaView
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return fmt.Errorf("invalid slot range tag")
	}
	for k, v := range m {
		if (k != TagMigrating && k != TagImporting) || v == nil {
			return fmt.Errorf("invalid slot range tag %q", k)
		}
		*t = SlotRangeTag{Kind: k, Meta: v}
	}
	return nil
}

// SlotRange is a range list with its tag, as proxies and coordinators see it.
type SlotRange struct {
	RangeList RangeList    `json:"range_list"`
	Tag       SlotRangeTag `json:"tag"`
}

// ReplPeer is a node's replication partner.
type ReplPeer struct {
	NodeAddress  string `json:"node_address"`
	ProxyAddress string `json:"proxy_address"`
}

// ReplView is a node's role and its partner.
type ReplView struct {
	Role  string     `json:"role"`
	Peers []ReplPeer `json:"peers"`
}

// NodeView is the v2 Node shape.
type NodeView struct {
	Address      string      `json:"address"`
	ProxyAddress string      `json:"proxy_address"`
	ClusterName  string      `json:"cluster_name"`
	Slots        []SlotRange `json:"slots"`
	Repl         ReplView    `json:"repl"`
}

// ClusterView is the Cluster shape of GET /clusters/meta.
type ClusterView struct {
	Name   string        `json:"name"`
	Epoch  uint64        `json:"epoch"`
	Nodes  []NodeView    `json:"nodes"`
	Config ClusterConfig `json:"config"`
}

// PeerProxy is another proxy's masters as one proxy sees them.
type PeerProxy struct {
	ProxyAddress string      `json:"proxy_address"`
	ClusterName  string      `json:"cluster_name"`
	Slots        []SlotRange `json:"slots"`
}

// ProxyView is the v2 Proxy shape of GET /proxies/meta.
type ProxyView struct {
	Address        string                   `json:"address"`
	Epoch          uint64                   `json:"epoch"`
	Nodes          []NodeView               `json:"nodes"`
	FreeNodes      []string                 `json:"free_nodes"`
	Peers          []PeerProxy              `json:"peers"`
	ClustersConfig map[string]ClusterConfig `json:"clusters_config"`
}

// ClusterInfo is the body of GET /clusters/info.
type ClusterInfo struct {
	Name                string `json:"name"`
	NodeNumber          int    `json:"node_number"`
	NodeNumberWithSlots int    `json:"node_number_with_slots"`
	IsMigrating         bool   `json:"is_migrating"`
}

// masterNodes gives, per role position, the node index that shows each part's slots; the
// other two nodes of the chunk are replicas.
func slotNode(role RolePosition, part int) int {
	switch role {
	case FirstChunkMaster:
		return [2]int{0, 1}[part]
	case SecondChunkMaster:
		return [2]int{3, 2}[part]
	default:
		return [2]int{0, 2}[part]
	}
}

// PartMaster resolves the master of (chunk, part) to its proxy and node address.
func (c *ClusterStore) PartMaster(chunk, part int) (proxy, node string) {
	ch := &c.Chunks[chunk]
	n := slotNode(ch.RolePosition, part)
	return ch.ProxyAddresses[n/2], ch.NodeAddresses[n]
}

func (c *ClusterStore) metaView(m MigrationMeta) *MigrationMetaView {
	v := &MigrationMetaView{Epoch: m.Epoch}
	if m.SrcChunkIndex < len(c.Chunks) {
		v.SrcProxyAddress, v.SrcNodeAddress = c.PartMaster(m.SrcChunkIndex, m.SrcChunkPart)
	}
	if m.DstChunkIndex < len(c.Chunks) {
		v.DstProxyAddress, v.DstNodeAddress = c.PartMaster(m.DstChunkIndex, m.DstChunkPart)
	}
	return v
}

type taskKey struct {
	meta   MigrationMeta
	ranges string
}

func keyOf(m *MigrationSlotRange) taskKey {
	return taskKey{m.Meta, fmt.Sprint(m.RangeList)}
}

// shownTasks applies migration_limit: tasks are taken in chunk/part order, at most limit of
// them and at most one per source master, because migrating out is the CPU-heavy side.
// 0 means no throttling at all.
func (c *ClusterStore) shownTasks(limit int) map[taskKey]bool {
	shown := map[taskKey]bool{}
	busySrc := map[[2]int]bool{}
	for i := range c.Chunks {
		for part := 0; part < 2; part++ {
			for k := range c.Chunks[i].MigratingSlots[part] {
				m := &c.Chunks[i].MigratingSlots[part][k]
				if !m.IsMigrating {
					continue
				}
				src := [2]int{m.Meta.SrcChunkIndex, m.Meta.SrcChunkPart}
				if limit > 0 && (len(shown) >= limit || busySrc[src]) {
					continue
				}
				shown[keyOf(m)] = true
				busySrc[src] = true
			}
		}
	}
	return shown
}

// partSlots is what the master of (chunk, part) shows: its stable ranges (plus the ranges
// of hidden outgoing tasks, which it still owns) first, then one range per shown task.
func (c *ClusterStore) partSlots(chunk, part int, shown map[taskKey]bool) []SlotRange {
	ch := &c.Chunks[chunk]
	stable := ch.StableSlots[part]
	var tasks []SlotRange
	for k := range ch.MigratingSlots[part] {
		m := &ch.MigratingSlots[part][k]
		if !shown[keyOf(m)] {
			if m.IsMigrating {
				stable = Merge(stable, m.RangeList)
			}
			continue
		}
		kind := TagImporting
		if m.IsMigrating {
			kind = TagMigrating
		}
		tasks = append(tasks, SlotRange{RangeList: m.RangeList, Tag: SlotRangeTag{Kind: kind, Meta: c.metaView(m.Meta)}})
	}
	out := make([]SlotRange, 0, len(tasks)+1)
	if len(stable) > 0 {
		out = append(out, SlotRange{RangeList: stable, Tag: SlotRangeTag{Kind: TagNone}})
	}
	return append(out, tasks...)
}

// View derives the API view of the cluster with epoch and migration_limit applied.
func (c *ClusterStore) View(limit int) *ClusterView {
	shown := c.shownTasks(limit)
	v := &ClusterView{Name: c.Name, Epoch: c.Epoch, Config: c.Config, Nodes: make([]NodeView, 0, 4*len(c.Chunks))}
	for i := range c.Chunks {
		ch := &c.Chunks[i]
		var slots [4][]SlotRange
		var master [4]bool
		for part := 0; part < 2; part++ {
			n := slotNode(ch.RolePosition, part)
			master[n] = true
			slots[n] = c.partSlots(i, part, shown)
		}
		for n := 0; n < 4; n++ {
			role := "replica"
			if master[n] {
				role = "master"
			}
			s := slots[n]
			if s == nil {
				s = []SlotRange{}
			}
			peer := 3 - n // replication pairs are fixed: 0↔3 and 1↔2, always across the two proxies
			v.Nodes = append(v.Nodes, NodeView{
				Address: ch.NodeAddresses[n], ProxyAddress: ch.ProxyAddresses[n/2], ClusterName: c.Name, Slots: s,
				Repl: ReplView{Role: role, Peers: []ReplPeer{{NodeAddress: ch.NodeAddresses[peer], ProxyAddress: ch.ProxyAddresses[peer/2]}}},
			})
		}
	}
	return v
}

// Info is GET /clusters/info computed on the limited view.
func (c *ClusterStore) Info(limit int) ClusterInfo {
	v := c.View(limit)
	info := ClusterInfo{Name: c.Name, NodeNumber: len(v.Nodes)}
	for i := 0; i < len(v.Nodes); i += 4 {
		withSlots := false
		for _, n := range v.Nodes[i : i+4] {
			for _, s := range n.Slots {
				withSlots = true
				if s.Tag.Kind != TagNone {
					info.IsMigrating = true
				}
			}
		}
		if withSlots {
			info.NodeNumberWithSlots += 4
		}
	}
	return info
}

// ProxyView derives the view of one of the cluster's proxies from a cluster view.
func (v *ClusterView) ProxyView(addr string) *ProxyView {
	pv := &ProxyView{Address: addr, Epoch: v.Epoch, FreeNodes: []string{}, Peers: []PeerProxy{},
		ClustersConfig: map[string]ClusterConfig{v.Name: v.Config}}
	for _, n := range v.Nodes {
		if n.ProxyAddress == addr {
			pv.Nodes = append(pv.Nodes, n)
			continue
		}
		if n.Repl.Role != "master" {
			continue
		}
		if last := len(pv.Peers) - 1; last >= 0 && pv.Peers[last].ProxyAddress == n.ProxyAddress {
			pv.Peers[last].Slots = append(pv.Peers[last].Slots, n.Slots...)
			continue
		}
		pv.Peers = append(pv.Peers, PeerProxy{ProxyAddress: n.ProxyAddress, ClusterName: v.Name, Slots: append([]SlotRange{}, n.Slots...)})
	}
	if pv.Nodes == nil {
		pv.Nodes = []NodeView{}
	}
	return pv
}

// FreeProxyView is the view of a proxy that is in no cluster; its epoch is the global one.
func FreeProxyView(p *ProxyResource, globalEpoch uint64) *ProxyView {
	return &ProxyView{Address: p.ProxyAddress, Epoch: globalEpoch, Nodes: []NodeView{},
		FreeNodes: []string{p.NodeAddresses[0], p.NodeAddresses[1]}, Peers: []PeerProxy{},
		ClustersConfig: map[string]ClusterConfig{}}
}
