package balancer

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
)

// Messages of a plan actor to itself.
type (
	// opDone is the outcome of the one Kafka call in flight: a reading (op nil) or a change.
	opDone struct {
		seq   int
		op    *kafkaOp
		state *kafkaexec.State
		was   *kafkaexec.ThrottleConfigs
		err   error
	}
	tick    struct{}
	written struct {
		ver int
		err error
	}
	// planUpdate tells the registry a plan's latest status; planGone that a plan was
	// refused (it was never accepted).
	planUpdate struct{ status *PlanStatus }
	planGone   struct{ token string }
)

// planActor executes one plan: it accepts or refuses it, then runs what its reconciler
// (reconcile.go) asks, one Kafka call at a time on a goroutine (the mailbox never blocks),
// and writes the plan record (planstore.go) whenever the reconciler changed it.
type planActor struct {
	cfg *config
	r   *reconciler // nil until the plan is validated

	// A new plan: the asker of Execute, answered once the record is durable.
	spec     PlanSpec
	token    string
	asker    *actor.PID
	accepted bool
	// Askers of Cancel, answered when the plan is over and durable.
	waiters []*actor.PID

	ctx    context.Context // ends when the actor stops
	cancel context.CancelFunc
	seq    int  // of the call in flight
	busy   bool // a call is in flight
	timer  *time.Timer

	seenVer int // the record version last shown and written
	writing bool
	final   bool
}

func newPlanActor(cfg *config, rec *planRecord) *planActor {
	a := &planActor{cfg: cfg, accepted: rec != nil}
	if rec != nil {
		a.r = a.reconciler(rec)
	}
	a.ctx, a.cancel = context.WithCancel(cfg.base)
	return a
}

func (a *planActor) reconciler(rec *planRecord) *reconciler {
	return newReconciler(rec, a.cfg.exec, a.cfg.log, a.cfg.metrics.bytesMoved.Add)
}

func (a *planActor) Receive(ctx actor.Context) {
	defer func() {
		if r := recover(); r != nil {
			a.cfg.log.Error().Interface("panic", r).Str("stack", string(debug.Stack())).Msg("plan actor panicked")
			a.onPanic(ctx, r)
		}
	}()
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if a.r != nil { // resumed after a restart
			a.r.resume(a.now())
			a.apply(ctx, pollNow)
		}
	case *executePlan:
		a.spec, a.token, a.asker = m.spec, m.token, ctx.Sender()
		a.call(ctx, "read", nil, func(c context.Context) (*kafkaexec.State, *kafkaexec.ThrottleConfigs, error) {
			st, err := a.cfg.kafka.State(c, specTopics(m.spec))
			return st, nil, err
		})
	case *opDone:
		a.opDone(ctx, m)
	case *tick:
		if !a.busy && !a.final {
			a.poll(ctx)
		}
	case *written:
		a.written(ctx, m)
	case *cancelPlan:
		if ctx.Sender() != nil {
			a.waiters = append(a.waiters, ctx.Sender())
		}
		if a.r.cancel(a.now()) {
			a.sync(ctx, false)
			if !a.busy {
				a.schedule(ctx, 0)
			}
		}
	case *actor.Stopping:
		a.cancel()
		if a.timer != nil {
			a.timer.Stop()
		}
		if !a.accepted && a.asker != nil {
			ctx.Send(a.asker, &planReply{err: ErrStopped})
		}
		for _, w := range a.waiters {
			ctx.Send(w, &planReply{err: ErrStopped})
		}
	}
}

// validate checks a new plan against Kafka and, if it holds, records it; the asker gets
// the token once the record is on disk.
func (a *planActor) validate(ctx actor.Context, st *kafkaexec.State, err error) {
	if err != nil {
		a.refuse(ctx, withKind(ErrUnavailable, err))
		return
	}
	tasks, th, err := buildTasks(a.spec, st)
	if err != nil {
		a.refuse(ctx, err)
		return
	}
	now := a.now()
	a.r = a.reconciler(newRecord(a.spec, a.token, tasks, th, now))
	a.r.start(now)
	a.sync(ctx, false) // written() answers the asker and starts the execution
}

func (a *planActor) refuse(ctx actor.Context, err error) {
	// Answer once: a future keeps the last message it is sent, so Stopping must not
	// answer again.
	ctx.Send(a.asker, &planReply{err: err})
	a.asker = nil
	ctx.Send(ctx.Parent(), &planGone{token: a.token})
	a.final = true
	ctx.Stop(ctx.Self())
}

// call runs fn on a goroutine, bounded by the call timeout; its outcome comes back as an
// opDone. A failure counts in the Kafka errors metric under what.
func (a *planActor) call(ctx actor.Context, what string, op *kafkaOp, fn func(context.Context) (*kafkaexec.State, *kafkaexec.ThrottleConfigs, error)) {
	a.seq++
	a.busy = true
	seq, self, root, base, timeout := a.seq, ctx.Self(), ctx.ActorSystem().Root, a.ctx, a.cfg.exec.CallTimeout
	failed := a.cfg.metrics.kafkaErrors.WithLabelValues(what)
	go func() {
		c, cancel := context.WithTimeout(base, timeout)
		defer cancel()
		st, was, err := fn(c)
		if err != nil && base.Err() == nil {
			failed.Inc()
		}
		root.Send(self, &opDone{seq: seq, op: op, state: st, was: was, err: err})
	}()
}

func (a *planActor) opDone(ctx actor.Context, m *opDone) {
	if m.seq != a.seq || !a.busy {
		return
	}
	a.busy = false
	switch {
	case a.r == nil:
		a.validate(ctx, m.state, m.err)
	case m.op == nil:
		a.apply(ctx, a.r.next(m.state, m.err, a.now()))
	default:
		a.apply(ctx, a.r.done(m.op, m.was, m.err, a.now()))
	}
}

// poll reads the plan's partitions for the reconciler.
func (a *planActor) poll(ctx actor.Context) {
	topics, kafka := taskTopics(a.r.rec.Tasks), a.cfg.kafka
	a.call(ctx, "read", nil, func(c context.Context) (*kafkaexec.State, *kafkaexec.ThrottleConfigs, error) {
		st, err := kafka.State(c, topics)
		return st, nil, err
	})
}

// apply does what the reconciler asked, after writing what it changed.
func (a *planActor) apply(ctx actor.Context, next action) {
	a.sync(ctx, next.flush)
	if a.r.final {
		a.final = true
		if a.timer != nil {
			a.timer.Stop()
		}
		return
	}
	if next.op == nil {
		a.schedule(ctx, next.poll)
		return
	}
	kafka, op := a.cfg.kafka, next.op
	a.call(ctx, op.what, op, func(c context.Context) (*kafkaexec.State, *kafkaexec.ThrottleConfigs, error) {
		was, err := op.run(c, kafka)
		return nil, was, err
	})
}

func (a *planActor) schedule(ctx actor.Context, d time.Duration) {
	if a.final {
		return
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	self, root := ctx.Self(), ctx.ActorSystem().Root
	a.timer = time.AfterFunc(d, func() { root.Send(self, &tick{}) })
}

// sync shows the registry a changed status and writes a changed record (or, with flush,
// one not on disk yet).
func (a *planActor) sync(ctx actor.Context, flush bool) {
	changed := a.r.ver != a.seenVer
	if changed || a.r.shown {
		a.r.shown = false
		a.update(ctx)
	}
	if changed || flush {
		a.seenVer = a.r.ver
		a.flush(ctx)
	}
}

// update sends the registry the current status (a copy: the registry shares it).
func (a *planActor) update(ctx actor.Context) {
	if !a.accepted {
		return
	}
	s := a.r.rec.Status
	if s.ETASeconds != nil {
		eta := *s.ETASeconds
		s.ETASeconds = &eta
	}
	ctx.Send(ctx.Parent(), &planUpdate{status: &s})
}

// flush writes the record: at most one write in flight; changes made meanwhile go in the
// next one.
func (a *planActor) flush(ctx actor.Context) {
	if a.writing || a.r.durable == a.r.ver {
		return
	}
	body := a.r.rec.encode()
	a.writing = true
	ver, self, root, store, token := a.r.ver, ctx.Self(), ctx.ActorSystem().Root, a.cfg.store, a.r.rec.Status.Token
	go func() { root.Send(self, &written{ver: ver, err: writePlan(store, token, body)}) }()
}

func (a *planActor) written(ctx actor.Context, m *written) {
	a.writing = false
	if m.err != nil {
		a.cfg.log.Error().Err(m.err).Str("token", a.r.rec.Status.Token).Msg("plan: writing its record failed")
		if !a.accepted {
			a.refuse(ctx, errorf(ErrInternal, "recording the plan failed: %v", m.err))
			return
		}
		// Keep executing; the next change writes the whole record again.
		if a.final {
			a.stopWhenDurable(ctx, true)
		}
		return
	}
	a.r.durable = m.ver
	if !a.accepted {
		// Durable: the plan exists. Tell the registry before answering the asker: a GET of
		// the token that follows the answer then finds the status already queued in the
		// registry's mailbox (mailboxes are FIFO), never a 404.
		a.accepted = true
		a.update(ctx)
		ctx.Send(a.asker, &planAccepted{token: a.r.rec.Status.Token})
		a.cfg.log.Info().Str("token", a.r.rec.Status.Token).Int("partitions", len(a.r.rec.Tasks)).
			Int64("bytes", a.r.rec.Status.BytesTotal).Int64("throttle", a.r.rec.Spec.Throttle).Msg("plan accepted")
		a.schedule(ctx, 0)
	}
	a.flush(ctx)
	a.stopWhenDurable(ctx, false)
}

// stopWhenDurable answers the cancel askers and stops once the final record is on disk
// (or could not be written: the plan is over either way).
func (a *planActor) stopWhenDurable(ctx actor.Context, failed bool) {
	if !a.final || (!failed && a.r.durable != a.r.ver) {
		return
	}
	s := a.r.rec.Status
	for _, w := range a.waiters {
		ctx.Send(w, &planReply{status: &s})
	}
	a.waiters = nil
	ctx.Stop(ctx.Self())
}

func (a *planActor) onPanic(ctx actor.Context, r any) {
	if a.r == nil || !a.accepted {
		if a.asker != nil && !a.final {
			a.refuse(ctx, errorf(ErrInternal, "plan validation failed: %v", r))
		}
		return
	}
	a.busy = false
	a.apply(ctx, a.r.panicked(fmt.Errorf("internal error: %v", r), a.now()))
}

func specTopics(spec PlanSpec) []string {
	set := map[string]bool{}
	var out []string
	for _, c := range spec.Changes {
		if !set[c.Topic] {
			set[c.Topic] = true
			out = append(out, c.Topic)
		}
	}
	return out
}

func (a *planActor) now() time.Time { return a.cfg.exec.Now() }
