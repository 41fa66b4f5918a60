package actors

import (
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/persist"
)

// pending is an accepted transaction waiting for its batch to reach the disk.
type pending struct {
	d       *delta
	replyTo *actor.PID
	reply   Result
	ticket  *ticket // the asker's, finished with the reply
	// bulk: a whole-state restore, whose commit takes long. It starts a batch of its own,
	// so the changes accepted before it are not answered only after its commit.
	bulk bool
}

// ProxyPoolActor owns the proxies, hosts, failed proxies, failure reports and the global
// epoch, and is the one order of all broker changes and the only writer of the store.
// It keeps two states: tent (every accepted change) for validating new transactions, and
// durable (what is on disk) for answering reads. Accepted transactions are written in
// batches, one batch in flight at a time: everything accepted while a batch is being
// written goes into the next one (group commit). Replies, cluster installs and spawns
// happen only once a batch is durable.
type ProxyPoolActor struct {
	cfg     *engineConfig
	log     zerolog.Logger
	store   persist.Backend
	metrics *Metrics

	durable, tent *poolState
	queued        []*pending // accepted, not yet handed to the writer
	writing       []*pending // in the batch being written
	writeStart    time.Time

	replicator *actor.PID
	pruneTimer *time.Timer // the next pruneFailures tick

	children map[string]*actor.PID
	stopping map[string]bool       // deleted clusters whose actor has not terminated yet
	deferred map[string][]*pending // creates waiting for the old actor of that name to stop
	// Sorted listings, rebuilt lazily after a change: coordinators page through them every
	// second.
	names, proxyList, failedList []string
	// Rendered views of free proxies; the pool is the one order of everything, so their
	// rendering should not be repeated on its goroutine for every poll.
	freeViews map[proxyKey]Result
	// Rendered views of proxies in clusters, each with the durable record it was rendered
	// from: the pool answers a proxy read itself, in one mailbox transit (forwarding to the
	// cluster actor cost a second one, ~5 % of a read's CPU). A view stays current while its
	// cluster's record is the same object: commits replace records, never change them.
	clusterViews map[proxyKey]renderedView
	snap         *poolState // durable's immutable copy, handed out until the next change (snapshot.go)

	// HA on etcd (ha.go): refuse answers every change while this instance does not lead;
	// waiting are states from the store that arrived while a batch was being written.
	refuse  error
	waiting []any
}

type proxyKey struct {
	addr   string
	format Format
}

type renderedView struct {
	rec *meta.ClusterStore
	res Result
}

func newPoolActor(cfg *engineConfig, store persist.Backend, st *poolState) *ProxyPoolActor {
	return &ProxyPoolActor{cfg: cfg, log: cfg.log.With().Str("actor", "pool").Logger(), store: store,
		metrics: cfg.metrics, durable: st, tent: st.clone(),
		children: map[string]*actor.PID{}, freeViews: map[proxyKey]Result{}, clusterViews: map[proxyKey]renderedView{}, stopping: map[string]bool{}, deferred: map[string][]*pending{},
		refuse: cfg.haRefuse}
}

func (a *ProxyPoolActor) Receive(ctx actor.Context) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error().Interface("panic", r).Str("stack", string(debug.Stack())).
				Str("message", fmt.Sprintf("%T", ctx.Message())).Msg("pool actor recovered from a panic")
			if ctx.Sender() != nil {
				ctx.Respond(Result{Err: ErrInternal})
			}
		}
	}()
	switch m := ctx.Message().(type) {
	case *actor.Started:
		for _, name := range sortedKeys(a.durable.clusters) {
			a.spawnCluster(ctx, a.durable.clusters[name])
		}
		if a.cfg.syncInterval > 0 {
			replicas := a.durable.replicas
			props := actor.PropsFromProducer(func() actor.Actor { return newReplicator(a.cfg, a.store, replicas) })
			pid, err := ctx.SpawnNamed(props, "replicator")
			if err != nil {
				a.log.Error().Err(err).Msg("spawning the replicator failed; replication is off")
			}
			a.replicator = pid
		}
		a.schedulePrune(ctx)
	case *actor.Stopping:
		a.stopPrune()
	case *pruneFailures:
		a.run(ctx, func(tx *poolTx) (Result, error) { return tx.pruneFailures() })
		a.schedulePrune(ctx)
	case *actor.Terminated:
		a.childTerminated(ctx, m.Who)
	case *writeDone:
		a.finishWrite(ctx, m.Err)
	case *replaceState, *applyStored:
		a.installStored(ctx, m)
	case *stepDown:
		a.stepDownNow(ctx, m.Err)

	// Reads, from the durable state.
	case *ready:
		ctx.Respond(Result{})
	case *getEpoch:
		ctx.Respond(Result{Body: []byte(fmt.Sprint(a.durable.epoch))})
	case *listClusterNames:
		if a.names == nil {
			a.names = sortedKeys(a.durable.clusters)
		}
		ctx.Respond(jsonResult(map[string][]string{"names": page(a.names, m.Offset, m.Limit)}))
	case *listProxies:
		if a.proxyList == nil {
			a.proxyList = sortedKeys(a.durable.proxies)
		}
		ctx.Respond(jsonResult(map[string][]string{"addresses": page(a.proxyList, m.Offset, m.Limit)}))
	case *listFailed:
		if a.failedList == nil {
			a.failedList = sortedKeys(a.durable.failed)
		}
		ctx.Respond(jsonResult(map[string][]string{"addresses": page(a.failedList, m.Offset, m.Limit)}))
	case *listFailures:
		ctx.Respond(jsonResult(map[string][]string{"addresses": a.failedByQuorum()}))
	case *getProxyMeta:
		a.proxyMeta(ctx, m)
	case *getSnapshot:
		ctx.Respond(a.snapshot())

	// Mutations, as transactions on the tentative state.
	case *addProxy:
		a.run(ctx, func(tx *poolTx) (Result, error) { return tx.addProxy(m) })
	case *deleteProxy:
		a.run(ctx, func(tx *poolTx) (Result, error) { return tx.deleteProxy(m.Address) })
	case *reportFailure:
		a.run(ctx, func(tx *poolTx) (Result, error) { return tx.reportFailure(m.Address, m.Reporter) })
	case *failoverProxy:
		a.run(ctx, func(tx *poolTx) (Result, error) { return tx.failover(m.Address, m.Format) })
	case *createCluster:
		a.run(ctx, func(tx *poolTx) (Result, error) { return tx.createCluster(m.Name, m.Nodes) })
	case *setEpoch:
		a.run(ctx, func(tx *poolTx) (Result, error) { return tx.setAllEpochs(m.Epoch) })
	case *restoreMeta:
		a.run(ctx, func(tx *poolTx) (Result, error) { return tx.restorePlanned(m.Plan) })
	case *setReplicas:
		a.run(ctx, func(tx *poolTx) (Result, error) { return tx.setReplicas(m.Addresses) })
	case *recoverEpoch:
		a.run(ctx, func(tx *poolTx) (Result, error) { return tx.recoverEpoch(m.MaxSeen) })
	case *getConfig:
		ctx.Respond(jsonResult(map[string][]string{"replica_addresses": append([]string{}, a.durable.replicas...)}))
	case *deleteCluster:
		a.runCluster(ctx, m.Name, (*poolTx).deleteCluster)
	case *patchConfig:
		a.runCluster(ctx, m.Name, patchConfigBuild(m.Changes))
	case *balanceCluster:
		a.runCluster(ctx, m.Name, (*poolTx).balanceCluster)
	case *commitMigration:
		a.runCluster(ctx, m.Name, commitMigrationBuild(m.Ranges, m.TaskEpoch))
	case *commitCluster:
		a.runCluster(ctx, m.Name, m.Build)
	}
}

// runCluster runs build as a transaction on the named cluster's latest accepted record.
func (a *ProxyPoolActor) runCluster(ctx actor.Context, name string, build clusterBuild) {
	a.run(ctx, func(tx *poolTx) (Result, error) {
		cur := tx.cluster(name)
		if cur == nil {
			return Result{}, meta.ErrClusterNotFound
		}
		next, res, err := build(tx, cur)
		if err != nil {
			return res, err
		}
		if next != cur {
			tx.setCluster(name, next)
		}
		return res, nil
	})
}

func (a *ProxyPoolActor) newTx(base *poolState) *poolTx {
	return &poolTx{base: base, now: a.cfg.now().Unix(), ttl: int64(a.cfg.failureTTL / time.Second), limit: a.cfg.migrationLimit}
}

// run executes one transaction and queues its reply behind every accepted change, so no
// reply (not even an error or a no-op) can claim a state that is not yet on disk.
func (a *ProxyPoolActor) run(ctx actor.Context, fn func(tx *poolTx) (Result, error)) {
	if !accepted(ctx.Message()) {
		return // the asker gave up before: never applied
	}
	if a.refuse != nil {
		a.reply(ctx, &pending{replyTo: ctx.Sender(), reply: Result{Err: a.refuse}, ticket: ticketOf(ctx.Message())})
		return
	}
	tx := a.newTx(a.tent)
	res, err := fn(tx)
	if err == nil && tx.epochErr != nil {
		err = tx.epochErr
	}
	if err != nil {
		res, tx.d = Result{Err: err}, delta{}
	}
	_, bulk := ctx.Message().(*restoreMeta)
	p := &pending{d: &tx.d, replyTo: ctx.Sender(), reply: res, ticket: ticketOf(ctx.Message()), bulk: bulk && err == nil}
	defer func() { a.metrics.pendingChanges.Set(float64(len(a.queued) + len(a.writing))) }()
	if p.d.empty() && len(a.queued) == 0 && a.writing == nil {
		a.reply(ctx, p)
		return
	}
	p.d.applyTo(a.tent)
	a.queued = append(a.queued, p)
	if a.writing == nil {
		a.startWrite(ctx)
	}
}

func (a *ProxyPoolActor) reply(ctx actor.Context, p *pending) {
	if p.ticket != nil {
		p.ticket.finish(p.reply)
	}
	if p.replyTo != nil {
		ctx.Send(p.replyTo, p.reply)
	}
}

// startWrite hands everything queued to a writer goroutine as one store transaction. The
// records are encoded there, not here: deltas and records are immutable once accepted, and
// encoding is most of a batch's CPU, which the pool's mailbox should not wait for.
func (a *ProxyPoolActor) startWrite(ctx actor.Context) {
	n := a.batchEnd()
	a.writing, a.queued = a.queued[:n:n], a.queued[n:]
	if len(a.queued) == 0 {
		a.queued = nil
	}
	deltas := make([]*delta, 0, len(a.writing))
	for _, p := range a.writing {
		if !p.d.empty() {
			deltas = append(deltas, p.d)
		}
	}
	if len(deltas) == 0 {
		a.finishWrite(ctx, nil)
		return
	}
	a.writeStart = time.Now()
	a.metrics.batchSize.Observe(float64(len(a.writing)))
	self, root, store := ctx.Self(), ctx.ActorSystem().Root, a.store
	go func() {
		root.Send(self, &writeDone{Err: commitDeltas(store, deltas)})
	}()
}

// batchEnd is how many queued changes the next batch takes: all of them, except that a
// restore starts a batch (the changes before it go first, in a batch of their own, so that
// they are not answered only after its long commit). Changes after it join it: they would
// wait for its commit anyway.
func (a *ProxyPoolActor) batchEnd() int {
	for i, p := range a.queued {
		if p.bulk && i > 0 {
			return i
		}
	}
	return len(a.queued)
}

func (a *ProxyPoolActor) finishWrite(ctx actor.Context, err error) {
	if !a.writeStart.IsZero() {
		a.metrics.commitSeconds.Observe(time.Since(a.writeStart).Seconds())
		a.writeStart = time.Time{}
	}
	batch := a.writing
	a.writing = nil
	if err != nil {
		// Nothing of this batch is durable, and the queued changes were validated against
		// it: drop both and start again from what is on disk.
		a.log.Error().Err(err).Int("changes", len(batch)+len(a.queued)).Msg("store commit failed; changes refused")
		refusal := fmt.Errorf("%w: %v", meta.ErrPersistence, err)
		if a.cfg.haLost != nil {
			// etcd: fenced, or an unknown outcome. Stop writing until the HA node has
			// reloaded the state and won the election again (ha.go).
			refusal = haCommitError(err)
			if !errors.Is(err, persist.ErrTooManyOps) { // that one wrote nothing and changes nothing
				a.refuse = refusal
				select {
				case a.cfg.haLost <- err:
				default:
				}
			}
		}
		for _, p := range append(batch, a.queued...) {
			p.reply = Result{Err: refusal}
			a.reply(ctx, p)
		}
		a.queued = nil
		a.tent = a.durable.clone()
		a.installWaiting(ctx)
		return
	}
	changed := false
	for _, p := range batch {
		p.d.applyTo(a.durable)
		changed = changed || !p.d.empty()
	}
	// The next batch is written while this one's cluster actors are installed or spawned
	// (thousands, after a restore), unless it holds only replies: those must not overtake
	// this batch's.
	if slices.ContainsFunc(a.queued[:a.batchEnd()], func(p *pending) bool { return !p.d.empty() }) {
		a.startWrite(ctx)
	}
	for _, p := range batch {
		a.forgetProxyViews(p.d)
		a.publish(ctx, p)
	}
	if changed {
		// Any change moves the global epoch that free proxies' views carry.
		clear(a.freeViews)
		a.snap = nil
	}
	if a.replicator != nil && changed {
		ctx.Send(a.replicator, &replicaState{Replicas: a.durable.replicas})
	}
	if len(a.queued) > 0 && a.writing == nil {
		a.startWrite(ctx)
	}
	a.installWaiting(ctx)
}

// installWaiting applies the states from the store that waited for a write to end.
func (a *ProxyPoolActor) installWaiting(ctx actor.Context) {
	for len(a.waiting) > 0 && a.writing == nil {
		m := a.waiting[0]
		a.waiting = a.waiting[1:]
		a.installStored(ctx, m)
	}
}

// publish makes a durable change visible: cluster actors install their new records before
// the reply is sent, so a client that got its answer reads its own write.
func (a *ProxyPoolActor) publish(ctx actor.Context, p *pending) {
	if len(p.d.clusters) > 0 {
		a.names = nil
	}
	if len(p.d.proxies) > 0 {
		a.proxyList = nil
	}
	if len(p.d.failed) > 0 {
		a.failedList = nil
	}
	created := ""
	for _, name := range sortedKeys(p.d.clusters) {
		rec := p.d.clusters[name]
		pid, ok := a.children[name]
		switch {
		case ok:
			ctx.Send(pid, &install{Rec: rec})
			if rec == nil {
				delete(a.children, name)
				a.stopping[name] = true
			}
		case rec != nil && a.stopping[name]:
			created = name
		case rec != nil:
			a.spawnCluster(ctx, rec)
		}
	}
	if created != "" {
		// The previous actor of this name is still stopping: spawn and reply once it is gone.
		a.deferred[created] = append(a.deferred[created], p)
		return
	}
	a.reply(ctx, p)
}

func (a *ProxyPoolActor) spawnCluster(ctx actor.Context, rec *meta.ClusterStore) {
	props := actor.PropsFromProducer(func() actor.Actor { return newClusterActor(a.cfg, ctx.Self(), rec) }, actor.WithDispatcher(inlineDispatcher))
	pid, err := ctx.SpawnNamed(props, clusterActorName(rec.Name))
	if err != nil {
		a.log.Error().Err(err).Str("cluster", rec.Name).Msg("spawning cluster actor failed")
		return
	}
	a.children[rec.Name] = pid
}

func (a *ProxyPoolActor) childTerminated(ctx actor.Context, who *actor.PID) {
	for name := range a.stopping {
		if who.Id != ctx.Self().Id+"/"+clusterActorName(name) {
			continue
		}
		delete(a.stopping, name)
		for _, p := range a.deferred[name] {
			if rec := a.durable.clusters[name]; rec != nil && a.children[name] == nil {
				a.spawnCluster(ctx, rec)
			}
			a.reply(ctx, p)
		}
		delete(a.deferred, name)
		return
	}
}

func clusterActorName(name string) string { return "cluster/" + name }

// proxyMeta answers every proxy's view itself, from the durable state: a free proxy's
// (cached until the next durable change) and a cluster proxy's, rendered from its cluster's
// durable record (cached while that record is the one the pool holds).
func (a *ProxyPoolActor) proxyMeta(ctx actor.Context, m *getProxyMeta) {
	p := a.durable.proxies[m.Address]
	if p == nil {
		ctx.Respond(Result{Body: nullProxyBody})
		return
	}
	key := proxyKey{m.Address, m.Format}
	if rec := a.durable.clusters[p.Cluster]; rec != nil {
		v, ok := a.clusterViews[key]
		if !ok || v.rec != rec {
			v = renderedView{rec, finish(proxyBody(rec.View(a.cfg.migrationLimit).ProxyView(m.Address), m.Format), m.Format)}
			a.clusterViews[key] = v
		}
		ctx.Respond(v.res)
		return
	}
	res, ok := a.freeViews[key]
	if !ok {
		res = finish(proxyBody(meta.FreeProxyView(p, a.durable.epoch), m.Format), m.Format)
		a.freeViews[key] = res
	}
	ctx.Respond(res)
}

// forgetProxyViews drops the cached views of deregistered proxies, so the cache is bounded
// by the proxies registered.
func (a *ProxyPoolActor) forgetProxyViews(d *delta) {
	for addr, p := range d.proxies {
		if p != nil {
			continue
		}
		for _, f := range allFormats {
			delete(a.clusterViews, proxyKey{addr, f})
		}
	}
}

// failedByQuorum lists the registered proxies with at least failure_quorum live reports.
func (a *ProxyPoolActor) failedByQuorum() []string {
	now, ttl := a.cfg.now().Unix(), int64(a.cfg.failureTTL/time.Second)
	out := []string{}
	for addr, m := range a.durable.failures {
		if a.durable.proxies[addr] != nil && liveReports(m, now, ttl) >= a.cfg.failureQuorum {
			out = append(out, addr)
		}
	}
	sort.Strings(out)
	return out
}

// page applies offset and limit (limit < 0: no limit); past the end it is an empty list.
func page(all []string, offset, limit int) []string {
	if offset >= len(all) {
		return []string{}
	}
	all = all[offset:]
	if limit >= 0 && limit < len(all) {
		all = all[:limit]
	}
	return all
}
