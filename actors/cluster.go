package actors

import (
	"fmt"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// ClusterActor owns one Redis cluster's durable record (chunks, slots, roles, config,
// epoch) and serves every read of it: the cluster view and the views of its proxies,
// rendered once per record and kept until the next install. Changes are worked out here
// as transactions and committed by the pool, the single order of all changes.
type ClusterActor struct {
	cfg  *engineConfig
	log  zerolog.Logger
	pool *actor.PID
	rec  *meta.ClusterStore // nil once deleted

	view        *meta.ClusterView
	clusterBody []byte
	proxyBodies map[string][]byte
}

func newClusterActor(cfg *engineConfig, pool *actor.PID, rec *meta.ClusterStore) *ClusterActor {
	a := &ClusterActor{cfg: cfg, pool: pool, log: cfg.log.With().Str("actor", "cluster").Str("cluster", rec.Name).Logger()}
	a.setRecord(rec)
	return a
}

func (a *ClusterActor) setRecord(rec *meta.ClusterStore) {
	a.rec, a.view, a.clusterBody, a.proxyBodies = rec, nil, nil, nil
}

// current renders the view lazily: a cluster that nobody reads costs nothing per change.
func (a *ClusterActor) current() *meta.ClusterView {
	if a.view == nil {
		a.view = a.rec.View(a.cfg.migrationLimit)
	}
	return a.view
}

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
		if a.clusterBody == nil {
			a.clusterBody = clusterBody(a.current())
		}
		ctx.Respond(Result{Body: a.clusterBody})
	case *getClusterInfo:
		if a.rec == nil {
			ctx.Respond(Result{Err: meta.ErrClusterNotFound})
			return
		}
		ctx.Respond(jsonResult(a.rec.Info(a.cfg.migrationLimit)))
	case *getProxyMeta:
		a.proxyMeta(ctx, m.Address)
	case *clusterChange:
		if a.rec == nil {
			ctx.Respond(Result{Err: meta.ErrClusterNotFound})
			return
		}
		ctx.RequestWithCustomSender(a.pool, &commitCluster{Name: a.rec.Name, Build: m.Build}, ctx.Sender())
	}
}

func (a *ClusterActor) proxyMeta(ctx actor.Context, addr string) {
	if a.rec == nil {
		ctx.Respond(Result{Err: meta.ErrRetry})
		return
	}
	if b, ok := a.proxyBodies[addr]; ok {
		ctx.Respond(Result{Body: b})
		return
	}
	if _, _, ok := a.rec.ProxyChunk(addr); !ok {
		// The pool routed by a newer state than this actor has installed; cannot happen
		// while installs precede forwards, but never answer with a wrong view.
		ctx.Respond(Result{Err: meta.ErrRetry})
		return
	}
	if a.proxyBodies == nil {
		a.proxyBodies = map[string][]byte{}
	}
	b := proxyBody(a.current().ProxyView(addr))
	a.proxyBodies[addr] = b
	ctx.Respond(Result{Body: b})
}
