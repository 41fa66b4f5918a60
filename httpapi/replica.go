package httpapi

import (
	"bytes"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// A replica (--replica) holds the state its master pushes with PUT /metadata and nothing
// else: a direct write would make it diverge, and every later push would then be refused
// (the replica's epoch moves past the master's) with nothing but the master's log and
// metrics to say so. So it refuses every broker change but the push, with 409
// REPLICA_READ_ONLY. It is promoted by restarting it without --replica (then
// PUT /epoch/recovery, as with undermoon).

func newRefusedWrites(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fulcrum_replica_refused_writes_total",
		Help: "Broker changes a replica refused (409 REPLICA_READ_ONLY): someone writes to a replica instead of its master.",
	})
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

// replicaAllows answers 409 and returns false for a change a replica must not take.
func (s *Server) replicaAllows(ctx *fasthttp.RequestCtx) bool {
	if !s.replica || ctx.IsGet() || ctx.IsHead() {
		return true
	}
	rest, ok := brokerPath(ctx.Request.URI().PathOriginal())
	if !ok {
		return true // the balancer acts on Kafka, not on the replicated state
	}
	if (ctx.IsPut() && bytes.Equal(rest, []byte("/metadata"))) ||
		(ctx.IsPost() && bytes.Equal(rest, []byte("/resources/failures/check"))) {
		return true
	}
	s.refusedWrites.Inc()
	writeError(ctx, &requestError{errReplicaReadOnly,
		"this instance is a replica (--replica): send changes to its master; restart it without --replica to promote it"})
	return false
}
