package actors

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/persist"
)

// restore replaces the whole state with a parsed, checked document (PUT /metadata, the
// replication push, import-meta) in one transaction. Records that did not change are not
// rewritten, so a replica that already holds the pushed state writes nothing. The document
// was checked (meta.CheckStore) against an epoch read before; the epoch is checked again
// here, against every change accepted since.
func (tx *poolTx) restore(ms *meta.MetaStore) (Result, error) {
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
		if cur := tx.base.clusters[name]; cur == nil || !reflect.DeepEqual(normalized(cur), normalized(c)) {
			tx.setCluster(name, c)
		}
	}
	return Result{}, nil
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

// ExportMeta reads a stopped Fulcrum's store as undermoon's meta file (GET /metadata).
func ExportMeta(dataDir string) ([]byte, error) {
	store, err := persist.Open(dataDir)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return metadataJSON(store)
}

// ImportMeta replaces a stopped Fulcrum's state with a meta file of undermoon's
// (mem-broker-0.2, or 0.1 upgraded), with the rules of PUT /metadata: version, then epoch
// not smaller than the stored one, then invariants; all or nothing.
func ImportMeta(dataDir string, doc []byte) error {
	ms, err := meta.ParseStore(doc, true)
	if err != nil {
		return err
	}
	store, err := persist.Open(dataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	st, _, err := loadState(store, ms.EnableOrderedProxy)
	if err != nil {
		return err
	}
	if err := meta.CheckStore(ms, st.epoch); err != nil {
		return err
	}
	tx := &poolTx{base: st}
	if _, err := tx.restore(ms); err != nil {
		return err
	}
	var b persist.Batch
	if err := tx.d.writeTo(&b); err != nil {
		return err
	}
	return store.Commit(&b)
}

// restoreMetadata runs one restore at a time (another is refused with OVERLOADED). It checks
// the document in undermoon's order — version, epoch, invariants — on the asker's goroutine
// (a big document takes long to check, and the pool serves everyone), then hands it to the
// pool, which checks the epoch again against its latest state.
func (e *Engine) restoreMetadata(doc []byte) Result {
	if !e.restoring.CompareAndSwap(false, true) {
		return Result{Err: fmt.Errorf("%w: another whole-state restore is running", ErrOverloaded)}
	}
	defer e.restoring.Store(false)
	ms, err := meta.ParseStore(doc, false)
	if err != nil {
		return Result{Err: err}
	}
	res := e.Epoch()
	if res.Err != nil {
		return res
	}
	current, err := strconv.ParseUint(string(res.Body), 10, 64)
	if err != nil {
		return Result{Err: fmt.Errorf("%w: epoch %q: %v", ErrInternal, res.Body, err)}
	}
	if err := meta.CheckStore(ms, current); err != nil {
		return Result{Err: err}
	}
	return e.askPool("restore_metadata", &restoreMeta{Store: ms})
}
