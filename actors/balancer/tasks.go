package balancer

import (
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
)

// The pure part of execution: turning a plan into per-partition tasks against a reading of
// Kafka, deciding what is done, and choosing batches. No I/O, no actor.

var randRead = rand.Read

// task is one partition of a plan, fixed when the plan is accepted.
type task struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Target is the wanted replica list, the preferred leader first.
	Target []int32 `json:"target"`
	// Dirs are the wanted directories, for the replicas whose directory the plan gives.
	Dirs map[int32]string `json:"dirs,omitempty"`
	// Original is the replica list when the plan was accepted, and Leader its leader
	// then (absent in records written before it was kept).
	Original []int32 `json:"original"`
	Leader   *int32  `json:"leader,omitempty"`
	// Size is the partition's largest replica log when the plan was accepted.
	Size int64 `json:"size"`
	// DirMoves are the brokers that kept the partition but had it in another directory than
	// the wanted one when the plan was accepted: each copies Size bytes.
	DirMoves []int32 `json:"dirMoves,omitempty"`
}

func (t *task) tp() kafkaexec.TP { return kafkaexec.TP{Topic: t.Topic, Partition: t.Partition} }

// adding are the brokers that get a new replica.
func (t *task) adding() []int32 { return minus(t.Target, t.Original) }

// bytes is what the task copies.
func (t *task) bytes() int64 { return t.Size * int64(len(t.adding())+len(t.DirMoves)) }

// slots are the brokers a reassignment of this task keeps busy: those gaining or losing a
// replica, and the leader that serves the new replicas their data. Reordering replicas
// moves no data and takes no slot.
func (t *task) slots() []int32 {
	add, remove := t.adding(), minus(t.Original, t.Target)
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	out := append(slices.Clone(add), remove...)
	if len(add) > 0 && len(t.Original) > 0 && !slices.Contains(out, t.Original[0]) {
		out = append(out, t.Original[0])
	}
	return out
}

// reassigned: Kafka's replica list is the target, in order, every replica in sync, and no
// reassignment is in flight.
func (t *task) reassigned(p *kafkaexec.PartitionInfo) bool {
	return p != nil && !p.Reassigning && slices.Equal(p.Replicas, t.Target) && containsAll(p.ISR, t.Target)
}

// dirsPlaced: every replica whose directory the plan gives is there, with no future log.
func (t *task) dirsPlaced(p *kafkaexec.PartitionInfo) bool {
	if p == nil {
		return false
	}
	for b, d := range t.Dirs {
		if l, ok := p.Logs[b]; !ok || l.Dir != d || l.FutureDir != "" {
			return false
		}
	}
	return true
}

// placed: the task is done but for the leader election.
func (t *task) placed(p *kafkaexec.PartitionInfo) bool {
	if !t.reassigned(p) || !t.dirsPlaced(p) {
		return false
	}
	for _, b := range t.Target {
		if p.Logs[b].FutureDir != "" {
			return false
		}
	}
	return true
}

// revertTo is where a cancelled or failed plan leaves the partition, given where Kafka
// has it once nothing is in flight: as planned if it is there already (the target order,
// the target's first replica leading), otherwise as it was if it has its original replicas
// (the original order and leader); nil if neither (something else changed it). The leader
// is -1 when it cannot be restored by a preferred election: the original leader was not the
// first replica, or the record does not say which it was.
func (t *task) revertTo(p *kafkaexec.PartitionInfo) (order []int32, leader int32) {
	sameSet := func(a, b []int32) bool { return len(a) == len(b) && containsAll(a, b) }
	switch {
	case slices.Equal(p.Replicas, t.Target):
		return t.Target, t.Target[0]
	case sameSet(p.Replicas, t.Original):
		if t.Leader != nil && *t.Leader == t.Original[0] {
			return t.Original, t.Original[0]
		}
		return t.Original, -1
	case sameSet(p.Replicas, t.Target):
		return t.Target, t.Target[0]
	}
	return nil, -1
}

// moved estimates the bytes copied so far: what the new replicas hold and what the future
// logs of directory moves hold, each capped at the partition's size.
func (t *task) moved(p *kafkaexec.PartitionInfo) int64 {
	if p == nil {
		return 0
	}
	if t.placed(p) {
		return t.bytes()
	}
	var n int64
	for _, b := range t.adding() {
		if l, ok := p.Logs[b]; ok {
			n += min(l.Size+l.FutureSize, t.Size)
		}
	}
	for _, b := range t.DirMoves {
		l := p.Logs[b]
		switch want := t.Dirs[b]; {
		case l.Dir == want && l.FutureDir == "":
			n += t.Size
		case l.FutureDir == want:
			n += min(l.FutureSize, t.Size)
		}
	}
	return n
}

// buildTasks checks a plan against a reading of Kafka and turns it into tasks and the
// throttle it needs. Errors are ErrInvalid (the plan names what does not exist) or
// ErrConflict (the cluster is not in the state the plan expects, or is busy); every
// invalid change is reported before any conflict.
func buildTasks(spec PlanSpec, st *kafkaexec.State) ([]task, *kafkaexec.Throttle, error) {
	if len(st.Silent) > 0 {
		return nil, nil, errorf(ErrUnavailable, "brokers %v did not describe their log directories: %v",
			sortedBrokers(st.Silent), st.Silent[sortedBrokers(st.Silent)[0]])
	}
	var invalid, conflict []string
	for _, c := range spec.Changes {
		tp := kafkaexec.TP{Topic: c.Topic, Partition: c.Partition}
		if !st.Topics[c.Topic] {
			invalid = append(invalid, fmt.Sprintf("unknown topic %q", c.Topic))
			continue
		}
		p := st.Partitions[tp]
		if p == nil {
			invalid = append(invalid, fmt.Sprintf("unknown partition %s", tp))
			continue
		}
		for _, r := range c.After {
			if !st.Brokers[r.BrokerID] {
				invalid = append(invalid, fmt.Sprintf("%s: unknown broker %d (not in the cluster, or offline)", tp, r.BrokerID))
			} else if r.Directory != "" && !slices.Contains(st.Dirs[r.BrokerID], r.Directory) {
				invalid = append(invalid, fmt.Sprintf("%s: broker %d has no log directory %q (it has %s)",
					tp, r.BrokerID, r.Directory, strings.Join(st.Dirs[r.BrokerID], ", ")))
			}
		}
		// While a reassignment is in flight Kafka lists the replicas being added too (the
		// metadata may not show them yet: it is not read with the reassignments).
		if rf := len(minus(p.Replicas, p.Adding)); len(c.After) != rf && !spec.AllowReplicationFactorChange {
			invalid = append(invalid, fmt.Sprintf("%s: after has %d replicas but the partition has %d: the plan would change its replication factor (set allowReplicationFactorChange to do so)",
				tp, len(c.After), rf))
		}
		if msg := beforeMismatch(c, p); msg != "" {
			conflict = append(conflict, fmt.Sprintf("%s: %s", tp, msg))
		}
		switch {
		case p.Reassigning:
			conflict = append(conflict, fmt.Sprintf("%s: a reassignment is in progress (adding %v, removing %v)", tp, p.Adding, p.Removing))
		case len(p.Offline) > 0:
			conflict = append(conflict, fmt.Sprintf("%s: replicas on brokers %v are offline", tp, p.Offline))
		case p.Leader < 0:
			conflict = append(conflict, fmt.Sprintf("%s: has no leader", tp))
		}
		for _, b := range sortedBrokers(p.Logs) {
			if l := p.Logs[b]; l.FutureDir != "" {
				conflict = append(conflict, fmt.Sprintf("%s: being moved to %s on broker %d", tp, l.FutureDir, b))
			}
		}
	}
	if len(invalid) > 0 {
		return nil, nil, errorf(ErrInvalid, "%s", abbreviate(invalid))
	}
	if len(conflict) > 0 {
		return nil, nil, errorf(ErrConflict, "%s", abbreviate(conflict))
	}

	tasks := make([]task, 0, len(spec.Changes))
	th := &kafkaexec.Throttle{Rate: spec.Throttle, Leaders: map[string][]string{}, Followers: map[string][]string{}}
	brokers := map[int32]bool{} // those the copies go through
	for _, c := range spec.Changes {
		p := st.Partitions[kafkaexec.TP{Topic: c.Topic, Partition: c.Partition}]
		leader := p.Leader
		t := task{Topic: c.Topic, Partition: c.Partition, Original: slices.Clone(p.Replicas), Leader: &leader}
		for _, r := range c.After {
			t.Target = append(t.Target, r.BrokerID)
			if r.Directory != "" {
				if t.Dirs == nil {
					t.Dirs = map[int32]string{}
				}
				t.Dirs[r.BrokerID] = r.Directory
			}
		}
		for _, l := range p.Logs {
			t.Size = max(t.Size, l.Size)
		}
		for _, b := range t.Target {
			if l, ok := p.Logs[b]; ok && t.Dirs[b] != "" && l.Dir != t.Dirs[b] {
				t.DirMoves = append(t.DirMoves, b)
				th.LogDirs = true
				brokers[b] = true
			}
		}
		if add := t.adding(); len(add) > 0 {
			for _, b := range t.Original {
				th.Leaders[t.Topic] = append(th.Leaders[t.Topic], replicaEntry(t.Partition, b))
				brokers[b] = true
			}
			for _, b := range add {
				th.Followers[t.Topic] = append(th.Followers[t.Topic], replicaEntry(t.Partition, b))
				brokers[b] = true
			}
		}
		tasks = append(tasks, t)
	}
	// A plan that copies nothing (it only reorders replicas) sets no throttle.
	if spec.Throttle == 0 || len(brokers) == 0 {
		return tasks, nil, nil
	}
	th.Brokers = sortedBrokers(brokers)
	return tasks, th, nil
}

// beforeMismatch compares what before gives with the partition: its first broker must be
// the preferred leader, its brokers the replicas, and each directory given the replica's.
func beforeMismatch(c PlanChange, p *kafkaexec.PartitionInfo) string {
	if len(c.Before) == 0 {
		return ""
	}
	var brokers []int32
	for _, r := range c.Before {
		brokers = append(brokers, r.BrokerID)
	}
	sorted := func(s []int32) []int32 { s = slices.Clone(s); slices.Sort(s); return s }
	if brokers[0] != p.Replicas[0] || !slices.Equal(sorted(brokers), sorted(p.Replicas)) {
		return fmt.Sprintf("before lists brokers %v, but the replicas are %v (the preferred leader first)", brokers, p.Replicas)
	}
	for _, r := range c.Before {
		if r.Directory != "" && p.Logs[r.BrokerID].Dir != r.Directory {
			return fmt.Sprintf("before puts the replica of broker %d in %s, but it is in %s", r.BrokerID, r.Directory, p.Logs[r.BrokerID].Dir)
		}
	}
	return ""
}

func replicaEntry(partition, broker int32) string {
	return strconv.Itoa(int(partition)) + ":" + strconv.Itoa(int(broker))
}

// pickBatch chooses, in plan order, the candidates that fit in the free slots: each broker
// in a candidate's slots may be busy with at most limit moves, counting those in flight.
// busy is updated with the chosen ones.
func pickBatch(candidates []*task, busy map[int32]int, limit, max int) []*task {
	var out []*task
	for _, t := range candidates {
		if len(out) == max {
			break
		}
		s := t.slots()
		if !slices.ContainsFunc(s, func(b int32) bool { return busy[b] >= limit }) {
			for _, b := range s {
				busy[b]++
			}
			out = append(out, t)
		}
	}
	return out
}

// dirMove is one replica to move to another directory of its broker.
type dirMove struct {
	tp     kafkaexec.TP
	broker int32
	dir    string
}

func minus(a, b []int32) []int32 {
	var out []int32
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func containsAll(set, of []int32) bool {
	for _, x := range of {
		if !slices.Contains(set, x) {
			return false
		}
	}
	return true
}

func sortedBrokers[V any](m map[int32]V) []int32 { return slices.Sorted(maps.Keys(m)) }

func taskTopics(tasks []task) []string {
	set := map[string]bool{}
	for _, t := range tasks {
		set[t.Topic] = true
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// abbreviate joins at most 5 messages, so an error stays readable for a big plan.
func abbreviate(msgs []string) string {
	if len(msgs) <= 5 {
		return strings.Join(msgs, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(msgs[:5], "; "), len(msgs)-5)
}
