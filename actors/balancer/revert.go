package balancer

import (
	"slices"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
)

// revert puts every partition back either as it was or as the plan wants it, replica
// order and leader included. First it cancels the plan's reassignments in flight and its
// directory moves in flight (each log is moved back to where it is). Kafka's cancellation
// keeps the current order minus the added replicas, which may not be the original order
// (from [1 2] to [2 3], the list in flight is [2 3 1] and the cancelled one [2 1]), so then
// it restores the order with a reassignment that copies nothing, and the leader with a
// preferred election. Partitions already done stay done, and get their planned leader.
func (r *reconciler) revert(st *kafkaexec.State, now time.Time) action {
	var ongoing []kafkaexec.TP
	back := map[int32]map[kafkaexec.TP]string{}
	reorder := map[kafkaexec.TP][]int32{}
	var elect []kafkaexec.TP
	settled := 0
	for i := range r.rec.Tasks {
		t := &r.rec.Tasks[i]
		p := st.Partitions[t.tp()]
		if p == nil {
			settled++
			continue
		}
		if p.Reassigning {
			ongoing = append(ongoing, t.tp())
		}
		for b, l := range p.Logs {
			if l.FutureDir != "" && l.Dir != "" {
				if back[b] == nil {
					back[b] = map[kafkaexec.TP]string{}
				}
				back[b][t.tp()] = l.Dir
			}
		}
		if p.Reassigning {
			continue
		}
		settled++
		order, leader := t.revertTo(p)
		switch {
		case order == nil: // neither as it was nor as planned: someone else changed it
			settled++
		case !slices.Equal(p.Replicas, order):
			reorder[t.tp()] = order
			if leader >= 0 {
				elect = append(elect, t.tp())
			}
		case leader >= 0 && p.Leader != leader:
			elect = append(elect, t.tp())
		default:
			settled++
		}
	}
	if settled > r.settled {
		r.settled = settled
		r.lastProgress = now
	}
	if len(ongoing) == 0 && len(back) == 0 && len(reorder) == 0 && len(elect) == 0 {
		r.stable++
		if r.stable < r.opts.Debounce {
			return r.wait()
		}
		return r.cleanUp(now)
	}
	r.stable = 0
	// Each kind of step is sent again only after a grace period: Kafka's metadata may not
	// show the last one yet.
	if len(ongoing) > 0 || len(back) > 0 {
		if now.Sub(r.lastAct) < r.grace() {
			return r.wait()
		}
		r.lastAct = now
		return r.act(&kafkaOp{what: "cancel moves in flight", cancel: ongoing, dirs: back})
	}
	if now.Sub(r.lastRestore) < r.grace() {
		return r.wait()
	}
	r.lastRestore = now
	// A reorder copies nothing, so the controller applies it at once and the election
	// that follows sees the new order; if not, the next reading elects again.
	return r.act(&kafkaOp{what: "restore replica order and leaders", reassign: reorder, elect: elect})
}
