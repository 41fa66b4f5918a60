package planner

import (
	"fmt"
)

// Result is a batch's (or, after Best, the search's) best layout. It is small: it holds the
// layout, not the list of changes, so that batches that lose cost nothing to report. Call
// Plan on the one that wins.
type Result struct {
	// Cost is the cost of the original layout, every topic counted.
	Cost float64
	// NewCost is the cost of the best layout; it equals Cost when none better was found.
	NewCost float64
	// Evaluated is the number of candidates evaluated (summed by Best).
	Evaluated int
	// Batch is the index of the batch that found this layout.
	Batch int
	// Interrupted is set when the context ended the search before its limit.
	Interrupted bool

	search    *Search
	slotDir   []int32 // directory of every replica slot; owned by the result
	objective float64 // what Best compares: NewCost plus the byte penalty
}

// HasPlan reports whether the search found a strictly cheaper layout, or had to repair a
// broken hard constraint.
func (r Result) HasPlan() bool {
	return r.search != nil && (r.NewCost < r.Cost || r.search.repaired.total() > 0)
}

// Plan is a result in the shape of the balancer's report (README "Balancer walk-through").
type Plan struct {
	// Cost is the cost of the original layout, every topic counted.
	Cost float64 `json:"cost"`
	// NewCost is the cost after the changes.
	NewCost float64 `json:"newCost"`
	// Changes lists the partitions the plan changes, in (topic, partition) order.
	Changes []Change `json:"changes"`
	// Migrations are the move costs: "size" then "leader".
	Migrations []MigrationCost `json:"migrations"`
	// MovedBytes is the bytes the plan copies (the "size" migration's total) and
	// MovedPartitions the number of partitions that get a replica in a new place; the
	// other changes only change the preferred leader.
	MovedBytes      int64 `json:"movedBytes"`
	MovedPartitions int   `json:"movedPartitions"`
	// Constraints says what the plan repaired and what it could not (see constraint.go).
	Constraints Constraints `json:"constraints"`
}

// Change is the new placement of one partition. The first replica of Before and of After
// is the preferred leader; follower order carries no meaning. It is also what the balancer
// executes (POST /balancer takes the changes of a report as they are): there Before is
// optional, a check of the current placement, and its sizes are not read.
type Change struct {
	Topic     string      `json:"topic"`
	Partition int32       `json:"partition"`
	Before    []Replica   `json:"before"`
	After     []Placement `json:"after"`
}

// MigrationCost is the cost of carrying out a plan, per broker.
//
// "size" (unit "byte"): a broker gains the planning size of each replica put in one of its
// directories that the partition did not use, and loses the size of each replica taken out
// of one. So a positive cost is data moving in, a negative one data moving out; moves
// between brokers sum to 0 over the brokers, and a move between directories of one broker
// nets 0 there. TotalCost is the bytes copied, directory moves included.
//
// "leader" (unit "partition leaders"): +1 for each preferred leader a broker gains, −1 for
// each it loses; TotalCost is the number of partitions whose leader changes broker.
type MigrationCost struct {
	Function  string       `json:"function"`
	TotalCost int64        `json:"totalCost"`
	Cost      []BrokerCost `json:"cost"`
	Unit      string       `json:"unit"`
}

// BrokerCost is one broker's share of a migration cost. Every broker is listed, by id.
type BrokerCost struct {
	BrokerID int32 `json:"brokerId"`
	Cost     int64 `json:"cost"`
}

// Names and units of the move costs.
const (
	MoveCostSize       = "size"
	MoveCostSizeUnit   = "byte"
	MoveCostLeader     = "leader"
	MoveCostLeaderUnit = "partition leaders"
)

// Plan lists the changes that turn the original layout into the result's, with their
// migration costs, in O(replicas). The zero Result gives an empty Plan.
func (r Result) Plan() Plan {
	if r.search == nil {
		return Plan{Changes: []Change{}}
	}
	return r.search.plan(r.slotDir, r.NewCost)
}

func (s *Search) plan(slotDir []int32, newCost float64) Plan {
	c := s.cluster
	r := Plan{Cost: s.cost, NewCost: newCost}
	size := MigrationCost{Function: MoveCostSize, Unit: MoveCostSizeUnit, Cost: make([]BrokerCost, len(c.brokers))}
	leader := MigrationCost{Function: MoveCostLeader, Unit: MoveCostLeaderUnit, Cost: make([]BrokerCost, len(c.brokers))}
	for bi, br := range c.brokers {
		size.Cost[bi].BrokerID = br.ID
		leader.Cost[bi].BrokerID = br.ID
	}
	var changed []int32
	replicas := 0
	for _, pi := range s.movable {
		start, end := c.slotStart[pi], c.slotStart[pi+1]
		before, after := c.slotDir[start:end], slotDir[start:end]
		differs := before[0] != after[0]
		moved := false
		for _, d := range after {
			if !hasDir(before, d) {
				differs, moved = true, true
				size.Cost[c.dirBroker[d]].Cost += c.size[pi]
				size.TotalCost += c.size[pi]
			}
		}
		for _, d := range before {
			if !hasDir(after, d) {
				size.Cost[c.dirBroker[d]].Cost -= c.size[pi]
			}
		}
		if !differs {
			continue
		}
		if from, to := c.slotBroker[start], c.dirBroker[slotDir[start]]; from != to {
			leader.Cost[from].Cost--
			leader.Cost[to].Cost++
			leader.TotalCost++
		}
		changed = append(changed, pi)
		replicas += int(end - start)
		r.MovedPartitions += b2i(moved)
	}
	// Three allocations for all the changes, not two per change: a batch with thousands of
	// changes would otherwise spend more time in the allocator than in the search.
	r.Changes = make([]Change, len(changed))
	befores := make([]Replica, 0, replicas)
	afters := make([]Placement, 0, replicas)
	for i, pi := range changed {
		p := &c.partitions[pi]
		from := len(befores)
		befores = append(befores, p.Replicas...)
		for _, d := range slotDir[c.slotStart[pi]:c.slotStart[pi+1]] {
			afters = append(afters, Placement{BrokerID: c.brokers[c.dirBroker[d]].ID, Directory: c.dirPath[d]})
		}
		r.Changes[i] = Change{Topic: p.Topic, Partition: p.Partition, Before: befores[from:len(befores):len(befores)], After: afters[from:len(afters):len(afters)]}
	}
	r.Migrations = []MigrationCost{size, leader}
	r.MovedBytes = size.TotalCost
	r.Constraints = Constraints{Repaired: s.repaired.asMap(), Unmet: s.unmet(slotDir), Notes: s.notes}
	return r
}

// Evaluate scores a plan given from outside (the seed design lets a client post its own
// changes): the cost before and after, the migration costs, and the changes normalised
// (Before filled in from the cluster, partitions that end up unchanged left out). Changes
// must keep each partition's replication factor.
func Evaluate(c *Cluster, fs Functions, changes []Change) (Plan, error) {
	s, err := newSearch(c, Options{Functions: fs, Limit: 1}, false)
	if err != nil {
		return Plan{}, err
	}
	applied, err := c.Apply(changes)
	if err != nil {
		return Plan{}, err
	}
	for pi := range c.partitions {
		if c.slotStart[pi+1]-c.slotStart[pi] != applied.slotStart[pi+1]-applied.slotStart[pi] {
			p := c.partitions[pi]
			return Plan{}, fmt.Errorf("partition %s-%d: a plan may not change the replication factor", p.Topic, p.Partition)
		}
	}
	newCost := applied.costOf(applied.loads(applied.slotBroker, applied.slotDir), s.weights)
	return s.plan(applied.slotDir, newCost), nil
}
