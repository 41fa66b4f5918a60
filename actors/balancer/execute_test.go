package balancer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
	"github.com/seed248d40c9/fulcrum/persist"
	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// Unit tests of execution without Kafka: the pure parts, and the actors against a fake
// Executor that applies every change at once. The real thing is tested against a real
// Kafka in httpapi (balancer_exec_test.go) and cmd/fulcrum.

func TestPickBatchRespectsPerBrokerLimit(t *testing.T) {
	var tasks []*task
	for i := range 12 {
		// Every task moves a replica from broker 1 to broker 2 or 3.
		tasks = append(tasks, &task{Partition: int32(i), Original: []int32{1, 4}, Target: []int32{int32(2 + i%2), 4}})
	}
	tasks = append(tasks, &task{Partition: 99, Original: []int32{4, 5}, Target: []int32{5, 4}}) // reorder: no slot
	busy := map[int32]int{}
	batch := pickBatch(tasks, busy, 5, 1000)
	// Broker 1 is the source of every move: 5 moves, then only the reorder fits.
	if len(batch) != 6 || busy[1] != 5 || busy[2]+busy[3] != 5 || batch[5].Partition != 99 {
		t.Fatalf("batch of %d, busy %v", len(batch), busy)
	}
	if more := pickBatch(tasks[5:12], busy, 5, 1000); len(more) != 0 {
		t.Fatalf("%d more moves while broker 1 is full", len(more))
	}
	busy = map[int32]int{1: 4}
	if b := pickBatch(tasks, busy, 5, 1000); len(b) != 2 {
		t.Fatalf("with broker 1 busy with 4: %d", len(b))
	}
	if b := pickBatch(tasks, map[int32]int{}, 100, 3); len(b) != 3 {
		t.Fatalf("max 3: %d", len(b))
	}
}

func testState() *kafkaexec.State {
	st := &kafkaexec.State{
		Brokers:    map[int32]bool{1: true, 2: true, 3: true},
		Dirs:       map[int32][]string{1: {"/d1a", "/d1b"}, 2: {"/d2a", "/d2b"}, 3: {"/d3a", "/d3b"}},
		Topics:     map[string]bool{"t": true},
		Partitions: map[kafkaexec.TP]*kafkaexec.PartitionInfo{},
		Silent:     map[int32]error{},
	}
	for p := range int32(2) {
		st.Partitions[kafkaexec.TP{Topic: "t", Partition: p}] = &kafkaexec.PartitionInfo{
			Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1,
			Logs: map[int32]kafkaexec.ReplicaLog{1: {Dir: "/d1a", Size: 100}, 2: {Dir: "/d2a", Size: 100}},
		}
	}
	return st
}

func TestBuildTasks(t *testing.T) {
	st := testState()
	spec := PlanSpec{Throttle: 1000, Changes: []PlanChange{
		{Topic: "t", Partition: 0, Before: []planner.Replica{{BrokerID: 1, Directory: "/d1a"}, {BrokerID: 2}},
			After: []Placement{{BrokerID: 3, Directory: "/d3b"}, {BrokerID: 1, Directory: "/d1b"}}},
		{Topic: "t", Partition: 1, After: []Placement{{BrokerID: 2}, {BrokerID: 1}}},
	}}
	tasks, th, err := buildTasks(spec, st)
	if err != nil {
		t.Fatal(err)
	}
	t0 := tasks[0]
	if !slices.Equal(t0.Target, []int32{3, 1}) || !slices.Equal(t0.adding(), []int32{3}) || !slices.Equal(t0.DirMoves, []int32{1}) ||
		t0.bytes() != 200 || !slices.Equal(t0.slots(), []int32{3, 2, 1}) {
		t.Fatalf("task 0: %+v", t0)
	}
	if tasks[1].bytes() != 0 || tasks[1].slots() != nil {
		t.Fatalf("a reorder copies nothing and takes no slot: %+v", tasks[1])
	}
	if th.Rate != 1000 || !slices.Equal(th.Leaders["t"], []string{"0:1", "0:2"}) || !slices.Equal(th.Followers["t"], []string{"0:3"}) || !th.LogDirs {
		t.Fatalf("throttle %+v", th)
	}

	refuse := func(kind error, c PlanChange, edit func(*kafkaexec.State)) {
		t.Helper()
		st := testState()
		if edit != nil {
			edit(st)
		}
		if _, _, err := buildTasks(PlanSpec{Changes: []PlanChange{c}}, st); !errors.Is(err, kind) {
			t.Errorf("%+v: %v, want %v", c, err, kind)
		}
	}
	tp0 := kafkaexec.TP{Topic: "t", Partition: 0}
	refuse(ErrInvalid, PlanChange{Topic: "u", After: []Placement{{BrokerID: 1}}}, nil)
	refuse(ErrInvalid, PlanChange{Topic: "t", Partition: 5, After: []Placement{{BrokerID: 1}}}, nil)
	refuse(ErrInvalid, PlanChange{Topic: "t", After: []Placement{{BrokerID: 4}}}, nil)
	refuse(ErrInvalid, PlanChange{Topic: "t", After: []Placement{{BrokerID: 1, Directory: "/d2a"}}}, nil)
	refuse(ErrConflict, PlanChange{Topic: "t", Before: []planner.Replica{{BrokerID: 2}, {BrokerID: 1}}, After: []Placement{{BrokerID: 1}, {BrokerID: 3}}}, nil)
	refuse(ErrConflict, PlanChange{Topic: "t", Before: []planner.Replica{{BrokerID: 1, Directory: "/d1b"}}, After: []Placement{{BrokerID: 1}, {BrokerID: 3}}}, nil)
	refuse(ErrConflict, PlanChange{Topic: "t", After: []Placement{{BrokerID: 3}, {BrokerID: 1}}}, func(st *kafkaexec.State) { st.Partitions[tp0].Reassigning = true })
	refuse(ErrConflict, PlanChange{Topic: "t", After: []Placement{{BrokerID: 3}, {BrokerID: 1}}}, func(st *kafkaexec.State) {
		st.Partitions[tp0].Logs[1] = kafkaexec.ReplicaLog{Dir: "/d1a", FutureDir: "/d1b"}
	})
	refuse(ErrConflict, PlanChange{Topic: "t", After: []Placement{{BrokerID: 3}, {BrokerID: 1}}}, func(st *kafkaexec.State) { st.Partitions[tp0].Offline = []int32{2} })
	// An invalid plan is a 400 even if it also conflicts.
	refuse(ErrInvalid, PlanChange{Topic: "t", Before: []planner.Replica{{BrokerID: 2}}, After: []Placement{{BrokerID: 9}, {BrokerID: 1}}}, nil)
	// A change of replication factor, unless the plan allows it.
	refuse(ErrInvalid, PlanChange{Topic: "t", After: []Placement{{BrokerID: 3}}}, nil)
	refuse(ErrInvalid, PlanChange{Topic: "t", After: []Placement{{BrokerID: 3}, {BrokerID: 1}, {BrokerID: 2}}}, nil)
	// The replicas being added by a reassignment in flight do not count, whether the
	// metadata shows them yet or not: this is a conflict, not a change of replication factor.
	refuse(ErrConflict, PlanChange{Topic: "t", After: []Placement{{BrokerID: 3}, {BrokerID: 1}}}, func(st *kafkaexec.State) {
		st.Partitions[tp0].Reassigning, st.Partitions[tp0].Adding = true, []int32{3}
	})
	refuse(ErrConflict, PlanChange{Topic: "t", After: []Placement{{BrokerID: 3}, {BrokerID: 1}}}, func(st *kafkaexec.State) {
		st.Partitions[tp0].Reassigning, st.Partitions[tp0].Adding, st.Partitions[tp0].Replicas = true, []int32{3}, []int32{1, 2, 3}
	})
	if _, _, err := buildTasks(PlanSpec{AllowReplicationFactorChange: true, Changes: []PlanChange{{Topic: "t", After: []Placement{{BrokerID: 3}, {BrokerID: 1}, {BrokerID: 2}}}}}, testState()); err != nil {
		t.Errorf("replication factor change allowed: %v", err)
	}
}

// TestBuildTasksReorderOnly: a plan that only reorders replicas copies nothing, so it sets
// no throttle even when one is asked for; a plan that copies throttles exactly the brokers
// its copies go through.
func TestBuildTasksReorderOnly(t *testing.T) {
	tasks, th, err := buildTasks(PlanSpec{Throttle: 1 << 20, Changes: []PlanChange{
		{Topic: "t", Partition: 0, After: []Placement{{BrokerID: 2}, {BrokerID: 1}}},
		{Topic: "t", Partition: 1, After: []Placement{{BrokerID: 2}, {BrokerID: 1}}},
	}}, testState())
	if err != nil || th != nil || tasks[0].bytes()+tasks[1].bytes() != 0 || *tasks[0].Leader != 1 {
		t.Fatalf("reorder-only plan: tasks %+v, throttle %+v, %v", tasks, th, err)
	}
	_, th, err = buildTasks(PlanSpec{Throttle: 1 << 20, Changes: []PlanChange{
		{Topic: "t", Partition: 0, After: []Placement{{BrokerID: 3}, {BrokerID: 1}}},
	}}, testState())
	if err != nil || th == nil || !slices.Equal(th.Brokers, []int32{1, 2, 3}) {
		t.Fatalf("moving plan: throttle %+v, %v", th, err)
	}
}

func TestRevertTo(t *testing.T) {
	one := int32(1)
	two := int32(2)
	moving := task{Original: []int32{1, 2}, Target: []int32{2, 3}, Leader: &one}
	reorder := task{Original: []int32{1, 2}, Target: []int32{2, 1}, Leader: &one}
	notPreferred := task{Original: []int32{1, 2}, Target: []int32{2, 3}, Leader: &two}
	oldRecord := task{Original: []int32{1, 2}, Target: []int32{2, 3}}
	for _, c := range []struct {
		name       string
		t          task
		replicas   []int32
		wantOrder  []int32
		wantLeader int32
	}{
		{"cancelled, order kept", moving, []int32{1, 2}, []int32{1, 2}, 1},
		{"cancelled, order swapped", moving, []int32{2, 1}, []int32{1, 2}, 1},
		{"done", moving, []int32{2, 3}, []int32{2, 3}, 2},
		{"done, other order", moving, []int32{3, 2}, []int32{2, 3}, 2},
		{"changed by someone else", moving, []int32{1, 3}, nil, -1},
		{"reorder done", reorder, []int32{2, 1}, []int32{2, 1}, 2},
		{"reorder not done", reorder, []int32{1, 2}, []int32{1, 2}, 1},
		{"original leader not preferred", notPreferred, []int32{2, 1}, []int32{1, 2}, -1},
		{"record without a leader", oldRecord, []int32{2, 1}, []int32{1, 2}, -1},
	} {
		order, leader := c.t.revertTo(&kafkaexec.PartitionInfo{Replicas: c.replicas})
		if !slices.Equal(order, c.wantOrder) || leader != c.wantLeader {
			t.Errorf("%s: order %v leader %d, want %v %d", c.name, order, leader, c.wantOrder, c.wantLeader)
		}
	}
}

// openStore opens a store in a temporary directory, closed when the test ends.
func openStore(t *testing.T) *persist.Store {
	t.Helper()
	store, err := persist.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// testExec is the execution the balancer tests run with: quick polls, a short debounce.
var testExec = ExecOptions{PollInterval: 10 * time.Millisecond, Debounce: 2, StallTimeout: 10 * time.Second}

func startExec(t *testing.T, store *persist.Store, k Executor) *Balancer {
	t.Helper()
	return startExecWith(t, store, k, testExec)
}

func startExecWith(t *testing.T, store *persist.Store, k Executor, exec ExecOptions) *Balancer {
	t.Helper()
	return startBalancer(t, store, k, exec, false)
}

// startBalancer starts a balancer that plans nothing on store, executing with k (or, as
// an HA instance's, standing by when standby).
func startBalancer(t *testing.T, store persist.Backend, k Executor, exec ExecOptions, standby bool) *Balancer {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	b, err := Start(sys, Options{
		Source: SourceFunc(func(context.Context) (*kafkaload.Snapshot, error) { return nil, errors.New("no planning here") }),
		Logger: zerolog.Nop(), Executor: k, Store: store, Exec: exec, Standby: standby,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func waitPlan(t *testing.T, b *Balancer, token string, cond func(*PlanStatus) bool) *PlanStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := b.Plan(token)
		if err != nil {
			t.Fatal(err)
		}
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("plan %s: %+v", token, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var samplePlan = PlanSpec{Throttle: 1 << 20, Changes: []PlanChange{
	{Topic: "t", Partition: 0, After: []Placement{{BrokerID: 3, Directory: "/d3b"}, {BrokerID: 1, Directory: "/d1b"}}},
	{Topic: "t", Partition: 1, After: []Placement{{BrokerID: 2}, {BrokerID: 1}}},
}}

// TestExecuteFake: a plan runs through every phase to "executed", the throttle is set and
// removed, and a second plan is refused while the first runs.
func TestExecuteFake(t *testing.T) {
	store := openStore(t)
	k := &fakeKafka{st: testState(), block: true}
	b := startExec(t, store, k)
	defer b.Stop()
	token, err := b.Execute(samplePlan)
	if err != nil {
		t.Fatal(err)
	}
	waitPlan(t, b, token, func(s *PlanStatus) bool { return s.Phase == PhaseReassigning })
	if _, err := b.Execute(samplePlan); !errors.Is(err, ErrConflict) {
		t.Fatalf("second plan: %v", err)
	}
	k.finishReassignments()
	s := waitPlan(t, b, token, func(s *PlanStatus) bool { return s.Done })
	if s.Phase != PhaseExecuted || s.PartitionsDone != 2 || s.BytesMoved != s.BytesTotal || s.BytesTotal != 200 || k.throttles != 0 || k.sets != 1 {
		t.Fatalf("status %+v, throttles %d", s, k.throttles)
	}
	p := k.st.Partitions[kafkaexec.TP{Topic: "t", Partition: 0}]
	if !slices.Equal(p.Replicas, []int32{3, 1}) || p.Leader != 3 || p.Logs[3].Dir != "/d3b" || p.Logs[1].Dir != "/d1b" {
		t.Fatalf("partition 0: %+v", p)
	}
	if _, err := b.Plan("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
}

// TestResumeAfterRestart: a plan stopped mid-way (the balancer stops: its record stays
// unfinished) is resumed by the next balancer on the same store and finishes.
func TestResumeAfterRestart(t *testing.T) {
	store := openStore(t)
	k := &fakeKafka{st: testState(), block: true}
	b := startExec(t, store, k)
	token, err := b.Execute(samplePlan)
	if err != nil {
		t.Fatal(err)
	}
	waitPlan(t, b, token, func(s *PlanStatus) bool { return s.Phase == PhaseReassigning })
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	// Kafka dropped the reassignments meanwhile: the resumed plan sends them again.
	k.finishReassignments()
	b = startExec(t, store, k)
	defer b.Stop()
	s := waitPlan(t, b, token, func(s *PlanStatus) bool { return s.Done })
	if s.Phase != PhaseExecuted || s.Restarts != 1 || k.throttles != 0 {
		t.Fatalf("resumed: %+v", s)
	}
	list, err := b.Plans()
	if err != nil || len(list) != 1 || list[0].Token != token {
		t.Fatalf("plans %v %v", list, err)
	}
}

// TestCancelRestoresOrderAndLeader: a plan cancelled while its reassignments are in flight
// leaves every partition as it was, in the original order and with the original leader,
// although Kafka's cancellation swaps the order and the first replica takes the lead. The
// throttle configs are read and on disk before the plan's throttle is set, and are put
// back as they were read.
func TestCancelRestoresOrderAndLeader(t *testing.T) {
	store := openStore(t)
	operator := &kafkaexec.ThrottleConfigs{Default: map[string]string{kafkaexec.LeaderThrottledRate: "999"}}
	k := &fakeKafka{st: testState(), block: true, leaderFollowsOrder: true, saved: operator}
	var savedFirst bool
	k.onSet = func() {
		store.View(func(r persist.Reader) error {
			return r.ForEach(persist.Plans, func(_ string, v []byte) error {
				var rec planRecord
				savedFirst = json.Unmarshal(v, &rec) == nil && rec.Saved != nil && rec.Saved.Default[kafkaexec.LeaderThrottledRate] == "999"
				return nil
			})
		})
	}
	b := startExec(t, store, k)
	defer b.Stop()
	token, err := b.Execute(PlanSpec{Throttle: 1 << 20, Changes: []PlanChange{
		{Topic: "t", Partition: 0, After: []Placement{{BrokerID: 2}, {BrokerID: 3}}},
		{Topic: "t", Partition: 1, After: []Placement{{BrokerID: 3}, {BrokerID: 1}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitPlan(t, b, token, func(s *PlanStatus) bool { return s.Phase == PhaseReassigning })
	waitFake(t, k, func() bool {
		return k.st.Partitions[kafkaexec.TP{Topic: "t", Partition: 0}].Reassigning && k.st.Partitions[kafkaexec.TP{Topic: "t", Partition: 1}].Reassigning
	})
	s, err := b.Cancel(token)
	if err != nil || s.Phase != PhaseCancelled || s.Error != "" {
		t.Fatalf("cancel: %+v %v", s, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for tp, p := range k.st.Partitions {
		if !slices.Equal(p.Replicas, []int32{1, 2}) || p.Leader != 1 || p.Reassigning {
			t.Errorf("%s after cancel: replicas %v leader %d, want [1 2] led by 1", tp, p.Replicas, p.Leader)
		}
	}
	if !savedFirst || k.setWith != operator || k.restored != operator || k.throttles != 0 {
		t.Fatalf("throttle: recorded before set %v, set over %+v, restored %+v", savedFirst, k.setWith, k.restored)
	}
}

// TestFailedPlanKeepsDonePartitions: a plan that fails after some partitions are placed
// leaves those as planned, with the planned leader (the plan failed before its elections),
// and the others as they were.
func TestFailedPlanKeepsDonePartitions(t *testing.T) {
	store := openStore(t)
	tp1 := kafkaexec.TP{Topic: "t", Partition: 1}
	k := &fakeKafka{st: testState(), refuse: map[kafkaexec.TP]error{tp1: kerr.InvalidReplicaAssignment}}
	b := startExec(t, store, k)
	defer b.Stop()
	// Partition 0 only changes its order (applied at once, copies nothing); Kafka refuses
	// partition 1's reassignment, so the plan fails.
	token, err := b.Execute(PlanSpec{Changes: []PlanChange{
		{Topic: "t", Partition: 0, After: []Placement{{BrokerID: 2}, {BrokerID: 1}}},
		{Topic: "t", Partition: 1, After: []Placement{{BrokerID: 2}, {BrokerID: 3}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := waitPlan(t, b, token, func(s *PlanStatus) bool { return s.Done })
	if s.Phase != PhaseFailed || !strings.Contains(s.Error, "INVALID_REPLICA_ASSIGNMENT") {
		t.Fatalf("plan: %+v", s)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	p0, p1 := k.st.Partitions[kafkaexec.TP{Topic: "t", Partition: 0}], k.st.Partitions[kafkaexec.TP{Topic: "t", Partition: 1}]
	if !slices.Equal(p0.Replicas, []int32{2, 1}) || p0.Leader != 2 {
		t.Errorf("done partition: replicas %v leader %d, want [2 1] led by 2", p0.Replicas, p0.Leader)
	}
	if !slices.Equal(p1.Replicas, []int32{1, 2}) || p1.Leader != 1 || p1.Reassigning {
		t.Errorf("reverted partition: replicas %v leader %d, want [1 2] led by 1", p1.Replicas, p1.Leader)
	}
	if k.sets != 0 || k.reads != 0 {
		t.Errorf("a plan without a throttle touched the throttle configs: %d reads, %d sets", k.reads, k.sets)
	}
}

func waitFake(t *testing.T, k *fakeKafka, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		k.mu.Lock()
		ok := cond()
		k.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("fake Kafka never reached the expected state")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPruneFinishedPlans: finished plans beyond MaxFinished go, oldest first, and those
// older than KeepFinished go at the next start, from the list and from the store.
func TestPruneFinishedPlans(t *testing.T) {
	store := openStore(t)
	var mu sync.Mutex
	clock := time.Unix(1_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	exec := ExecOptions{PollInterval: 10 * time.Millisecond, Debounce: 2, StallTimeout: 10 * time.Second,
		MaxFinished: 2, KeepFinished: time.Hour, Now: now}
	k := &fakeKafka{st: testState()}
	b := startExecWith(t, store, k, exec)
	var tokens []string
	for i := range 3 {
		target := []Placement{{BrokerID: 2}, {BrokerID: 1}}
		if i%2 == 1 {
			target = []Placement{{BrokerID: 1}, {BrokerID: 2}}
		}
		token, err := b.Execute(PlanSpec{Changes: []PlanChange{{Topic: "t", Partition: 0, After: target}}})
		if err != nil {
			t.Fatal(err)
		}
		waitPlan(t, b, token, func(s *PlanStatus) bool { return s.Done })
		tokens = append(tokens, token)
		mu.Lock()
		clock = clock.Add(time.Minute)
		mu.Unlock()
	}
	listed := func(b *Balancer) []string {
		list, err := b.Plans()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range list {
			out = append(out, s.Token)
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(listed(b), tokens[1:]) {
		if time.Now().After(deadline) {
			t.Fatalf("listed %v, want the 2 newest of %v", listed(b), tokens)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := b.Plan(tokens[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pruned plan: %v", err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	// The store's delete runs on its own goroutine.
	deadline = time.Now().Add(10 * time.Second)
	for got := storedPlans(t, store); !slices.Equal(got, sorted(tokens[1:])); got = storedPlans(t, store) {
		if time.Now().After(deadline) {
			t.Fatalf("stored %v, want %v", got, sorted(tokens[1:]))
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Two hours later, a restart prunes the rest.
	mu.Lock()
	clock = clock.Add(2 * time.Hour)
	mu.Unlock()
	b = startExecWith(t, store, k, exec)
	defer b.Stop()
	if got := listed(b); len(got) != 0 {
		t.Fatalf("listed after expiry: %v", got)
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(storedPlans(t, store)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("stored after expiry: %v", storedPlans(t, store))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func storedPlans(t *testing.T, store *persist.Store) []string {
	t.Helper()
	var out []string
	if err := store.View(func(r persist.Reader) error {
		return r.ForEach(persist.Plans, func(k string, _ []byte) error { out = append(out, k); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return sorted(out)
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
