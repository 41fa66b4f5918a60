package planner

import "slices"

// Result is a batch's (or, after Best, the search's) best plan.
type Result struct {
	// Cost is the cost of the original layout, every topic counted.
	Cost float64 `json:"cost"`
	// NewCost is the cost after the changes; it equals Cost when no better layout was found.
	NewCost float64 `json:"newCost"`
	// Changes lists the partitions the plan changes, in (topic, partition) order.
	Changes []Change `json:"changes"`
	// Migrations are the move costs: "size" then "leader".
	Migrations []MigrationCost `json:"migrations"`
	// Evaluated is the number of candidates evaluated (summed by Best).
	Evaluated int `json:"evaluated"`
	// Batch is the index of the batch that found this plan.
	Batch int `json:"batch"`
	// Interrupted is set when the context ended the search before its limit.
	Interrupted bool `json:"interrupted,omitempty"`
}

// HasPlan reports whether the search found a strictly cheaper layout.
func (r *Result) HasPlan() bool { return len(r.Changes) > 0 && r.NewCost < r.Cost }

// Change is the new placement of one partition. The first replica of Before and of After
// is the preferred leader; follower order carries no meaning.
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

// result describes a layout against the original. It runs once per batch, in O(replicas).
func (s *Search) result(b Batch, slotBroker, slotDir []int32, newCost float64, evaluated int, interrupted bool) Result {
	c := s.cluster
	r := Result{Cost: s.cost, NewCost: newCost, Changes: []Change{}, Evaluated: evaluated, Batch: b.Index, Interrupted: interrupted}
	size := MigrationCost{Function: MoveCostSize, Unit: MoveCostSizeUnit, Cost: make([]BrokerCost, len(c.brokers))}
	leader := MigrationCost{Function: MoveCostLeader, Unit: MoveCostLeaderUnit, Cost: make([]BrokerCost, len(c.brokers))}
	for bi, br := range c.brokers {
		size.Cost[bi].BrokerID = br.ID
		leader.Cost[bi].BrokerID = br.ID
	}
	for _, pi := range s.movable {
		start, end := c.slotStart[pi], c.slotStart[pi+1]
		before, after := c.slotDir[start:end], slotDir[start:end]
		changed := before[0] != after[0]
		for _, d := range after {
			if !hasDir(before, d) {
				changed = true
				size.Cost[c.dirBroker[d]].Cost += c.size[pi]
				size.TotalCost += c.size[pi]
			}
		}
		for _, d := range before {
			if !hasDir(after, d) {
				size.Cost[c.dirBroker[d]].Cost -= c.size[pi]
			}
		}
		if !changed {
			continue
		}
		if from, to := c.slotBroker[start], slotBroker[start]; from != to {
			leader.Cost[from].Cost--
			leader.Cost[to].Cost++
			leader.TotalCost++
		}
		p := &c.partitions[pi]
		ch := Change{Topic: p.Topic, Partition: p.Partition, Before: slices.Clone(p.Replicas), After: make([]Placement, len(after))}
		for i, d := range after {
			ch.After[i] = Placement{BrokerID: c.brokers[c.dirBroker[d]].ID, Directory: c.dirPath[d]}
		}
		r.Changes = append(r.Changes, ch)
	}
	r.Migrations = []MigrationCost{size, leader}
	return r
}
