package planner_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/plantest"
)

// rackAware checks a layout as an operator would: with R racks over the brokers allowed
// (a broker without a rack is a rack of its own), each partition uses min(RF, R) racks and
// no rack holds more than ⌈RF/R⌉ of its replicas. It returns the partitions that do not.
func rackAware(brokers []planner.Broker, parts []planner.Partition, excluded []int32, topics []string) []string {
	rack := map[int32]string{}
	racks := map[string]bool{}
	for _, b := range brokers {
		rack[b.ID] = b.Rack
		if b.Rack == "" {
			rack[b.ID] = fmt.Sprint("own-", b.ID)
		}
		if !slices.Contains(excluded, b.ID) {
			racks[rack[b.ID]] = true
		}
	}
	var bad []string
	for _, p := range parts {
		if len(topics) > 0 && !slices.Contains(topics, p.Topic) {
			continue
		}
		count := map[string]int{}
		for _, r := range p.Replicas {
			count[rack[r.BrokerID]]++
		}
		rf, n := len(p.Replicas), len(racks)
		most := (rf + n - 1) / n
		ok := len(count) >= min(rf, n)
		for _, c := range count {
			ok = ok && c <= most
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s-%d %v", p.Topic, p.Partition, count))
		}
	}
	return bad
}

func apply(t *testing.T, c *planner.Cluster, p planner.Plan) *planner.Cluster {
	t.Helper()
	applied, err := c.Apply(p.Changes)
	if err != nil {
		t.Fatal(err)
	}
	return applied
}

// TestRackAwareProperty: over random skewed layouts that ignore racks, with racks ≥ RF and
// racks < RF, every plan (each strategy, several cost functions) leaves every partition
// rack-aware, and says how many replicas it relocated for that.
func TestRackAwareProperty(t *testing.T) {
	for seed := uint64(1); seed <= 24; seed++ {
		brokers := 4 + int(seed%6)
		racks := 2 + int(seed%3)
		rf := 2 + int(seed%3)
		if rf > brokers-1 {
			rf = brokers - 1
		}
		cfg := plantest.Config{
			Brokers: brokers, DirsPerBroker: 2, Topics: 4, Partitions: 60 + int(seed)*10, ReplicationFactor: rf,
			Skew: 2, EmptyBrokers: 1, MeanPartitionBytes: 1 << 20, Seed: seed, Racks: racks,
		}
		c := mustCluster(t, cfg)
		before := rackAware(c.Brokers(), c.Partitions(), nil, nil)
		if len(before) == 0 {
			t.Fatalf("seed %d: the generated layout is rack-aware already; the test proves nothing", seed)
		}
		text := functionSets[int(seed)%len(functionSets)]
		strategy := []planner.Strategy{planner.HillClimb, planner.Shuffle}[seed%2]
		fs := functions(t, text)
		r := mustSearch(t, c, planner.Options{Functions: fs, Limit: 2000 + int(seed%3)*10000, Seed: seed, Strategy: strategy}).Run(context.Background(), 2)
		plan := r.Plan()
		checkPlan(t, c, fs, plan)
		after := apply(t, c, plan)
		if bad := rackAware(after.Brokers(), after.Partitions(), nil, nil); len(bad) > 0 {
			t.Fatalf("seed %d (%d brokers, %d racks, RF %d, %s, %s): %d partitions not rack-aware after the plan, e.g. %v",
				seed, brokers, racks, rf, text, strategy, len(bad), bad[0])
		}
		if plan.Constraints.Repaired[planner.ConstraintRacks] < len(before) || len(plan.Constraints.Unmet) > 0 {
			t.Fatalf("seed %d: %d partitions broke racks; constraints %+v", seed, len(before), plan.Constraints)
		}
	}
}

// TestRackRepairComesFirst: a rack-aware-breaking layout that is otherwise perfectly
// balanced gets a plan anyway, even though the repair raises the cost.
func TestRackRepairComesFirst(t *testing.T) {
	brokers := []planner.Broker{
		{ID: 1, Dirs: []string{"/d"}, Rack: "a"}, {ID: 2, Dirs: []string{"/d"}, Rack: "a"},
		{ID: 3, Dirs: []string{"/d"}, Rack: "b"}, {ID: 4, Dirs: []string{"/d"}, Rack: "b"},
	}
	rep := func(b int32) planner.Replica { return planner.Replica{BrokerID: b, Directory: "/d", Size: 100} }
	parts := []planner.Partition{
		{Topic: "t", Partition: 0, Replicas: []planner.Replica{rep(1), rep(2)}}, // both on rack a
		{Topic: "t", Partition: 1, Replicas: []planner.Replica{rep(3), rep(4)}}, // both on rack b
	}
	c, err := planner.NewCluster(brokers, parts)
	if err != nil {
		t.Fatal(err)
	}
	fs := functions(t, "ReplicaSizeCost,ReplicaLeaderCost")
	r := mustSearch(t, c, planner.Options{Functions: fs, Limit: 1000}).Run(context.Background(), 1)
	if !r.HasPlan() {
		t.Fatal("no plan for a layout that breaks rack awareness")
	}
	plan := r.Plan()
	checkPlan(t, c, fs, plan)
	if bad := rackAware(c.Brokers(), apply(t, c, plan).Partitions(), nil, nil); len(bad) > 0 {
		t.Fatalf("not repaired: %v", bad)
	}
	if plan.Constraints.Repaired[planner.ConstraintRacks] != 2 || plan.MovedPartitions != 2 || plan.MovedBytes != 200 {
		t.Fatalf("repaired %v, moved %d partitions and %d bytes; want 2 replicas of 2 partitions, 200 bytes",
			plan.Constraints.Repaired, plan.MovedPartitions, plan.MovedBytes)
	}
}

// diskCluster: brokers 1 and 2 hold every partition (100 bytes each); broker 3 is new,
// with a directory /a whose volume is nearly full of other files and a directory /b whose
// capacity Kafka does not report. Broker 1's /a is above 80% of its volume.
func diskCluster(t *testing.T, space bool) *planner.Cluster {
	t.Helper()
	brokers := []planner.Broker{
		{ID: 1, Dirs: []string{"/a", "/b"}}, {ID: 2, Dirs: []string{"/a", "/b"}}, {ID: 3, Dirs: []string{"/a", "/b"}},
	}
	if space {
		// 1:/a holds 1,000 bytes of replicas on a 1,200-byte volume: 83% used.
		brokers[0].Space = map[string]planner.DirSpace{"/a": {Total: 1200, Usable: 200}, "/b": {Total: 1e6, Usable: 1e6 - 500}}
		brokers[1].Space = map[string]planner.DirSpace{"/a": {Total: 1e6, Usable: 1e6 - 500}, "/b": {Total: 1e6, Usable: 1e6 - 500}}
		// 3:/a: 750 of 1,000 bytes used by other files: 50 bytes below 80%, less than a replica.
		brokers[2].Space = map[string]planner.DirSpace{"/a": {Total: 1000, Usable: 250}}
	}
	var parts []planner.Partition
	for p := range 10 {
		dir := []string{"/a", "/b"}[p%2]
		if p < 2 {
			dir = "/a"
		}
		parts = append(parts, planner.Partition{Topic: "t", Partition: int32(p), Replicas: []planner.Replica{
			{BrokerID: 1, Directory: dir, Size: 100}, {BrokerID: 2, Directory: dir, Size: 100},
		}})
	}
	c, err := planner.NewCluster(brokers, parts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dirBytes(c *planner.Cluster) map[string]int64 {
	out := map[string]int64{}
	for _, b := range c.Loads() {
		for _, d := range b.Dirs {
			out[fmt.Sprint(b.BrokerID, ":", d.Directory)] = d.Bytes
		}
	}
	return out
}

// TestDiskCapacity: a directory near full receives nothing, one above the threshold is
// brought under it, and a directory of unknown capacity is not checked, which the plan
// says.
func TestDiskCapacity(t *testing.T) {
	c := diskCluster(t, true)
	if got := dirBytes(c)["1:/a"]; got != 600 {
		t.Fatalf("1:/a holds %d bytes, want 600", got)
	}
	for _, text := range functionSets {
		fs := functions(t, text)
		for seed := range uint64(5) {
			plan := mustSearch(t, c, planner.Options{Functions: fs, Limit: 3000, Seed: seed}).Run(context.Background(), 2).Plan()
			checkPlan(t, c, fs, plan)
			after := dirBytes(apply(t, c, plan))
			if after["3:/a"] != 0 {
				t.Fatalf("%s seed %d: the nearly full 3:/a received %d bytes", text, seed, after["3:/a"])
			}
			// The volume of 1:/a holds 1,000 bytes, 600 of them its replicas: with the 400
			// others, its replicas may fill 0.8·1200 − 400 = 560 bytes.
			if after["1:/a"] > 960-400 {
				t.Fatalf("%s seed %d: 1:/a ends with %d bytes of replicas, above its limit of 560", text, seed, after["1:/a"])
			}
			if plan.Constraints.Repaired[planner.ConstraintCapacity] == 0 || len(plan.Constraints.Unmet) > 0 {
				t.Fatalf("%s seed %d: constraints %+v", text, seed, plan.Constraints)
			}
			if len(plan.Constraints.Notes) != 1 || !strings.Contains(plan.Constraints.Notes[0], "1 log directories (3:/b)") {
				t.Fatalf("%s seed %d: notes %q should name the directories without a capacity", text, seed, plan.Constraints.Notes)
			}
		}
	}
}

// TestDiskCapacityUnknown: when Kafka reports no capacity, the plan says it did not check.
func TestDiskCapacityUnknown(t *testing.T) {
	c := diskCluster(t, false)
	plan := mustSearch(t, c, planner.Options{Functions: planner.DefaultFunctions(), Limit: 1000}).Run(context.Background(), 1).Plan()
	if n := plan.Constraints.Notes; len(n) != 1 || !strings.Contains(n[0], "any log directory") {
		t.Fatalf("notes %q", n)
	}
	if len(plan.Constraints.Repaired) != 0 {
		t.Fatalf("repaired %v with no capacity known", plan.Constraints.Repaired)
	}
}

// TestExcludeBrokers: every replica of the topics in scope leaves the excluded brokers and
// none arrives; the other topics stay where they are.
func TestExcludeBrokers(t *testing.T) {
	cfg := smallConfig(3)
	cfg.Racks = 3
	c := mustCluster(t, cfg)
	topics := []string{"topic-000", "topic-001", "topic-002", "topic-003"}
	cases := []struct {
		exclude []int32
		topics  []string
	}{
		{exclude: []int32{1}},
		{exclude: []int32{1, 2}},
		{exclude: []int32{6}}, // the empty broker: nothing to drain, nothing may arrive
		{exclude: []int32{2}, topics: topics},
	}
	for _, tc := range cases {
		fs := functions(t, "ReplicaSizeCost,ReplicaLeaderCost")
		plan := mustSearch(t, c, planner.Options{Functions: fs, Limit: 3000, Seed: 1, ExcludeBrokers: tc.exclude, Topics: tc.topics}).
			Run(context.Background(), 2).Plan()
		checkPlan(t, c, fs, plan)
		after := apply(t, c, plan)
		var stay, left, others int
		for i, p := range after.Partitions() {
			inScope := len(tc.topics) == 0 || slices.Contains(tc.topics, p.Topic)
			for _, r := range p.Replicas {
				if !slices.Contains(tc.exclude, r.BrokerID) {
					continue
				}
				if inScope {
					stay++
				} else {
					others++
				}
			}
			if !inScope && !slices.Equal(p.Replicas, c.Partitions()[i].Replicas) {
				t.Fatalf("exclude %v: %s-%d is out of scope but changed", tc.exclude, p.Topic, p.Partition)
			}
		}
		for _, p := range c.Partitions() {
			for _, r := range p.Replicas {
				if slices.Contains(tc.exclude, r.BrokerID) && (len(tc.topics) == 0 || slices.Contains(tc.topics, p.Topic)) {
					left++
				}
			}
		}
		if stay != 0 || plan.Constraints.Repaired[planner.ConstraintExcluded] != left || len(plan.Constraints.Unmet) > 0 {
			t.Fatalf("exclude %v: %d replicas stay, %d had to leave; constraints %+v", tc.exclude, stay, left, plan.Constraints)
		}
		if bad := rackAware(after.Brokers(), after.Partitions(), tc.exclude, tc.topics); len(bad) > 0 {
			t.Fatalf("exclude %v: not rack-aware: %v", tc.exclude, bad[0])
		}
		if len(tc.topics) > 0 && others == 0 {
			t.Fatalf("exclude %v: no replica of another topic on the excluded brokers; the scope case proves nothing", tc.exclude)
		}
	}
}

// TestUnmetIsReported: a drain that the budget cannot pay for is partly done, and the
// plan says what stays.
func TestUnmetIsReported(t *testing.T) {
	c := mustCluster(t, smallConfig(4))
	plan := mustSearch(t, c, planner.Options{Functions: planner.DefaultFunctions(), Limit: 100, ExcludeBrokers: []int32{1}, MaxMoves: 5}).
		Run(context.Background(), 1).Plan()
	if plan.Constraints.Repaired[planner.ConstraintExcluded] != 5 || len(plan.Constraints.Unmet) != 1 ||
		!strings.Contains(plan.Constraints.Unmet[0], "stay on excluded brokers") {
		t.Fatalf("constraints %+v", plan.Constraints)
	}
}

func TestConstraintOptionsRejected(t *testing.T) {
	c := mustCluster(t, smallConfig(1))
	for _, o := range []planner.Options{
		{ExcludeBrokers: []int32{99}},
		{ExcludeBrokers: []int32{1, 2, 3, 4, 5, 6}},
		{MaxDiskUsage: 1.5},
		{MaxDiskUsage: -0.1},
		{MinGain: -1},
	} {
		o.Functions, o.Limit = planner.DefaultFunctions(), 10
		if _, err := planner.NewSearch(c, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// TestLeadershipOnly: a leadership-only plan keeps every partition's replicas where they
// are and only picks another preferred leader among them; it copies nothing.
func TestLeadershipOnly(t *testing.T) {
	c := mustCluster(t, smallConfig(5))
	for _, text := range functionSets {
		fs := functions(t, text)
		r := mustSearch(t, c, planner.Options{Functions: fs, Limit: 3000, Seed: 2, LeadershipOnly: true}).Run(context.Background(), 2)
		plan := r.Plan()
		checkPlan(t, c, fs, plan)
		if plan.MovedBytes != 0 || plan.MovedPartitions != 0 || plan.Migrations[0].TotalCost != 0 {
			t.Fatalf("%s: moved %d bytes, %d partitions", text, plan.MovedBytes, plan.MovedPartitions)
		}
		for _, ch := range plan.Changes {
			var before, after []string
			for _, b := range ch.Before {
				before = append(before, fmt.Sprint(b.BrokerID, b.Directory))
			}
			for _, a := range ch.After {
				after = append(after, fmt.Sprint(a.BrokerID, a.Directory))
			}
			slices.Sort(before)
			slices.Sort(after)
			if !slices.Equal(before, after) || ch.Before[0].BrokerID == ch.After[0].BrokerID {
				t.Fatalf("%s: %s-%d %v -> %v is not a change of leader among the same replicas", text, ch.Topic, ch.Partition, ch.Before, ch.After)
			}
		}
		// Only the leader cost can improve without copying.
		if strings.Contains(text, "ReplicaLeaderCost") != r.HasPlan() {
			t.Fatalf("%s: has plan %v (%v -> %v)", text, r.HasPlan(), r.Cost, r.NewCost)
		}
	}
}

// TestTargetBrokers: with target brokers, only they receive replicas; the rest of the
// cluster only sees leaders change among current replicas.
func TestTargetBrokers(t *testing.T) {
	c := mustCluster(t, smallConfig(6)) // broker 6 is new and empty
	fs := functions(t, "ReplicaSizeCost,ReplicaLeaderCost")
	for seed := range uint64(3) {
		r := mustSearch(t, c, planner.Options{Functions: fs, Limit: 5000, Seed: seed, TargetBrokers: []int32{6}}).Run(context.Background(), 2)
		plan := r.Plan()
		checkPlan(t, c, fs, plan)
		if plan.MovedPartitions == 0 {
			t.Fatalf("seed %d: nothing moved to the empty target broker", seed)
		}
		for _, ch := range plan.Changes {
			for _, a := range ch.After {
				arrives := !slices.ContainsFunc(ch.Before, func(r planner.Replica) bool { return r.BrokerID == a.BrokerID && r.Directory == a.Directory })
				if arrives && a.BrokerID != 6 {
					t.Fatalf("seed %d: %s-%d gets a replica on broker %d, not a target", seed, ch.Topic, ch.Partition, a.BrokerID)
				}
			}
		}
	}
	for _, o := range []planner.Options{{TargetBrokers: []int32{99}}, {TargetBrokers: []int32{6}, ExcludeBrokers: []int32{6}}} {
		o.Functions, o.Limit = fs, 10
		if _, err := planner.NewSearch(c, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}
