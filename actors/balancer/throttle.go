package balancer

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// The plan's replication throttle: what it replaces is read and recorded first, and put
// back at the end (decide, PhaseUnthrottling).

// throttle reads the throttle configs the plan is about to change, records them, and sets
// the plan's throttle once that record is on disk: whatever happens next, the plan can put
// back exactly what the operator had.
func (a *planActor) throttle(ctx actor.Context) {
	kafka, th := a.cfg.kafka, *a.rec.Throttle
	if a.rec.Saved == nil {
		topics := taskTopics(a.rec.Tasks)
		var was *kafkaload.ThrottleConfigs
		a.act(ctx, "read throttle configs", func(c context.Context) error {
			var err error
			was, err = kafka.ReadThrottle(c, th.Brokers, topics)
			return err
		}, func() {
			a.rec.Saved = was
			a.save(ctx)
			a.savedVer = a.ver
			a.wait(ctx)
		})
		return
	}
	if a.durable < a.savedVer {
		a.flush(ctx) // again, if the last write failed
		a.wait(ctx)
		return
	}
	was := a.rec.Saved
	a.act(ctx, "set throttle", func(c context.Context) error { return kafka.SetThrottle(c, th, was) }, func() {
		a.setPhase(ctx, PhaseReassigning)
		a.pollNow(ctx)
	})
}

// throttleLimit is the most the throttle lets through, in bytes/s: its rate on each broker
// still receiving data (a new replica or a directory move not placed yet); 0 without a
// throttle.
func (a *planActor) throttleLimit(st *kafkaload.State) float64 {
	if a.rec.Throttle == nil || a.rec.Throttle.Rate <= 0 {
		return 0
	}
	receiving := map[int32]bool{}
	for i := range a.rec.Tasks {
		t := &a.rec.Tasks[i]
		if t.placed(st.Partitions[t.tp()]) {
			continue
		}
		for _, b := range append(t.adding(), t.DirMoves...) {
			receiving[b] = true
		}
	}
	return float64(a.rec.Throttle.Rate) * float64(len(receiving))
}
