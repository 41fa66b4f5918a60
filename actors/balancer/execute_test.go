package balancer

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/persist"
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

func testState() *kafkaload.State {
	st := &kafkaload.State{
		Brokers:    map[int32]bool{1: true, 2: true, 3: true},
		Dirs:       map[int32][]string{1: {"/d1a", "/d1b"}, 2: {"/d2a", "/d2b"}, 3: {"/d3a", "/d3b"}},
		Topics:     map[string]bool{"t": true},
		Partitions: map[kafkaload.TP]*kafkaload.PartitionInfo{},
		Silent:     map[int32]error{},
	}
	for p := range int32(2) {
		st.Partitions[kafkaload.TP{Topic: "t", Partition: p}] = &kafkaload.PartitionInfo{
			Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1,
			Logs: map[int32]kafkaload.ReplicaLog{1: {Dir: "/d1a", Size: 100}, 2: {Dir: "/d2a", Size: 100}},
		}
	}
	return st
}

func TestBuildTasks(t *testing.T) {
	st := testState()
	spec := PlanSpec{Throttle: 1000, Changes: []PlanChange{
		{Topic: "t", Partition: 0, Before: []Placement{{BrokerID: 1, Directory: "/d1a"}, {BrokerID: 2}},
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

	refuse := func(kind error, c PlanChange, edit func(*kafkaload.State)) {
		t.Helper()
		st := testState()
		if edit != nil {
			edit(st)
		}
		if _, _, err := buildTasks(PlanSpec{Changes: []PlanChange{c}}, st); !errors.Is(err, kind) {
			t.Errorf("%+v: %v, want %v", c, err, kind)
		}
	}
	tp0 := kafkaload.TP{Topic: "t", Partition: 0}
	refuse(ErrInvalid, PlanChange{Topic: "u", After: []Placement{{BrokerID: 1}}}, nil)
	refuse(ErrInvalid, PlanChange{Topic: "t", Partition: 5, After: []Placement{{BrokerID: 1}}}, nil)
	refuse(ErrInvalid, PlanChange{Topic: "t", After: []Placement{{BrokerID: 4}}}, nil)
	refuse(ErrInvalid, PlanChange{Topic: "t", After: []Placement{{BrokerID: 1, Directory: "/d2a"}}}, nil)
	refuse(ErrConflict, PlanChange{Topic: "t", Before: []Placement{{BrokerID: 2}, {BrokerID: 1}}, After: []Placement{{BrokerID: 1}}}, nil)
	refuse(ErrConflict, PlanChange{Topic: "t", Before: []Placement{{BrokerID: 1, Directory: "/d1b"}}, After: []Placement{{BrokerID: 1}}}, nil)
	refuse(ErrConflict, PlanChange{Topic: "t", After: []Placement{{BrokerID: 3}}}, func(st *kafkaload.State) { st.Partitions[tp0].Reassigning = true })
	refuse(ErrConflict, PlanChange{Topic: "t", After: []Placement{{BrokerID: 3}}}, func(st *kafkaload.State) {
		st.Partitions[tp0].Logs[1] = kafkaload.ReplicaLog{Dir: "/d1a", FutureDir: "/d1b"}
	})
	refuse(ErrConflict, PlanChange{Topic: "t", After: []Placement{{BrokerID: 3}}}, func(st *kafkaload.State) { st.Partitions[tp0].Offline = []int32{2} })
	// An invalid plan is a 400 even if it also conflicts.
	refuse(ErrInvalid, PlanChange{Topic: "t", Before: []Placement{{BrokerID: 2}}, After: []Placement{{BrokerID: 9}}}, nil)
}

// fakeKafka applies every change at once; block keeps reassignments in flight forever.
type fakeKafka struct {
	mu        sync.Mutex
	st        *kafkaload.State
	block     bool
	throttles int // set minus cleared
	sets      int
}

func (f *fakeKafka) State(context.Context, []string) (*kafkaload.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := *f.st
	c.Partitions = map[kafkaload.TP]*kafkaload.PartitionInfo{}
	for tp, p := range f.st.Partitions {
		cp := *p
		cp.Replicas, cp.ISR, cp.Logs = slices.Clone(p.Replicas), slices.Clone(p.ISR), maps.Clone(p.Logs)
		c.Partitions[tp] = &cp
	}
	return &c, nil
}

func (f *fakeKafka) AlterDirs(_ context.Context, b int32, dirs map[kafkaload.TP]string) (map[kafkaload.TP]error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tp, d := range dirs {
		p := f.st.Partitions[tp]
		if l, ok := p.Logs[b]; ok {
			l.Dir = d
			p.Logs[b] = l
		}
	}
	return nil, nil
}

func (f *fakeKafka) Reassign(_ context.Context, targets map[kafkaload.TP][]int32) (map[kafkaload.TP]error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tp, target := range targets {
		p := f.st.Partitions[tp]
		if f.block {
			p.Reassigning = true
			continue
		}
		for _, b := range target {
			if _, ok := p.Logs[b]; !ok {
				p.Logs[b] = kafkaload.ReplicaLog{Dir: f.st.Dirs[b][0], Size: 100}
			}
		}
		p.Replicas, p.ISR = slices.Clone(target), slices.Clone(target)
		if !slices.Contains(target, p.Leader) {
			p.Leader = target[0]
		}
	}
	return nil, nil
}

func (f *fakeKafka) CancelReassign(_ context.Context, tps []kafkaload.TP) (map[kafkaload.TP]error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tp := range tps {
		f.st.Partitions[tp].Reassigning = false
	}
	return nil, nil
}

func (f *fakeKafka) ElectPreferred(_ context.Context, tps []kafkaload.TP) (map[kafkaload.TP]error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tp := range tps {
		p := f.st.Partitions[tp]
		p.Leader = p.Replicas[0]
	}
	return nil, nil
}

func (f *fakeKafka) SetThrottle(context.Context, kafkaload.Throttle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttles, f.sets = 1, f.sets+1
	return nil
}

func (f *fakeKafka) ClearThrottle(context.Context, []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttles = 0
	return nil
}

func startExec(t *testing.T, store *persist.Store, k Executor) *Balancer {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	b, err := Start(sys, Options{
		Source: SourceFunc(func(context.Context) (*kafkaload.Snapshot, error) { return nil, errors.New("no planning here") }),
		Logger: zerolog.Nop(), Executor: k, Store: store,
		Exec: ExecOptions{PollInterval: 10 * time.Millisecond, Debounce: 2, StallTimeout: 10 * time.Second},
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
	store, err := persist.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
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
	k.mu.Lock()
	k.block = false
	for _, p := range k.st.Partitions {
		p.Reassigning = false
	}
	k.mu.Unlock()
	s := waitPlan(t, b, token, func(s *PlanStatus) bool { return s.Done })
	if s.Phase != PhaseExecuted || s.PartitionsDone != 2 || s.BytesMoved != s.BytesTotal || s.BytesTotal != 200 || k.throttles != 0 || k.sets != 1 {
		t.Fatalf("status %+v, throttles %d", s, k.throttles)
	}
	p := k.st.Partitions[kafkaload.TP{Topic: "t", Partition: 0}]
	if !slices.Equal(p.Replicas, []int32{3, 1}) || p.Leader != 3 || p.Logs[3].Dir != "/d3b" && p.Logs[1].Dir != "/d1b" {
		t.Fatalf("partition 0: %+v", p)
	}
	if _, err := b.Plan("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
}

// TestResumeAfterRestart: a plan stopped mid-way (the balancer stops: its record stays
// unfinished) is resumed by the next balancer on the same store and finishes.
func TestResumeAfterRestart(t *testing.T) {
	store, err := persist.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
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
	k.block = false
	for _, p := range k.st.Partitions {
		p.Reassigning = false
	}
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
