package balancer

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
)

// fakeKafka applies every change at once; block keeps reassignments in flight (as KRaft
// shows them: the target, then the replicas leaving) until the test lets them finish or
// the plan cancels them. A cancellation leaves Kafka's order minus the added replicas, and
// with leaderFollowsOrder the first replica then takes the lead (as Kafka's automatic
// leader rebalance would): the plan has to put both back.
type fakeKafka struct {
	mu                 sync.Mutex
	st                 *kafkaexec.State
	block              bool
	leaderFollowsOrder bool
	throttles          int // set minus cleared
	sets, reads        int
	saved              *kafkaexec.ThrottleConfigs // what ReadThrottle answers
	setWith, restored  *kafkaexec.ThrottleConfigs
	onSet              func()
	refuse             map[kafkaexec.TP]error // Reassign answers these
	readErr            error                  // State answers it
	cancelIgnored      bool                   // CancelReassign answers, but changes nothing
	restoreErr         error                  // RestoreThrottle answers it
	// ignoreMoves, ignoreDirs: Reassign, AlterDirs answer success and change nothing
	// (something else keeps undoing them).
	ignoreMoves, ignoreDirs bool
}

// finishReassignments lets the reassignments in flight finish, and later ones finish at once.
func (k *fakeKafka) finishReassignments() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.block = false
	for _, p := range k.st.Partitions {
		p.Reassigning = false
	}
}

func (f *fakeKafka) State(context.Context, []string) (*kafkaexec.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readErr != nil {
		return nil, f.readErr
	}
	c := *f.st
	c.Partitions = map[kafkaexec.TP]*kafkaexec.PartitionInfo{}
	for tp, p := range f.st.Partitions {
		cp := *p
		cp.Replicas, cp.ISR, cp.Logs = slices.Clone(p.Replicas), slices.Clone(p.ISR), maps.Clone(p.Logs)
		c.Partitions[tp] = &cp
	}
	return &c, nil
}

func (f *fakeKafka) AlterDirs(_ context.Context, b int32, dirs map[kafkaexec.TP]string) (map[kafkaexec.TP]error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ignoreDirs {
		return nil, nil
	}
	for tp, d := range dirs {
		p := f.st.Partitions[tp]
		if l, ok := p.Logs[b]; ok {
			l.Dir = d
			p.Logs[b] = l
		}
	}
	return nil, nil
}

func (f *fakeKafka) Reassign(_ context.Context, targets map[kafkaexec.TP][]int32) (map[kafkaexec.TP]error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[kafkaexec.TP]error{}
	for tp, target := range targets {
		if err := f.refuse[tp]; err != nil {
			out[tp] = err
			continue
		}
		p := f.st.Partitions[tp]
		if f.ignoreMoves {
			continue
		}
		adding := minus(target, p.Replicas)
		if f.block && len(adding) > 0 {
			p.Reassigning, p.Adding = true, adding
			p.Replicas = append(slices.Clone(target), minus(p.Replicas, target)...)
			continue
		}
		for _, b := range target {
			if _, ok := p.Logs[b]; !ok {
				p.Logs[b] = kafkaexec.ReplicaLog{Dir: f.st.Dirs[b][0], Size: 100}
			}
		}
		p.Replicas, p.ISR = slices.Clone(target), slices.Clone(target)
		if !slices.Contains(target, p.Leader) {
			p.Leader = target[0]
		}
	}
	return out, nil
}

func (f *fakeKafka) CancelReassign(_ context.Context, tps []kafkaexec.TP) (map[kafkaexec.TP]error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tp := range tps {
		p := f.st.Partitions[tp]
		if !p.Reassigning || f.cancelIgnored {
			continue
		}
		p.Replicas = minus(p.Replicas, p.Adding)
		p.Reassigning, p.Adding = false, nil
		if f.leaderFollowsOrder {
			p.Leader = p.Replicas[0]
		}
	}
	return nil, nil
}

func (f *fakeKafka) ElectPreferred(_ context.Context, tps []kafkaexec.TP) (map[kafkaexec.TP]error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tp := range tps {
		p := f.st.Partitions[tp]
		p.Leader = p.Replicas[0]
	}
	return nil, nil
}

func (f *fakeKafka) ReadThrottle(context.Context, []int32, []string) (*kafkaexec.ThrottleConfigs, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.saved == nil {
		return &kafkaexec.ThrottleConfigs{}, nil
	}
	return f.saved, nil
}

func (f *fakeKafka) SetThrottle(_ context.Context, _ kafkaexec.Throttle, was *kafkaexec.ThrottleConfigs) error {
	if f.onSet != nil {
		f.onSet()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttles, f.sets, f.setWith = 1, f.sets+1, was
	return nil
}

func (f *fakeKafka) RestoreThrottle(_ context.Context, was *kafkaexec.ThrottleConfigs, _ []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.restoreErr != nil {
		return f.restoreErr
	}
	f.throttles, f.restored = 0, was
	return nil
}
