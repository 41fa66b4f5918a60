package balancer

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/seed248d40c9/fulcrum/persist"
)

// registry (<name>/balancer/plans, a child of the supervisor) knows every plan and its
// latest status, answers the reads, and lets one plan execute at a time: a plan being
// validated counts, so of two concurrent Executes exactly one can be accepted. Plans found
// unfinished in the store at start are resumed, one after the other.
type registry struct {
	cfg     *config
	loaded  []*planRecord
	plans   map[string]*PlanStatus
	order   []string // tokens, oldest first
	running string   // token of the plan executing or being validated
	pid     *actor.PID
	queue   []*planRecord
}

func (r *registry) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.plans = map[string]*PlanStatus{}
		for _, rec := range r.loaded {
			s := rec.Status
			r.add(&s)
			if !s.Phase.Final() {
				r.queue = append(r.queue, rec)
			}
		}
		r.loaded = nil
		r.resumeNext(ctx)
	case *executePlan:
		if r.running != "" {
			ctx.Respond(&planReply{err: errorf(ErrConflict, "plan %s is executing; one plan executes at a time", r.running)})
			return
		}
		pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return newPlanActor(r.cfg, nil) }), "plan-"+m.token)
		if err != nil {
			ctx.Respond(&planReply{err: withKind(ErrInternal, err)})
			return
		}
		r.running, r.pid = m.token, pid
		ctx.Forward(pid) // the plan actor answers the asker
	case *planUpdate:
		r.add(m.status)
		if m.status.Done && r.running == m.status.Token {
			r.running, r.pid = "", nil
			r.resumeNext(ctx)
		}
	case *planGone:
		if r.running == m.token {
			r.running, r.pid = "", nil
		}
		if _, ok := r.plans[m.token]; ok {
			delete(r.plans, m.token)
			for i, t := range r.order {
				if t == m.token {
					r.order = append(r.order[:i], r.order[i+1:]...)
					break
				}
			}
		}
		r.resumeNext(ctx)
	case *actor.Terminated:
		// A plan actor stopped without a final status (a bug or the balancer stopping):
		// free the slot rather than refuse every plan from now on.
		if r.pid != nil && m.Who.Id == r.pid.Id {
			r.running, r.pid = "", nil
			r.resumeNext(ctx)
		}
	case *getPlan:
		if s, ok := r.plans[m.token]; ok {
			ctx.Respond(&planReply{status: s})
		} else {
			ctx.Respond(&planReply{err: errorf(ErrNotFound, "no plan %q", m.token)})
		}
	case *listPlans:
		out := make([]*PlanStatus, 0, len(r.order))
		for _, t := range r.order {
			out = append(out, r.plans[t])
		}
		ctx.Respond(&planList{plans: out})
	case *cancelPlan:
		s, ok := r.plans[m.token]
		switch {
		case !ok:
			ctx.Respond(&planReply{err: errorf(ErrNotFound, "no plan %q", m.token)})
		case r.running == m.token && r.pid != nil && !s.Done:
			ctx.Forward(r.pid) // answered when the cancellation is over
		case s.Phase == PhaseCancelled:
			ctx.Respond(&planReply{status: s})
		case s.Done:
			ctx.Respond(&planReply{err: errorf(ErrConflict, "plan %s is already over (%s)", m.token, s.Phase)})
		default:
			ctx.Respond(&planReply{err: errorf(ErrConflict, "plan %s waits to be resumed; cancel it once it runs", m.token)})
		}
	}
}

func (r *registry) add(s *PlanStatus) {
	if _, ok := r.plans[s.Token]; !ok {
		r.order = append(r.order, s.Token)
	}
	r.plans[s.Token] = s
}

func (r *registry) resumeNext(ctx actor.Context) {
	if r.running != "" || len(r.queue) == 0 {
		return
	}
	rec := r.queue[0]
	r.queue = r.queue[1:]
	pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return newPlanActor(r.cfg, rec) }), "plan-"+rec.Status.Token)
	if err != nil {
		r.cfg.log.Error().Err(err).Str("token", rec.Status.Token).Msg("cannot resume plan")
		r.resumeNext(ctx)
		return
	}
	r.running, r.pid = rec.Status.Token, pid
}

// loadPlans reads every plan record, oldest first. A record that does not parse is
// skipped (and logged by the caller): it cannot be resumed or shown.
func loadPlans(store *persist.Store) ([]*planRecord, []error, error) {
	var recs []*planRecord
	var bad []error
	err := store.View(func(rd persist.Reader) error {
		return rd.ForEach(persist.Plans, func(k string, v []byte) error {
			var rec planRecord
			if err := json.Unmarshal(v, &rec); err != nil || rec.Status.Token != k {
				bad = append(bad, fmt.Errorf("plan record %q: %v", k, err))
				return nil
			}
			recs = append(recs, &rec)
			return nil
		})
	})
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Status.StartTime.Before(recs[j].Status.StartTime) })
	return recs, bad, err
}
