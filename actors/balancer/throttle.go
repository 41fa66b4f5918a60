package balancer

import (
	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
)

// The plan's replication throttle: what it replaces is read and recorded first, and put
// back at the end (decide, PhaseUnthrottling).

// throttle reads the throttle configs the plan is about to change, records them, and sets
// the plan's throttle once that record is on disk: whatever happens next, the plan can put
// back exactly what the operator had.
func (r *reconciler) throttle() action {
	th := *r.rec.Throttle
	if r.rec.Saved == nil {
		return r.act(&kafkaOp{what: "read throttle configs", throttle: readThrottle, th: th, topics: taskTopics(r.rec.Tasks)})
	}
	if r.durable < r.savedVer {
		a := r.wait()
		a.flush = true // again, if the last write failed
		return a
	}
	return r.act(&kafkaOp{what: "set throttle", throttle: setThrottle, th: th, was: r.rec.Saved})
}

// throttleLimit is the most the throttle lets through, in bytes/s: its rate on each broker
// still receiving data (a new replica or a directory move not placed yet); 0 without a
// throttle.
func (r *reconciler) throttleLimit(st *kafkaexec.State) float64 {
	if r.rec.Throttle == nil || r.rec.Throttle.Rate <= 0 {
		return 0
	}
	receiving := map[int32]bool{}
	for i := range r.rec.Tasks {
		t := &r.rec.Tasks[i]
		if t.placed(st.Partitions[t.tp()]) {
			continue
		}
		for _, b := range append(t.adding(), t.DirMoves...) {
			receiving[b] = true
		}
	}
	return float64(r.rec.Throttle.Rate) * float64(len(receiving))
}
