package actors

import (
	"cmp"
	"context"
	"fmt"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// ClusterActor owns one Redis cluster's durable record (chunks, slots, roles, config,
// epoch) and serves the cluster's reads (its view and info), rendered once per record and
// kept until the next install; its proxies' views are answered by the pool, which holds the
// same durable records. Scaling changes take the actor's scale lock (a field, holder) and
// are committed step by step by the pool, the single order of all changes; the other
// changes of the cluster are asked of the pool directly.
type ClusterActor struct {
	cfg  *engineConfig
	log  zerolog.Logger
	pool *actor.PID
	rec  *meta.ClusterStore // nil once deleted

	clusterBody map[Format]Result

	// The scale lock: while a scaling change runs, holder is the asker waiting for it and
	// other scaling changes are refused. It is state of this actor, not a mutex.
	holder *actor.PID
	ticket *ticket    // the holder's, finished with its answer
	auto   *autoScale // the auto-scale in progress, if any
	cancel context.CancelFunc
}

func newClusterActor(cfg *engineConfig, pool *actor.PID, rec *meta.ClusterStore) *ClusterActor {
	a := &ClusterActor{cfg: cfg, pool: pool, log: cfg.log.With().Str("actor", "cluster").Str("cluster", rec.Name).Logger()}
	a.setRecord(rec)
	return a
}

func (a *ClusterActor) setRecord(rec *meta.ClusterStore) {
	a.rec, a.clusterBody = rec, map[Format]Result{}
}

// view derives the API view. It is not kept: only the rendered bodies are, so a cluster
// that is read holds bytes, not the view's many small objects.
func (a *ClusterActor) view() *meta.ClusterView { return a.rec.View(a.cfg.migrationLimit) }

func (a *ClusterActor) Receive(ctx actor.Context) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error().Interface("panic", r).Str("stack", string(debug.Stack())).
				Str("message", fmt.Sprintf("%T", ctx.Message())).Msg("cluster actor recovered from a panic")
			if ctx.Sender() != nil {
				ctx.Respond(Result{Err: ErrInternal})
			}
		}
	}()
	switch m := ctx.Message().(type) {
	case *install:
		a.setRecord(m.Rec)
		if m.Rec == nil {
			// Whatever was queued before the poison pill is still answered, as "not found".
			ctx.Poison(ctx.Self())
		}
	case *getClusterMeta:
		if a.rec == nil {
			ctx.Respond(Result{Body: nullClusterBody})
			return
		}
		res, ok := a.clusterBody[m.Format]
		if !ok {
			res = finish(clusterBody(a.view(), m.Format), m.Format)
			a.clusterBody[m.Format] = res
		}
		ctx.Respond(res)
	case *getClusterInfo:
		if a.rec == nil {
			ctx.Respond(Result{Err: meta.ErrClusterNotFound})
			return
		}
		ctx.Respond(jsonResult(a.rec.Info(a.cfg.migrationLimit)))
	case *scaleChange:
		a.lock(ctx, m, nil, m.Build)
	case *autoScale:
		a.lock(ctx, m, m, autoResize(m.Nodes))
	case Result:
		a.scalingStepDone(ctx, m)
	case *epochsSynced:
		a.cancel = nil
		if m.Err != nil || a.rec == nil {
			a.unlock(ctx, Result{Err: cmp.Or(m.Err, error(meta.ErrClusterNotFound))})
			return
		}
		ctx.Request(a.pool, &commitCluster{Name: a.rec.Name, Build: expandIfNeeded})
	case *actor.Stopping:
		if a.cancel != nil {
			a.cancel()
		}
		// The cluster was deleted under a scaling change: nothing of the change can be
		// applied after the delete, so its asker learns that now, not as an unknown outcome
		// once its ticket's wait runs out.
		if a.holder != nil {
			a.unlock(ctx, Result{Err: meta.ErrClusterNotFound})
		}
	}
}

// lock starts a scaling change (auto, for an auto-scale): it takes the scale lock and sends
// the pool the change's first step. A deleted cluster or a lock already held answers at once.
func (a *ClusterActor) lock(ctx actor.Context, m ticketed, auto *autoScale, first clusterBuild) {
	switch {
	case a.rec == nil:
		ctx.Respond(Result{Err: meta.ErrClusterNotFound})
	case a.holder != nil:
		ctx.Respond(Result{Err: meta.ErrNodeNumberChanging})
	case accepted(m):
		a.holder, a.auto, a.ticket = ctx.Sender(), auto, m.ticket()
		ctx.Request(a.pool, &commitCluster{Name: a.rec.Name, Build: first})
	}
}

// scalingStepDone handles the pool's answer to a change made under the scale lock. The new
// record, if any, was installed just before.
func (a *ClusterActor) scalingStepDone(ctx actor.Context, res Result) {
	if a.holder == nil {
		return
	}
	if a.auto == nil || res.Err != nil || a.rec == nil || a.rec.SlotlessChunks() == 0 || a.cancel != nil {
		a.unlock(ctx, res)
		return
	}
	// A scale-out added nodes: slots move only once every proxy of the cluster knows the
	// new metadata, or clients would be redirected to proxies that do not know the cluster.
	wctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	wait, addrs, epoch := a.cfg.epochWait, a.rec.Proxies(), a.rec.Epoch
	self, root := ctx.Self(), ctx.ActorSystem().Root
	go func() {
		root.Send(self, &epochsSynced{Err: wait.run(wctx, addrs, epoch)})
	}()
}

func (a *ClusterActor) unlock(ctx actor.Context, res Result) {
	if a.ticket != nil {
		a.ticket.finish(res)
	}
	ctx.Send(a.holder, res)
	a.holder, a.auto, a.ticket = nil, nil, nil
}
