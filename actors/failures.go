package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// pruneFailures is the pool's own timer tick: expired failure reports leave the store.
// Without it, reports for addresses that never come back (junk, or proxies long gone)
// would be kept forever, since nothing else rewrites their records.
type pruneFailures struct{}

// schedulePrune arms the next tick. The timer only sends a message: the pruning is a
// transaction of the pool like any other, written in the next batch.
func (a *ProxyPoolActor) schedulePrune(ctx actor.Context) {
	if a.cfg.pruneInterval <= 0 {
		return
	}
	self, root := ctx.Self(), ctx.ActorSystem().Root
	a.pruneTimer = time.AfterFunc(a.cfg.pruneInterval, func() { root.Send(self, &pruneFailures{}) })
}

func (a *ProxyPoolActor) stopPrune() {
	if a.pruneTimer != nil {
		a.pruneTimer.Stop()
	}
}
