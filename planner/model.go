package planner

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// Broker is a Kafka broker, its rack and its log directories.
type Broker struct {
	ID   int32    `json:"id"`
	Dirs []string `json:"dirs"`
	// Rack is the broker's broker.rack; empty when it has none, and then the broker is a
	// rack of its own for rack awareness.
	Rack string `json:"rack,omitempty"`
	// Space is the capacity of the volume of each directory, by path, as Kafka reports it
	// (DescribeLogDirs, Kafka 3.3+). A directory absent here has an unknown capacity, and
	// the disk usage constraint is not checked on it.
	Space map[string]DirSpace `json:"space,omitempty"`
}

// DirSpace is the size of a log directory's volume and what is still free on it.
type DirSpace struct {
	Total  int64 `json:"total"`
	Usable int64 `json:"usable"`
}

// Replica is a replica as it is now: where it lives and how many bytes it holds.
type Replica struct {
	BrokerID  int32  `json:"brokerId"`
	Directory string `json:"directory"`
	Size      int64  `json:"size"`
}

// Placement is where a replica should live. A plan's "after" lists carry no size.
type Placement struct {
	BrokerID  int32  `json:"brokerId"`
	Directory string `json:"directory"`
}

// Partition is one topic partition. Replicas[0] is the preferred leader.
type Partition struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Replicas  []Replica `json:"replicas"`
}

// Cluster is an immutable snapshot of a Kafka cluster's layout, indexed for the search.
//
// Brokers are kept sorted by id, their directories sorted by path and the partitions sorted
// by (topic, partition), so that the same layout read twice (Kafka answers in map order)
// gives the same search for the same seed.
//
// Every replica slot refers to a directory by a global index; a directory belongs to exactly
// one broker, so the directory alone says where a replica lives.
type Cluster struct {
	brokers    []Broker
	brokerByID map[int32]int32

	dirPath   []string   // directory index -> path
	dirBroker []int32    // directory index -> broker index
	dirStart  []int32    // broker index -> first directory index; dirStart[len(brokers)] = len(dirPath)
	dirSpace  []DirSpace // directory index -> capacity; Total 0 when unknown

	brokerRack []int32 // broker index -> rack index; a broker without a rack has a rack of its own
	hasRacks   bool    // some broker has a rack: otherwise every broker is its own rack

	partitions []Partition
	topics     map[string][]int32 // topic -> partition indexes
	topicNames []string           // topic index -> name, sorted
	partTopic  []int32            // partition index -> topic index
	size       []int64            // partition index -> planning size in bytes
	slotStart  []int32            // partition index -> first slot; slotStart[len(partitions)] = slots
	slotBroker []int32            // slot -> broker index
	slotDir    []int32            // slot -> directory index
	slotPart   []int32            // slot -> partition index
}

// NewCluster checks and indexes a layout. It fails if a replica names an unknown broker or a
// directory its broker does not have, if a partition lists a broker twice or has no replica,
// or if ids, paths or partitions are duplicated. An offline replica (no directory) is an
// error: the caller should not plan while a broker is down.
//
// The planning size of a partition is the largest of its replica sizes: a replica moved to a
// new place copies the whole log, and using one size per partition makes the bytes moved out
// of brokers equal the bytes moved in. Negative sizes (Kafka's "unknown") count as 0.
func NewCluster(brokers []Broker, partitions []Partition) (*Cluster, error) {
	c := &Cluster{brokerByID: make(map[int32]int32, len(brokers)), topics: map[string][]int32{}}

	c.brokers = make([]Broker, len(brokers))
	for i, b := range brokers {
		dirs := slices.Clone(b.Dirs)
		slices.Sort(dirs)
		c.brokers[i] = Broker{ID: b.ID, Dirs: dirs, Rack: b.Rack, Space: maps.Clone(b.Space)}
	}
	slices.SortFunc(c.brokers, func(a, b Broker) int { return cmp.Compare(a.ID, b.ID) })
	dirIndex := map[int32]map[string]int32{}
	rackIndex := map[string]int32{}
	var racks int32
	for bi, b := range c.brokers {
		if _, dup := c.brokerByID[b.ID]; dup {
			return nil, fmt.Errorf("broker %d is listed twice", b.ID)
		}
		if len(b.Dirs) == 0 {
			return nil, fmt.Errorf("broker %d has no log directory", b.ID)
		}
		c.brokerByID[b.ID] = int32(bi)
		rack, ok := rackIndex[b.Rack]
		if !ok || b.Rack == "" {
			rack = racks
			racks++
			if b.Rack != "" {
				rackIndex[b.Rack] = rack
				c.hasRacks = true
			}
		}
		c.brokerRack = append(c.brokerRack, rack)
		c.dirStart = append(c.dirStart, int32(len(c.dirPath)))
		dirIndex[b.ID] = map[string]int32{}
		for _, d := range b.Dirs {
			if d == "" {
				return nil, fmt.Errorf("broker %d has an empty log directory path", b.ID)
			}
			if _, dup := dirIndex[b.ID][d]; dup {
				return nil, fmt.Errorf("broker %d lists log directory %q twice", b.ID, d)
			}
			dirIndex[b.ID][d] = int32(len(c.dirPath))
			c.dirPath = append(c.dirPath, d)
			c.dirBroker = append(c.dirBroker, int32(bi))
			space := b.Space[d]
			if space.Total <= 0 || space.Usable < 0 || space.Usable > space.Total {
				space = DirSpace{} // Kafka's -1, or nonsense: unknown, never guessed
			}
			c.dirSpace = append(c.dirSpace, space)
		}
		for d := range b.Space {
			if _, ok := dirIndex[b.ID][d]; !ok {
				return nil, fmt.Errorf("broker %d: space given for unknown log directory %q", b.ID, d)
			}
		}
	}
	c.dirStart = append(c.dirStart, int32(len(c.dirPath)))

	c.partitions = make([]Partition, len(partitions))
	for i, p := range partitions {
		c.partitions[i] = Partition{Topic: p.Topic, Partition: p.Partition, Replicas: slices.Clone(p.Replicas)}
	}
	slices.SortFunc(c.partitions, comparePartitions)
	c.size = make([]int64, len(c.partitions))
	c.slotStart = make([]int32, 0, len(c.partitions)+1)
	for pi, p := range c.partitions {
		if pi > 0 && comparePartitions(c.partitions[pi-1], p) == 0 {
			return nil, fmt.Errorf("partition %s-%d is listed twice", p.Topic, p.Partition)
		}
		if len(p.Replicas) == 0 {
			return nil, fmt.Errorf("partition %s-%d has no replica", p.Topic, p.Partition)
		}
		c.topics[p.Topic] = append(c.topics[p.Topic], int32(pi))
		c.slotStart = append(c.slotStart, int32(len(c.slotBroker)))
		for ri, r := range p.Replicas {
			bi, ok := c.brokerByID[r.BrokerID]
			if !ok {
				return nil, fmt.Errorf("partition %s-%d: replica on unknown broker %d", p.Topic, p.Partition, r.BrokerID)
			}
			di, ok := dirIndex[r.BrokerID][r.Directory]
			if !ok {
				return nil, fmt.Errorf("partition %s-%d: broker %d has no log directory %q", p.Topic, p.Partition, r.BrokerID, r.Directory)
			}
			for _, prev := range p.Replicas[:ri] {
				if prev.BrokerID == r.BrokerID {
					return nil, fmt.Errorf("partition %s-%d: broker %d holds two replicas", p.Topic, p.Partition, r.BrokerID)
				}
			}
			c.slotBroker = append(c.slotBroker, bi)
			c.slotDir = append(c.slotDir, di)
			c.slotPart = append(c.slotPart, int32(pi))
			c.size[pi] = max(c.size[pi], r.Size)
		}
	}
	c.slotStart = append(c.slotStart, int32(len(c.slotBroker)))
	c.partTopic = make([]int32, len(c.partitions))
	for pi, p := range c.partitions {
		if pi == 0 || p.Topic != c.partitions[pi-1].Topic {
			c.topicNames = append(c.topicNames, p.Topic)
		}
		c.partTopic[pi] = int32(len(c.topicNames) - 1)
	}
	return c, nil
}

func comparePartitions(a, b Partition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// Brokers returns the brokers sorted by id, with sorted directories.
func (c *Cluster) Brokers() []Broker {
	out := make([]Broker, len(c.brokers))
	for i, b := range c.brokers {
		out[i] = Broker{ID: b.ID, Dirs: slices.Clone(b.Dirs), Rack: b.Rack, Space: maps.Clone(b.Space)}
	}
	return out
}

// Partitions returns a copy of the partitions sorted by (topic, partition).
func (c *Cluster) Partitions() []Partition {
	out := make([]Partition, len(c.partitions))
	for i, p := range c.partitions {
		out[i] = Partition{Topic: p.Topic, Partition: p.Partition, Replicas: slices.Clone(p.Replicas)}
	}
	return out
}

// Topics returns the topic names, sorted.
func (c *Cluster) Topics() []string {
	out := make([]string, 0, len(c.topics))
	for t := range c.topics {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// BrokerLoad is what one broker holds, as the cost functions see it.
type BrokerLoad struct {
	BrokerID int32     `json:"brokerId"`
	Bytes    int64     `json:"bytes"`
	Leaders  int64     `json:"leaders"`
	Replicas int64     `json:"replicas"`
	Dirs     []DirLoad `json:"dirs"`
}

// DirLoad is the number of bytes in one log directory.
type DirLoad struct {
	Directory string `json:"directory"`
	Bytes     int64  `json:"bytes"`
}

// Loads returns the per-broker and per-directory aggregates of the current layout, counting
// planning sizes (see NewCluster) and preferred leaders.
func (c *Cluster) Loads() []BrokerLoad {
	l := c.loads(c.slotBroker, c.slotDir)
	out := make([]BrokerLoad, len(c.brokers))
	for bi, b := range c.brokers {
		out[bi] = BrokerLoad{BrokerID: b.ID, Bytes: l.brokerBytes[bi], Leaders: l.brokerLeaders[bi], Replicas: l.brokerReplicas[bi]}
		for di := c.dirStart[bi]; di < c.dirStart[bi+1]; di++ {
			out[bi].Dirs = append(out[bi].Dirs, DirLoad{Directory: c.dirPath[di], Bytes: l.dirBytes[di]})
		}
	}
	return out
}

// loads holds the aggregates the cost functions are computed from.
type loads struct {
	brokerBytes    []int64
	brokerLeaders  []int64
	dirBytes       []int64
	brokerReplicas []int64
	topicReplicas  []int64 // topic index × brokers + broker index -> replicas
}

// loads computes the aggregates of a layout from scratch, in O(replicas).
func (c *Cluster) loads(slotBroker, slotDir []int32) loads {
	l := loads{
		brokerBytes:    make([]int64, len(c.brokers)),
		brokerLeaders:  make([]int64, len(c.brokers)),
		dirBytes:       make([]int64, len(c.dirPath)),
		brokerReplicas: make([]int64, len(c.brokers)),
		topicReplicas:  make([]int64, len(c.topicNames)*len(c.brokers)),
	}
	n := int32(len(c.brokers))
	for pi := range c.partitions {
		first, end := c.slotStart[pi], c.slotStart[pi+1]
		l.brokerLeaders[slotBroker[first]]++
		for s := first; s < end; s++ {
			l.brokerBytes[slotBroker[s]] += c.size[pi]
			l.dirBytes[slotDir[s]] += c.size[pi]
			l.brokerReplicas[slotBroker[s]]++
			l.topicReplicas[c.partTopic[pi]*n+slotBroker[s]]++
		}
	}
	return l
}

// Apply returns a new cluster with the changes applied; c is unchanged. When a change has a
// non-empty Before, it must match the current placement (preferred leader and the set of
// (broker, directory)), which catches a plan made on a stale snapshot. A replica placed on
// a broker that held the partition keeps that replica's size; a new one gets the planning
// size, which is the size it will have once copied.
func (c *Cluster) Apply(changes []Change) (*Cluster, error) {
	index := make(map[topicPartition]int, len(c.partitions))
	for i, p := range c.partitions {
		index[topicPartition{p.Topic, p.Partition}] = i
	}
	parts := c.Partitions()
	seen := map[topicPartition]bool{}
	for _, ch := range changes {
		key := topicPartition{ch.Topic, ch.Partition}
		pi, ok := index[key]
		if !ok {
			return nil, fmt.Errorf("change for unknown partition %s-%d", ch.Topic, ch.Partition)
		}
		if seen[key] {
			return nil, fmt.Errorf("two changes for partition %s-%d", ch.Topic, ch.Partition)
		}
		seen[key] = true
		if len(ch.After) == 0 {
			return nil, fmt.Errorf("change for partition %s-%d has no replica after", ch.Topic, ch.Partition)
		}
		current := parts[pi].Replicas
		if len(ch.Before) > 0 && !samePlacement(placementsOf(ch.Before), placementsOf(current)) {
			return nil, fmt.Errorf("partition %s-%d: placement changed since the plan was made", ch.Topic, ch.Partition)
		}
		after := make([]Replica, len(ch.After))
		for i, a := range ch.After {
			after[i] = Replica{BrokerID: a.BrokerID, Directory: a.Directory, Size: c.size[pi]}
			for _, r := range current {
				if r.BrokerID == a.BrokerID {
					after[i].Size = r.Size
				}
			}
		}
		parts[pi].Replicas = after
	}
	return NewCluster(c.brokers, parts)
}

type topicPartition struct {
	topic     string
	partition int32
}

func placementsOf(rs []Replica) []Placement {
	out := make([]Placement, len(rs))
	for i, r := range rs {
		out[i] = Placement{BrokerID: r.BrokerID, Directory: r.Directory}
	}
	return out
}

// samePlacement reports whether two replica lists have the same preferred leader and the
// same set of (broker, directory); follower order does not matter, as in Kafka.
func samePlacement(a, b []Placement) bool {
	if len(a) != len(b) || len(a) == 0 || a[0] != b[0] {
		return false
	}
	for _, x := range a[1:] {
		if !slices.Contains(b[1:], x) {
			return false
		}
	}
	return true
}
