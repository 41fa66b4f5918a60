package meta

import (
	"encoding/json"
	"fmt"
)

// StoreVersion is the metadata format undermoon's mem_broker 0.3.1–0.6.x reads and writes.
const StoreVersion = "mem-broker-0.2"

// SlotCount is the number of Redis cluster slots.
const SlotCount = 16384

// ProxyResource is a registered server proxy (undermoon's ProxyResource). Values are
// immutable once shared: a change builds a new value.
type ProxyResource struct {
	ProxyAddress  string
	NodeAddresses [2]string
	Host          string
	Index         int
	Cluster       string // "" when free
}

type proxyResourceJSON struct {
	ProxyAddress  string    `json:"proxy_address"`
	NodeAddresses [2]string `json:"node_addresses"`
	Host          string    `json:"host"`
	Index         int       `json:"index"`
	Cluster       *string   `json:"cluster"`
}

func (p *ProxyResource) MarshalJSON() ([]byte, error) {
	j := proxyResourceJSON{p.ProxyAddress, p.NodeAddresses, p.Host, p.Index, nil}
	if p.Cluster != "" {
		j.Cluster = &p.Cluster
	}
	return json.Marshal(j)
}

// JSONShape is the object UnmarshalJSON reads, so that a strict decoder can check its keys.
func (*ProxyResource) JSONShape() any { return proxyResourceJSON{} }

func (p *ProxyResource) UnmarshalJSON(b []byte) error {
	var j proxyResourceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*p = ProxyResource{j.ProxyAddress, j.NodeAddresses, j.Host, j.Index, ""}
	if j.Cluster != nil {
		p.Cluster = *j.Cluster
	}
	return nil
}

// RolePosition says which proxy of a chunk holds the masters (undermoon's ChunkRolePosition).
type RolePosition string

const (
	Normal            RolePosition = "Normal"
	FirstChunkMaster  RolePosition = "FirstChunkMaster"  // proxy 1 failed: proxy 0 holds both masters
	SecondChunkMaster RolePosition = "SecondChunkMaster" // proxy 0 failed: proxy 1 holds both masters
)

// MigrationMeta locates a migration task by chunk index and part, so that addresses
// follow failovers: they are resolved at view time.
type MigrationMeta struct {
	Epoch         uint64 `json:"epoch"`
	SrcChunkIndex int    `json:"src_chunk_index"`
	SrcChunkPart  int    `json:"src_chunk_part"`
	DstChunkIndex int    `json:"dst_chunk_index"`
	DstChunkPart  int    `json:"dst_chunk_part"`
}

// MigrationSlotRange is one stored copy of a task: on the source part with IsMigrating, on
// the destination part without.
type MigrationSlotRange struct {
	RangeList   RangeList     `json:"range_list"`
	IsMigrating bool          `json:"is_migrating"`
	Meta        MigrationMeta `json:"meta"`
}

// ChunkStore is two proxies on two hosts, four nodes, two masters.
type ChunkStore struct {
	RolePosition   RolePosition
	StableSlots    [2]RangeList // nil = no stable slots on that part
	MigratingSlots [2][]MigrationSlotRange
	ProxyAddresses [2]string
	Hosts          [2]string
	NodeAddresses  [4]string
}

type stableSlotJSON struct {
	RangeList RangeList `json:"range_list"`
	Tag       string    `json:"tag"`
}

type chunkStoreJSON struct {
	RolePosition   RolePosition            `json:"role_position"`
	StableSlots    [2]*stableSlotJSON      `json:"stable_slots"`
	MigratingSlots [2][]MigrationSlotRange `json:"migrating_slots"`
	ProxyAddresses [2]string               `json:"proxy_addresses"`
	Hosts          [2]string               `json:"hosts"`
	NodeAddresses  [4]string               `json:"node_addresses"`
}

func (c ChunkStore) MarshalJSON() ([]byte, error) {
	j := chunkStoreJSON{RolePosition: c.RolePosition, ProxyAddresses: c.ProxyAddresses, Hosts: c.Hosts, NodeAddresses: c.NodeAddresses}
	for part := 0; part < 2; part++ {
		if c.StableSlots[part] != nil {
			j.StableSlots[part] = &stableSlotJSON{c.StableSlots[part], "None"}
		}
		j.MigratingSlots[part] = c.MigratingSlots[part]
		if j.MigratingSlots[part] == nil {
			j.MigratingSlots[part] = []MigrationSlotRange{}
		}
	}
	return json.Marshal(j)
}

// JSONShape is the object UnmarshalJSON reads, so that a strict decoder can check its keys.
func (*ChunkStore) JSONShape() any { return chunkStoreJSON{} }

func (c *ChunkStore) UnmarshalJSON(b []byte) error {
	var j chunkStoreJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	switch j.RolePosition {
	case Normal, FirstChunkMaster, SecondChunkMaster:
	default:
		return fmt.Errorf("invalid role_position %q", j.RolePosition)
	}
	*c = ChunkStore{RolePosition: j.RolePosition, MigratingSlots: j.MigratingSlots,
		ProxyAddresses: j.ProxyAddresses, Hosts: j.Hosts, NodeAddresses: j.NodeAddresses}
	for part := 0; part < 2; part++ {
		if s := j.StableSlots[part]; s != nil {
			c.StableSlots[part] = s.RangeList
		}
	}
	return nil
}

// MigrationConfig is the migration part of a cluster's config.
type MigrationConfig struct {
	MaxMigrationTime uint64 `json:"max_migration_time"`
	MaxBlockingTime  uint64 `json:"max_blocking_time"`
	ScanInterval     uint64 `json:"scan_interval"`
	ScanCount        uint64 `json:"scan_count"`
}

// ClusterConfig is delivered to proxies with the cluster's metadata.
type ClusterConfig struct {
	CompressionStrategy string          `json:"compression_strategy"`
	MigrationConfig     MigrationConfig `json:"migration_config"`
}

// DefaultClusterConfig is undermoon's built-in default (v0.5 and earlier).
func DefaultClusterConfig() ClusterConfig {
	return ClusterConfig{
		CompressionStrategy: "disabled",
		MigrationConfig:     MigrationConfig{MaxMigrationTime: 10800, MaxBlockingTime: 10000, ScanInterval: 500, ScanCount: 16},
	}
}

// ClusterStore is one cluster's stored record. A ClusterStore that has been handed to
// another actor is never modified again; changes work on a Clone.
type ClusterStore struct {
	Epoch  uint64        `json:"epoch"`
	Name   string        `json:"name"`
	Chunks []ChunkStore  `json:"chunks"`
	Config ClusterConfig `json:"config"`
}

// Clone returns a deep copy that may be modified.
func (c *ClusterStore) Clone() *ClusterStore {
	n := *c
	n.Chunks = make([]ChunkStore, len(c.Chunks))
	for i, ch := range c.Chunks {
		for part := 0; part < 2; part++ {
			ch.StableSlots[part] = ch.StableSlots[part].Clone()
			if ms := ch.MigratingSlots[part]; ms != nil {
				cp := make([]MigrationSlotRange, len(ms))
				for k, m := range ms {
					m.RangeList = m.RangeList.Clone()
					cp[k] = m
				}
				ch.MigratingSlots[part] = cp
			}
		}
		n.Chunks[i] = ch
	}
	return &n
}

// IsMigrating reports whether any migration task is stored.
func (c *ClusterStore) IsMigrating() bool {
	for i := range c.Chunks {
		if len(c.Chunks[i].MigratingSlots[0]) > 0 || len(c.Chunks[i].MigratingSlots[1]) > 0 {
			return true
		}
	}
	return false
}

// ProxyChunk returns the chunk index and position (0 or 1) of a proxy, or ok=false.
func (c *ClusterStore) ProxyChunk(addr string) (chunk, pos int, ok bool) {
	for i := range c.Chunks {
		for p := 0; p < 2; p++ {
			if c.Chunks[i].ProxyAddresses[p] == addr {
				return i, p, true
			}
		}
	}
	return 0, 0, false
}

// Proxies lists the cluster's proxy addresses in chunk order.
func (c *ClusterStore) Proxies() []string {
	out := make([]string, 0, 2*len(c.Chunks))
	for i := range c.Chunks {
		out = append(out, c.Chunks[i].ProxyAddresses[0], c.Chunks[i].ProxyAddresses[1])
	}
	return out
}

// MetaStore is the whole broker state in undermoon's format: GET /metadata, the replication
// payload and the meta file.
type MetaStore struct {
	Version            string                      `json:"version"`
	GlobalEpoch        uint64                      `json:"global_epoch"`
	Clusters           map[string]*ClusterStore    `json:"clusters"`
	AllProxies         map[string]*ProxyResource   `json:"all_proxies"`
	FailedProxies      []string                    `json:"failed_proxies"`
	Failures           map[string]map[string]int64 `json:"failures"`
	EnableOrderedProxy bool                        `json:"enable_ordered_proxy"`
}
