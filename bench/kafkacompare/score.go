package main

import (
	"fmt"
	"slices"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
	"github.com/seed248d40c9/fulcrum/planner"
)

// Score is what one plan does to a layout, measured the same way for every planner.
type Score struct {
	Cost          float64 // the planner's cost after the plan
	BytesMoved    int64   // bytes copied: each new (broker, directory) of a partition costs its size
	Changed       int     // partitions whose placement changes
	LeadersMoved  int64   // partitions whose preferred leader changes broker
	RackConflicts int     // partitions left with two replicas on one rack although racks allow none
}

// score evaluates changes on c with the planner's own cost and move accounting
// (planner.Evaluate), and counts the rack conflicts of the layout they lead to.
func score(c *planner.Cluster, fs planner.Functions, racks map[int32]string, changes []planner.Change) (Score, error) {
	plan, err := planner.Evaluate(c, fs, changes)
	if err != nil {
		return Score{}, err
	}
	after, err := c.Apply(changes)
	if err != nil {
		return Score{}, err
	}
	s := Score{Cost: plan.NewCost, Changed: len(plan.Changes), RackConflicts: rackConflicts(after, racks)}
	for _, m := range plan.Migrations {
		switch m.Function {
		case planner.MoveCostSize:
			s.BytesMoved = m.TotalCost
		case planner.MoveCostLeader:
			s.LeadersMoved = m.TotalCost
		}
	}
	return s, nil
}

// rackConflicts counts the partitions of c with two replicas on one rack while the cluster
// has at least as many racks as the partition has replicas (so a rack-aware placement
// exists). A broker without a rack is a rack of its own, as in Kafka.
func rackConflicts(c *planner.Cluster, racks map[int32]string) int {
	rackOf := func(b int32) string {
		if r, ok := racks[b]; ok && r != "" {
			return r
		}
		return fmt.Sprintf("broker-%d", b)
	}
	all := map[string]bool{}
	for _, b := range c.Brokers() {
		all[rackOf(b.ID)] = true
	}
	n := 0
	for _, p := range c.Partitions() {
		if len(p.Replicas) > len(all) {
			continue
		}
		seen := map[string]bool{}
		for _, r := range p.Replicas {
			if seen[rackOf(r.BrokerID)] {
				n++
				break
			}
			seen[rackOf(r.BrokerID)] = true
		}
	}
	return n
}

// kafkaChanges turns a kafka-reassign-partitions proposal into planner changes. The tool
// leaves directories to the brokers ("any"): a replica that stays on its broker stays in
// its directory, and a new one goes where Kafka's LogManager puts a new log, the
// directory of the broker with the fewest partitions (first in path order on a tie),
// counting the new replicas already placed.
func kafkaChanges(c *planner.Cluster, proposed kafkacluster.Reassignment) ([]planner.Change, error) {
	type tp struct {
		topic     string
		partition int32
	}
	current := map[tp][]planner.Replica{}
	logs := map[string]int{} // directory -> partitions in it
	for _, p := range c.Partitions() {
		current[tp{p.Topic, p.Partition}] = p.Replicas
		for _, r := range p.Replicas {
			logs[r.Directory]++
		}
	}
	dirs := map[int32][]string{}
	for _, b := range c.Brokers() {
		dirs[b.ID] = b.Dirs // sorted by path
	}
	var out []planner.Change
	for _, p := range proposed.Partitions {
		now, ok := current[tp{p.Topic, p.Partition}]
		if !ok {
			return nil, fmt.Errorf("kafka proposes unknown partition %s-%d", p.Topic, p.Partition)
		}
		ch := planner.Change{Topic: p.Topic, Partition: p.Partition}
		for _, b := range p.Replicas {
			i := slices.IndexFunc(now, func(r planner.Replica) bool { return r.BrokerID == b })
			if i >= 0 {
				ch.After = append(ch.After, planner.Placement{BrokerID: b, Directory: now[i].Directory})
				continue
			}
			ds := dirs[b]
			if len(ds) == 0 {
				return nil, fmt.Errorf("kafka proposes unknown broker %d for %s-%d", b, p.Topic, p.Partition)
			}
			best := ds[0]
			for _, d := range ds[1:] {
				if logs[d] < logs[best] {
					best = d
				}
			}
			logs[best]++
			ch.After = append(ch.After, planner.Placement{BrokerID: b, Directory: best})
		}
		out = append(out, ch)
	}
	return out, nil
}
