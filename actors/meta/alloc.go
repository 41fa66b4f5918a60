package meta

import "sort"

// Links counts, for each pair of hosts, the chunks that span them. Allocation and
// replacement prefer pairs with few chunks so that the masters of a failed host are
// taken over by as many different hosts as possible.
type Links map[[2]string]int

func linkKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// Count is the number of chunks linking hosts a and b.
func (l Links) Count(a, b string) int { return l[linkKey(a, b)] }

// Add changes the count of the pair by d. Counts may go negative, so a Links can also hold
// the difference a transaction makes to another Links.
func (l Links) Add(a, b string, d int) {
	k := linkKey(a, b)
	if l[k] += d; l[k] == 0 {
		delete(l, k)
	}
}

// AddCluster adds (d = 1) or removes (d = -1) the host pairs of a cluster's chunks.
func (l Links) AddCluster(c *ClusterStore, d int) {
	for i := range c.Chunks {
		l.Add(c.Chunks[i].Hosts[0], c.Chunks[i].Hosts[1], d)
	}
}

// LinkCounter answers how many chunks link two hosts.
type LinkCounter interface{ Count(a, b string) int }

// LinksWith is a LinkCounter of base plus a difference, so a transaction can see its own
// changes without copying the whole table.
type LinksWith struct{ Base, Diff Links }

func (l LinksWith) Count(a, b string) int { return l.Base.Count(a, b) + l.Diff.Count(a, b) }

// LinksOf counts the host pairs of every chunk of the given clusters.
func LinksOf(clusters map[string]*ClusterStore) Links {
	l := Links{}
	for _, c := range clusters {
		l.AddCluster(c, 1)
	}
	return l
}

// byHost groups proxies by host, each group and the host list sorted, so that every
// allocation is deterministic.
type byHost struct {
	hosts []string
	free  map[string][]*ProxyResource
}

func groupByHost(free []*ProxyResource) *byHost {
	g := &byHost{free: map[string][]*ProxyResource{}}
	for _, p := range free {
		if _, ok := g.free[p.Host]; !ok {
			g.hosts = append(g.hosts, p.Host)
		}
		g.free[p.Host] = append(g.free[p.Host], p)
	}
	sort.Strings(g.hosts)
	for _, h := range g.hosts {
		ps := g.free[h]
		sort.Slice(ps, func(i, j int) bool { return ps[i].ProxyAddress < ps[j].ProxyAddress })
	}
	return g
}

func (g *byHost) total() int {
	n := 0
	for _, ps := range g.free {
		n += len(ps)
	}
	return n
}

// largest returns the first host (in sorted order) with the most free proxies.
func (g *byHost) largest() (string, int) {
	best, max := "", 0
	for _, h := range g.hosts {
		if n := len(g.free[h]); n > max {
			best, max = h, n
		}
	}
	return best, max
}

func (g *byHost) take(h string) *ProxyResource {
	ps := g.free[h]
	p := ps[0]
	g.free[h] = ps[1:]
	return p
}

// AllocateChunks picks proxyNum/2 pairs of free proxies on distinct hosts for new chunks
// (undermoon's generate_free_chunks, in sorted order where undermoon iterates a hash map).
// links is only read.
func AllocateChunks(free []*ProxyResource, links LinkCounter, proxyNum int) ([][2]*ProxyResource, error) {
	g := groupByHost(free)
	// One host may never supply more than half of the proxies: drop its surplus first.
	total := g.total()
	if h, max := g.largest(); max > 0 {
		for 2*max > total {
			g.free[h] = g.free[h][:len(g.free[h])-1]
			max--
			total--
		}
	}
	if total < proxyNum {
		return nil, ErrNoAvailableResource
	}
	if _, max := g.largest(); 2*max > total {
		return nil, ErrResourceNotBalance
	}
	added := Links{} // the chunks this call pairs up, on top of links
	var chunks [][2]*ProxyResource
	for 2*len(chunks) < proxyNum {
		first, n := g.largest()
		if n == 0 {
			return nil, ErrNoAvailableResource
		}
		second, bestLinks, bestFree := "", 0, 0
		for _, h := range g.hosts {
			nf := len(g.free[h])
			if h == first || nf == 0 {
				continue
			}
			l := links.Count(first, h) + added.Count(first, h)
			if second == "" || l < bestLinks || (l == bestLinks && nf > bestFree) {
				second, bestLinks, bestFree = h, l, nf
			}
		}
		if second == "" {
			return nil, ErrNoAvailableResource
		}
		a, b := g.take(first), g.take(second)
		added.Add(first, second, 1)
		chunks = append(chunks, [2]*ProxyResource{a, b})
	}
	return chunks, nil
}

// AllocateOrdered takes the proxyNum free proxies with the lowest indices, which must be
// consecutive from firstIndex (ordered-proxy mode for Kubernetes StatefulSets).
func AllocateOrdered(free []*ProxyResource, firstIndex, proxyNum int) ([][2]*ProxyResource, error) {
	ps := append([]*ProxyResource(nil), free...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Index < ps[j].Index })
	if len(ps) < proxyNum {
		return nil, ErrNoAvailableResource
	}
	var chunks [][2]*ProxyResource
	for i := 0; i < proxyNum; i += 2 {
		if ps[i].Index != firstIndex+i || ps[i+1].Index != firstIndex+i+1 {
			return nil, ErrProxyOutOfOrder
		}
		chunks = append(chunks, [2]*ProxyResource{ps[i], ps[i+1]})
	}
	return chunks, nil
}

// ChooseReplacement picks the free proxy that replaces a failed one on failedHost whose
// chunk partner lives on peerHost: the host least linked to failedHost, ties to the host
// with most free proxies. Unlike undermoon it never picks peerHost, so the two proxies of a
// chunk always stay on different hosts.
func ChooseReplacement(free []*ProxyResource, links LinkCounter, failedHost, peerHost string) (*ProxyResource, error) {
	g := groupByHost(free)
	best, bestLinks, bestFree := "", 0, 0
	for _, h := range g.hosts {
		nf := len(g.free[h])
		if h == failedHost || h == peerHost || nf == 0 {
			continue
		}
		l := links.Count(failedHost, h)
		if best == "" || l < bestLinks || (l == bestLinks && nf > bestFree) {
			best, bestLinks, bestFree = h, l, nf
		}
	}
	if best == "" {
		return nil, ErrNoAvailableResource
	}
	return g.take(best), nil
}

// NewChunks turns allocated proxy pairs into chunks with the given slots (nil = slot-less).
func NewChunks(pairs [][2]*ProxyResource, slots [][2]RangeList) []ChunkStore {
	out := make([]ChunkStore, len(pairs))
	for i, pr := range pairs {
		a, b := pr[0], pr[1]
		out[i] = ChunkStore{
			RolePosition:   Normal,
			ProxyAddresses: [2]string{a.ProxyAddress, b.ProxyAddress},
			Hosts:          [2]string{a.Host, b.Host},
			NodeAddresses:  [4]string{a.NodeAddresses[0], a.NodeAddresses[1], b.NodeAddresses[0], b.NodeAddresses[1]},
		}
		if slots != nil {
			out[i].StableSlots = slots[i]
		}
	}
	return out
}
