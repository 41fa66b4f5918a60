package balancer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
	"github.com/seed248d40c9/fulcrum/planner/plantest"
)

// skewed is a quick skewed cluster: 6 brokers (1 empty), 3 dirs, 600 partitions RF 3.
func skewed(t testing.TB) *planner.Cluster {
	t.Helper()
	c, err := plantest.Cluster(plantest.Config{
		Brokers: 6, DirsPerBroker: 3, Topics: 6, Partitions: 600, ReplicationFactor: 3,
		Skew: 1.5, EmptyBrokers: 1, MeanPartitionBytes: 1 << 20, Seed: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func static(c *planner.Cluster, internal ...string) balancer.Source {
	return balancer.SourceFunc(func(context.Context) (*kafkaload.Snapshot, error) {
		snap := &kafkaload.Snapshot{Cluster: c, Internal: map[string]bool{}}
		for _, t := range internal {
			snap.Internal[t] = true
		}
		return snap, nil
	})
}

func newSystem(t testing.TB) *actor.ActorSystem {
	t.Helper()
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
}

func start(t testing.TB, sys *actor.ActorSystem, o balancer.Options) *balancer.Balancer {
	t.Helper()
	o.Logger = zerolog.Nop()
	b, err := balancer.Start(sys, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return b
}

func functions(t testing.TB, s string) planner.Functions {
	t.Helper()
	fs, err := planner.ParseFunctions(s)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func request(t testing.TB) balancer.Request {
	return balancer.Request{
		Functions: functions(t, "ReplicaSizeCost,ReplicaLeaderCost"),
		Limit:     4000, Timeout: time.Minute, Seed: 7,
	}
}

// TestProposeEqualsSearchRun: the actor pool computes exactly the plan that planner's own
// goroutine runner computes for the same seed, with every candidate evaluated.
func TestProposeEqualsSearchRun(t *testing.T) {
	c := skewed(t)
	b := start(t, newSystem(t), balancer.Options{Source: static(c)})
	for _, fs := range []string{"ReplicaSizeCost", "ReplicaSizeCost,ReplicaLeaderCost", "DirectorySizeCost:3,ReplicaLeaderCost"} {
		req := request(t)
		req.Functions = functions(t, fs)
		got, err := b.Propose(req)
		if err != nil {
			t.Fatalf("%s: %v", fs, err)
		}
		s, err := planner.NewSearch(c, planner.Options{Functions: req.Functions, Limit: req.Limit, Seed: req.Seed})
		if err != nil {
			t.Fatal(err)
		}
		res := s.RunClimb(context.Background(), 0)
		want := res.Plan()
		if got.Cost != want.Cost || got.NewCost != want.NewCost {
			t.Fatalf("%s: cost %v → %v, want %v → %v", fs, got.Cost, got.NewCost, want.Cost, want.NewCost)
		}
		if !(got.NewCost < got.Cost) || len(got.Changes) == 0 {
			t.Fatalf("%s: no improvement on a skewed cluster: %v → %v, %d changes", fs, got.Cost, got.NewCost, len(got.Changes))
		}
		if !reflect.DeepEqual(got.Changes, want.Changes) || !reflect.DeepEqual(got.Migrations, want.Migrations) {
			t.Fatalf("%s: plan differs from Search.Run's", fs)
		}
		if got.Limit != req.Limit || got.Interrupted {
			t.Fatalf("%s: evaluated %d (interrupted %v), want exactly %d", fs, got.Limit, got.Interrupted, req.Limit)
		}
		if got.Function != fs {
			t.Fatalf("function %q, want %q", got.Function, fs)
		}
	}
}

// TestAutoEffort: without a limit, the search scales its effort with the cluster and ends
// when it stalls; the plan is the planner's for planner.AutoEffort, whatever the pool.
func TestAutoEffort(t *testing.T) {
	c := skewed(t)
	limit, stall := planner.AutoEffort(c, nil)
	req := request(t)
	req.Limit = 0
	s, err := planner.NewSearch(c, planner.Options{Functions: req.Functions, Limit: limit, StallAfter: stall, Seed: req.Seed})
	if err != nil {
		t.Fatal(err)
	}
	want := s.RunClimb(context.Background(), 3)
	for _, n := range []int{1, 4} {
		got, err := start(t, newSystem(t), balancer.Options{Source: static(c), Planners: n}).Propose(req)
		if err != nil {
			t.Fatal(err)
		}
		if got.Limit != want.Evaluated || got.NewCost != want.NewCost || !reflect.DeepEqual(got.Changes, want.Plan().Changes) {
			t.Fatalf("%d planners: evaluated %d to %v, planner evaluated %d to %v", n, got.Limit, got.NewCost, want.Evaluated, want.NewCost)
		}
		if got.Limit < stall || got.Limit > limit {
			t.Fatalf("%d planners: evaluated %d, want at least the stall %d and at most the cap %d", n, got.Limit, stall, limit)
		}
	}
}

// TestPoolSizeDoesNotChangePlan: 1, 2 or 5 planners, and several searches at once, give the
// same plan for the same seed; another seed gives another plan.
func TestPoolSizeDoesNotChangePlan(t *testing.T) {
	c := skewed(t)
	var first *balancer.Report
	for _, n := range []int{1, 2, 5} {
		b := start(t, newSystem(t), balancer.Options{Source: static(c), Planners: n})
		var wg sync.WaitGroup
		reports := make([]*balancer.Report, 3)
		errs := make([]error, 3)
		for i := range reports {
			wg.Go(func() { reports[i], errs[i] = b.Propose(request(t)) })
		}
		wg.Wait()
		for i, r := range reports {
			if errs[i] != nil {
				t.Fatalf("%d planners: %v", n, errs[i])
			}
			if first == nil {
				first = r
			}
			if !reflect.DeepEqual(r, first) {
				t.Fatalf("%d planners, search %d: plan differs (cost %v vs %v)", n, i, r.NewCost, first.NewCost)
			}
		}
	}
	b := start(t, newSystem(t), balancer.Options{Source: static(c)})
	req := request(t)
	req.Seed++
	other, err := b.Propose(req)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(other.Changes, first.Changes) {
		t.Fatal("seed does not change the plan")
	}
}

// TestTopics: by default internal topics never change; named topics restrict the changes;
// the cost always counts every topic.
func TestTopics(t *testing.T) {
	c := skewed(t)
	b := start(t, newSystem(t), balancer.Options{Source: static(c, "topic-000", "topic-001")})
	all, err := b.Propose(request(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range all.Changes {
		if ch.Topic == "topic-000" || ch.Topic == "topic-001" {
			t.Fatalf("internal topic %s changed by default", ch.Topic)
		}
	}
	req := request(t)
	req.Topics = []string{"topic-001", "topic-004"}
	named, err := b.Propose(req)
	if err != nil {
		t.Fatal(err)
	}
	if named.Cost != all.Cost {
		t.Fatalf("cost %v with topics, %v without: the cost must count every topic", named.Cost, all.Cost)
	}
	seen := map[string]bool{}
	for _, ch := range named.Changes {
		if ch.Topic != "topic-001" && ch.Topic != "topic-004" {
			t.Fatalf("topic %s changed, only topic-001 and topic-004 may", ch.Topic)
		}
		seen[ch.Topic] = true
	}
	if !seen["topic-001"] {
		t.Fatal("a named internal topic may change, but topic-001 did not")
	}
}

// TestOnlyInternalTopics: nothing may move, so the report is the current layout.
func TestOnlyInternalTopics(t *testing.T) {
	c := skewed(t)
	b := start(t, newSystem(t), balancer.Options{Source: static(c, c.Topics()...)})
	r, err := b.Propose(request(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.NewCost != r.Cost || len(r.Changes) != 0 || r.Limit != 0 || r.Changes == nil {
		t.Fatalf("got cost %v → %v, %d changes (nil %v), limit %d; want no plan", r.Cost, r.NewCost, len(r.Changes), r.Changes == nil, r.Limit)
	}
	// Without a search, broker ids are still checked as a search checks them.
	for _, edit := range []func(*balancer.Request){
		func(r *balancer.Request) { r.ExcludeBrokers = []int32{99} },
		func(r *balancer.Request) { r.TargetBrokers = []int32{99} },
		func(r *balancer.Request) { r.ExcludeBrokers, r.TargetBrokers = []int32{1}, []int32{1} },
	} {
		req := request(t)
		edit(&req)
		if _, err := b.Propose(req); !errors.Is(err, balancer.ErrInvalid) {
			t.Errorf("exclude %v, target %v: got %v, want ErrInvalid", req.ExcludeBrokers, req.TargetBrokers, err)
		}
	}
}

// TestBudgets: every plan respects maxMoves and maxMoveBytes.
func TestBudgets(t *testing.T) {
	c := skewed(t)
	b := start(t, newSystem(t), balancer.Options{Source: static(c)})
	req := request(t)
	req.MaxMoves = 5
	r, err := b.Propose(req)
	if err != nil {
		t.Fatal(err)
	}
	if moves := movedReplicas(r); moves > 5 || moves == 0 {
		t.Fatalf("%d replica moves with maxMoves 5", moves)
	}
	req = request(t)
	req.MaxMoveBytes = 3 << 20
	r, err = b.Propose(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Migrations[0].TotalCost; got > 3<<20 || r.Migrations[0].Function != "size" {
		t.Fatalf("%s total %d with maxMoveBytes %d", r.Migrations[0].Function, got, 3<<20)
	}
}

func movedReplicas(r *balancer.Report) int {
	n := 0
	for _, ch := range r.Changes {
		for _, a := range ch.After {
			found := false
			for _, b := range ch.Before {
				found = found || (a.BrokerID == b.BrokerID && a.Directory == b.Directory)
			}
			if !found {
				n++
			}
		}
	}
	return n
}

// TestTimeoutEndsSearch: a limit far beyond the timeout is cut short, and the report says
// how many candidates were evaluated.
func TestTimeoutEndsSearch(t *testing.T) {
	c := skewed(t)
	b := start(t, newSystem(t), balancer.Options{Source: static(c)})
	req := request(t)
	req.Limit, req.Timeout = 1_000_000_000, 300*time.Millisecond
	begin := time.Now()
	r, err := b.Propose(req)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("search took %s with a 300ms timeout", d)
	}
	if !r.Interrupted || r.Limit <= 0 || r.Limit >= req.Limit {
		t.Fatalf("interrupted %v, evaluated %d of %d", r.Interrupted, r.Limit, req.Limit)
	}
	if !(r.NewCost < r.Cost) {
		t.Fatalf("no improvement in 300ms: %v → %v", r.Cost, r.NewCost)
	}
}

func TestErrors(t *testing.T) {
	c := skewed(t)
	b := start(t, newSystem(t), balancer.Options{Source: static(c)})
	bad := []struct {
		name string
		edit func(*balancer.Request)
	}{
		{"unknown excluded broker", func(r *balancer.Request) { r.ExcludeBrokers = []int32{99} }},
		{"disk usage above 1", func(r *balancer.Request) { r.MaxDiskUsage = 2 }},
		{"negative min gain", func(r *balancer.Request) { r.MinGain = -1 }},
		{"negative limit", func(r *balancer.Request) { r.Limit = -1 }},
		{"timeout 0", func(r *balancer.Request) { r.Timeout = 0 }},
		{"no function", func(r *balancer.Request) { r.Functions = nil }},
		{"zero weight", func(r *balancer.Request) { r.Functions[0].Weight = 0 }},
		{"negative budget", func(r *balancer.Request) { r.MaxMoves = -1 }},
		{"unknown topic", func(r *balancer.Request) { r.Topics = []string{"topic-001", "nope"} }},
	}
	for _, tc := range bad {
		req := request(t)
		tc.edit(&req)
		_, err := b.Propose(req)
		if !errors.Is(err, balancer.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tc.name, err)
		}
	}
	_, err := b.Propose(func() balancer.Request { r := request(t); r.Topics = []string{"nope"}; return r }())
	if err == nil || err.Error() != `unknown topic "nope"` {
		t.Errorf("unknown topic message: %v", err)
	}

	for _, tc := range []struct {
		loadErr error
		want    error
	}{
		{fmt.Errorf("%w: reassignment in progress", kafkaload.ErrNotPlannable), balancer.ErrConflict},
		{fmt.Errorf("%w: metadata: dial tcp: refused", kafkaload.ErrUnavailable), balancer.ErrUnavailable},
		{errors.New("anything else"), balancer.ErrUnavailable},
	} {
		src := balancer.SourceFunc(func(context.Context) (*kafkaload.Snapshot, error) { return nil, tc.loadErr })
		b := start(t, newSystem(t), balancer.Options{Source: src})
		_, err := b.Propose(request(t))
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.loadErr.Error()) {
			t.Errorf("load error %v: got %v, want kind %v", tc.loadErr, err, tc.want)
		}
	}
}

// blocking is a source that waits for release (or its context) before answering.
type blocking struct {
	c       *planner.Cluster
	entered chan struct{}
	release chan struct{}
}

func (s *blocking) Load(ctx context.Context) (*kafkaload.Snapshot, error) {
	s.entered <- struct{}{}
	select {
	case <-s.release:
		return &kafkaload.Snapshot{Cluster: s.c}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestBusyAndStop: beyond MaxSearches a request is refused at once; Stop answers the
// pending ones, stops the balancer's actors and leaves the rest of the system running.
func TestBusyAndStop(t *testing.T) {
	sys := newSystem(t)
	other, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(string); ok {
			ctx.Respond("pong")
		}
	}), "embedder/echo")
	if err != nil {
		t.Fatal(err)
	}
	src := &blocking{c: skewed(t), entered: make(chan struct{}, 4), release: make(chan struct{})}
	b, err := balancer.Start(sys, balancer.Options{Source: src, MaxSearches: 2, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := b.Propose(request(t)); errs <- err }()
		select {
		case <-src.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("search did not start reading")
		}
	}
	if _, err := b.Propose(request(t)); !errors.Is(err, balancer.ErrBusy) {
		t.Fatalf("third search: %v, want ErrBusy", err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, balancer.ErrStopped) {
				t.Fatalf("pending search: %v, want ErrStopped", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("pending search not answered after Stop")
		}
	}
	if _, err := b.Propose(request(t)); !errors.Is(err, balancer.ErrStopped) {
		t.Fatalf("after Stop: %v, want ErrStopped", err)
	}
	if v, err := sys.Root.RequestFuture(other, "ping", time.Second).Result(); err != nil || v != "pong" {
		t.Fatalf("embedder's actor after Stop: %v, %v", v, err)
	}
	for _, id := range []string{"fulcrum/balancer", "fulcrum/balancer/planner-0", "fulcrum/balancer/search-1"} {
		if _, ok := sys.ProcessRegistry.GetLocal(id); ok {
			t.Errorf("%s still registered after Stop", id)
		}
	}
}
