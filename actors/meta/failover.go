package meta

import "sort"

// Takeover moves the masters of a failed proxy's chunk to its partner (undermoon's failover, first step) on c,
// which must be a private clone. Tasks touching the parts that move get the new epoch so
// proxies restart them against the new master. It reports false when the partner already
// holds the masters, in which case nothing changes.
func Takeover(c *ClusterStore, addr string, epoch uint64) bool {
	ci, pos, ok := c.ProxyChunk(addr)
	if !ok {
		return false
	}
	ch := &c.Chunks[ci]
	want := SecondChunkMaster
	if pos == 1 {
		want = FirstChunkMaster
	}
	if ch.RolePosition == want {
		return false
	}
	// Parts whose master was on the failed proxy.
	var parts []int
	for part := 0; part < 2; part++ {
		if slotNode(ch.RolePosition, part)/2 == pos {
			parts = append(parts, part)
		}
	}
	ch.RolePosition = want
	ends := map[[2]int]bool{}
	for _, part := range parts {
		for _, m := range ch.MigratingSlots[part] {
			ends[[2]int{m.Meta.SrcChunkIndex, m.Meta.SrcChunkPart}] = true
			ends[[2]int{m.Meta.DstChunkIndex, m.Meta.DstChunkPart}] = true
		}
	}
	if len(ends) > 0 {
		for i := range c.Chunks {
			for part := 0; part < 2; part++ {
				ms := c.Chunks[i].MigratingSlots[part]
				for k := range ms {
					m := &ms[k].Meta
					if ends[[2]int{m.SrcChunkIndex, m.SrcChunkPart}] || ends[[2]int{m.DstChunkIndex, m.DstChunkPart}] {
						m.Epoch = epoch
					}
				}
			}
		}
	}
	c.Epoch = epoch
	return true
}

// ReplaceProxy puts replacement r where proxy addr was (undermoon's failover, last step) on the clone c. The
// role position stays: the survivor keeps both masters until the cluster is balanced.
func ReplaceProxy(c *ClusterStore, addr string, r *ProxyResource, epoch uint64) bool {
	ci, pos, ok := c.ProxyChunk(addr)
	if !ok {
		return false
	}
	ch := &c.Chunks[ci]
	ch.ProxyAddresses[pos] = r.ProxyAddress
	ch.Hosts[pos] = r.Host
	ch.NodeAddresses[2*pos] = r.NodeAddresses[0]
	ch.NodeAddresses[2*pos+1] = r.NodeAddresses[1]
	c.Epoch = epoch
	return true
}

// Balance gives every chunk whose two proxies are healthy its normal role position back
// (PUT /clusters/balance) on the clone c. The epoch moves even when nothing changes, as in undermoon.
func Balance(c *ClusterStore, unhealthy func(addr string) bool, epoch uint64) {
	for i := range c.Chunks {
		ch := &c.Chunks[i]
		if !unhealthy(ch.ProxyAddresses[0]) && !unhealthy(ch.ProxyAddresses[1]) {
			ch.RolePosition = Normal
		}
	}
	c.Epoch = epoch
}

// HostsCannotFail simulates, for every host, the failover of all its proxies on copies of
// the free set and the link table (POST /resources/failures/check) and returns the hosts for which some proxy could
// not be replaced. free lists the proxies available for allocation.
func HostsCannotFail(proxies map[string]*ProxyResource, free []*ProxyResource, clusters map[string]*ClusterStore) []string {
	byHostAll := map[string][]*ProxyResource{}
	for _, p := range proxies {
		byHostAll[p.Host] = append(byHostAll[p.Host], p)
	}
	hosts := make([]string, 0, len(byHostAll))
	for h := range byHostAll {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	baseLinks := LinksOf(clusters)
	out := []string{}
	for _, h := range hosts {
		ps := byHostAll[h]
		sort.Slice(ps, func(i, j int) bool { return ps[i].ProxyAddress < ps[j].ProxyAddress })
		links := Links{}
		for k, v := range baseLinks {
			links[k] = v
		}
		// A failed host's free proxies are marked failed, so they are never candidates.
		avail := make([]*ProxyResource, 0, len(free))
		for _, p := range free {
			if p.Host != h {
				avail = append(avail, p)
			}
		}
		for _, p := range ps {
			c := clusters[p.Cluster]
			if p.Cluster == "" || c == nil {
				continue
			}
			ci, pos, ok := c.ProxyChunk(p.ProxyAddress)
			if !ok {
				continue
			}
			peerHost := c.Chunks[ci].Hosts[1-pos]
			r, err := ChooseReplacement(avail, links, h, peerHost)
			if err != nil {
				out = append(out, h)
				break
			}
			for i, a := range avail {
				if a == r {
					avail = append(avail[:i], avail[i+1:]...)
					break
				}
			}
			links.Add(h, peerHost, -1)
			links.Add(r.Host, peerHost, 1)
		}
	}
	return out
}
