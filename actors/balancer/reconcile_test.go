package balancer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
)

// The reconciler alone: every phase and failure path of a plan against the fake Kafka
// (execute_test.go) and a fake clock, without the actor or a store.

var reconcileOpts = ExecOptions{MovesPerBroker: 5, PollInterval: time.Second, Debounce: 2, StallTimeout: time.Minute}

// runner plays the plan actor's part: it reads the fake Kafka, runs the changes the
// reconciler asks for and moves the clock by each wait. Every write of the record
// succeeds at once unless storeDown.
type runner struct {
	t         *testing.T
	r         *reconciler
	k         *fakeKafka
	now       time.Time
	log       *bytes.Buffer // the reconciler's log: the phases it went through
	ops       []string
	storeDown bool
}

func newRunner(t *testing.T, k *fakeKafka, spec PlanSpec) *runner {
	t.Helper()
	tasks, th, err := buildTasks(spec, k.st)
	if err != nil {
		t.Fatal(err)
	}
	u := &runner{t: t, k: k, now: time.Unix(1_000_000, 0)}
	u.restart(newRecord(spec, "token", tasks, th, u.now), false)
	return u
}

// restart hands rec to a new reconciler, as a new process does with the stored record.
func (u *runner) restart(rec *planRecord, resumed bool) {
	u.log = &bytes.Buffer{}
	u.r = newReconciler(rec, reconcileOpts, zerolog.New(u.log).Level(zerolog.DebugLevel), nil)
	if resumed {
		u.r.resume(u.now)
	} else {
		u.r.start(u.now)
	}
	u.written()
}

func (u *runner) written() {
	if !u.storeDown {
		u.r.durable = u.r.ver
	}
}

// stored is the record as a restart reads it back.
func (u *runner) stored() *planRecord {
	var rec planRecord
	if err := json.Unmarshal(u.r.rec.encode(), &rec); err != nil {
		u.t.Fatal(err)
	}
	return &rec
}

// until steps until the plan is over or stop holds, checked after each decision (a
// reading, or the outcome of a change); a change asked for when stop holds is not made, as
// if the process died. At most 200 readings.
func (u *runner) until(stop func() bool) action {
	u.t.Helper()
	for range 200 {
		st, err := u.k.State(context.Background(), nil)
		a := u.r.next(st, err, u.now)
		u.written()
		for a.op != nil && !u.r.final && !stop() {
			was, err := a.op.run(context.Background(), u.k)
			u.ops = append(u.ops, a.op.what)
			a = u.r.done(a.op, was, err, u.now)
			u.written()
		}
		if u.r.final || stop() {
			return a
		}
		u.now = u.now.Add(a.poll)
	}
	u.t.Fatalf("plan not over after 200 readings: %+v", u.r.rec.Status)
	return action{}
}

func (u *runner) toEnd() *PlanStatus {
	u.t.Helper()
	u.until(func() bool { return false })
	return &u.r.rec.Status
}

func (u *runner) inPhase(p Phase) func() bool {
	return func() bool { return u.r.rec.Status.Phase == p }
}

// phases are the phases the log shows the plan enter, then the final one.
func (u *runner) phases() []Phase {
	var out []Phase
	for _, line := range strings.Split(strings.TrimSpace(u.log.String()), "\n") {
		var e struct{ Message, To string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Message == "plan phase" {
			out = append(out, Phase(e.To))
		}
	}
	if s := u.r.rec.Status; s.Done {
		out = append(out, s.Phase)
	}
	return out
}

func (u *runner) wantPhases(want ...Phase) {
	u.t.Helper()
	if got := u.phases(); !slices.Equal(got, want) {
		u.t.Fatalf("phases %v, want %v", got, want)
	}
}

// wantLayout checks that each partition has replicas led by their first.
func wantLayout(t *testing.T, k *fakeKafka, want map[int32][]int32) {
	t.Helper()
	for p, replicas := range want {
		got := k.st.Partitions[kafkaexec.TP{Topic: "t", Partition: p}]
		if !slices.Equal(got.Replicas, replicas) || got.Leader != replicas[0] || got.Reassigning {
			t.Errorf("partition %d: replicas %v led by %d (reassigning %v), want %v", p, got.Replicas, got.Leader, got.Reassigning, replicas)
		}
	}
}

// cancelSpec moves two partitions to new brokers with a throttle over the operator's.
var (
	operatorThrottle = &kafkaexec.ThrottleConfigs{Default: map[string]string{kafkaexec.LeaderThrottledRate: "999"}}
	cancelSpec       = PlanSpec{Throttle: 1 << 20, Changes: []PlanChange{
		{Topic: "t", Partition: 0, After: []Placement{{BrokerID: 2}, {BrokerID: 3}}},
		{Topic: "t", Partition: 1, After: []Placement{{BrokerID: 3}, {BrokerID: 1}}},
	}}
)

func TestReconcileExecutesEveryPhase(t *testing.T) {
	k := &fakeKafka{st: testState(), saved: operatorThrottle}
	u := newRunner(t, k, samplePlan)
	s := u.toEnd()
	u.wantPhases(PhaseThrottling, PhaseReassigning, PhaseMovingDirs, PhaseSyncing, PhaseElecting, PhaseUnthrottling, PhaseExecuted)
	if s.Error != "" || s.PartitionsDone != 2 || s.BytesMoved != s.BytesTotal || s.BytesTotal != 200 || s.ETASeconds == nil || *s.ETASeconds != 0 || s.FinishTime == nil {
		t.Fatalf("status %+v", s)
	}
	wantLayout(t, k, map[int32][]int32{0: {3, 1}, 1: {2, 1}})
	p0 := k.st.Partitions[kafkaexec.TP{Topic: "t", Partition: 0}]
	if p0.Logs[3].Dir != "/d3b" || p0.Logs[1].Dir != "/d1b" {
		t.Errorf("partition 0 logs %+v, want /d3b and /d1b", p0.Logs)
	}
	if k.setWith != operatorThrottle || k.restored != operatorThrottle || k.throttles != 0 {
		t.Errorf("throttle set over %+v, restored %+v", k.setWith, k.restored)
	}
	want := []string{"read throttle configs", "set throttle", "reassign", "move directories", "elect preferred leaders", "restore throttle"}
	if !slices.Equal(u.ops, want) {
		t.Errorf("ops %q, want %q", u.ops, want)
	}
}

// TestReconcileThrottleWaitsForRecord: the throttle is set only once the record holding
// the operator's configs is on disk; until then each step asks for the write again.
func TestReconcileThrottleWaitsForRecord(t *testing.T) {
	k := &fakeKafka{st: testState(), saved: operatorThrottle}
	u := newRunner(t, k, samplePlan)
	u.storeDown = true
	a := u.until(func() bool { return u.r.rec.Saved != nil })
	for range 3 {
		a = u.until(func() bool { return true })
		if a.op != nil || !a.flush || k.sets != 0 {
			t.Fatalf("record not on disk: action %+v, %d sets", a, k.sets)
		}
	}
	u.storeDown = false
	u.written()
	u.toEnd()
	if k.sets != 1 || u.r.rec.Status.Phase != PhaseExecuted {
		t.Fatalf("%d sets, %+v", k.sets, u.r.rec.Status)
	}
}

func TestReconcileFailKeepsDonePartitions(t *testing.T) {
	tp1 := kafkaexec.TP{Topic: "t", Partition: 1}
	k := &fakeKafka{st: testState(), refuse: map[kafkaexec.TP]error{tp1: kerr.InvalidReplicaAssignment}}
	u := newRunner(t, k, PlanSpec{Changes: []PlanChange{
		{Topic: "t", Partition: 0, After: []Placement{{BrokerID: 2}, {BrokerID: 1}}},
		{Topic: "t", Partition: 1, After: []Placement{{BrokerID: 2}, {BrokerID: 3}}},
	}})
	s := u.toEnd()
	u.wantPhases(PhaseReassigning, PhaseFailing, PhaseFailed)
	if !strings.Contains(s.Error, "INVALID_REPLICA_ASSIGNMENT") || s.ETASeconds != nil {
		t.Fatalf("status %+v", s)
	}
	// The partition done stays done, with its planned leader; the other is as it was.
	wantLayout(t, k, map[int32][]int32{0: {2, 1}, 1: {1, 2}})
	if k.reads+k.sets != 0 {
		t.Errorf("a plan without a throttle touched the throttle configs")
	}
}

func TestReconcileCancelReverts(t *testing.T) {
	k := &fakeKafka{st: testState(), block: true, leaderFollowsOrder: true, saved: operatorThrottle}
	u := newRunner(t, k, cancelSpec)
	u.until(func() bool { return k.st.Partitions[kafkaexec.TP{Topic: "t", Partition: 1}].Reassigning })
	if !u.r.cancel(u.now) || u.r.cancel(u.now) {
		t.Fatal("cancel: started once only")
	}
	s := u.toEnd()
	u.wantPhases(PhaseThrottling, PhaseReassigning, PhaseCancelling, PhaseUnthrottling, PhaseCancelled)
	if s.Error != "" {
		t.Fatalf("status %+v", s)
	}
	wantLayout(t, k, map[int32][]int32{0: {1, 2}, 1: {1, 2}})
	if k.restored != operatorThrottle || k.throttles != 0 {
		t.Errorf("throttle restored %+v", k.restored)
	}
	if u.r.cancel(u.now) {
		t.Error("a finished plan was cancelled")
	}
}

// TestReconcileStall: a plan that stops moving ends after StallTimeout, in each phase the
// way that phase can end.
func TestReconcileStall(t *testing.T) {
	timeout := kerr.RequestTimedOut // retriable: tried again until the stall
	stall := func(u *runner) { u.now = u.now.Add(reconcileOpts.StallTimeout) }
	inFlight := func(u *runner) {
		u.until(func() bool { return u.k.st.Partitions[kafkaexec.TP{Topic: "t", Partition: 0}].Reassigning })
	}
	for _, c := range []struct {
		name   string
		k      *fakeKafka
		drive  func(u *runner)
		phases []Phase
		errs   []string
	}{
		{"reassignment stuck", &fakeKafka{block: true}, func(u *runner) { inFlight(u); stall(u) },
			[]Phase{PhaseReassigning, PhaseFailing, PhaseFailed}, []string{"no progress for 1m0s in phase reassigning", "waiting for t-0"}},
		{"Kafka unreadable", &fakeKafka{block: true}, func(u *runner) { inFlight(u); u.k.readErr = timeout; stall(u) },
			[]Phase{PhaseReassigning, PhaseFailing, PhaseFailed}, []string{"no progress for 1m0s in phase reassigning: last error: REQUEST_TIMED_OUT", "could not put every partition back"}},
		{"revert stuck", &fakeKafka{block: true, cancelIgnored: true}, func(u *runner) { inFlight(u); stall(u); u.until(u.inPhase(PhaseFailing)); stall(u) },
			[]Phase{PhaseReassigning, PhaseFailing, PhaseFailed}, []string{"in phase reassigning", "could not put every partition back: no progress for 1m0s in phase failing"}},
		{"throttle stuck", &fakeKafka{restoreErr: timeout, saved: operatorThrottle}, func(*runner) {},
			[]Phase{PhaseThrottling, PhaseReassigning, PhaseMovingDirs, PhaseSyncing, PhaseElecting, PhaseUnthrottling, PhaseExecuted},
			[]string{"the throttle could not be removed: no progress for 1m0s in phase unthrottling", "restore throttle: REQUEST_TIMED_OUT"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.k.st = testState()
			u := newRunner(t, c.k, cancelSpec)
			if c.name != "throttle stuck" {
				u = newRunner(t, c.k, PlanSpec{Changes: cancelSpec.Changes})
			}
			c.drive(u)
			s := u.toEnd()
			u.wantPhases(c.phases...)
			for _, e := range c.errs {
				if !strings.Contains(s.Error, e) {
					t.Errorf("error %q lacks %q", s.Error, e)
				}
			}
		})
	}
}

// TestReconcileResume: a process that dies in any phase leaves a record from which the
// next one finishes the plan as the first would have.
func TestReconcileResume(t *testing.T) {
	tp1 := kafkaexec.TP{Topic: "t", Partition: 1}
	for _, c := range []struct {
		at     Phase
		k      func() *fakeKafka
		spec   PlanSpec
		end    Phase
		layout map[int32][]int32
	}{
		{PhasePending, func() *fakeKafka { return &fakeKafka{saved: operatorThrottle} }, samplePlan, PhaseExecuted, map[int32][]int32{0: {3, 1}, 1: {2, 1}}},
		{PhaseThrottling, func() *fakeKafka { return &fakeKafka{saved: operatorThrottle} }, samplePlan, PhaseExecuted, map[int32][]int32{0: {3, 1}, 1: {2, 1}}},
		{PhaseReassigning, func() *fakeKafka { return &fakeKafka{saved: operatorThrottle} }, samplePlan, PhaseExecuted, map[int32][]int32{0: {3, 1}, 1: {2, 1}}},
		{PhaseMovingDirs, func() *fakeKafka { return &fakeKafka{saved: operatorThrottle} }, samplePlan, PhaseExecuted, map[int32][]int32{0: {3, 1}, 1: {2, 1}}},
		{PhaseSyncing, func() *fakeKafka { return &fakeKafka{saved: operatorThrottle} }, samplePlan, PhaseExecuted, map[int32][]int32{0: {3, 1}, 1: {2, 1}}},
		{PhaseElecting, func() *fakeKafka { return &fakeKafka{saved: operatorThrottle} }, samplePlan, PhaseExecuted, map[int32][]int32{0: {3, 1}, 1: {2, 1}}},
		{PhaseUnthrottling, func() *fakeKafka { return &fakeKafka{saved: operatorThrottle} }, samplePlan, PhaseExecuted, map[int32][]int32{0: {3, 1}, 1: {2, 1}}},
		{PhaseFailing, func() *fakeKafka {
			return &fakeKafka{block: true, leaderFollowsOrder: true, saved: operatorThrottle, refuse: map[kafkaexec.TP]error{tp1: kerr.InvalidReplicaAssignment}}
		}, cancelSpec, PhaseFailed, map[int32][]int32{0: {1, 2}, 1: {1, 2}}},
		{PhaseCancelling, func() *fakeKafka { return &fakeKafka{block: true, leaderFollowsOrder: true, saved: operatorThrottle} }, cancelSpec, PhaseCancelled, map[int32][]int32{0: {1, 2}, 1: {1, 2}}},
	} {
		t.Run(string(c.at), func(t *testing.T) {
			k := c.k()
			k.st = testState()
			u := newRunner(t, k, c.spec)
			if c.at == PhaseCancelling {
				u.until(func() bool { return k.st.Partitions[kafkaexec.TP{Topic: "t", Partition: 0}].Reassigning })
				u.r.cancel(u.now)
			}
			if c.at != PhasePending {
				u.until(u.inPhase(c.at))
			}
			if u.r.rec.Status.Phase != c.at {
				t.Fatalf("never in phase %s: %+v", c.at, u.r.rec.Status)
			}
			u.restart(u.stored(), true)
			s := u.toEnd()
			if s.Phase != c.end || s.Restarts != 1 {
				t.Fatalf("resumed from %s: %+v", c.at, s)
			}
			wantLayout(t, k, c.layout)
			// The operator's configs, as the record kept them.
			if k.throttles != 0 || k.restored == nil || k.restored.Default[kafkaexec.LeaderThrottledRate] != "999" {
				t.Errorf("throttle left %d, restored %+v", k.throttles, k.restored)
			}
		})
	}
}

// TestReconcilePanics: a panic fails the plan (which reverts); the fourth ends it at once.
func TestReconcilePanics(t *testing.T) {
	k := &fakeKafka{st: testState()}
	u := newRunner(t, k, PlanSpec{Changes: cancelSpec.Changes})
	boom := errors.New("internal error: boom")
	u.r.panicked(boom, u.now)
	if u.r.rec.Status.Phase != PhaseFailing || u.r.final {
		t.Fatalf("after a panic: %+v", u.r.rec.Status)
	}
	for range 3 {
		u.r.panicked(boom, u.now)
	}
	if s := u.r.rec.Status; s.Phase != PhaseFailed || !u.r.final || s.Error != boom.Error() {
		t.Fatalf("after four panics: %+v", s)
	}
}

// TestReconcilePartitionGone: a partition deleted while the plan moves it fails the plan,
// which puts the others back.
func TestReconcilePartitionGone(t *testing.T) {
	for _, at := range []Phase{PhaseReassigning, PhaseMovingDirs} {
		t.Run(string(at), func(t *testing.T) {
			k := &fakeKafka{st: testState(), block: at == PhaseReassigning}
			u := newRunner(t, k, PlanSpec{Changes: samplePlan.Changes})
			u.until(u.inPhase(at))
			delete(k.st.Partitions, kafkaexec.TP{Topic: "t", Partition: 1})
			s := u.toEnd()
			if s.Phase != PhaseFailed || !strings.Contains(s.Error, "t-1 no longer exists") {
				t.Fatalf("status %+v", s)
			}
			if at == PhaseReassigning {
				wantLayout(t, k, map[int32][]int32{0: {1, 2}})
			}
		})
	}
}

// TestReconcileUndone: a move that something else keeps undoing is sent maxIssues times,
// then fails the plan (before the stall timeout).
func TestReconcileUndone(t *testing.T) {
	for _, c := range []struct {
		name   string
		k      *fakeKafka
		change PlanChange
		err    string
	}{
		{"reassignment", &fakeKafka{ignoreMoves: true}, PlanChange{Topic: "t", After: []Placement{{BrokerID: 3}, {BrokerID: 1}}},
			"t-0 did not reach replicas [3 1] after 5 reassignments (Kafka has [1 2])"},
		{"directory move", &fakeKafka{ignoreDirs: true}, PlanChange{Topic: "t", After: []Placement{{BrokerID: 1, Directory: "/d1b"}, {BrokerID: 2}}},
			"the replica of t-0 on broker 1 did not reach /d1b after 5 moves"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.k.st = testState()
			u := newRunner(t, c.k, PlanSpec{Changes: []PlanChange{c.change}})
			s := u.toEnd()
			if s.Phase != PhaseFailed || !strings.HasPrefix(s.Error, c.err) || strings.Contains(s.Error, "no progress") {
				t.Fatalf("status %+v, want error %q", s, c.err)
			}
		})
	}
}
