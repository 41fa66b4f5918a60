package kafkaexec

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// AlterDirs asks broker to put its logs of the given partitions in the given directories:
// an existing log is moved there (a future log is created and fills up); for a log the
// broker does not have yet, the broker remembers the directory for when a reassignment
// creates it and answers kerr.ReplicaNotAvailable. The map holds each partition's error.
func (a *Admin) AlterDirs(ctx context.Context, broker int32, dirs map[TP]string) (map[TP]error, error) {
	ctx, cancel := a.bound(ctx)
	defer cancel()
	req := kadm.AlterReplicaLogDirsReq{}
	for tp, dir := range dirs {
		s := kadm.TopicsSet{}
		s.Add(tp.Topic, tp.Partition)
		req.Add(dir, s)
	}
	resp, err := a.adm.AlterBrokerReplicaLogDirs(ctx, broker, req)
	if err != nil {
		return nil, fmt.Errorf("alter replica log dirs on broker %d: %w", broker, err)
	}
	out := map[TP]error{}
	resp.Each(func(r kadm.AlterReplicaLogDirsResponse) { out[TP{r.Topic, r.Partition}] = r.Err })
	return out, nil
}

// Reassign sets the replicas of each partition (the first is the preferred leader). The map
// holds each partition's error.
func (a *Admin) Reassign(ctx context.Context, targets map[TP][]int32) (map[TP]error, error) {
	return a.alterAssignments(ctx, targets)
}

// CancelReassign cancels the reassignments in flight of the given partitions: Kafka puts
// back their original replicas. A partition with nothing in flight is not an error.
func (a *Admin) CancelReassign(ctx context.Context, tps []TP) (map[TP]error, error) {
	targets := make(map[TP][]int32, len(tps))
	for _, tp := range tps {
		targets[tp] = nil
	}
	out, err := a.alterAssignments(ctx, targets)
	for tp, e := range out {
		if errors.Is(e, kerr.NoReassignmentInProgress) {
			out[tp] = nil
		}
	}
	return out, err
}

func (a *Admin) alterAssignments(ctx context.Context, targets map[TP][]int32) (map[TP]error, error) {
	ctx, cancel := a.bound(ctx)
	defer cancel()
	out := map[TP]error{}
	for _, chunk := range chunks(targets) {
		req := kadm.AlterPartitionAssignmentsReq{}
		for _, tp := range chunk {
			if b := targets[tp]; b == nil {
				req.CancelAssign(tp.Topic, tp.Partition)
			} else {
				req.Assign(tp.Topic, tp.Partition, b)
			}
		}
		resp, err := a.adm.AlterPartitionAssignments(ctx, req)
		if err != nil {
			return out, fmt.Errorf("alter partition assignments: %w", err)
		}
		resp.Each(func(r kadm.AlterPartitionAssignmentsResponse) {
			if r.Err != nil && r.ErrMessage != "" {
				out[TP{r.Topic, r.Partition}] = fmt.Errorf("%w: %s", r.Err, r.ErrMessage)
				return
			}
			out[TP{r.Topic, r.Partition}] = r.Err
		})
	}
	return out, nil
}

// ElectPreferred makes the preferred replica (the first) the leader of each partition. A
// partition already led by it is not an error.
func (a *Admin) ElectPreferred(ctx context.Context, tps []TP) (map[TP]error, error) {
	ctx, cancel := a.bound(ctx)
	defer cancel()
	out := map[TP]error{}
	set := map[TP][]int32{}
	for _, tp := range tps {
		set[tp] = nil
	}
	for _, chunk := range chunks(set) {
		s := kadm.TopicsSet{}
		for _, tp := range chunk {
			s.Add(tp.Topic, tp.Partition)
		}
		resp, err := a.adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, s)
		if err != nil {
			return out, fmt.Errorf("elect leaders: %w", err)
		}
		for _, ps := range resp {
			for _, r := range ps {
				if errors.Is(r.Err, kerr.ElectionNotNeeded) {
					r.Err = nil
				}
				out[TP{r.Topic, r.Partition}] = r.Err
			}
		}
	}
	return out, nil
}

// chunks splits the partitions, sorted, into requests of at most maxPerRequest.
func chunks(m map[TP][]int32) [][]TP {
	tps := make([]TP, 0, len(m))
	for tp := range m {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	var out [][]TP
	for len(tps) > 0 {
		n := min(len(tps), maxPerRequest)
		out = append(out, tps[:n])
		tps = tps[n:]
	}
	return out
}
