package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// memKafka is a layout in memory that the balancer both plans from (Load) and executes
// on (the Executor calls), applying every change at once: enough to follow a report
// through POST /balancer without Kafka. The real thing: balancer_exec_test.go.
type memKafka struct {
	mu       sync.Mutex
	dirs     map[int32][]string
	parts    map[kafkaexec.TP]*kafkaexec.PartitionInfo
	declared map[int32]map[kafkaexec.TP]string // directories named before the replica exists
}

func newMemKafka(brokers []int32, dirs []string, topic string, partitions int, replicas []int32, size int64) *memKafka {
	k := &memKafka{dirs: map[int32][]string{}, parts: map[kafkaexec.TP]*kafkaexec.PartitionInfo{}, declared: map[int32]map[kafkaexec.TP]string{}}
	for _, b := range brokers {
		k.dirs[b] = slices.Clone(dirs)
	}
	for p := range int32(partitions) {
		logs := map[int32]kafkaexec.ReplicaLog{}
		for _, b := range replicas {
			logs[b] = kafkaexec.ReplicaLog{Dir: dirs[0], Size: size}
		}
		k.parts[kafkaexec.TP{Topic: topic, Partition: p}] = &kafkaexec.PartitionInfo{
			Replicas: slices.Clone(replicas), ISR: slices.Clone(replicas), Leader: replicas[0], Logs: logs,
		}
	}
	return k
}

func (k *memKafka) Load(context.Context) (*kafkaload.Snapshot, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var brokers []planner.Broker
	for _, b := range slices.Sorted(maps.Keys(k.dirs)) {
		brokers = append(brokers, planner.Broker{ID: b, Dirs: k.dirs[b]})
	}
	var parts []planner.Partition
	states := map[string]map[int32]kafkaload.PartitionState{}
	for tp, p := range k.parts {
		part := planner.Partition{Topic: tp.Topic, Partition: tp.Partition}
		for _, b := range p.Replicas {
			part.Replicas = append(part.Replicas, planner.Replica{BrokerID: b, Directory: p.Logs[b].Dir, Size: p.Logs[b].Size})
		}
		parts = append(parts, part)
		if states[tp.Topic] == nil {
			states[tp.Topic] = map[int32]kafkaload.PartitionState{}
		}
		states[tp.Topic][tp.Partition] = kafkaload.PartitionState{Leader: p.Leader, ISR: slices.Clone(p.ISR)}
	}
	c, err := planner.NewCluster(brokers, parts)
	if err != nil {
		return nil, err
	}
	return &kafkaload.Snapshot{Cluster: c, States: states, ReadAt: time.Now()}, nil
}

func (k *memKafka) State(context.Context, []string) (*kafkaexec.State, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	st := &kafkaexec.State{Brokers: map[int32]bool{}, Dirs: map[int32][]string{}, Silent: map[int32]error{},
		Topics: map[string]bool{}, Partitions: map[kafkaexec.TP]*kafkaexec.PartitionInfo{}}
	for b, d := range k.dirs {
		st.Brokers[b], st.Dirs[b] = true, slices.Clone(d)
	}
	for tp, p := range k.parts {
		cp := *p
		cp.Replicas, cp.ISR, cp.Logs = slices.Clone(p.Replicas), slices.Clone(p.ISR), maps.Clone(p.Logs)
		st.Topics[tp.Topic], st.Partitions[tp] = true, &cp
	}
	return st, nil
}

func (k *memKafka) AlterDirs(_ context.Context, b int32, dirs map[kafkaexec.TP]string) (map[kafkaexec.TP]error, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for tp, d := range dirs {
		if l, ok := k.parts[tp].Logs[b]; ok {
			l.Dir = d
			k.parts[tp].Logs[b] = l
		} else {
			if k.declared[b] == nil {
				k.declared[b] = map[kafkaexec.TP]string{}
			}
			k.declared[b][tp] = d
		}
	}
	return nil, nil
}

func (k *memKafka) Reassign(_ context.Context, targets map[kafkaexec.TP][]int32) (map[kafkaexec.TP]error, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for tp, target := range targets {
		p := k.parts[tp]
		logs := map[int32]kafkaexec.ReplicaLog{}
		for _, b := range target {
			l, ok := p.Logs[b]
			if !ok {
				// Kafka's choice, unless declared: the last directory, so that a
				// directory lost between the report and the plan shows.
				l = kafkaexec.ReplicaLog{Dir: k.dirs[b][len(k.dirs[b])-1], Size: p.Logs[p.Replicas[0]].Size}
				if d := k.declared[b][tp]; d != "" {
					l.Dir = d
				}
			}
			logs[b] = l
		}
		p.Replicas, p.ISR, p.Logs = slices.Clone(target), slices.Clone(target), logs
		if !slices.Contains(target, p.Leader) {
			p.Leader = target[0]
		}
	}
	return nil, nil
}

func (k *memKafka) CancelReassign(context.Context, []kafkaexec.TP) (map[kafkaexec.TP]error, error) {
	return nil, nil // nothing is ever in flight
}

func (k *memKafka) ElectPreferred(_ context.Context, tps []kafkaexec.TP) (map[kafkaexec.TP]error, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, tp := range tps {
		k.parts[tp].Leader = k.parts[tp].Replicas[0]
	}
	return nil, nil
}

func (k *memKafka) ReadThrottle(context.Context, []int32, []string) (*kafkaexec.ThrottleConfigs, error) {
	return &kafkaexec.ThrottleConfigs{}, nil
}

func (k *memKafka) SetThrottle(context.Context, kafkaexec.Throttle, *kafkaexec.ThrottleConfigs) error {
	return nil
}

func (k *memKafka) RestoreThrottle(context.Context, *kafkaexec.ThrottleConfigs, []string) error {
	return nil
}

// TestReportPostedAsItIs: the body of GET /balancer, posted as it is to POST /balancer,
// is the plan it describes: the report's changes decode as the plan's changes (one type),
// and once executed every partition is where the report's "after" puts it, in order, led
// by its first replica, in its directory.
func TestReportPostedAsItIs(t *testing.T) {
	k := newMemKafka([]int32{1, 2, 3}, []string{"/a", "/b"}, "t", 6, []int32{1, 2}, 1000)
	s := startBalancerServerWith(t, &balancer.Options{Source: k, Executor: k,
		Exec: balancer.ExecOptions{PollInterval: 5 * time.Millisecond, Debounce: 1}})

	report := s.do("GET", "/balancer?topics=t&seed=1", "")
	if report.status != http.StatusOK {
		t.Fatalf("GET /balancer: %d %s", report.status, report.body)
	}
	var rep balancer.Report
	if err := json.Unmarshal(report.body, &rep); err != nil || len(rep.Changes) == 0 {
		t.Fatalf("report %s: %v", report.body, err)
	}
	var posted balancer.PlanSpec
	if err := json.Unmarshal(report.body, &posted); err != nil || !slices.EqualFunc(posted.Changes, rep.Changes, sameChange) {
		t.Fatalf("the report's changes as a plan: %+v (%v), want %+v", posted.Changes, err, rep.Changes)
	}

	r := s.do("POST", "/balancer", string(report.body))
	if r.status != http.StatusAccepted {
		t.Fatalf("POST /balancer with the report: %d %s", r.status, r.body)
	}
	var accepted struct{ Token string }
	if err := json.Unmarshal(r.body, &accepted); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var st balancer.PlanStatus
	for !st.Done {
		if time.Now().After(deadline) {
			t.Fatalf("plan not done: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
		g := s.do("GET", "/balancer/"+accepted.Token, "")
		if err := json.Unmarshal(g.body, &st); g.status != http.StatusOK || err != nil {
			t.Fatalf("GET /balancer/%s: %d %s", accepted.Token, g.status, g.body)
		}
	}
	if st.Phase != balancer.PhaseExecuted || st.PartitionsTotal != len(rep.Changes) {
		t.Fatalf("plan ended %+v", st)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range rep.Changes {
		p := k.parts[kafkaexec.TP{Topic: c.Topic, Partition: c.Partition}]
		var got []string
		for _, b := range p.Replicas {
			got = append(got, placementString(planner.Placement{BrokerID: b, Directory: p.Logs[b].Dir}))
		}
		var want []string
		for _, a := range c.After {
			want = append(want, placementString(a))
		}
		if !slices.Equal(got, want) || p.Leader != c.After[0].BrokerID {
			t.Errorf("%s-%d: %v led by %d, want %v", c.Topic, c.Partition, got, p.Leader, want)
		}
	}
}

// sameChange compares a change as posted with the report's, every field a plan reads.
func sameChange(a, b balancer.PlanChange) bool {
	return a.Topic == b.Topic && a.Partition == b.Partition && slices.Equal(a.Before, b.Before) && slices.Equal(a.After, b.After)
}

func placementString(p planner.Placement) string {
	return fmt.Sprintf("%d:%s", p.BrokerID, p.Directory)
}
