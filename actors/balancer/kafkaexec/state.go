package kafkaexec

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// State is one reading of some topics, everything an executor compares with its target.
type State struct {
	// Brokers are the brokers in metadata: registered and not fenced, so alive.
	Brokers map[int32]bool
	// Dirs lists each broker's online log directories (every directory, even empty ones).
	Dirs map[int32][]string
	// Silent are the brokers in metadata that did not describe their log directories in
	// time (a broker that just died stays in metadata until its session expires): their
	// logs are missing from Partitions.
	Silent map[int32]error
	// Topics are the requested topics that exist.
	Topics map[string]bool
	// Partitions of the existing requested topics.
	Partitions map[TP]*PartitionInfo
	ReadAt     time.Time
}

// PartitionInfo is a partition's placement, leadership, reassignment and logs.
type PartitionInfo struct {
	Replicas []int32 // in Kafka's order: the first is the preferred leader
	ISR      []int32
	Offline  []int32
	Leader   int32 // -1 without a leader
	// Reassigning is set while a reassignment is in flight; Adding and Removing are its
	// replicas being added and removed.
	Reassigning      bool
	Adding, Removing []int32
	// Logs are the partition's replica logs by broker, from DescribeLogDirs.
	Logs map[int32]ReplicaLog
}

// ReplicaLog is one broker's log of a partition.
type ReplicaLog struct {
	Dir  string
	Size int64
	// FutureDir is set while the log is being moved to another directory of the broker
	// (AlterReplicaLogDirs); FutureSize is how much the future log holds so far.
	FutureDir  string
	FutureSize int64
}

// State reads the given topics: metadata, reassignments in flight, and every live broker's
// log directories with the topics' logs. Errors wrap ErrUnavailable.
func (a *Admin) State(ctx context.Context, topics []string) (*State, error) {
	ctx, cancel := a.bound(ctx)
	defer cancel()
	md, err := a.adm.Metadata(fresh(ctx), topics...)
	if err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrUnavailable, err)
	}
	st := &State{
		Brokers: map[int32]bool{}, Dirs: map[int32][]string{}, Topics: map[string]bool{}, Silent: map[int32]error{},
		Partitions: map[TP]*PartitionInfo{},
	}
	for _, b := range md.Brokers {
		st.Brokers[b.NodeID] = true
	}
	set := kadm.TopicsSet{}
	for _, t := range md.Topics.Sorted() {
		if errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
			continue
		}
		if t.Err != nil {
			return nil, fmt.Errorf("%w: metadata of topic %q: %v", ErrUnavailable, t.Topic, t.Err)
		}
		st.Topics[t.Topic] = true
		for _, p := range t.Partitions.Sorted() {
			st.Partitions[TP{p.Topic, p.Partition}] = &PartitionInfo{
				Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR), Offline: slices.Clone(p.OfflineReplicas),
				Leader: p.Leader, Logs: map[int32]ReplicaLog{},
			}
			set.Add(p.Topic, p.Partition)
		}
	}
	if len(set) == 0 {
		st.ReadAt = time.Now()
		return st, nil
	}
	ongoing, err := a.adm.ListPartitionReassignments(ctx, set)
	if err != nil {
		return nil, fmt.Errorf("%w: list partition reassignments: %v", ErrUnavailable, err)
	}
	ongoing.Each(func(r kadm.ListPartitionReassignmentsResponse) {
		if p := st.Partitions[TP{r.Topic, r.Partition}]; p != nil {
			p.Reassigning, p.Adding, p.Removing = true, r.AddingReplicas, r.RemovingReplicas
		}
	})
	// Each broker in turn, not DescribeAllLogDirs: with a topic filter, that one asks only
	// the brokers hosting the topics, and the executor must see every broker's directories.
	// The filter still lists every online directory of the broker.
	brokers := make([]int32, 0, len(st.Brokers))
	for b := range st.Brokers {
		brokers = append(brokers, b)
	}
	slices.Sort(brokers)
	described := make([]kadm.DescribedLogDirs, len(brokers))
	errs := make([]error, len(brokers))
	var wg sync.WaitGroup
	for i, b := range brokers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A dead broker must not hold up the reading of the others for the whole call.
			c, cancel := context.WithTimeout(ctx, min(a.timeout, brokerTimeout))
			defer cancel()
			described[i], errs[i] = a.adm.DescribeBrokerLogDirs(c, b, set)
		}()
	}
	wg.Wait()
	for i, broker := range brokers {
		if errs[i] != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: describe log dirs of broker %d: %v", ErrUnavailable, broker, errs[i])
			}
			st.Silent[broker] = errs[i]
			continue
		}
		for _, d := range described[i].Sorted() {
			if d.Err != nil {
				continue // an offline directory: nothing can be placed there
			}
			st.Dirs[broker] = append(st.Dirs[broker], d.Dir)
			d.Topics.Each(func(dp kadm.DescribedLogDirPartition) {
				p := st.Partitions[TP{dp.Topic, dp.Partition}]
				if p == nil {
					return
				}
				l := p.Logs[broker]
				if dp.IsFuture {
					l.FutureDir, l.FutureSize = d.Dir, dp.Size
				} else {
					l.Dir, l.Size = d.Dir, dp.Size
				}
				p.Logs[broker] = l
			})
		}
	}
	st.ReadAt = time.Now()
	return st, nil
}

// fresh makes kadm.Metadata ask a broker instead of answering from the client's cache
// (up to kgo.MetadataMinAge old, 5 s by default): an executor polling for a change must see
// it when it happens. Asking for the authorized operations is what bypasses the cache.
func fresh(ctx context.Context) context.Context { return kadm.WithAuthorizedOps(ctx) }
