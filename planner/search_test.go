package planner_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/plantest"
)

// smallConfig is a quick skewed cluster: 6 brokers (1 empty), 3 dirs, 600 partitions RF 3.
func smallConfig(seed uint64) plantest.Config {
	return plantest.Config{
		Brokers: 6, DirsPerBroker: 3, Topics: 6, Partitions: 600, ReplicationFactor: 3,
		Skew: 1.5, EmptyBrokers: 1, MeanPartitionBytes: 1 << 20, Seed: seed,
	}
}

func mustCluster(t testing.TB, cfg plantest.Config) *planner.Cluster {
	t.Helper()
	c, err := plantest.Cluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustSearch(t testing.TB, c *planner.Cluster, opts planner.Options) *planner.Search {
	t.Helper()
	s, err := planner.NewSearch(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var functionSets = []string{
	"ReplicaSizeCost",
	"ReplicaLeaderCost",
	"DirectorySizeCost",
	"ReplicaSizeCost:2,ReplicaLeaderCost:1",
	"ReplicaSizeCost,ReplicaLeaderCost:0.5,DirectorySizeCost:3",
	"ReplicaCountCost",
	"TopicSpreadCost",
	"ReplicaSizeCost,ReplicaLeaderCost,ReplicaCountCost,TopicSpreadCost:2",
}

func functions(t testing.TB, text string) planner.Functions {
	t.Helper()
	fs, err := planner.ParseFunctions(text)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestIncrementalCostMatchesRecomputation is the property test: after random sequences of
// moves of every kind, kept whether they help or not, the O(1)-maintained cost, counters
// and budgets equal a recomputation from the layout.
func TestIncrementalCostMatchesRecomputation(t *testing.T) {
	configs := []plantest.Config{
		smallConfig(1),
		{Brokers: 4, DirsPerBroker: 1, Topics: 2, Partitions: 50, ReplicationFactor: 1, Skew: 3, MeanPartitionBytes: 1 << 40, Seed: 2},
		{Brokers: 3, DirsPerBroker: 2, Topics: 3, Partitions: 90, ReplicationFactor: 3, Skew: 1, MeanPartitionBytes: 1000, Seed: 3},
		{Brokers: 12, DirsPerBroker: 3, Topics: 20, Partitions: 400, ReplicationFactor: 2, Skew: 4, EmptyBrokers: 3, MeanPartitionBytes: 1 << 34, Seed: 4},
	}
	for ci, cfg := range configs {
		c := mustCluster(t, cfg)
		for _, text := range functionSets {
			for seed := uint64(0); seed < 3; seed++ {
				s := mustSearch(t, c, planner.Options{Functions: functions(t, text), Limit: 1, Seed: seed})
				for _, steps := range []int{0, 1, 7, 500, 5000} {
					kept, scratch, err := planner.WalkForTest(s, int(seed), steps)
					if err != nil {
						t.Fatalf("cluster %d, %s, seed %d, %d steps: %v", ci, text, seed, steps, err)
					}
					if math.Abs(kept-scratch) > 1e-9*math.Max(1, scratch) {
						t.Fatalf("cluster %d, %s, seed %d, %d steps: kept cost %.15g, recomputed %.15g", ci, text, seed, steps, kept, scratch)
					}
				}
			}
		}
	}
}

// checkResult checks a result against the cluster it was made on: the changes turn the
// current layout into one whose recomputed cost is NewCost, Before is the current layout,
// and the migration costs agree with the changes.
func checkResult(t *testing.T, c *planner.Cluster, fs planner.Functions, r planner.Result) {
	t.Helper()
	checkPlan(t, c, fs, r.Plan())
}

func checkPlan(t *testing.T, c *planner.Cluster, fs planner.Functions, r planner.Plan) {
	t.Helper()
	if got := c.Cost(fs); math.Abs(got-r.Cost) > 1e-9 {
		t.Fatalf("cost %v, recomputed %v", r.Cost, got)
	}
	applied, err := c.Apply(r.Changes)
	if err != nil {
		t.Fatalf("applying the changes: %v", err)
	}
	if got := applied.Cost(fs); math.Abs(got-r.NewCost) > 1e-9 {
		t.Fatalf("new cost %v, recomputed on the changed layout %v", r.NewCost, got)
	}
	if len(r.Changes) > 0 && r.NewCost >= r.Cost && len(r.Constraints.Repaired) == 0 {
		t.Fatalf("changes that do not lower the cost: %v -> %v", r.Cost, r.NewCost)
	}
	if len(r.Migrations) != 2 || r.Migrations[0].Function != "size" || r.Migrations[0].Unit != "byte" || r.Migrations[1].Function != "leader" {
		t.Fatalf("migrations = %+v", r.Migrations)
	}
	size, leader := r.Migrations[0], r.Migrations[1]
	var netBytes, netLeaders, copied int64
	for _, b := range size.Cost {
		netBytes += b.Cost
	}
	for _, b := range leader.Cost {
		netLeaders += b.Cost
	}
	var leaderChanges int64
	for _, ch := range r.Changes {
		has := func(rs []planner.Replica, p planner.Placement) bool {
			return slices.ContainsFunc(rs, func(x planner.Replica) bool { return x.BrokerID == p.BrokerID && x.Directory == p.Directory })
		}
		var partSize int64
		for _, b := range ch.Before {
			partSize = max(partSize, b.Size)
		}
		for _, a := range ch.After {
			if !has(ch.Before, a) {
				copied += partSize
			}
		}
		if ch.Before[0].BrokerID != ch.After[0].BrokerID {
			leaderChanges++
		}
	}
	if netBytes != 0 || netLeaders != 0 {
		t.Fatalf("per-broker migration costs do not sum to 0: size %d, leader %d", netBytes, netLeaders)
	}
	if size.TotalCost != copied || leader.TotalCost != leaderChanges {
		t.Fatalf("totals size %d leader %d, changes say %d and %d", size.TotalCost, leader.TotalCost, copied, leaderChanges)
	}
	current := map[string][]planner.Replica{}
	for _, p := range c.Partitions() {
		current[fmt.Sprint(p.Topic, "-", p.Partition)] = p.Replicas
	}
	for _, ch := range r.Changes {
		if !reflect.DeepEqual(ch.Before, current[fmt.Sprint(ch.Topic, "-", ch.Partition)]) {
			t.Fatalf("%s-%d: before %+v is not the current layout", ch.Topic, ch.Partition, ch.Before)
		}
	}
}

func TestChangesReproduceNewCost(t *testing.T) {
	c := mustCluster(t, smallConfig(7))
	for _, text := range functionSets {
		for _, strategy := range []planner.Strategy{planner.HillClimb, planner.Shuffle} {
			fs := functions(t, text)
			s := mustSearch(t, c, planner.Options{Functions: fs, Limit: 3000, Seed: 42, Strategy: strategy})
			r := s.Run(context.Background(), 2)
			if !r.HasPlan() {
				t.Fatalf("%s/%s: no plan on a skewed cluster", text, strategy)
			}
			if r.Evaluated != 3000 || r.Interrupted {
				t.Fatalf("%s/%s: evaluated %d (interrupted %v), want exactly the limit", text, strategy, r.Evaluated, r.Interrupted)
			}
			checkResult(t, c, fs, r)
		}
	}
}

func TestTopicsRestriction(t *testing.T) {
	c := mustCluster(t, smallConfig(8))
	fs := planner.DefaultFunctions()
	topics := []string{"topic-001", "topic-004"}
	s := mustSearch(t, c, planner.Options{Functions: fs, Limit: 2000, Seed: 3, Topics: topics})
	r := s.Run(context.Background(), 2)
	if !r.HasPlan() {
		t.Fatal("no plan")
	}
	changed := map[string]bool{}
	for _, ch := range r.Plan().Changes {
		if !slices.Contains(topics, ch.Topic) {
			t.Fatalf("change to %s-%d, outside %v", ch.Topic, ch.Partition, topics)
		}
		changed[ch.Topic] = true
	}
	if len(changed) != 2 {
		t.Errorf("changed topics %v, want both of %v", changed, topics)
	}
	// The cost counts every topic, not only the allowed ones.
	if math.Abs(r.Cost-c.Cost(fs)) > 1e-12 {
		t.Errorf("cost %v, want the whole cluster's %v", r.Cost, c.Cost(fs))
	}
	checkResult(t, c, fs, r)
}

func TestBudgets(t *testing.T) {
	c := mustCluster(t, smallConfig(9))
	fs := functions(t, "ReplicaSizeCost:2,ReplicaLeaderCost:1,DirectorySizeCost")
	unbounded := mustSearch(t, c, planner.Options{Functions: fs, Limit: 3000, Seed: 5}).Run(context.Background(), 2)
	budgets := []planner.Options{
		{MaxMoves: 10},
		{MaxMoveBytes: 20 << 20},
		{MaxLeaderMoves: 3},
		{MaxMoves: 25, MaxMoveBytes: 8 << 20, MaxLeaderMoves: 1},
	}
	for _, b := range budgets {
		b.Functions, b.Limit, b.Seed = fs, 3000, 5
		r := mustSearch(t, c, b).Run(context.Background(), 2)
		checkResult(t, c, fs, r)
		if !r.HasPlan() {
			t.Fatalf("budget %+v: no plan", b)
		}
		if r.NewCost <= unbounded.NewCost {
			t.Errorf("budget %+v reached %v, no worse than the unbounded %v: is it enforced?", b, r.NewCost, unbounded.NewCost)
		}
		var moves int
		plan := r.Plan()
		for _, ch := range plan.Changes {
			for _, a := range ch.After {
				if !slices.ContainsFunc(ch.Before, func(x planner.Replica) bool { return x.BrokerID == a.BrokerID && x.Directory == a.Directory }) {
					moves++
				}
			}
		}
		size, leader := plan.Migrations[0], plan.Migrations[1]
		if (b.MaxMoves > 0 && moves > b.MaxMoves) ||
			(b.MaxMoveBytes > 0 && size.TotalCost > b.MaxMoveBytes) ||
			(b.MaxLeaderMoves > 0 && leader.TotalCost > int64(b.MaxLeaderMoves)) {
			t.Errorf("budget %+v broken: %d moves, %d bytes, %d leader moves", b, moves, size.TotalCost, leader.TotalCost)
		}
	}
}

func TestDeterminism(t *testing.T) {
	c := mustCluster(t, smallConfig(10))
	fs := functions(t, "ReplicaSizeCost:2,ReplicaLeaderCost:1,DirectorySizeCost")
	for _, strategy := range []planner.Strategy{planner.HillClimb, planner.Shuffle} {
		opts := planner.Options{Functions: fs, Limit: 1200, Seed: 99, Strategy: strategy, Batches: 3}
		s := mustSearch(t, c, opts)
		first := s.Run(context.Background(), 1)
		for _, workers := range []int{1, 2, 3, 8} {
			if got := s.Run(context.Background(), workers); !sameResult(got, first) {
				t.Fatalf("%s: %d workers gave another result than 1 worker", strategy, workers)
			}
		}
		// A fresh Search on a cluster rebuilt from the same layout in another order.
		parts := c.Partitions()
		slices.Reverse(parts)
		again, err := planner.NewCluster(c.Brokers(), parts)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustSearch(t, again, opts).Run(context.Background(), 2); !sameResult(got, first) {
			t.Fatalf("%s: the same layout listed in another order gave another result", strategy)
		}
		// The actor layer's way: a climb's chunks scored in any order, handed to Commit in
		// any order; a shuffle's batches run anywhere, in any order, merged by Best.
		var got planner.Result
		if strategy == planner.HillClimb {
			climb := s.NewClimb()
			views := make([]planner.View, 3) // any scorer may take any chunk
			for chunks := climb.Next(); chunks != nil; chunks = climb.Next() {
				var results []planner.ChunkResult
				for i := len(chunks) - 1; i >= 0; i-- {
					results = append(results, climb.Score(chunks[i], &views[i%len(views)]))
				}
				climb.Commit(results)
			}
			got = climb.Result()
		} else {
			batches := s.Batches(3)
			var results []planner.Result
			for i := len(batches) - 1; i >= 0; i-- {
				results = append(results, s.RunBatch(context.Background(), batches[i]))
			}
			got = planner.Best(results...)
		}
		if !sameResult(got, first) {
			t.Fatalf("%s: chunks or batches in reverse order gave another result", strategy)
		}
		opts.Seed = 100
		if got := mustSearch(t, c, opts).Run(context.Background(), 2); reflect.DeepEqual(got.Plan().Changes, first.Plan().Changes) {
			t.Fatalf("%s: seeds 99 and 100 gave the same changes", strategy)
		}
	}
}

func TestInvalidOptions(t *testing.T) {
	c := mustCluster(t, smallConfig(11))
	fs := planner.DefaultFunctions()
	cases := map[string]planner.Options{
		"invalid search limit":     {Functions: fs, Limit: 0},
		"invalid search limit -5":  {Functions: fs, Limit: -5},
		"no cost function":         {Limit: 10},
		"unknown cost function":    {Functions: planner.Functions{{Function: 9, Weight: 1}}, Limit: 10},
		"bad weight":               {Functions: planner.Functions{{Function: planner.ReplicaSizeCost, Weight: 0}}, Limit: 10},
		"bad weight (NaN)":         {Functions: planner.Functions{{Function: planner.ReplicaSizeCost, Weight: math.NaN()}}, Limit: 10},
		"unknown topic":            {Functions: fs, Limit: 10, Topics: []string{"topic-000", "nope"}},
		"move budgets must be ≥ 0": {Functions: fs, Limit: 10, MaxMoves: -1},
		"unknown strategy":         {Functions: fs, Limit: 10, Strategy: "random"},
	}
	for name, opts := range cases {
		_, err := planner.NewSearch(c, opts)
		want := strings.TrimSuffix(strings.TrimSuffix(name, " -5"), " (NaN)")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error = %v", name, err)
		}
	}
	if _, err := planner.NewSearch(nil, planner.Options{Functions: fs, Limit: 1}); err == nil {
		t.Error("NewSearch accepted a nil cluster")
	}
}

func TestBatches(t *testing.T) {
	c := mustCluster(t, smallConfig(12))
	for _, limit := range []int{1, 99, 100, 250, 10_000, 10_001} {
		s := mustSearch(t, c, planner.Options{Functions: planner.DefaultFunctions(), Limit: limit})
		for _, n := range []int{0, 1, 2, 3, 7, 1000} {
			total := 0
			batches := s.Batches(n)
			for i, b := range batches {
				if b.Index != i || (b.Count < planner.MinBatchSize && len(batches) > 1) {
					t.Errorf("limit %d, %d batches: batch %+v", limit, n, b)
				}
				total += b.Count
			}
			if total != limit || len(batches) > max(n, 1) {
				t.Errorf("limit %d split in %d: %d batches, %d candidates", limit, n, len(batches), total)
			}
		}
	}
}

func TestCancel(t *testing.T) {
	c := mustCluster(t, smallConfig(13))
	s := mustSearch(t, c, planner.Options{Functions: planner.DefaultFunctions(), Limit: 1_000_000})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := s.Run(ctx, 2)
	if !r.Interrupted || r.Evaluated >= 1_000_000 {
		t.Errorf("cancelled search: interrupted %v, evaluated %d", r.Interrupted, r.Evaluated)
	}
	checkResult(t, c, planner.DefaultFunctions(), r)
}

func TestNothingToMove(t *testing.T) {
	// One broker: no replica can go anywhere, and the search says so without a plan.
	c := mustCluster(t, plantest.Config{Brokers: 1, DirsPerBroker: 1, Topics: 1, Partitions: 10, ReplicationFactor: 1, MeanPartitionBytes: 10})
	r := mustSearch(t, c, planner.Options{Functions: planner.DefaultFunctions(), Limit: 500}).Run(context.Background(), 2)
	if r.HasPlan() || len(r.Plan().Changes) != 0 || r.NewCost != r.Cost {
		t.Errorf("one-broker cluster: %+v", r)
	}
}

// TestBeatsAstraeaShuffle is the BRIEF's quality claim, on a smaller cluster so it stays
// fast: with the same number of candidates, the hill climber ends far below Astraea's best
// of 30-step random shuffles.
func TestBeatsAstraeaShuffle(t *testing.T) {
	c := mustCluster(t, smallConfig(14))
	for _, text := range functionSets {
		fs := functions(t, text)
		climb := mustSearch(t, c, planner.Options{Functions: fs, Limit: 5000, Seed: 1}).Run(context.Background(), 2)
		shuffle := mustSearch(t, c, planner.Options{Functions: fs, Limit: 5000, Seed: 1, Strategy: planner.Shuffle}).Run(context.Background(), 2)
		t.Logf("%-55s start %.4f, shuffle %.4f, hill climb %.4f", text, climb.Cost, shuffle.NewCost, climb.NewCost)
		if climb.NewCost > shuffle.NewCost/4 {
			t.Errorf("%s: hill climb reached %v, shuffle %v", text, climb.NewCost, shuffle.NewCost)
		}
	}
}

// TestReplicaSizeMoveCost is Astraea's ReplicaSizeCostTest.testMoveCost: bytes in and out
// per broker, a directory move counted in the total but netting 0 on its broker.
func TestReplicaSizeMoveCost(t *testing.T) {
	brokers := []planner.Broker{{ID: 0, Dirs: []string{"/a", "/b"}}, {ID: 1, Dirs: []string{"/a", "/b"}}, {ID: 2, Dirs: []string{"/a", "/b"}}}
	rep := func(b int32, dir string, size int64) planner.Replica {
		return planner.Replica{BrokerID: b, Directory: dir, Size: size}
	}
	c, err := planner.NewCluster(brokers, []planner.Partition{
		{Topic: "t1", Partition: 0, Replicas: []planner.Replica{rep(0, "/a", 6_000_000), rep(1, "/a", 6_000_000)}},
		{Topic: "t1", Partition: 1, Replicas: []planner.Replica{rep(1, "/a", 700_000), rep(2, "/a", 700_000)}},
		{Topic: "t2", Partition: 0, Replicas: []planner.Replica{rep(1, "/a", 800_000), rep(2, "/a", 800_000)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	at := func(b int32, dir string) planner.Placement { return planner.Placement{BrokerID: b, Directory: dir} }
	r, err := planner.Evaluate(c, planner.DefaultFunctions(), []planner.Change{
		{Topic: "t1", Partition: 0, After: []planner.Placement{at(0, "/a"), at(2, "/a")}},
		{Topic: "t1", Partition: 1, After: []planner.Placement{at(0, "/a"), at(2, "/a")}},
		{Topic: "t2", Partition: 0, After: []planner.Placement{at(1, "/a"), at(2, "/b")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	size := r.Migrations[0]
	want := []planner.BrokerCost{{BrokerID: 0, Cost: 700_000}, {BrokerID: 1, Cost: -6_700_000}, {BrokerID: 2, Cost: 6_000_000}}
	if size.TotalCost != 7_500_000 || !reflect.DeepEqual(size.Cost, want) {
		t.Errorf("size migration = %+v, want total 7500000 and %+v", size, want)
	}
	leader := r.Migrations[1]
	if leader.TotalCost != 1 || leader.Cost[0].Cost != 1 || leader.Cost[1].Cost != -1 {
		t.Errorf("leader migration = %+v", leader)
	}
}

// sameResult compares what a result says, not which Search made it.
func sameResult(a, b planner.Result) bool {
	return a.Cost == b.Cost && a.NewCost == b.NewCost && a.Evaluated == b.Evaluated && a.Batch == b.Batch &&
		a.Interrupted == b.Interrupted && reflect.DeepEqual(a.Plan(), b.Plan())
}

// TestCountFunctions: the replica-count and topic-spread costs are balanced like the
// others: a plan brings each far down on a skewed cluster, and the functions' recomputed
// values agree with the plan's newCost (checkResult).
func TestCountFunctions(t *testing.T) {
	c := mustCluster(t, smallConfig(11))
	for _, tc := range []struct {
		text string
		want float64 // the share of the cost the plan must remove
	}{
		{"ReplicaCountCost", 0.9},
		{"TopicSpreadCost", 0.5},
	} {
		fs := functions(t, tc.text)
		r := mustSearch(t, c, planner.Options{Functions: fs, Limit: 20_000, Seed: 1}).Run(context.Background(), 2)
		checkResult(t, c, fs, r)
		if r.NewCost > (1-tc.want)*r.Cost {
			t.Errorf("%s: %v -> %v, want at least %.0f%% less", tc.text, r.Cost, r.NewCost, 100*tc.want)
		}
	}
}
