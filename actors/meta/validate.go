package meta

import (
	"fmt"
	"sort"
)

// Validate checks the invariants a broker must never break on a whole store: every
// cluster's masters cover the 16384 slots exactly once, every task is stored on both ends,
// the two proxies of a chunk are on different hosts, a proxy is in at most one cluster and
// its record says which, and no cluster or task epoch is above the global one. It returns the
// first violation found, in a deterministic order.
func Validate(ms *MetaStore) error {
	owner := map[string]string{} // proxy → cluster whose chunks hold it
	names := make([]string, 0, len(ms.Clusters))
	for name := range ms.Clusters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := ms.Clusters[name]
		if c == nil || c.Name != name || !ValidClusterName(name) {
			return fmt.Errorf("cluster %q: bad name", name)
		}
		if c.Epoch > ms.GlobalEpoch {
			return fmt.Errorf("cluster %s: epoch %d above the global epoch %d", name, c.Epoch, ms.GlobalEpoch)
		}
		if len(c.Chunks) == 0 {
			return fmt.Errorf("cluster %s: no chunks", name)
		}
		switch c.Config.CompressionStrategy {
		case "disabled", "set_get_only", "allow_all":
		default:
			return fmt.Errorf("cluster %s: invalid compression_strategy %q", name, c.Config.CompressionStrategy)
		}
		for i := range c.Chunks {
			ch := &c.Chunks[i]
			for _, tasks := range ch.MigratingSlots {
				for _, m := range tasks {
					if m.Meta.Epoch > ms.GlobalEpoch {
						return fmt.Errorf("cluster %s chunk %d: task epoch %d above the global epoch %d", name, i, m.Meta.Epoch, ms.GlobalEpoch)
					}
				}
			}
			if !ms.EnableOrderedProxy && ch.Hosts[0] == ch.Hosts[1] {
				return fmt.Errorf("cluster %s chunk %d: both proxies on host %s", name, i, ch.Hosts[0])
			}
			for pos, addr := range ch.ProxyAddresses {
				if other, dup := owner[addr]; dup {
					return fmt.Errorf("proxy %s is in clusters %s and %s", addr, other, name)
				}
				owner[addr] = name
				p := ms.AllProxies[addr]
				if p == nil {
					return fmt.Errorf("cluster %s: proxy %s is not registered", name, addr)
				}
				if p.Cluster != name {
					return fmt.Errorf("proxy %s is in cluster %s but its record says %q", addr, name, p.Cluster)
				}
				if p.Host != ch.Hosts[pos] || p.NodeAddresses[0] != ch.NodeAddresses[2*pos] || p.NodeAddresses[1] != ch.NodeAddresses[2*pos+1] {
					return fmt.Errorf("cluster %s chunk %d: proxy %s's host or nodes differ from its record", name, i, addr)
				}
			}
		}
		if err := validateSlots(c); err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
	}
	for addr, p := range ms.AllProxies {
		if p == nil || p.ProxyAddress != addr {
			return fmt.Errorf("proxy %q: record under another address", addr)
		}
		if _, err := ProxyHost(addr); err != nil {
			return fmt.Errorf("proxy %q: %v", addr, err)
		}
		if p.Cluster != "" && owner[addr] != p.Cluster {
			return fmt.Errorf("proxy %s says cluster %q but no chunk of it holds the proxy", addr, p.Cluster)
		}
	}
	return nil
}

func validateSlots(c *ClusterStore) error {
	var seen [SlotCount]bool
	mark := func(l RangeList) error {
		for _, r := range l {
			if r[0] < 0 || r[1] >= SlotCount || r[0] > r[1] {
				return fmt.Errorf("invalid slot range %v", r)
			}
			for s := r[0]; s <= r[1]; s++ {
				if seen[s] {
					return fmt.Errorf("slot %d owned twice", s)
				}
				seen[s] = true
			}
		}
		return nil
	}
	type copyKey struct {
		meta   MigrationMeta
		ranges string
	}
	src, dst := map[copyKey]int{}, map[copyKey]int{}
	for i := range c.Chunks {
		for part := 0; part < 2; part++ {
			if err := mark(c.Chunks[i].StableSlots[part]); err != nil {
				return err
			}
			for _, m := range c.Chunks[i].MigratingSlots[part] {
				k := copyKey{m.Meta, fmt.Sprint(m.RangeList)}
				if m.IsMigrating {
					if m.Meta.SrcChunkIndex != i || m.Meta.SrcChunkPart != part {
						return fmt.Errorf("migrating task stored away from its source: %+v", m.Meta)
					}
					if err := mark(m.RangeList); err != nil {
						return err
					}
					src[k]++
				} else {
					if m.Meta.DstChunkIndex != i || m.Meta.DstChunkPart != part {
						return fmt.Errorf("importing task stored away from its destination: %+v", m.Meta)
					}
					dst[k]++
				}
			}
		}
	}
	for s, ok := range seen {
		if !ok {
			return fmt.Errorf("slot %d has no owner", s)
		}
	}
	for k, n := range src {
		if dst[k] != n {
			return fmt.Errorf("task %+v %s is not stored on its destination", k.meta, k.ranges)
		}
	}
	for k, n := range dst {
		if src[k] != n {
			return fmt.Errorf("task %+v %s is not stored on its source", k.meta, k.ranges)
		}
	}
	return nil
}
