// Package kafkaload reads a Kafka cluster's layout with franz-go's kadm into a
// planner.Cluster: brokers and their racks, log directories, every partition with its
// replicas (the first is the preferred leader), leader and ISR, and the size of every replica
// in its directory (DescribeLogDirs). It is the only place the balancer talks to Kafka to
// plan; package planner stays free of any client.
package kafkaload

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/seed248d40c9/fulcrum/planner"
)

// ErrUnavailable wraps every failure to talk to Kafka: unreachable brokers, timeouts,
// request errors. The caller can retry later.
var ErrUnavailable = errors.New("kafka unavailable")

// ErrNotPlannable means Kafka answered, but its layout cannot be planned right now: a
// replica or a log directory is offline, or partitions are being reassigned or moved between
// directories. Planning on such a layout would propose moves from a state about to change.
var ErrNotPlannable = errors.New("kafka layout cannot be planned now")

// errLogNotYet is the ErrNotPlannable of a replica on a live broker that has no log yet:
// a topic or partition created a moment ago, whose logs the brokers create within a
// moment. Load reads again for up to logWait before it gives up; any other refusal is
// answered at once.
var errLogNotYet = errors.New("log not created yet")

// logWait is how long Load waits for the logs of new partitions, and logPoll how often it
// reads again meanwhile.
const (
	logWait = 3 * time.Second
	logPoll = 100 * time.Millisecond
)

// DefaultTimeout bounds one Load when the caller's context has no earlier deadline.
const DefaultTimeout = 10 * time.Second

// Snapshot is one reading of the cluster.
type Snapshot struct {
	// Cluster is the layout as the planner sees it, every topic included (internal ones
	// too: the cost of a layout counts every byte).
	Cluster *planner.Cluster
	// Internal holds the internal topics (__consumer_offsets, __transaction_state, ...).
	// The balancer leaves them out of the default set of topics it may change.
	Internal map[string]bool
	// Racks maps broker id to rack; brokers without a rack are absent.
	Racks map[int32]string
	// States holds the leader and ISR of every partition, by topic then partition.
	States map[string]map[int32]PartitionState
	// ReadAt is when the reading finished.
	ReadAt time.Time
}

// PartitionState is what Kafka says about a partition beyond its placement.
type PartitionState struct {
	Leader int32   `json:"leader"` // -1 when the partition has no leader
	ISR    []int32 `json:"isr"`
}

// DefaultTopics returns the topics the balancer may change when none are named: every
// non-internal topic, sorted.
func (s *Snapshot) DefaultTopics() []string {
	var out []string
	for _, t := range s.Cluster.Topics() {
		if !s.Internal[t] {
			out = append(out, t)
		}
	}
	return out
}

// Loader reads snapshots through a kadm client it does not own.
type Loader struct {
	admin   *kadm.Client
	timeout time.Duration
}

// New returns a Loader using admin; timeout bounds each Load (0 means DefaultTimeout).
func New(admin *kadm.Client, timeout time.Duration) *Loader {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Loader{admin: admin, timeout: timeout}
}

// Load reads the whole cluster: metadata (brokers, racks, topics, replicas, leader, ISR),
// the log directories of every broker with every replica's size, and the ongoing
// reassignments. Errors wrap ErrUnavailable or ErrNotPlannable.
//
// A replica whose log its live broker has not created yet (a topic created a moment ago,
// by anyone, on any topic) is waited for, up to logWait: a request about other topics is
// not refused because one was created just before it.
func (l *Loader) Load(ctx context.Context) (*Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	giveUp := time.Now().Add(logWait)
	for {
		snap, err := l.read(ctx)
		if !errors.Is(err, errLogNotYet) || time.Now().After(giveUp) {
			return snap, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(logPoll):
		}
	}
}

// read is one reading: metadata, log directories, reassignments.
func (l *Loader) read(ctx context.Context) (*Snapshot, error) {

	// Not the client's cache (up to kgo.MetadataMinAge old): a plan may just have ended.
	// Asking for the authorized operations is what makes kadm ask a broker.
	md, err := l.admin.Metadata(kadm.WithAuthorizedOps(ctx))
	if err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrUnavailable, err)
	}
	for _, t := range md.Topics.Sorted() {
		if t.Err != nil {
			return nil, fmt.Errorf("%w: metadata of topic %q: %v", ErrUnavailable, t.Topic, t.Err)
		}
	}
	if len(md.Brokers) == 0 {
		return nil, fmt.Errorf("%w: metadata lists no broker", ErrUnavailable)
	}
	// nil asks every broker for every directory, so empty directories are seen too: they
	// are where the planner moves data to.
	dirs, err := l.admin.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: describe log dirs: %v", ErrUnavailable, err)
	}
	// An empty set would list nothing (kadm sends no request), so pass every topic.
	if topics := md.Topics.TopicsSet(); len(topics) > 0 {
		ongoing, err := l.admin.ListPartitionReassignments(ctx, topics)
		if err != nil {
			return nil, fmt.Errorf("%w: list partition reassignments: %v", ErrUnavailable, err)
		}
		if len(ongoing) > 0 {
			var names []string
			for _, r := range ongoing.Sorted() {
				names = append(names, fmt.Sprintf("%s-%d", r.Topic, r.Partition))
			}
			return nil, fmt.Errorf("%w: reassignment in progress for %s", ErrNotPlannable, abbreviate(names))
		}
	}
	return build(md, dirs)
}

// build turns the answers into a snapshot. It is separate from Load so that it can be
// tested on hand-made answers.
func build(md kadm.Metadata, all kadm.DescribedAllLogDirs) (*Snapshot, error) {
	snap := &Snapshot{
		Internal: map[string]bool{},
		Racks:    map[int32]string{},
		States:   map[string]map[int32]PartitionState{},
		ReadAt:   time.Now(),
	}
	type place struct {
		dir  string
		size int64
	}
	type replicaKey struct {
		topic     string
		partition int32
		broker    int32
	}
	places := map[replicaKey]place{}
	var brokers []planner.Broker
	for _, b := range md.Brokers {
		if b.Rack != nil {
			snap.Racks[b.NodeID] = *b.Rack
		}
		described, ok := all[b.NodeID]
		if !ok {
			return nil, fmt.Errorf("%w: broker %d did not describe its log directories", ErrUnavailable, b.NodeID)
		}
		br := planner.Broker{ID: b.NodeID}
		if b.Rack != nil {
			br.Rack = *b.Rack
		}
		for _, d := range described.Sorted() {
			if d.Err != nil {
				// An offline directory holds replicas nobody can read or move.
				return nil, fmt.Errorf("%w: broker %d log directory %s: %v", ErrNotPlannable, b.NodeID, d.Dir, d.Err)
			}
			br.Dirs = append(br.Dirs, d.Dir)
			// Kafka 3.3+ reports the volume's size; -1 before (and for remote storage):
			// then the capacity stays unknown, never guessed.
			if d.TotalBytes > 0 && d.UsableBytes >= 0 {
				if br.Space == nil {
					br.Space = map[string]planner.DirSpace{}
				}
				br.Space[d.Dir] = planner.DirSpace{Total: d.TotalBytes, Usable: d.UsableBytes}
			}
			var futureErr error
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				if p.IsFuture {
					// A replica being moved to this directory (AlterReplicaLogDirs).
					futureErr = fmt.Errorf("%w: %s-%d is being moved to %s on broker %d",
						ErrNotPlannable, p.Topic, p.Partition, p.Dir, p.Broker)
					return
				}
				places[replicaKey{p.Topic, p.Partition, b.NodeID}] = place{dir: d.Dir, size: p.Size}
			})
			if futureErr != nil {
				return nil, futureErr
			}
		}
		brokers = append(brokers, br)
	}

	live := map[int32]bool{}
	for _, b := range md.Brokers {
		live[b.NodeID] = true
	}
	var partitions []planner.Partition
	for _, t := range md.Topics.Sorted() {
		if t.IsInternal {
			snap.Internal[t.Topic] = true
		}
		states := make(map[int32]PartitionState, len(t.Partitions))
		snap.States[t.Topic] = states
		for _, p := range t.Partitions.Sorted() {
			states[p.Partition] = PartitionState{Leader: p.Leader, ISR: slices.Clone(p.ISR)}
			if len(p.OfflineReplicas) > 0 {
				return nil, fmt.Errorf("%w: %s-%d has offline replicas on brokers %v", ErrNotPlannable, p.Topic, p.Partition, p.OfflineReplicas)
			}
			part := planner.Partition{Topic: p.Topic, Partition: p.Partition}
			for _, b := range p.Replicas {
				pl, ok := places[replicaKey{p.Topic, p.Partition, b}]
				if !ok && live[b] {
					// The broker has not created the log yet: Load reads again for a while.
					return nil, fmt.Errorf("%w: %s-%d has no log on broker %d (%w)", ErrNotPlannable, p.Topic, p.Partition, b, errLogNotYet)
				}
				if !ok {
					return nil, fmt.Errorf("%w: %s-%d has a replica on broker %d, which is down", ErrNotPlannable, p.Topic, p.Partition, b)
				}
				part.Replicas = append(part.Replicas, planner.Replica{BrokerID: b, Directory: pl.dir, Size: pl.size})
			}
			partitions = append(partitions, part)
		}
	}
	c, err := planner.NewCluster(brokers, partitions)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotPlannable, err)
	}
	snap.Cluster = c
	return snap, nil
}

// abbreviate lists at most 5 names, so an error message stays readable on a big cluster.
func abbreviate(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:5], ", "), len(names)-5)
}
