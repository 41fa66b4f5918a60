package balancer

import (
	"slices"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// registry (<name>/balancer/plans, a child of the supervisor) knows every plan and its
// latest status, answers the reads, and lets one plan execute at a time: a plan being
// validated counts, so of two concurrent Executes exactly one can be accepted. Plans found
// unfinished in the store at start are resumed, one after the other. Finished plans are
// kept for ExecOptions.KeepFinished, at most MaxFinished of them, then pruned from memory and
// from the store.
type registry struct {
	cfg     *config
	loaded  []*planRecord
	plans   map[string]*PlanStatus
	order   []string // tokens, oldest first
	running string   // token of the plan executing or being validated
	pid     *actor.PID
	queue   []*planRecord
	// alive are the tokens of the plan actors not stopped yet, by actor id: a plan is
	// pruned only once its actor has stopped, so its final record is on disk and no later
	// write can bring it back.
	alive map[string]string
	timer *time.Timer
	// standby: another instance executes plans (standby.go); nothing runs here.
	standby bool
}

// pruneTick asks the registry to prune the finished plans that are too old.
type pruneTick struct{}

// pruneEvery is how often the registry looks for finished plans to prune, at most.
const pruneEvery = time.Hour

func (r *registry) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.plans, r.alive = map[string]*PlanStatus{}, map[string]string{}
		for _, rec := range r.loaded {
			s := rec.Status
			r.add(&s)
			if !s.Phase.Final() {
				r.queue = append(r.queue, rec)
			}
		}
		r.loaded = nil
		r.prune(ctx)
		r.resumeNext(ctx)
	case *pruneTick:
		r.prune(ctx)
	case *leadPlans:
		r.lead(ctx, m.plans)
	case *followPlans:
		r.follow(ctx)
	case *actor.Stopping:
		if r.timer != nil {
			r.timer.Stop()
		}
	case *executePlan:
		if r.standby {
			ctx.Respond(&planReply{err: errorf(ErrUnavailable, "this instance does not lead: plans execute on the leader")})
			return
		}
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
		r.alive[pid.Id] = m.token
		ctx.Forward(pid) // the plan actor answers the asker
	case *planUpdate:
		r.add(m.status)
		if m.status.Done && r.running == m.status.Token {
			r.running, r.pid = "", nil
			r.resumeNext(ctx)
		}
		if m.status.Done {
			// Terminated (a system message) may have overtaken this last update.
			r.prune(ctx)
		}
	case *planGone:
		if r.running == m.token {
			r.running, r.pid = "", nil
		}
		r.remove(m.token)
		r.resumeNext(ctx)
	case *actor.Terminated:
		delete(r.alive, m.Who.Id)
		// A plan actor stopped without a final status (a bug or the balancer stopping):
		// free the slot rather than refuse every plan from now on.
		if r.pid != nil && m.Who.Id == r.pid.Id {
			r.running, r.pid = "", nil
			r.resumeNext(ctx)
		}
		r.prune(ctx)
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
	if old, ok := r.plans[s.Token]; !ok {
		r.order = append(r.order, s.Token)
	} else {
		r.cfg.metrics.plans.WithLabelValues(string(old.Phase)).Dec()
	}
	r.cfg.metrics.plans.WithLabelValues(string(s.Phase)).Inc()
	r.plans[s.Token] = s
}

func (r *registry) remove(token string) {
	s, ok := r.plans[token]
	if !ok {
		return
	}
	r.cfg.metrics.plans.WithLabelValues(string(s.Phase)).Dec()
	delete(r.plans, token)
	r.order = slices.DeleteFunc(r.order, func(t string) bool { return t == token })
}

// prune forgets the finished plans that ended more than KeepFinished ago, and the oldest
// finished ones beyond MaxFinished, in memory and in the store (on a goroutine: the store
// write does not block the mailbox; a failed delete is retried at the next start, as the
// records are then pruned again). It then schedules itself for when the next plan expires.
func (r *registry) prune(ctx actor.Context) {
	now := r.cfg.exec.Now()
	alive := map[string]bool{}
	for _, t := range r.alive {
		alive[t] = true
	}
	var finished []string // oldest first, by finish time
	for _, t := range r.order {
		if s := r.plans[t]; s.Done && s.FinishTime != nil && !alive[t] {
			finished = append(finished, t)
		}
	}
	sort.SliceStable(finished, func(i, j int) bool {
		return r.plans[finished[i]].FinishTime.Before(*r.plans[finished[j]].FinishTime)
	})
	var gone []string
	for i, t := range finished {
		if len(finished)-i > r.cfg.exec.MaxFinished || now.Sub(*r.plans[t].FinishTime) >= r.cfg.exec.KeepFinished {
			gone = append(gone, t)
		}
	}
	if len(gone) > 0 {
		for _, t := range gone {
			r.remove(t)
		}
		r.cfg.log.Info().Int("plans", len(gone)).Msg("pruned finished plans")
		if r.cfg.store != nil {
			store, log := r.cfg.store, r.cfg.log
			go func() {
				if err := deletePlans(store, gone); err != nil {
					log.Error().Err(err).Msg("deleting pruned plans from the store failed")
				}
			}()
		}
	}
	// Next: when the oldest kept finished plan expires, at most pruneEvery from now.
	next := pruneEvery
	if len(finished) > len(gone) { // gone is a prefix of finished: the oldest
		oldest := r.plans[finished[len(gone)]]
		next = min(next, max(oldest.FinishTime.Add(r.cfg.exec.KeepFinished).Sub(now), time.Second))
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	self, root := ctx.Self(), ctx.ActorSystem().Root
	r.timer = time.AfterFunc(next, func() { root.Send(self, &pruneTick{}) })
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
	r.alive[pid.Id] = rec.Status.Token
}
