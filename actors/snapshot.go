package actors

import (
	"fmt"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// getSnapshot asks the pool for its durable state as an immutable *poolState: the maps are
// the snapshot's own, the records in them are shared (records are never modified). Work
// that reads the whole state for long — the resource check simulates a failover of every
// proxy of every host — runs on the asker's goroutine over a snapshot, so the pool keeps
// serving every other request meanwhile.
type getSnapshot struct{}

// snapshot is the durable state's copy, made once per durable change.
func (a *ProxyPoolActor) snapshot() *poolState {
	if a.snap == nil {
		a.snap = a.durable.clone()
	}
	return a.snap
}

// durableSnapshot asks the pool for its durable state (getSnapshot), for work done on the
// asker's goroutine.
func (e *Engine) durableSnapshot() (*poolState, error) {
	v, err := e.replies.ask(e.pool, &getSnapshot{}, e.timeout)
	if err != nil {
		return nil, askError(err)
	}
	st, ok := v.(*poolState)
	if !ok {
		return nil, fmt.Errorf("%w: unexpected reply %T", ErrInternal, v)
	}
	return st, nil
}

// checkResources is POST /resources/failures/check, over a snapshot.
func (e *Engine) checkResources() Result {
	if e.stopped.Load() {
		return Result{Err: ErrStopped}
	}
	start := time.Now()
	st, err := e.durableSnapshot()
	if err != nil {
		return Result{Err: err}
	}
	tx := &poolTx{base: st, now: e.cfg.now().Unix(), ttl: int64(e.cfg.failureTTL / time.Second)}
	hosts := meta.HostsCannotFail(st.proxies, tx.freeProxies(), st.clusters)
	e.cfg.metrics.ask("check_resources").Observe(time.Since(start).Seconds())
	return jsonResult(map[string][]string{"hosts_cannot_fail": hosts})
}
