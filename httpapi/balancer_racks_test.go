package httpapi_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkatest"
	"github.com/seed248d40c9/fulcrum/planner"
)

// Hard constraints and leadership-only plans on the real cluster (make test's has 6 brokers
// on 3 racks: more brokers than racks, so a layout can put two replicas on one rack). Each
// test executes what GET /balancer proposes and reads Kafka afterwards, so it takes the
// cluster for itself (newExecEnv).

// racksEnv is an execution environment that knows the cluster's racks.
type racksEnv struct {
	*execEnv
	racks map[int32]string
}

func newRacksEnv(t *testing.T) *racksEnv {
	t.Helper()
	e := newExecEnv(t, fastExec)
	l := kafkatest.Layout(t, kafkatest.Bootstrap(t)) // no second lock: the test holds the cluster

	if l.Racks() < 3 || len(l.Brokers) <= l.Racks() {
		t.Fatalf("cluster of %d brokers on %d racks: these tests need more brokers than racks and 3 racks or more (make test starts 6 on 3)", len(l.Brokers), l.Racks())
	}
	return &racksEnv{execEnv: e, racks: kafkatest.LayoutRacks(l)}
}

// wantRackAware fails for every placement of the plan that puts two replicas of a partition
// on one rack.
func (e *racksEnv) wantRackAware(what string, changes []planner.Change) {
	e.t.Helper()
	for _, ch := range changes {
		var brokers []int32
		for _, p := range ch.After {
			brokers = append(brokers, p.BrokerID)
		}
		if r := kafkatest.SharedRack(e.racks, brokers); r != "" {
			e.t.Errorf("%s: %s-%d placed on brokers %v, two of them on %s", what, ch.Topic, ch.Partition, brokers, r)
		}
	}
}

// execute posts the report of GET /balancer as it is (with a throttle that does not slow
// the test), waits for the plan to finish and checks Kafka has the plan's layout.
func (e *racksEnv) execute(rep balancerReport) balancer.PlanStatus {
	e.t.Helper()
	raw, err := json.Marshal(rep)
	if err != nil {
		e.t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		e.t.Fatal(err)
	}
	body["throttle"] = "50MiB"
	token := e.post(body)
	st := e.waitDone(token, 2*time.Minute)
	if st.Phase != balancer.PhaseExecuted || st.Error != "" {
		e.t.Fatalf("plan %s ended %s: %s", token, st.Phase, st.Error)
	}
	var changes []balancer.PlanChange
	for _, c := range rep.Changes {
		changes = append(changes, balancer.PlanChange{Topic: c.Topic, Partition: c.Partition, After: c.After})
	}
	e.wantLayout(changes)
	return st
}

// TestBalancerRepairsRacks: two topics laid out with two replicas of every partition on one
// rack (RF 2 and RF 3, the cluster has 3 racks) get a plan that puts every partition of them
// on distinct racks, and says it repaired racks; no plan asked for, whatever its seed or
// cost function, places two replicas on one rack; once the plan is executed, Kafka's layout
// of both topics is rack-aware.
func TestBalancerRepairsRacks(t *testing.T) {
	e := newRacksEnv(t)
	l := kafkatest.Layout(t, kafkatest.Bootstrap(t))
	pairs := e.topic("racks2", 128<<10, kafkatest.RackBreaking(t, l, 6, 2)...)
	triples := e.topic("racks3", 128<<10, kafkatest.RackBreaking(t, l, 3, 3)...)
	for _, topic := range []string{pairs, triples} {
		if v := kafkatest.RackViolations(t, e.adm, e.racks, topic); len(v) != len(e.layout(topic)) {
			t.Fatalf("%s laid out with %d partitions sharing a rack, want all: %v", topic, len(v), v)
		}
	}
	sizesSettled(t, e.adm, pairs, triples)

	query := "topics=" + url.QueryEscape(pairs+","+triples) + "&seed=1"
	rep := e.s.balance(query)
	e.wantRackAware(query, rep.Changes)
	changed := map[string]int{}
	for _, ch := range rep.Changes {
		changed[ch.Topic]++
	}
	if changed[pairs] != 6 || changed[triples] != 3 || rep.Constraints.Repaired[planner.ConstraintRacks] == 0 ||
		len(rep.Constraints.Unmet) > 0 {
		t.Fatalf("plan changes %v partitions (want all 6 of %s and 3 of %s), constraints %+v", changed, pairs, triples, rep.Constraints)
	}

	// No plan breaks racks: other seeds, other cost functions, balance to the byte, every
	// topic of the cluster (others' topics included) in scope.
	for _, q := range []string{
		query + "&seed=2", query + "&seed=3",
		query + "&function=ReplicaLeaderCost", query + "&function=DirectorySizeCost", query + "&minGain=0",
		"seed=4", "seed=5&minGain=0",
	} {
		other := e.s.balance(q)
		e.wantRackAware(q, other.Changes)
	}
	if t.Failed() {
		t.FailNow()
	}

	e.execute(rep)
	for _, topic := range []string{pairs, triples} {
		if v := kafkatest.RackViolations(t, e.adm, e.racks, topic); len(v) > 0 {
			t.Errorf("after the plan, Kafka still has replicas sharing racks: %s", strings.Join(v, "; "))
		}
	}
	e.wantNoThrottle(pairs, triples)
}

// TestBalancerDrainsExcludedBroker: with excludeBrokers=N, the plan moves every replica of
// the topic off broker N, puts none there and keeps racks distinct; once it is executed,
// Kafka has no replica of the topic on N.
func TestBalancerDrainsExcludedBroker(t *testing.T) {
	e := newRacksEnv(t)
	const drained = 4
	// Rack-aware to start with (4 is on rack-a with 1): 6 of the 8 partitions on broker 4,
	// leading 3 of them.
	topic := e.topic("drain", 128<<10,
		[]int32{4, 2}, []int32{3, 4}, []int32{4, 5}, []int32{6, 4},
		[]int32{4, 3}, []int32{2, 4}, []int32{1, 2}, []int32{5, 6})
	if v := kafkatest.RackViolations(t, e.adm, e.racks, topic); len(v) > 0 {
		t.Fatalf("layout meant rack-aware: %v", v)
	}
	sizesSettled(t, e.adm, topic)

	query := fmt.Sprintf("topics=%s&excludeBrokers=%d&seed=1", url.QueryEscape(topic), drained)
	rep := e.s.balance(query)
	e.wantRackAware(query, rep.Changes)
	left := map[int32]bool{}
	for p, pl := range e.layout(topic) {
		if slices.Contains(pl.replicas, drained) {
			left[p] = true
		}
	}
	for _, ch := range rep.Changes {
		for _, p := range ch.After {
			if p.BrokerID == drained {
				t.Fatalf("%s: %s-%d placed on %v, broker %d included", query, ch.Topic, ch.Partition, ch.After, drained)
			}
		}
		delete(left, ch.Partition)
	}
	if len(left) > 0 || rep.Constraints.Repaired[planner.ConstraintExcluded] != 6 || len(rep.Constraints.Unmet) > 0 {
		t.Fatalf("%s: partitions %v left on broker %d, constraints %+v", query, left, drained, rep.Constraints)
	}
	// Another seed, another function: broker 4 still gets nothing.
	for _, q := range []string{query + "&seed=2", query + "&function=ReplicaLeaderCost&minGain=0"} {
		for _, ch := range e.s.balance(q).Changes {
			if slices.ContainsFunc(ch.After, func(p planner.Placement) bool { return p.BrokerID == drained }) {
				t.Fatalf("%s: %s-%d placed on %v", q, ch.Topic, ch.Partition, ch.After)
			}
		}
	}

	e.execute(rep)
	for p, pl := range e.layout(topic) {
		if slices.Contains(pl.replicas, drained) || pl.leader == drained {
			t.Errorf("after the plan, %s-%d is on %v (leader %d), broker %d was drained", topic, p, pl.replicas, pl.leader, drained)
		}
	}
	if v := kafkatest.RackViolations(t, e.adm, e.racks, topic); len(v) > 0 {
		t.Errorf("after the drain: %s", strings.Join(v, "; "))
	}
}

// TestBalancerLeadershipOnly: maxMoveBytes=0 answers 200 with a plan whose every change keeps
// its replicas (brokers and directories) and only reorders them, and whose migrations copy
// nothing; executed, it moves no byte and Kafka ends with the plan's leaders.
func TestBalancerLeadershipOnly(t *testing.T) {
	e := newRacksEnv(t)
	// Every leader on broker 1: leadership alone can balance them.
	topic := e.topic("leaders", 64<<10, []int32{1, 2}, []int32{1, 3}, []int32{1, 5}, []int32{1, 6}, []int32{1, 2}, []int32{1, 3})
	sizesSettled(t, e.adm, topic)
	before := e.layout(topic)

	query := "topics=" + url.QueryEscape(topic) + "&maxMoveBytes=0&seed=1"
	rep := e.s.balance(query)
	if len(rep.Changes) == 0 || rep.NewCost >= rep.Cost {
		t.Fatalf("%s: %d changes, cost %v → %v; want a cheaper leadership plan", query, len(rep.Changes), rep.Cost, rep.NewCost)
	}
	for _, ch := range rep.Changes {
		for _, p := range ch.After {
			if !slices.ContainsFunc(ch.Before, func(r planner.Replica) bool { return r.BrokerID == p.BrokerID && r.Directory == p.Directory }) {
				t.Fatalf("%s: %s-%d %+v → %+v puts a replica in a new place", query, ch.Topic, ch.Partition, ch.Before, ch.After)
			}
		}
		if len(ch.After) != len(ch.Before) || ch.After[0].BrokerID == ch.Before[0].BrokerID {
			t.Fatalf("%s: %s-%d %+v → %+v is not a change of leader", query, ch.Topic, ch.Partition, ch.Before, ch.After)
		}
	}
	if rep.MovedBytes != 0 || rep.MovedPartitions != 0 || len(rep.Migrations) == 0 ||
		rep.Migrations[0].Function != planner.MoveCostSize || rep.Migrations[0].TotalCost != 0 {
		t.Fatalf("%s: movedBytes %d movedPartitions %d migrations %+v", query, rep.MovedBytes, rep.MovedPartitions, rep.Migrations)
	}
	for _, c := range rep.Migrations[0].Cost {
		if c.Cost != 0 {
			t.Fatalf("%s: size migration of broker %d is %d bytes", query, c.BrokerID, c.Cost)
		}
	}
	e.wantRackAware(query, rep.Changes)

	st := e.execute(rep)
	if st.BytesTotal != 0 || st.BytesMoved != 0 {
		t.Fatalf("leadership-only plan copied: %+v", st)
	}
	for p, pl := range e.layout(topic) {
		if !sameSet(pl.replicas, before[p].replicas) || !maps.Equal(pl.dirs, before[p].dirs) {
			t.Errorf("%s-%d: replicas %v in %v, were %v in %v", topic, p, pl.replicas, pl.dirs, before[p].replicas, before[p].dirs)
		}
	}
}

func sameSet(a, b []int32) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
