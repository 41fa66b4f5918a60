package balancer

import (
	"context"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// revert puts every partition back either as it was or as the plan wants it, replica
// order and leader included. First it cancels the plan's reassignments in flight and its
// directory moves in flight (each log is moved back to where it is). Kafka's cancellation
// keeps the current order minus the added replicas, which may not be the original order
// (from [1 2] to [2 3], the list in flight is [2 3 1] and the cancelled one [2 1]), so then
// it restores the order with a reassignment that copies nothing, and the leader with a
// preferred election. Partitions already done stay done, and get their planned leader.
func (a *planActor) revert(ctx actor.Context, st *kafkaload.State) {
	var ongoing []kafkaload.TP
	back := map[int32]map[kafkaload.TP]string{}
	reorder := map[kafkaload.TP][]int32{}
	var elect []kafkaload.TP
	settled := 0
	for i := range a.rec.Tasks {
		t := &a.rec.Tasks[i]
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
					back[b] = map[kafkaload.TP]string{}
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
	if settled > a.settled {
		a.settled = settled
		a.lastProgress = a.now()
	}
	if len(ongoing) == 0 && len(back) == 0 && len(reorder) == 0 && len(elect) == 0 {
		a.stable++
		if a.stable < a.cfg.exec.Debounce {
			a.wait(ctx)
			return
		}
		a.cleanUp(ctx)
		return
	}
	a.stable = 0
	// Each kind of step is sent again only after a grace period: Kafka's metadata may not
	// show the last one yet.
	grace := 2*time.Second + a.cfg.exec.PollInterval
	kafka := a.cfg.kafka
	if len(ongoing) > 0 || len(back) > 0 {
		if a.now().Sub(a.lastAct) < grace {
			a.wait(ctx)
			return
		}
		a.lastAct = a.now()
		a.act(ctx, "cancel moves in flight", func(c context.Context) error {
			if len(ongoing) > 0 {
				res, err := kafka.CancelReassign(c, ongoing)
				if err != nil {
					return err
				}
				if err := partitionsErr(res, false); err != nil {
					return err
				}
			}
			return a.alterDirs(c, back)
		}, nil)
		return
	}
	if a.now().Sub(a.lastRestore) < grace {
		a.wait(ctx)
		return
	}
	a.lastRestore = a.now()
	// A reorder copies nothing, so the controller applies it at once and the election
	// that follows sees the new order; if not, the next reading elects again.
	a.act(ctx, "restore replica order and leaders", func(c context.Context) error {
		if len(reorder) > 0 {
			res, err := kafka.Reassign(c, reorder)
			if err != nil {
				return err
			}
			if err := partitionsErr(res, false); err != nil {
				return err
			}
		}
		if len(elect) == 0 {
			return nil
		}
		res, err := kafka.ElectPreferred(c, elect)
		if err != nil {
			return err
		}
		return partitionsErr(res, false)
	}, nil)
}
