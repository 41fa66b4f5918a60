package meta

// The v3 shapes (undermoon 0.6 coordinators, /api/v3): multi-cluster fields are gone. Only
// Node, PeerProxy and Proxy differ from v2; they are derived from the v2 views.

// NodeViewV3 is a v2 Node without cluster_name.
type NodeViewV3 struct {
	Address      string      `json:"address"`
	ProxyAddress string      `json:"proxy_address"`
	Slots        []SlotRange `json:"slots"`
	Repl         ReplView    `json:"repl"`
}

// ClusterViewV3 is the Cluster shape with v3 nodes.
type ClusterViewV3 struct {
	Name   string        `json:"name"`
	Epoch  uint64        `json:"epoch"`
	Nodes  []NodeViewV3  `json:"nodes"`
	Config ClusterConfig `json:"config"`
}

// PeerProxyV3 is a v2 PeerProxy without cluster_name.
type PeerProxyV3 struct {
	ProxyAddress string      `json:"proxy_address"`
	Slots        []SlotRange `json:"slots"`
}

// ProxyViewV3 is the v3 Proxy: cluster_name and cluster_config are null for a free proxy,
// whose two nodes are then listed as slot-less masters.
type ProxyViewV3 struct {
	ClusterName   *string        `json:"cluster_name"`
	Address       string         `json:"address"`
	Epoch         uint64         `json:"epoch"`
	Nodes         []NodeViewV3   `json:"nodes"`
	Peers         []PeerProxyV3  `json:"peers"`
	ClusterConfig *ClusterConfig `json:"cluster_config"`
}

// NodesV3 converts v2 nodes.
func NodesV3(nodes []NodeView) []NodeViewV3 {
	out := make([]NodeViewV3, len(nodes))
	for i, n := range nodes {
		out[i] = NodeViewV3{Address: n.Address, ProxyAddress: n.ProxyAddress, Slots: n.Slots, Repl: n.Repl}
	}
	return out
}

// V3 converts a cluster view.
func (v *ClusterView) V3() *ClusterViewV3 {
	return &ClusterViewV3{Name: v.Name, Epoch: v.Epoch, Nodes: NodesV3(v.Nodes), Config: v.Config}
}

// V3 converts a proxy view: the proxy's cluster is the one of its nodes.
func (p *ProxyView) V3() *ProxyViewV3 {
	v := &ProxyViewV3{Address: p.Address, Epoch: p.Epoch, Nodes: NodesV3(p.Nodes), Peers: make([]PeerProxyV3, len(p.Peers))}
	for i, peer := range p.Peers {
		v.Peers[i] = PeerProxyV3{ProxyAddress: peer.ProxyAddress, Slots: peer.Slots}
	}
	for name, cfg := range p.ClustersConfig {
		name, cfg := name, cfg
		v.ClusterName, v.ClusterConfig = &name, &cfg
	}
	if v.ClusterName == nil {
		v.Nodes = make([]NodeViewV3, 0, len(p.FreeNodes))
		for _, n := range p.FreeNodes {
			v.Nodes = append(v.Nodes, NodeViewV3{Address: n, ProxyAddress: p.Address, Slots: []SlotRange{},
				Repl: ReplView{Role: "master", Peers: []ReplPeer{}}})
		}
	}
	return v
}
