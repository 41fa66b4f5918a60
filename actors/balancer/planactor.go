package balancer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/seed248d40c9/fulcrum/persist"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// planRecord is what the store keeps of a plan (persist.Plans, by token): enough to answer
// for it and to resume it after a restart. The tasks and the throttle are fixed when the
// plan is accepted; the status changes as it runs.
type planRecord struct {
	Status   PlanStatus          `json:"status"`
	Spec     PlanSpec            `json:"spec"`
	Tasks    []task              `json:"tasks"`
	Throttle *kafkaload.Throttle `json:"throttle,omitempty"`
	// Saved holds the throttle configs as they were before the plan set its throttle, and
	// is on disk before the throttle is set: the plan puts them back at the end. Nil while
	// the plan has set nothing.
	Saved *kafkaload.ThrottleConfigs `json:"savedThrottle,omitempty"`
	// Outcome is the final phase a plan that is failing, cancelling or unthrottling ends in.
	Outcome Phase `json:"outcome,omitempty"`
}

// Messages of a plan actor to itself.
type (
	// opDone is the result of the one Kafka operation in flight.
	opDone struct {
		seq   int
		state *kafkaload.State
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

const (
	// maxBatch bounds the partitions of one reassignment or election request.
	maxBatch = 1000
	// maxIssues bounds how often one partition is reassigned (or one replica moved between
	// directories): past it, something outside the plan keeps undoing it.
	maxIssues = 5
	// saveEvery spaces out the writes that only record more bytes moved.
	saveEvery = 5 * time.Second
)

// planActor executes one plan. It is a reconciler: each poll reads the plan's partitions
// from Kafka (one operation at a time, on a goroutine: the mailbox never blocks), compares
// them with the targets of the current phase, and either acts (one bounded operation) or
// waits for the next poll. Nothing it does depends on remembering what it sent, so a plan
// resumed after a restart carries on from its recorded phase.
type planActor struct {
	cfg *config
	rec *planRecord

	// A new plan: the asker of Execute, answered once the record is durable.
	spec     PlanSpec
	token    string
	asker    *actor.PID
	accepted bool
	// Askers of Cancel, answered when the plan is over and durable.
	waiters []*actor.PID

	ctx    context.Context // ends when the actor stops
	cancel context.CancelFunc
	seq    int  // of the operation in flight
	busy   bool // an operation is in flight
	then   func(*kafkaload.State, error)
	timer  *time.Timer

	issued       map[kafkaload.TP]time.Time // reassignments sent, for a grace period
	issues       map[kafkaload.TP]int
	dirIssued    map[dirKey]time.Time
	dirIssues    map[dirKey]int
	lastAct      time.Time // last election or revert sent
	stable       int       // polls in a row that saw the phase's condition hold
	leadersRight int
	settled      int       // a revert's progress: partitions not in flight plus those put back
	lastRestore  time.Time // last reorder or election of a revert sent
	lastProgress time.Time
	lastErr      error
	panics       int

	ver, durable int // record versions: changed and on disk
	savedVer     int // the version that first holds Saved
	// samples are recent readings of the bytes moved, for the ETA.
	samples  []progressSample
	writing  bool
	lastSave time.Time
	final    bool
}

type dirKey struct {
	tp     kafkaload.TP
	broker int32
}

func newPlanActor(cfg *config, rec *planRecord) *planActor {
	a := &planActor{
		cfg: cfg, rec: rec, accepted: rec != nil,
		issued: map[kafkaload.TP]time.Time{}, issues: map[kafkaload.TP]int{},
		dirIssued: map[dirKey]time.Time{}, dirIssues: map[dirKey]int{},
	}
	a.ctx, a.cancel = context.WithCancel(cfg.base)
	return a
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
		if a.rec != nil { // resumed after a restart
			a.rec.Status.Restarts++
			if a.rec.Throttle != nil && a.rec.Saved == nil && a.rec.Status.Phase != PhasePending && a.rec.Status.Phase != PhaseThrottling {
				// A record written before the old configs were kept: its throttle is set,
				// and removing it is all that can be done.
				a.rec.Saved = &kafkaload.ThrottleConfigs{}
			}
			a.lastProgress = a.now()
			a.cfg.log.Info().Str("token", a.rec.Status.Token).Str("phase", string(a.rec.Status.Phase)).Msg("resuming plan")
			a.save(ctx)
			a.poll(ctx)
		}
	case *executePlan:
		a.spec, a.token, a.asker = m.spec, m.token, ctx.Sender()
		a.run(ctx, "read", func(c context.Context) (*kafkaload.State, error) {
			return a.cfg.kafka.State(c, specTopics(m.spec))
		}, func(st *kafkaload.State, err error) { a.validate(ctx, m.token, st, err) })
	case *opDone:
		a.opDone(ctx, m)
	case *tick:
		if !a.busy && !a.final {
			a.poll(ctx)
		}
	case *written:
		a.written(ctx, m)
	case *cancelPlan:
		a.cancelRequested(ctx)
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
func (a *planActor) validate(ctx actor.Context, token string, st *kafkaload.State, err error) {
	if err == nil {
		var tasks []task
		var th *kafkaload.Throttle
		tasks, th, err = buildTasks(a.spec, st)
		if err == nil {
			now := a.now()
			a.rec = &planRecord{Spec: a.spec, Tasks: tasks, Throttle: th, Status: PlanStatus{
				Token: token, Phase: PhasePending, PartitionsTotal: len(tasks), StartTime: now,
			}}
			if th != nil {
				a.rec.Status.Throttle = th.Rate
			}
			for i := range tasks {
				a.rec.Status.BytesTotal += tasks[i].bytes()
			}
			a.lastProgress = now
			a.save(ctx) // written() answers the asker and starts the execution
			return
		}
	} else {
		err = withKind(ErrUnavailable, err)
	}
	a.refuse(ctx, err)
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

// run starts op on a goroutine, bounded by the call timeout; then gets its result in the
// actor. A failure counts in the Kafka errors metric under what.
func (a *planActor) run(ctx actor.Context, what string, op func(context.Context) (*kafkaload.State, error), then func(*kafkaload.State, error)) {
	a.seq++
	a.busy = true
	seq, self, root, base, timeout := a.seq, ctx.Self(), ctx.ActorSystem().Root, a.ctx, a.cfg.exec.CallTimeout
	failed := a.cfg.metrics.kafkaErrors.WithLabelValues(what)
	a.then = then
	go func() {
		c, cancel := context.WithTimeout(base, timeout)
		defer cancel()
		st, err := op(c)
		if err != nil && base.Err() == nil {
			failed.Inc()
		}
		root.Send(self, &opDone{seq: seq, state: st, err: err})
	}()
}

func (a *planActor) opDone(ctx actor.Context, m *opDone) {
	if m.seq != a.seq || !a.busy {
		return
	}
	a.busy = false
	then := a.then
	a.then = nil
	then(m.state, m.err)
}

// poll reads the plan's partitions and decides.
func (a *planActor) poll(ctx actor.Context) {
	topics, kafka := taskTopics(a.rec.Tasks), a.cfg.kafka
	a.run(ctx, "read", func(c context.Context) (*kafkaload.State, error) {
		return kafka.State(c, topics)
	}, func(st *kafkaload.State, err error) {
		if err != nil {
			a.lastErr = err
			a.cfg.log.Warn().Err(err).Str("token", a.rec.Status.Token).Msg("plan: reading Kafka failed")
			if !a.checkStall(ctx, nil) {
				a.wait(ctx)
			}
			return
		}
		a.progress(ctx, st)
		if !a.checkStall(ctx, st) {
			a.decide(ctx, st)
		}
	})
}

// act runs one change on Kafka, then polls again after the interval. A change that fails
// with an error that will not go away fails the plan (or, when the plan is already failing
// or cancelling, ends it with the error).
func (a *planActor) act(ctx actor.Context, what string, op func(context.Context) error, then func()) {
	a.cfg.log.Debug().Str("token", a.rec.Status.Token).Str("op", what).Msg("plan: act")
	phase := a.rec.Status.Phase
	a.run(ctx, what, func(c context.Context) (*kafkaload.State, error) { return nil, op(c) }, func(_ *kafkaload.State, err error) {
		if a.rec.Status.Phase != phase {
			// Cancelled (or failed) meanwhile: the new phase decides from a fresh reading.
			a.pollNow(ctx)
			return
		}
		switch {
		case err == nil:
			if then != nil {
				then()
				return
			}
		case kafkaload.Retriable(err):
			a.lastErr = fmt.Errorf("%s: %w", what, err)
			a.cfg.log.Warn().Err(err).Str("token", a.rec.Status.Token).Str("op", what).Msg("plan: will retry")
		default:
			a.cfg.log.Warn().Err(err).Str("token", a.rec.Status.Token).Str("op", what).Msg("plan: failed")
			a.fail(ctx, fmt.Errorf("%s: %w", what, err))
			a.pollNow(ctx)
			return
		}
		a.wait(ctx)
	})
}

func (a *planActor) wait(ctx actor.Context) { a.schedule(ctx, a.cfg.exec.PollInterval) }

func (a *planActor) pollNow(ctx actor.Context) { a.schedule(ctx, 0) }

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

// decide is the state machine: what the current phase needs, given Kafka's state.
func (a *planActor) decide(ctx actor.Context, st *kafkaload.State) {
	switch a.rec.Status.Phase {
	case PhasePending:
		if a.rec.Throttle != nil {
			a.setPhase(ctx, PhaseThrottling)
		} else {
			a.setPhase(ctx, PhaseReassigning)
		}
		a.decide(ctx, st)
	case PhaseThrottling:
		a.throttle(ctx)
	case PhaseReassigning:
		a.reassign(ctx, st)
	case PhaseMovingDirs:
		a.moveDirs(ctx, st)
	case PhaseSyncing:
		for i := range a.rec.Tasks {
			if t := &a.rec.Tasks[i]; !t.placed(st.Partitions[t.tp()]) {
				a.stable = 0
				a.wait(ctx)
				return
			}
		}
		a.stable++
		a.lastProgress = a.now()
		if a.stable < a.cfg.exec.Debounce {
			a.wait(ctx)
			return
		}
		a.setPhase(ctx, PhaseElecting)
		a.decide(ctx, st)
	case PhaseElecting:
		a.elect(ctx, st)
	case PhaseFailing, PhaseCancelling:
		a.revert(ctx, st)
	case PhaseUnthrottling:
		topics, was := taskTopics(a.rec.Tasks), a.rec.Saved
		a.act(ctx, "restore throttle", func(c context.Context) error { return a.cfg.kafka.RestoreThrottle(c, was, topics) }, func() {
			a.finish(ctx, a.rec.Outcome, nil)
		})
	default:
		a.fail(ctx, fmt.Errorf("unknown phase %q", a.rec.Status.Phase))
		a.pollNow(ctx)
	}
}

// reassign sends the reassignments that fit in the free slots and moves on once every
// partition has its target replicas, in order and in sync.
func (a *planActor) reassign(ctx actor.Context, st *kafkaload.State) {
	grace := 2*time.Second + a.cfg.exec.PollInterval
	busy := map[int32]int{}
	var pending []*task
	remaining := 0
	for i := range a.rec.Tasks {
		t := &a.rec.Tasks[i]
		p := st.Partitions[t.tp()]
		if p == nil {
			a.fail(ctx, fmt.Errorf("%s no longer exists", t.tp()))
			a.pollNow(ctx)
			return
		}
		if t.reassigned(p) {
			continue
		}
		remaining++
		// In flight: Kafka says so, or it was just sent (metadata may not show it yet).
		if p.Reassigning || a.now().Sub(a.issued[t.tp()]) < grace {
			for _, b := range t.slots() {
				busy[b]++
			}
			continue
		}
		if !slices.Equal(p.Replicas, t.Target) && a.issues[t.tp()] >= maxIssues {
			a.fail(ctx, fmt.Errorf("%s did not reach replicas %v after %d reassignments (Kafka has %v): is something else reassigning it?",
				t.tp(), t.Target, a.issues[t.tp()], p.Replicas))
			a.pollNow(ctx)
			return
		}
		if slices.Equal(p.Replicas, t.Target) {
			continue // in order, waiting for the ISR
		}
		pending = append(pending, t)
	}
	if remaining == 0 {
		a.setPhase(ctx, PhaseMovingDirs)
		a.decide(ctx, st)
		return
	}
	batch := pickBatch(pending, busy, a.limit(), maxBatch)
	if len(batch) == 0 {
		a.wait(ctx)
		return
	}
	now := a.now()
	targets := map[kafkaload.TP][]int32{}
	declare := map[int32]map[kafkaload.TP]string{}
	for _, t := range batch {
		a.issued[t.tp()] = now
		a.issues[t.tp()]++
		targets[t.tp()] = t.Target
		for _, b := range t.adding() {
			if d := t.Dirs[b]; d != "" {
				if declare[b] == nil {
					declare[b] = map[kafkaload.TP]string{}
				}
				declare[b][t.tp()] = d
			}
		}
	}
	kafka := a.cfg.kafka
	a.act(ctx, "reassign", func(c context.Context) error {
		// Declare the directories first: a broker that does not host the partition yet
		// remembers the directory (answering REPLICA_NOT_AVAILABLE) and creates the
		// replica there when the reassignment reaches it.
		for _, b := range sortedBrokers(declare) {
			res, err := kafka.AlterDirs(c, b, declare[b])
			if err != nil {
				return err
			}
			if err := partitionsErr(res, true); err != nil {
				return fmt.Errorf("declare directories on broker %d: %w", b, err)
			}
		}
		res, err := kafka.Reassign(c, targets)
		if err != nil {
			return err
		}
		return partitionsErr(res, false)
	}, nil)
}

// moveDirs moves the replicas that are on the right broker but in another directory, a
// few per broker at a time, and moves on once none is left and no future log remains.
func (a *planActor) moveDirs(ctx actor.Context, st *kafkaload.State) {
	grace := 2*time.Second + a.cfg.exec.PollInterval
	busy := map[int32]int{}
	var pending []dirMove
	remaining := 0
	for i := range a.rec.Tasks {
		t := &a.rec.Tasks[i]
		p := st.Partitions[t.tp()]
		if p == nil {
			a.fail(ctx, fmt.Errorf("%s no longer exists", t.tp()))
			a.pollNow(ctx)
			return
		}
		for _, b := range sortedBrokers(t.Dirs) {
			want := t.Dirs[b]
			l, ok := p.Logs[b]
			if ok && l.Dir == want && l.FutureDir == "" {
				continue
			}
			remaining++
			k := dirKey{t.tp(), b}
			if !ok || l.FutureDir == want || a.now().Sub(a.dirIssued[k]) < grace {
				busy[b]++
				continue
			}
			if a.dirIssues[k] >= maxIssues {
				a.fail(ctx, fmt.Errorf("the replica of %s on broker %d did not reach %s after %d moves", t.tp(), b, want, a.dirIssues[k]))
				a.pollNow(ctx)
				return
			}
			pending = append(pending, dirMove{t.tp(), b, want})
		}
	}
	if remaining == 0 {
		a.setPhase(ctx, PhaseSyncing)
		a.decide(ctx, st)
		return
	}
	moves := map[int32]map[kafkaload.TP]string{}
	now := a.now()
	for _, m := range pending {
		if busy[m.broker] >= a.limit() {
			continue
		}
		busy[m.broker]++
		if moves[m.broker] == nil {
			moves[m.broker] = map[kafkaload.TP]string{}
		}
		moves[m.broker][m.tp] = m.dir
		k := dirKey{m.tp, m.broker}
		a.dirIssued[k] = now
		a.dirIssues[k]++
	}
	if len(moves) == 0 {
		a.wait(ctx)
		return
	}
	a.act(ctx, "move directories", func(c context.Context) error { return a.alterDirs(c, moves) }, nil)
}

func (a *planActor) alterDirs(c context.Context, moves map[int32]map[kafkaload.TP]string) error {
	for _, b := range sortedBrokers(moves) {
		res, err := a.cfg.kafka.AlterDirs(c, b, moves[b])
		if err != nil {
			return err
		}
		if err := partitionsErr(res, false); err != nil {
			return fmt.Errorf("broker %d: %w", b, err)
		}
	}
	return nil
}

// elect runs the preferred leader election where the first replica does not lead, and
// ends the execution once every partition has been led by it for Debounce polls.
func (a *planActor) elect(ctx actor.Context, st *kafkaload.State) {
	var wrong []kafkaload.TP
	for i := range a.rec.Tasks {
		t := &a.rec.Tasks[i]
		if p := st.Partitions[t.tp()]; p == nil || p.Leader != t.Target[0] {
			wrong = append(wrong, t.tp())
		}
	}
	if right := len(a.rec.Tasks) - len(wrong); right > a.leadersRight {
		a.leadersRight = right
		a.lastProgress = a.now()
	}
	if len(wrong) == 0 {
		a.stable++
		if a.stable < a.cfg.exec.Debounce {
			a.wait(ctx)
			return
		}
		a.rec.Outcome = PhaseExecuted
		a.cleanUp(ctx)
		return
	}
	a.stable = 0
	if a.now().Sub(a.lastAct) < 2*time.Second+a.cfg.exec.PollInterval {
		a.wait(ctx)
		return
	}
	a.lastAct = a.now()
	kafka := a.cfg.kafka
	a.act(ctx, "elect preferred leaders", func(c context.Context) error {
		res, err := kafka.ElectPreferred(c, wrong)
		if err != nil {
			return err
		}
		return partitionsErr(res, false)
	}, nil)
}

// cleanUp puts back the throttle configs, if the plan may have changed them, then ends the
// plan in its outcome.
func (a *planActor) cleanUp(ctx actor.Context) {
	if a.rec.Saved != nil {
		a.setPhase(ctx, PhaseUnthrottling)
		a.pollNow(ctx)
		return
	}
	a.finish(ctx, a.rec.Outcome, nil)
}

// fail records the error and starts reverting the moves in flight. A plan already
// failing, cancelling or cleaning up keeps its course; the error is added to its own.
func (a *planActor) fail(ctx actor.Context, err error) {
	switch a.rec.Status.Phase {
	case PhaseFailing, PhaseCancelling, PhaseUnthrottling:
		a.addError(err)
		a.save(ctx)
		return
	}
	a.addError(err)
	a.rec.Outcome = PhaseFailed
	a.lastAct, a.lastRestore = time.Time{}, time.Time{}
	a.setPhase(ctx, PhaseFailing)
}

func (a *planActor) addError(err error) {
	if a.rec.Status.Error == "" {
		a.rec.Status.Error = err.Error()
	} else if !strings.Contains(a.rec.Status.Error, err.Error()) {
		a.rec.Status.Error += "; then: " + err.Error()
	}
}

// finish puts the plan in its final phase; the actor stops once that is on disk.
func (a *planActor) finish(ctx actor.Context, phase Phase, err error) {
	if err != nil {
		a.addError(err)
	}
	if phase == "" {
		phase = PhaseFailed
	}
	now := a.now()
	s := &a.rec.Status
	s.Phase, s.Done, s.FinishTime = phase, true, &now
	if phase == PhaseExecuted {
		a.cfg.metrics.bytesMoved.Add(float64(max(s.BytesTotal-s.BytesMoved, 0)))
		zero := 0.0
		s.PartitionsDone, s.BytesMoved, s.ETASeconds = s.PartitionsTotal, s.BytesTotal, &zero
	} else {
		s.ETASeconds = nil
	}
	a.final = true
	if a.timer != nil {
		a.timer.Stop()
	}
	ev := a.cfg.log.Info()
	if s.Error != "" {
		ev = a.cfg.log.Warn().Str("error", s.Error)
	}
	ev.Str("token", s.Token).Str("phase", string(phase)).Int("partitions", s.PartitionsTotal).
		Int64("bytes", s.BytesMoved).Dur("dur", now.Sub(s.StartTime)).Msg("plan finished")
	a.save(ctx)
}

// cancelRequested starts a cancellation; the asker is answered when the plan is over.
func (a *planActor) cancelRequested(ctx actor.Context) {
	if ctx.Sender() != nil {
		a.waiters = append(a.waiters, ctx.Sender())
	}
	switch a.rec.Status.Phase {
	case PhaseFailing, PhaseCancelling, PhaseUnthrottling:
		return
	}
	if a.final {
		return
	}
	a.rec.Outcome = PhaseCancelled
	a.setPhase(ctx, PhaseCancelling)
	a.lastAct, a.lastRestore = time.Time{}, time.Time{}
	if !a.busy {
		a.pollNow(ctx)
	}
}

// checkStall ends a plan that has not progressed for StallTimeout: an executing plan
// fails (and reverts), a reverting one stops reverting, one removing its throttle gives
// up. It reports whether it did so.
func (a *planActor) checkStall(ctx actor.Context, st *kafkaload.State) bool {
	idle := a.now().Sub(a.lastProgress)
	if idle < a.cfg.exec.StallTimeout {
		return false
	}
	err := fmt.Errorf("no progress for %s in phase %s: %s", idle.Round(time.Second), a.rec.Status.Phase, a.waitingFor(st))
	switch a.rec.Status.Phase {
	case PhaseFailing, PhaseCancelling:
		a.addError(fmt.Errorf("could not put every partition back: %w", err))
		a.cleanUp(ctx)
	case PhaseUnthrottling:
		a.finish(ctx, a.rec.Outcome, fmt.Errorf("the throttle could not be removed: %w", err))
	default:
		a.fail(ctx, err)
		a.pollNow(ctx)
	}
	return true
}

// waitingFor says what the plan waits for, for a stall's error: the first partitions not
// placed, the brokers involved that are not in the cluster, the last error.
func (a *planActor) waitingFor(st *kafkaload.State) string {
	var parts []string
	if st != nil {
		var waiting []string
		gone := map[int32]bool{}
		for i := range a.rec.Tasks {
			t := &a.rec.Tasks[i]
			p := st.Partitions[t.tp()]
			for _, b := range append(slices.Clone(t.Target), t.Original...) {
				if !st.Brokers[b] {
					gone[b] = true
				}
			}
			if p == nil {
				waiting = append(waiting, t.tp().String()+" (gone)")
			} else if !t.placed(p) || (a.rec.Status.Phase == PhaseElecting && p.Leader != t.Target[0]) {
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
	if a.lastErr != nil {
		parts = append(parts, "last error: "+a.lastErr.Error())
	}
	if len(parts) == 0 {
		return "no reading of Kafka"
	}
	return strings.Join(parts, "; ")
}

// progress updates the counts from a reading; any gain is progress.
func (a *planActor) progress(ctx actor.Context, st *kafkaload.State) {
	s := &a.rec.Status
	if s.Phase.Final() {
		return
	}
	done, moved := 0, int64(0)
	for i := range a.rec.Tasks {
		t := &a.rec.Tasks[i]
		p := st.Partitions[t.tp()]
		if t.placed(p) {
			done++
		}
		moved += t.moved(p)
	}
	now := a.now()
	changed := done != s.PartitionsDone
	if done > s.PartitionsDone {
		a.lastProgress = now
	}
	s.PartitionsDone = done
	grew := moved > s.BytesMoved
	if grew {
		a.cfg.metrics.bytesMoved.Add(float64(moved - s.BytesMoved))
		s.BytesMoved = moved
		a.lastProgress = now
	}
	switch s.Phase {
	case PhaseFailing, PhaseCancelling, PhaseUnthrottling:
		s.ETASeconds = nil // the bytes left will not be copied
	default:
		a.samples = addSample(a.samples, progressSample{at: now, moved: s.BytesMoved})
		s.ETASeconds = estimateETA(a.samples, s.BytesTotal-s.BytesMoved, a.throttleLimit(st))
	}
	switch {
	case changed || (grew && now.Sub(a.lastSave) >= saveEvery):
		a.save(ctx)
	case grew:
		a.update(ctx)
	}
}

func (a *planActor) setPhase(ctx actor.Context, p Phase) {
	a.cfg.log.Debug().Str("token", a.rec.Status.Token).Str("from", string(a.rec.Status.Phase)).Str("to", string(p)).Msg("plan phase")
	a.rec.Status.Phase = p
	a.stable = 0
	a.lastProgress = a.now()
	a.save(ctx)
}

func (a *planActor) limit() int {
	if a.rec.Spec.Concurrency > 0 {
		return a.rec.Spec.Concurrency
	}
	return a.cfg.exec.MovesPerBroker
}

// update sends the registry the current status (a copy: the registry shares it).
func (a *planActor) update(ctx actor.Context) {
	if !a.accepted {
		return
	}
	s := a.rec.Status
	if s.ETASeconds != nil {
		eta := *s.ETASeconds
		s.ETASeconds = &eta
	}
	ctx.Send(ctx.Parent(), &planUpdate{status: &s})
}

// save records the plan: at most one write in flight; changes made meanwhile go in the
// next one.
func (a *planActor) save(ctx actor.Context) {
	a.ver++
	a.lastSave = a.now()
	a.update(ctx)
	a.flush(ctx)
}

func (a *planActor) flush(ctx actor.Context) {
	if a.writing || a.durable == a.ver {
		return
	}
	body, err := json.Marshal(a.rec)
	if err != nil { // a bug: every field marshals
		panic(fmt.Sprintf("marshal plan record: %v", err))
	}
	a.writing = true
	ver, self, root, store, token := a.ver, ctx.Self(), ctx.ActorSystem().Root, a.cfg.store, a.rec.Status.Token
	go func() {
		var b persist.Batch
		b.Put(persist.Plans, token, body)
		root.Send(self, &written{ver: ver, err: store.Commit(&b)})
	}()
}

func (a *planActor) written(ctx actor.Context, m *written) {
	a.writing = false
	if m.err != nil {
		a.cfg.log.Error().Err(m.err).Str("token", a.rec.Status.Token).Msg("plan: writing its record failed")
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
	a.durable = m.ver
	if !a.accepted {
		// Durable: the plan exists. Tell the registry before answering the asker: a GET of
		// the token that follows the answer then finds the status already queued in the
		// registry's mailbox (mailboxes are FIFO), never a 404.
		a.accepted = true
		a.update(ctx)
		ctx.Send(a.asker, &planAccepted{token: a.rec.Status.Token})
		a.cfg.log.Info().Str("token", a.rec.Status.Token).Int("partitions", len(a.rec.Tasks)).
			Int64("bytes", a.rec.Status.BytesTotal).Int64("throttle", a.rec.Spec.Throttle).Msg("plan accepted")
		a.pollNow(ctx)
	}
	a.flush(ctx)
	a.stopWhenDurable(ctx, false)
}

// stopWhenDurable answers the cancel askers and stops once the final record is on disk
// (or could not be written: the plan is over either way).
func (a *planActor) stopWhenDurable(ctx actor.Context, failed bool) {
	if !a.final || (!failed && a.durable != a.ver) {
		return
	}
	s := a.rec.Status
	for _, w := range a.waiters {
		ctx.Send(w, &planReply{status: &s})
	}
	a.waiters = nil
	ctx.Stop(ctx.Self())
}

func (a *planActor) onPanic(ctx actor.Context, r any) {
	if a.rec == nil || !a.accepted {
		if a.asker != nil && !a.final {
			a.refuse(ctx, errorf(ErrInternal, "plan validation failed: %v", r))
		}
		return
	}
	a.busy = false
	a.panics++
	err := fmt.Errorf("internal error: %v", r)
	if a.panics > 3 || a.final {
		if !a.final {
			a.finish(ctx, PhaseFailed, err)
		}
		return
	}
	a.fail(ctx, err)
	a.pollNow(ctx)
}

// partitionsErr picks one error of a per-partition result, a lasting one first.
// REPLICA_NOT_AVAILABLE is the expected answer to declaring a directory, so it counts as
// success when declaring.
func partitionsErr(res map[kafkaload.TP]error, declaring bool) error {
	var retriable error
	for tp, err := range res {
		if err == nil || (declaring && errors.Is(err, errReplicaNotAvailable)) {
			continue
		}
		err = fmt.Errorf("%s: %w", tp, err)
		if !kafkaload.Retriable(err) {
			return err
		}
		retriable = err
	}
	return retriable
}

var errReplicaNotAvailable = kerr.ReplicaNotAvailable

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
