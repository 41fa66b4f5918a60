package actors

import (
	"fmt"
	"maps"
	"slices"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/persist"
)

// poolState is the whole broker state as the pool sees it. Record values (proxies, failure
// maps, clusters) are immutable once stored; a change stores a new value. So two states can
// share values and cluster actors can hold the same records without copying.
type poolState struct {
	epoch    uint64
	ordered  bool
	replicas []string // replica brokers that receive the whole state
	proxies  map[string]*meta.ProxyResource
	failed   map[string]bool
	failures map[string]map[string]int64
	clusters map[string]*meta.ClusterStore
	// links counts the chunks between every two hosts, kept up to date as clusters change,
	// so allocating does not walk every cluster.
	links meta.Links
}

func newPoolState() *poolState {
	return &poolState{
		links:    meta.Links{},
		proxies:  map[string]*meta.ProxyResource{},
		failed:   map[string]bool{},
		failures: map[string]map[string]int64{},
		clusters: map[string]*meta.ClusterStore{},
	}
}

func (s *poolState) clone() *poolState {
	n := &poolState{epoch: s.epoch, ordered: s.ordered, replicas: s.replicas,
		proxies:  make(map[string]*meta.ProxyResource, len(s.proxies)),
		failed:   make(map[string]bool, len(s.failed)),
		failures: make(map[string]map[string]int64, len(s.failures)),
		clusters: make(map[string]*meta.ClusterStore, len(s.clusters)),
		links:    make(meta.Links, len(s.links)),
	}
	for k, v := range s.links {
		n.links[k] = v
	}
	for k, v := range s.proxies {
		n.proxies[k] = v
	}
	for k, v := range s.failed {
		n.failed[k] = v
	}
	for k, v := range s.failures {
		n.failures[k] = v
	}
	for k, v := range s.clusters {
		n.clusters[k] = v
	}
	return n
}

// delta is one transaction's changes: the unit that is applied to the tentative state when
// accepted, written to disk in a batch, and applied to the durable state once written.
// A nil map value means "delete".
type delta struct {
	epoch    uint64
	epochSet bool
	ordered  *bool
	replicas *[]string
	proxies  map[string]*meta.ProxyResource
	failed   map[string]bool
	failures map[string]map[string]int64
	clusters map[string]*meta.ClusterStore
	// encoded holds records already encoded (a restore's, by its planner): the writer
	// uses their bytes for the very records they were made from.
	encoded []encodedRecords
}

// encodedRecord is the bytes encoded ahead for rec, if any.
func (d *delta) encodedRecord(rec any) ([]byte, bool) {
	for _, e := range d.encoded {
		if data, ok := e[rec]; ok {
			return data, true
		}
	}
	return nil, false
}

func (d *delta) empty() bool {
	return !d.epochSet && d.ordered == nil && d.replicas == nil && len(d.proxies) == 0 && len(d.failed) == 0 && len(d.failures) == 0 && len(d.clusters) == 0
}

func (d *delta) applyTo(s *poolState) {
	if d.epochSet {
		s.epoch = d.epoch
	}
	if d.ordered != nil {
		s.ordered = *d.ordered
	}
	if d.replicas != nil {
		s.replicas = *d.replicas
	}
	for k, v := range d.proxies {
		if v == nil {
			delete(s.proxies, k)
		} else {
			s.proxies[k] = v
		}
	}
	for k, v := range d.failed {
		if v {
			s.failed[k] = true
		} else {
			delete(s.failed, k)
		}
	}
	for k, v := range d.failures {
		if len(v) == 0 {
			delete(s.failures, k)
		} else {
			s.failures[k] = v
		}
	}
	for k, v := range d.clusters {
		if old := s.clusters[k]; old != nil {
			s.links.AddCluster(old, -1)
		}
		if v == nil {
			delete(s.clusters, k)
		} else {
			s.clusters[k] = v
			s.links.AddCluster(v, 1)
		}
	}
}

// merge folds a later delta into d: what both change ends as the later one left it.
func (d *delta) merge(o *delta) {
	if o.epochSet {
		d.epoch, d.epochSet = o.epoch, true
	}
	if o.ordered != nil {
		d.ordered = o.ordered
	}
	if o.replicas != nil {
		d.replicas = o.replicas
	}
	d.proxies = mergeInto(d.proxies, o.proxies)
	d.failed = mergeInto(d.failed, o.failed)
	d.failures = mergeInto(d.failures, o.failures)
	d.clusters = mergeInto(d.clusters, o.clusters)
	d.encoded = append(d.encoded, o.encoded...)
}

func mergeInto[V any](dst, src map[string]V) map[string]V {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]V, len(src))
	}
	maps.Copy(dst, src)
	return dst
}

// commitDeltas writes a batch of accepted deltas, in order, as one store transaction. A
// record that several deltas change is encoded and written once, as the last one left it:
// a batch of failure reports changes the global epoch 64 times but stores it once.
func commitDeltas(store persist.Backend, deltas []*delta) error {
	var all delta
	for _, d := range deltas {
		all.merge(d)
	}
	var b persist.Batch
	if err := all.writeTo(&b); err != nil {
		return fmt.Errorf("encoding a change: %w", err)
	}
	return store.Commit(&b)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// poolTx is one transaction against the pool's tentative state: reads see the base state
// overlaid with the transaction's own changes; nothing touches the base until the pool
// accepts the delta, so an aborted (or panicking) transaction leaves no trace.
type poolTx struct {
	base  *poolState
	d     delta
	now   int64 // unix seconds
	ttl   int64 // failure report lifetime, seconds
	limit int   // migration_limit, for views rendered in replies
	// epochErr is an epoch addition that would wrap: the pool aborts the transaction.
	epochErr error
}

func (tx *poolTx) epoch() uint64 {
	if tx.d.epochSet {
		return tx.d.epoch
	}
	return tx.base.epoch
}

// bumpEpoch advances the global epoch and returns the new value. An epoch that would wrap
// is not set; the pool aborts the transaction with tx.epochErr.
func (tx *poolTx) bumpEpoch() uint64 {
	e, err := meta.AddEpoch(tx.epoch(), 1)
	if err != nil {
		tx.epochErr = err
		return e
	}
	tx.d.epoch, tx.d.epochSet = e, true
	return e
}

func (tx *poolTx) setEpoch(e uint64) { tx.d.epoch, tx.d.epochSet = e, true }

func (tx *poolTx) proxy(addr string) *meta.ProxyResource {
	if v, ok := tx.d.proxies[addr]; ok {
		return v
	}
	return tx.base.proxies[addr]
}

func (tx *poolTx) setProxy(addr string, p *meta.ProxyResource) {
	if tx.d.proxies == nil {
		tx.d.proxies = map[string]*meta.ProxyResource{}
	}
	tx.d.proxies[addr] = p
}

// setProxyCluster stores a copy of the proxy with its cluster changed.
func (tx *poolTx) setProxyCluster(addr, cluster string) {
	p := *tx.proxy(addr)
	p.Cluster = cluster
	tx.setProxy(addr, &p)
}

func (tx *poolTx) isFailed(addr string) bool {
	if v, ok := tx.d.failed[addr]; ok {
		return v
	}
	return tx.base.failed[addr]
}

func (tx *poolTx) setFailed(addr string, v bool) {
	if tx.isFailed(addr) == v {
		return
	}
	if tx.d.failed == nil {
		tx.d.failed = map[string]bool{}
	}
	tx.d.failed[addr] = v
}

func (tx *poolTx) failureReports(addr string) map[string]int64 {
	if v, ok := tx.d.failures[addr]; ok {
		return v
	}
	return tx.base.failures[addr]
}

func (tx *poolTx) setFailureReports(addr string, m map[string]int64) {
	if len(m) == 0 && len(tx.failureReports(addr)) == 0 {
		return
	}
	if tx.d.failures == nil {
		tx.d.failures = map[string]map[string]int64{}
	}
	tx.d.failures[addr] = m
}

// liveFailures says whether a proxy has a report younger than the TTL. Expired reports
// count as absent everywhere, which is what undermoon's pruning on GET /failures achieves.
func (tx *poolTx) liveFailures(addr string) bool {
	return liveReports(tx.failureReports(addr), tx.now, tx.ttl) > 0
}

func liveReports(m map[string]int64, now, ttl int64) int {
	n := 0
	for _, t := range m {
		if now-t < ttl {
			n++
		}
	}
	return n
}

func (tx *poolTx) cluster(name string) *meta.ClusterStore {
	if v, ok := tx.d.clusters[name]; ok {
		return v
	}
	return tx.base.clusters[name]
}

func (tx *poolTx) setCluster(name string, c *meta.ClusterStore) {
	if tx.d.clusters == nil {
		tx.d.clusters = map[string]*meta.ClusterStore{}
	}
	tx.d.clusters[name] = c
}

// forEachProxy visits every proxy of the transaction's view in no particular order.
func (tx *poolTx) forEachProxy(fn func(p *meta.ProxyResource)) {
	for k, p := range tx.base.proxies {
		if _, ok := tx.d.proxies[k]; !ok {
			fn(p)
		}
	}
	for _, p := range tx.d.proxies {
		if p != nil {
			fn(p)
		}
	}
}

func (tx *poolTx) clusters() map[string]*meta.ClusterStore {
	if len(tx.d.clusters) == 0 {
		return tx.base.clusters
	}
	m := make(map[string]*meta.ClusterStore, len(tx.base.clusters)+len(tx.d.clusters))
	for k, v := range tx.base.clusters {
		m[k] = v
	}
	for k, v := range tx.d.clusters {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// freeProxies lists the proxies available for allocation: in no cluster, not failed and
// with no live failure report.
func (tx *poolTx) freeProxies() []*meta.ProxyResource {
	var out []*meta.ProxyResource
	tx.forEachProxy(func(p *meta.ProxyResource) {
		if p.Cluster == "" && !tx.isFailed(p.ProxyAddress) && !tx.liveFailures(p.ProxyAddress) {
			out = append(out, p)
		}
	})
	return out
}

// links counts chunks between hosts as the transaction sees them: the base state's table
// plus what the transaction's own cluster changes add and remove.
func (tx *poolTx) links() meta.LinkCounter {
	diff := meta.Links{}
	for name, c := range tx.d.clusters {
		if old := tx.base.clusters[name]; old != nil {
			diff.AddCluster(old, -1)
		}
		if c != nil {
			diff.AddCluster(c, 1)
		}
	}
	return meta.LinksWith{Base: tx.base.links, Diff: diff}
}
