package actors

import (
	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// The broker's mutations as transactions on the pool's state. Each returns the reply and,
// separately, an abort error: an abort changes nothing, while a reply error (say failover's
// NO_AVAILABLE_RESOURCE after the takeover) is sent once the changes are durable.

func (tx *poolTx) addProxy(m *addProxy) (Result, error) {
	if _, err := meta.ProxyHost(m.Address); err != nil {
		return Result{}, err
	}
	if tx.base.ordered && m.Index == nil {
		return Result{}, meta.ErrMissingProxyIndex
	}
	// Re-registering is how a failed proxy comes back: its marks are cleared either way.
	cleared := tx.isFailed(m.Address) || len(tx.failureReports(m.Address)) > 0
	tx.setFailed(m.Address, false)
	tx.setFailureReports(m.Address, nil)
	if tx.proxy(m.Address) != nil {
		if cleared {
			tx.bumpEpoch()
		}
		return Result{Err: meta.ErrAlreadyExisted}, nil
	}
	host := m.Host
	if host == "" {
		host, _ = meta.ProxyHost(m.Address)
	}
	p := &meta.ProxyResource{ProxyAddress: m.Address, NodeAddresses: m.Nodes, Host: host}
	if tx.base.ordered {
		p.Index = *m.Index
	}
	tx.setProxy(m.Address, p)
	tx.bumpEpoch()
	return Result{}, nil
}

func (tx *poolTx) deleteProxy(addr string) (Result, error) {
	p := tx.proxy(addr)
	if p == nil {
		return Result{}, meta.ErrProxyNotFound
	}
	if p.Cluster != "" {
		return Result{}, meta.ErrInUse
	}
	tx.setProxy(addr, nil)
	tx.setFailed(addr, false)
	tx.setFailureReports(addr, nil)
	tx.bumpEpoch()
	return Result{}, nil
}

// reportFailure records the first report of a reporter; a repeated live report changes
// nothing (undermoon does not refresh its time), an expired one counts as new. A proxy keeps
// at most meta.MaxReporters live reports: one more could not change whether it reaches the
// quorum (which is at most that), so it is refused (TOO_MANY_REPORTERS) rather than
// acknowledged and not stored.
func (tx *poolTx) reportFailure(addr, reporter string) (Result, error) {
	if _, err := meta.ProxyHost(addr); err != nil {
		return Result{}, err
	}
	if err := meta.CheckReporter(reporter); err != nil {
		return Result{}, err
	}
	old := tx.failureReports(addr)
	if t, ok := old[reporter]; ok && tx.now-t < tx.ttl {
		return Result{}, nil
	}
	m := make(map[string]int64, len(old)+1)
	for r, t := range old {
		if tx.now-t < tx.ttl {
			m[r] = t
		}
	}
	if len(m) >= meta.MaxReporters {
		return Result{}, meta.ErrTooManyReporters
	}
	m[reporter] = tx.now
	tx.setFailureReports(addr, m)
	tx.bumpEpoch()
	return Result{}, nil
}

// pruneFailures drops expired reports, and the entries they leave empty, from the state and
// the store. It is what undermoon's GET /failures does, done by a timer instead of a read;
// no epoch moves, since expired reports already count as absent everywhere.
func (tx *poolTx) pruneFailures() (Result, error) {
	for addr, m := range tx.base.failures {
		live := make(map[string]int64, len(m))
		for r, t := range m {
			if tx.now-t < tx.ttl {
				live[r] = t
			}
		}
		if len(live) < len(m) {
			tx.setFailureReports(addr, live)
		}
	}
	return Result{}, nil
}

func (tx *poolTx) createCluster(name string, nodes int64) (Result, error) {
	if tx.base.ordered && len(tx.clusters()) > 0 {
		return Result{}, meta.ErrOneClusterExisted
	}
	if !meta.ValidClusterName(name) {
		return Result{}, meta.ErrInvalidClusterName
	}
	if tx.cluster(name) != nil {
		return Result{}, meta.ErrAlreadyExisted
	}
	if !meta.ValidNodeNumber(nodes) {
		return Result{}, meta.ErrInvalidNodeNumber
	}
	proxyNum := int(nodes / 2)
	var pairs [][2]*meta.ProxyResource
	var err error
	if tx.base.ordered {
		pairs, err = meta.AllocateOrdered(tx.freeProxies(), 0, proxyNum)
	} else {
		pairs, err = meta.AllocateChunks(tx.freeProxies(), tx.links(), proxyNum)
	}
	if err != nil {
		return Result{}, err
	}
	epoch := tx.bumpEpoch()
	c := &meta.ClusterStore{Epoch: epoch, Name: name, Chunks: meta.NewChunks(pairs, meta.SplitSlots(len(pairs))),
		Config: meta.DefaultClusterConfig()}
	for _, addr := range c.Proxies() {
		tx.setProxyCluster(addr, name)
	}
	tx.setCluster(name, c)
	return Result{}, nil
}

// deleteCluster frees the cluster's proxies; it is allowed during a migration.
func (tx *poolTx) deleteCluster(cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
	for _, addr := range cur.Proxies() {
		if tx.proxy(addr) != nil {
			tx.setProxyCluster(addr, "")
		}
	}
	tx.bumpEpoch()
	return nil, Result{}, nil
}

func patchConfigBuild(changes map[string]string) clusterBuild {
	return func(tx *poolTx, cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
		if cur.IsMigrating() {
			return nil, Result{}, meta.ErrMigrationRunning
		}
		cfg, err := meta.ApplyConfig(cur.Config, changes)
		if err != nil {
			return nil, Result{}, err
		}
		c := *cur // only the config and epoch change; the chunks stay shared
		c.Config = cfg
		c.Epoch = tx.bumpEpoch()
		return &c, Result{}, nil
	}
}

func (tx *poolTx) balanceCluster(cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
	c := cur.Clone()
	meta.Balance(c, func(addr string) bool { return tx.isFailed(addr) || tx.liveFailures(addr) }, tx.bumpEpoch())
	return c, Result{}, nil
}

// failover is undermoon's: takeover by the chunk partner, mark failed, replace with a free proxy.
// It touches the pool and a cluster, so it is one transaction of the pool.
func (tx *poolTx) failover(addr string, f Format) (Result, error) {
	p := tx.proxy(addr)
	if p == nil {
		return Result{}, meta.ErrProxyNotFound
	}
	cur := tx.cluster(p.Cluster)
	var ci, pos int
	ok := false
	if cur != nil {
		ci, pos, ok = cur.ProxyChunk(addr)
	}
	if !ok {
		tx.setFailureReports(addr, nil)
		tx.setFailed(addr, true)
		return Result{Body: nullProxyBody}, nil
	}
	c := cur.Clone()
	if meta.Takeover(c, addr, tx.bumpEpoch()) {
		tx.setCluster(c.Name, c)
	}
	if tx.base.ordered {
		tx.bumpEpoch()
		return Result{Body: nullProxyBody}, nil
	}
	tx.setFailed(addr, true)
	r, err := meta.ChooseReplacement(tx.freeProxies(), tx.links(), p.Host, c.Chunks[ci].Hosts[1-pos])
	if err != nil {
		return Result{Err: err}, nil
	}
	meta.ReplaceProxy(c, addr, r, tx.bumpEpoch())
	tx.setCluster(c.Name, c)
	tx.setProxyCluster(addr, "")
	tx.setProxyCluster(r.ProxyAddress, c.Name)
	return Result{Body: proxyBody(c.View(tx.limit).ProxyView(r.ProxyAddress), f)}, nil
}

// setAllEpochs is PUT /epoch/<n>: the global epoch and every cluster's epoch become n.
func (tx *poolTx) setAllEpochs(n uint64) (Result, error) {
	if err := meta.CheckEpoch("epoch", n); err != nil {
		return Result{}, err
	}
	if n <= tx.epoch() {
		return Result{}, meta.ErrEpochSmallerThanCurrent
	}
	tx.moveAllEpochs(n)
	return Result{}, nil
}

// moveAllEpochs sets the global epoch and every cluster's epoch to n, above the current one.
func (tx *poolTx) moveAllEpochs(n uint64) {
	tx.setEpoch(n)
	for name, cur := range tx.clusters() {
		c := *cur
		c.Epoch = n
		tx.setCluster(name, &c)
	}
}
