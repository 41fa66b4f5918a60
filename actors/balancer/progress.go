package balancer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
)

// How far a plan is: the counts and the ETA of its status from each reading, and the stall
// that ends a plan that stopped moving (reconciler.next).

// checkStall ends a plan that has not progressed for StallTimeout: an executing plan
// fails (and reverts), a reverting one stops reverting, one removing its throttle gives
// up. It reports whether it did so.
func (r *reconciler) checkStall(st *kafkaexec.State, now time.Time) (action, bool) {
	idle := now.Sub(r.lastProgress)
	if idle < r.opts.StallTimeout {
		return action{}, false
	}
	err := fmt.Errorf("no progress for %s in phase %s: %s", idle.Round(time.Second), r.rec.Status.Phase, r.waitingFor(st))
	switch r.rec.Status.Phase {
	case PhaseFailing, PhaseCancelling:
		r.addError(fmt.Errorf("could not put every partition back: %w", err))
		return r.cleanUp(now), true
	case PhaseUnthrottling:
		r.finish(r.rec.Outcome, fmt.Errorf("the throttle could not be removed: %w", err), now)
	default:
		r.fail(err, now)
	}
	return pollNow, true
}

// waitingFor says what the plan waits for, for a stall's error: the first partitions not
// placed, the brokers involved that are not in the cluster, the last error.
func (r *reconciler) waitingFor(st *kafkaexec.State) string {
	var parts []string
	if st != nil {
		var waiting []string
		gone := map[int32]bool{}
		for i := range r.rec.Tasks {
			t := &r.rec.Tasks[i]
			p := st.Partitions[t.tp()]
			for _, b := range append(slices.Clone(t.Target), t.Original...) {
				if !st.Brokers[b] {
					gone[b] = true
				}
			}
			if p == nil {
				waiting = append(waiting, t.tp().String()+" (gone)")
			} else if !t.placed(p) || (r.rec.Status.Phase == PhaseElecting && p.Leader != t.Target[0]) {
				waiting = append(waiting, fmt.Sprintf("%s (replicas %v, in sync %v, leader %d; target %v)", t.tp(), p.Replicas, p.ISR, p.Leader, t.Target))
			}
		}
		if len(gone) > 0 {
			parts = append(parts, fmt.Sprintf("brokers %v are not in the cluster (down?)", sortedBrokers(gone)))
		}
		if len(st.Silent) > 0 {
			parts = append(parts, fmt.Sprintf("brokers %v do not answer (down?)", sortedBrokers(st.Silent)))
		}
		if len(waiting) > 0 {
			parts = append(parts, "waiting for "+abbreviate(waiting))
		}
	}
	if r.lastErr != nil {
		parts = append(parts, "last error: "+r.lastErr.Error())
	}
	if len(parts) == 0 {
		return "no reading of Kafka"
	}
	return strings.Join(parts, "; ")
}

// progress updates the counts from a reading; any gain is progress.
func (r *reconciler) progress(st *kafkaexec.State, now time.Time) {
	s := &r.rec.Status
	if s.Phase.Final() {
		return
	}
	done, moved := 0, int64(0)
	for i := range r.rec.Tasks {
		t := &r.rec.Tasks[i]
		p := st.Partitions[t.tp()]
		if t.placed(p) {
			done++
		}
		moved += t.moved(p)
	}
	changed := done != s.PartitionsDone
	if done > s.PartitionsDone {
		r.lastProgress = now
	}
	s.PartitionsDone = done
	grew := moved > s.BytesMoved
	if grew {
		r.count(moved - s.BytesMoved)
		s.BytesMoved = moved
		r.lastProgress = now
	}
	switch s.Phase {
	case PhaseFailing, PhaseCancelling, PhaseUnthrottling:
		s.ETASeconds = nil // the bytes left will not be copied
	default:
		r.samples = addSample(r.samples, progressSample{at: now, moved: s.BytesMoved})
		s.ETASeconds = estimateETA(r.samples, s.BytesTotal-s.BytesMoved, r.throttleLimit(st))
	}
	switch {
	case changed || (grew && now.Sub(r.lastSave) >= saveEvery):
		r.save(now)
	case grew:
		r.shown = true
	}
}

func (r *reconciler) count(bytes int64) {
	if r.moved != nil {
		r.moved(float64(bytes))
	}
}
