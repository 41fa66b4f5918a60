package actors

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/persist"
)

// restorePlan is a restore worked out on the asker's goroutine, against a snapshot of the
// durable state, so that the pool, the one order of every change, spends on it little more
// than map lookups: the diff (comparing every cluster record is the costly part) and the
// encoding of the records to write are done here; the pool reuses the diff's verdict for
// every record it still holds as the snapshot had it, and compares only the others.
type restorePlan struct {
	ms   *meta.MetaStore
	base *poolState     // the snapshot the diff was made against
	d    delta          // the changes from base to the document
	enc  encodedRecords // the records of d, encoded
}

// planRestore diffs a parsed, checked document against a durable snapshot and encodes the
// records that differ.
func planRestore(ms *meta.MetaStore, base *poolState) (*restorePlan, error) {
	tx := &poolTx{base: base}
	if _, err := tx.restore(ms, nil); err != nil {
		return nil, err
	}
	enc, err := encodeRecords(&tx.d)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding the document: %v", ErrInternal, err)
	}
	return &restorePlan{ms: ms, base: base, d: tx.d, enc: enc}, nil
}

// restorePlanned is the pool's part of a restore planned off its goroutine.
func (tx *poolTx) restorePlanned(p *restorePlan) (Result, error) {
	res, err := tx.restore(p.ms, p)
	if err == nil {
		tx.d.encoded = append(tx.d.encoded, p.enc)
	}
	return res, err
}

// restore replaces the whole state with a parsed, checked document (PUT /metadata, the
// replication push, import-meta) in one transaction. Records that did not change are not
// rewritten, so a replica that already holds the pushed state writes nothing. The document
// was checked (meta.CheckStore) against an epoch read before; the epoch is checked again
// here, against every change accepted since. plan, if not nil, is this document's diff
// against an earlier state: its verdicts hold for the clusters that did not change since.
func (tx *poolTx) restore(ms *meta.MetaStore, plan *restorePlan) (Result, error) {
	if err := meta.CheckStoreEpoch(ms, tx.epoch()); err != nil {
		return Result{}, err
	}
	if ms.GlobalEpoch != tx.epoch() {
		tx.setEpoch(ms.GlobalEpoch)
	}
	if ms.EnableOrderedProxy != tx.base.ordered {
		v := ms.EnableOrderedProxy
		tx.d.ordered = &v
	}
	for addr := range tx.base.proxies {
		if ms.AllProxies[addr] == nil {
			tx.setProxy(addr, nil)
		}
	}
	for addr, p := range ms.AllProxies {
		if cur := tx.base.proxies[addr]; cur == nil || *cur != *p {
			tx.setProxy(addr, p)
		}
	}
	failed := map[string]bool{}
	for _, addr := range ms.FailedProxies {
		failed[addr] = true
		tx.setFailed(addr, true)
	}
	for addr := range tx.base.failed {
		if !failed[addr] {
			tx.setFailed(addr, false)
		}
	}
	for addr := range tx.base.failures {
		if ms.Failures[addr] == nil {
			tx.setFailureReports(addr, nil)
		}
	}
	for addr, m := range ms.Failures {
		if !reflect.DeepEqual(tx.base.failures[addr], m) {
			tx.setFailureReports(addr, m)
		}
	}
	for name := range tx.base.clusters {
		if ms.Clusters[name] == nil {
			tx.setCluster(name, nil)
		}
	}
	for name, c := range ms.Clusters {
		if !sameCluster(tx.base.clusters[name], name, c, plan) {
			tx.setCluster(name, c)
		}
	}
	return Result{}, nil
}

// sameCluster says whether the document's cluster c equals the current record cur: from the
// plan's verdict when cur is the record the plan was compared with, else by comparing them.
func sameCluster(cur *meta.ClusterStore, name string, c *meta.ClusterStore, plan *restorePlan) bool {
	if cur == nil {
		return false
	}
	if plan != nil && plan.base.clusters[name] == cur {
		_, changed := plan.d.clusters[name]
		return !changed
	}
	return reflect.DeepEqual(normalized(cur), normalized(c))
}

// normalized makes empty and nil task lists compare equal.
func normalized(c *meta.ClusterStore) *meta.ClusterStore {
	n := c.Clone()
	for i := range n.Chunks {
		for part := 0; part < 2; part++ {
			if len(n.Chunks[i].MigratingSlots[part]) == 0 {
				n.Chunks[i].MigratingSlots[part] = nil
			}
		}
	}
	return n
}

// setReplicas is PUT /config: the replica list, kept sorted and without duplicates.
func (tx *poolTx) setReplicas(addrs []string) (Result, error) {
	seen := map[string]bool{}
	list := []string{}
	for _, a := range addrs {
		if _, err := meta.ProxyHost(a); err != nil {
			return Result{}, fmt.Errorf("%w: replica address %q must be host:port", meta.ErrInvalidRequest, a)
		}
		if !seen[a] {
			seen[a] = true
			list = append(list, a)
		}
	}
	sort.Strings(list)
	tx.d.replicas = &list
	return Result{}, nil
}

// recoverEpoch is PUT /epoch/recovery's last step: past every epoch a proxy reported and
// past the current one, for the global epoch and every cluster.
func (tx *poolTx) recoverEpoch(maxSeen uint64) (Result, error) {
	if err := meta.CheckEpoch("the highest proxy epoch", maxSeen); err != nil {
		return Result{}, err
	}
	next, err := meta.AddEpoch(tx.epoch(), 1)
	if err != nil {
		return Result{}, err
	}
	tx.moveAllEpochs(max(maxSeen+2, next))
	return Result{}, nil
}

// ExportMeta reads a store as undermoon's meta file (GET /metadata): a stopped Fulcrum's
// bbolt store, or the state in etcd (a consistent read; instances may run).
func ExportMeta(store persist.Backend) ([]byte, error) {
	return metadataJSON(store)
}

// ImportMeta replaces the state in a store with a meta file of undermoon's (mem-broker-0.2,
// or 0.1 upgraded), with the rules of PUT /metadata: version, then epoch not smaller than
// the stored one, then invariants; all or nothing. The store must take writes: a stopped
// Fulcrum's bbolt store, or an etcd store whose Campaign won.
func ImportMeta(store persist.Backend, doc []byte) error {
	ms, err := meta.ParseStore(doc, true)
	if err != nil {
		return err
	}
	st, _, err := loadState(store, ms.EnableOrderedProxy)
	if err != nil {
		return err
	}
	if err := meta.CheckStore(ms, st.epoch); err != nil {
		return err
	}
	tx := &poolTx{base: st}
	if _, err := tx.restore(ms, nil); err != nil {
		return err
	}
	var b persist.Batch
	if err := tx.d.writeTo(&b); err != nil {
		return err
	}
	return store.Commit(&b)
}

// restoreMetadata runs one restore at a time (another is refused with OVERLOADED). On the
// asker's goroutine (a big document takes long, and the pool serves everyone) it checks the
// document in undermoon's order — version, epoch, invariants —, diffs it against a snapshot
// of the durable state and encodes what changed (planRestore); the pool then checks the
// epoch again against its latest state and takes the plan's verdicts where they still hold.
func (e *Engine) restoreMetadata(doc []byte) Result {
	if !e.restoring.CompareAndSwap(false, true) {
		return Result{Err: fmt.Errorf("%w: another whole-state restore is running", ErrOverloaded)}
	}
	defer e.restoring.Store(false)
	if e.stopped.Load() {
		return Result{Err: ErrStopped}
	}
	ms, err := meta.ParseStore(doc, false)
	if err != nil {
		return Result{Err: err}
	}
	base, err := e.durableSnapshot()
	if err != nil {
		return Result{Err: err}
	}
	if err := meta.CheckStore(ms, base.epoch); err != nil {
		return Result{Err: err}
	}
	plan, err := planRestore(ms, base)
	if err != nil {
		return Result{Err: err}
	}
	return e.askPool("restore_metadata", &restoreMeta{Plan: plan})
}
