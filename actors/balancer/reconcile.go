package balancer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
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

// reconciler is a plan's execution without the actor, Kafka or the clock: given a reading
// of Kafka and the time (next), or the outcome of the change it asked for (done), it
// updates the plan record and says what to do next. Nothing it decides depends on
// remembering what was sent, only on the record and the reading, so a plan resumed after a
// restart carries on from its recorded phase. The plan actor (planactor.go) runs the
// readings and the changes and writes the record.
type reconciler struct {
	rec   *planRecord
	opts  ExecOptions
	log   zerolog.Logger
	moved func(bytes float64) // counts bytes moved (the metric); may be nil

	issued       map[kafkaexec.TP]time.Time // reassignments sent, for a grace period
	issues       map[kafkaexec.TP]int
	dirIssued    map[dirKey]time.Time
	dirIssues    map[dirKey]int
	lastAct      time.Time // last election or revert sent
	stable       int       // readings in a row that saw the phase's condition hold
	leadersRight int
	settled      int       // a revert's progress: partitions not in flight plus those put back
	lastRestore  time.Time // last reorder or election of a revert sent
	lastProgress time.Time
	lastErr      error
	panics       int
	// samples are recent readings of the bytes moved, for the ETA.
	samples []progressSample

	// ver counts the record's changes, durable is the last version on disk (the actor
	// tells), savedVer the first that holds Saved. shown asks for the status to be shown
	// without a write.
	ver, durable, savedVer int
	lastSave               time.Time
	shown                  bool
	// final: the plan is over; once its record is on disk, the actor stops.
	final bool
}

type dirKey struct {
	tp     kafkaexec.TP
	broker int32
}

// action is what the actor does after a step: run op, or else read Kafka again after
// poll (unless the plan is final).
type action struct {
	op   *kafkaOp
	poll time.Duration
	// flush: write the record again if it is not on disk yet, although it did not change.
	flush bool
}

func newReconciler(rec *planRecord, opts ExecOptions, log zerolog.Logger, moved func(float64)) *reconciler {
	return &reconciler{
		rec: rec, opts: opts, log: log, moved: moved,
		issued: map[kafkaexec.TP]time.Time{}, issues: map[kafkaexec.TP]int{},
		dirIssued: map[dirKey]time.Time{}, dirIssues: map[dirKey]int{},
	}
}

// newRecord is the record of a plan just accepted.
func newRecord(spec PlanSpec, token string, tasks []task, th *kafkaexec.Throttle, now time.Time) *planRecord {
	rec := &planRecord{Spec: spec, Tasks: tasks, Throttle: th, Status: PlanStatus{
		Token: token, Phase: PhasePending, PartitionsTotal: len(tasks), StartTime: now,
	}}
	if th != nil {
		rec.Status.Throttle = th.Rate
	}
	for i := range tasks {
		rec.Status.BytesTotal += tasks[i].bytes()
	}
	return rec
}

func (r *reconciler) wait() action { return action{poll: r.opts.PollInterval} }

var pollNow = action{}

// start begins a new plan.
func (r *reconciler) start(now time.Time) {
	r.lastProgress = now
	r.save(now)
}

// resume takes over a plan recorded by an earlier run.
func (r *reconciler) resume(now time.Time) {
	r.rec.Status.Restarts++
	if r.rec.Throttle != nil && r.rec.Saved == nil && r.rec.Status.Phase != PhasePending && r.rec.Status.Phase != PhaseThrottling {
		// A record written before the old configs were kept: its throttle is set, and
		// removing it is all that can be done.
		r.rec.Saved = &kafkaexec.ThrottleConfigs{}
	}
	r.lastProgress = now
	r.log.Info().Str("token", r.rec.Status.Token).Str("phase", string(r.rec.Status.Phase)).Msg("resuming plan")
	r.save(now)
}

// next is one step: a reading of the plan's partitions (or the error reading them), at now.
func (r *reconciler) next(st *kafkaexec.State, readErr error, now time.Time) action {
	if readErr != nil {
		r.lastErr = readErr
		r.log.Warn().Err(readErr).Str("token", r.rec.Status.Token).Msg("plan: reading Kafka failed")
		if a, stalled := r.checkStall(nil, now); stalled {
			return a
		}
		return r.wait()
	}
	r.progress(st, now)
	if a, stalled := r.checkStall(st, now); stalled {
		return a
	}
	return r.decide(st, now)
}

// done takes the outcome of op. A change that fails with an error that will not go away
// fails the plan (or, when the plan is already failing or cancelling, ends it with the
// error); a retriable one is tried again at the next reading.
func (r *reconciler) done(op *kafkaOp, was *kafkaexec.ThrottleConfigs, err error, now time.Time) action {
	if r.rec.Status.Phase != op.phase {
		return pollNow // cancelled (or failed) meanwhile: the new phase decides from a fresh reading
	}
	switch {
	case err == nil:
		switch op.throttle {
		case readThrottle:
			r.rec.Saved = was
			r.save(now)
			r.savedVer = r.ver
		case setThrottle:
			r.setPhase(PhaseReassigning, now)
			return pollNow
		case restoreThrottle:
			r.finish(r.rec.Outcome, nil, now)
		}
	case kafkaexec.Retriable(err):
		r.lastErr = fmt.Errorf("%s: %w", op.what, err)
		r.log.Warn().Err(err).Str("token", r.rec.Status.Token).Str("op", op.what).Msg("plan: will retry")
	default:
		r.log.Warn().Err(err).Str("token", r.rec.Status.Token).Str("op", op.what).Msg("plan: failed")
		r.fail(fmt.Errorf("%s: %w", op.what, err), now)
		return pollNow
	}
	return r.wait()
}

// act asks for op, made in the current phase.
func (r *reconciler) act(op *kafkaOp) action {
	op.phase = r.rec.Status.Phase
	r.log.Debug().Str("token", r.rec.Status.Token).Str("op", op.what).Msg("plan: act")
	return action{op: op}
}

// decide is the state machine: what the current phase needs, given Kafka's state.
func (r *reconciler) decide(st *kafkaexec.State, now time.Time) action {
	switch r.rec.Status.Phase {
	case PhasePending:
		if r.rec.Throttle != nil {
			r.setPhase(PhaseThrottling, now)
		} else {
			r.setPhase(PhaseReassigning, now)
		}
		return r.decide(st, now)
	case PhaseThrottling:
		return r.throttle()
	case PhaseReassigning, PhaseMovingDirs:
		if tp, ok := r.gone(st); ok {
			r.fail(fmt.Errorf("%s no longer exists", tp), now)
			return pollNow
		}
		if r.rec.Status.Phase == PhaseReassigning {
			return r.reassign(st, now)
		}
		return r.moveDirs(st, now)
	case PhaseSyncing:
		for i := range r.rec.Tasks {
			if t := &r.rec.Tasks[i]; !t.placed(st.Partitions[t.tp()]) {
				r.stable = 0
				return r.wait()
			}
		}
		r.stable++
		r.lastProgress = now
		if r.stable < r.opts.Debounce {
			return r.wait()
		}
		r.setPhase(PhaseElecting, now)
		return r.decide(st, now)
	case PhaseElecting:
		return r.elect(st, now)
	case PhaseFailing, PhaseCancelling:
		return r.revert(st, now)
	case PhaseUnthrottling:
		return r.act(&kafkaOp{what: "restore throttle", throttle: restoreThrottle, was: r.rec.Saved, topics: taskTopics(r.rec.Tasks)})
	}
	r.fail(fmt.Errorf("unknown phase %q", r.rec.Status.Phase), now)
	return pollNow
}

// grace is how long a change just sent counts as in flight: Kafka's metadata may not show
// it yet.
func (r *reconciler) grace() time.Duration { return 2*time.Second + r.opts.PollInterval }

// gone is the first partition of the plan that no longer exists, if any.
func (r *reconciler) gone(st *kafkaexec.State) (kafkaexec.TP, bool) {
	for i := range r.rec.Tasks {
		if tp := r.rec.Tasks[i].tp(); st.Partitions[tp] == nil {
			return tp, true
		}
	}
	return kafkaexec.TP{}, false
}

// reassign sends the reassignments that fit in the free slots and moves on once every
// partition has its target replicas, in order and in sync.
func (r *reconciler) reassign(st *kafkaexec.State, now time.Time) action {
	busy := map[int32]int{}
	var pending []*task
	remaining := 0
	for i := range r.rec.Tasks {
		t := &r.rec.Tasks[i]
		p := st.Partitions[t.tp()]
		if t.reassigned(p) {
			continue
		}
		remaining++
		// In flight: Kafka says so, or it was just sent (metadata may not show it yet).
		if p.Reassigning || now.Sub(r.issued[t.tp()]) < r.grace() {
			for _, b := range t.slots() {
				busy[b]++
			}
			continue
		}
		if !slices.Equal(p.Replicas, t.Target) && r.issues[t.tp()] >= maxIssues {
			r.fail(fmt.Errorf("%s did not reach replicas %v after %d reassignments (Kafka has %v): is something else reassigning it?",
				t.tp(), t.Target, r.issues[t.tp()], p.Replicas), now)
			return pollNow
		}
		if slices.Equal(p.Replicas, t.Target) {
			continue // in order, waiting for the ISR
		}
		pending = append(pending, t)
	}
	if remaining == 0 {
		r.setPhase(PhaseMovingDirs, now)
		return r.decide(st, now)
	}
	batch := pickBatch(pending, busy, r.limit(), maxBatch)
	if len(batch) == 0 {
		return r.wait()
	}
	op := &kafkaOp{what: "reassign", reassign: map[kafkaexec.TP][]int32{}, declare: map[int32]map[kafkaexec.TP]string{}}
	for _, t := range batch {
		r.issued[t.tp()] = now
		r.issues[t.tp()]++
		op.reassign[t.tp()] = t.Target
		for _, b := range t.adding() {
			if d := t.Dirs[b]; d != "" {
				if op.declare[b] == nil {
					op.declare[b] = map[kafkaexec.TP]string{}
				}
				op.declare[b][t.tp()] = d
			}
		}
	}
	return r.act(op)
}

// moveDirs moves the replicas that are on the right broker but in another directory, a
// few per broker at a time, and moves on once none is left and no future log remains.
func (r *reconciler) moveDirs(st *kafkaexec.State, now time.Time) action {
	busy := map[int32]int{}
	var pending []dirMove
	remaining := 0
	for i := range r.rec.Tasks {
		t := &r.rec.Tasks[i]
		p := st.Partitions[t.tp()]
		for _, b := range sortedBrokers(t.Dirs) {
			want := t.Dirs[b]
			l, ok := p.Logs[b]
			if ok && l.Dir == want && l.FutureDir == "" {
				continue
			}
			remaining++
			k := dirKey{t.tp(), b}
			if !ok || l.FutureDir == want || now.Sub(r.dirIssued[k]) < r.grace() {
				busy[b]++
				continue
			}
			if r.dirIssues[k] >= maxIssues {
				r.fail(fmt.Errorf("the replica of %s on broker %d did not reach %s after %d moves", t.tp(), b, want, r.dirIssues[k]), now)
				return pollNow
			}
			pending = append(pending, dirMove{t.tp(), b, want})
		}
	}
	if remaining == 0 {
		r.setPhase(PhaseSyncing, now)
		return r.decide(st, now)
	}
	moves := map[int32]map[kafkaexec.TP]string{}
	for _, m := range pending {
		if busy[m.broker] >= r.limit() {
			continue
		}
		busy[m.broker]++
		if moves[m.broker] == nil {
			moves[m.broker] = map[kafkaexec.TP]string{}
		}
		moves[m.broker][m.tp] = m.dir
		k := dirKey{m.tp, m.broker}
		r.dirIssued[k] = now
		r.dirIssues[k]++
	}
	if len(moves) == 0 {
		return r.wait()
	}
	return r.act(&kafkaOp{what: "move directories", dirs: moves})
}

// elect runs the preferred leader election where the first replica does not lead, and
// ends the execution once every partition has been led by it for Debounce readings.
func (r *reconciler) elect(st *kafkaexec.State, now time.Time) action {
	var wrong []kafkaexec.TP
	for i := range r.rec.Tasks {
		t := &r.rec.Tasks[i]
		if p := st.Partitions[t.tp()]; p == nil || p.Leader != t.Target[0] {
			wrong = append(wrong, t.tp())
		}
	}
	if right := len(r.rec.Tasks) - len(wrong); right > r.leadersRight {
		r.leadersRight = right
		r.lastProgress = now
	}
	if len(wrong) == 0 {
		r.stable++
		if r.stable < r.opts.Debounce {
			return r.wait()
		}
		r.rec.Outcome = PhaseExecuted
		return r.cleanUp(now)
	}
	r.stable = 0
	if now.Sub(r.lastAct) < r.grace() {
		return r.wait()
	}
	r.lastAct = now
	return r.act(&kafkaOp{what: "elect preferred leaders", elect: wrong})
}

// cleanUp puts back the throttle configs, if the plan may have changed them, then ends the
// plan in its outcome.
func (r *reconciler) cleanUp(now time.Time) action {
	if r.rec.Saved != nil {
		r.setPhase(PhaseUnthrottling, now)
		return pollNow
	}
	r.finish(r.rec.Outcome, nil, now)
	return pollNow
}

// fail records the error and starts reverting the moves in flight. A plan already
// failing, cancelling or cleaning up keeps its course; the error is added to its own.
func (r *reconciler) fail(err error, now time.Time) {
	switch r.rec.Status.Phase {
	case PhaseFailing, PhaseCancelling, PhaseUnthrottling:
		r.addError(err)
		r.save(now)
		return
	}
	r.addError(err)
	r.rec.Outcome = PhaseFailed
	r.lastAct, r.lastRestore = time.Time{}, time.Time{}
	r.setPhase(PhaseFailing, now)
}

// cancel starts a cancellation; false when the plan is already ending.
func (r *reconciler) cancel(now time.Time) bool {
	switch r.rec.Status.Phase {
	case PhaseFailing, PhaseCancelling, PhaseUnthrottling:
		return false
	}
	if r.final {
		return false
	}
	r.rec.Outcome = PhaseCancelled
	r.setPhase(PhaseCancelling, now)
	r.lastAct, r.lastRestore = time.Time{}, time.Time{}
	return true
}

// panicked takes a panic of the step that just ran: the plan fails (and reverts), and ends
// at once once it has panicked more than three times.
func (r *reconciler) panicked(err error, now time.Time) action {
	r.panics++
	if r.panics > 3 || r.final {
		if !r.final {
			r.finish(PhaseFailed, err, now)
		}
		return pollNow
	}
	r.fail(err, now)
	return pollNow
}

func (r *reconciler) addError(err error) {
	if r.rec.Status.Error == "" {
		r.rec.Status.Error = err.Error()
	} else if !strings.Contains(r.rec.Status.Error, err.Error()) {
		r.rec.Status.Error += "; then: " + err.Error()
	}
}

// finish puts the plan in its final phase.
func (r *reconciler) finish(phase Phase, err error, now time.Time) {
	if err != nil {
		r.addError(err)
	}
	if phase == "" {
		phase = PhaseFailed
	}
	s := &r.rec.Status
	s.Phase, s.Done, s.FinishTime = phase, true, &now
	if phase == PhaseExecuted {
		r.count(max(s.BytesTotal-s.BytesMoved, 0))
		zero := 0.0
		s.PartitionsDone, s.BytesMoved, s.ETASeconds = s.PartitionsTotal, s.BytesTotal, &zero
	} else {
		s.ETASeconds = nil
	}
	r.final = true
	ev := r.log.Info()
	if s.Error != "" {
		ev = r.log.Warn().Str("error", s.Error)
	}
	ev.Str("token", s.Token).Str("phase", string(phase)).Int("partitions", s.PartitionsTotal).
		Int64("bytes", s.BytesMoved).Dur("dur", now.Sub(s.StartTime)).Msg("plan finished")
	r.save(now)
}

func (r *reconciler) setPhase(p Phase, now time.Time) {
	r.log.Debug().Str("token", r.rec.Status.Token).Str("from", string(r.rec.Status.Phase)).Str("to", string(p)).Msg("plan phase")
	r.rec.Status.Phase = p
	r.stable = 0
	r.lastProgress = now
	r.save(now)
}

// save marks the record changed: the actor writes it (and shows its status).
func (r *reconciler) save(now time.Time) {
	r.ver++
	r.lastSave = now
}

func (r *reconciler) limit() int {
	if r.rec.Spec.Concurrency > 0 {
		return r.rec.Spec.Concurrency
	}
	return r.opts.MovesPerBroker
}
