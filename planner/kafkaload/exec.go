package kafkaload

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The executor's side of the adapter: what a plan needs to read and change in Kafka. Every
// call is bounded by the Admin's timeout (or the caller's earlier deadline) and is safe to
// repeat: the plan executor is a reconciler that reads, compares with its target and acts
// again, also after a restart.

// TP names a partition.
type TP struct {
	Topic     string
	Partition int32
}

func (tp TP) String() string { return tp.Topic + "-" + strconv.Itoa(int(tp.Partition)) }

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

// Admin executes plans through a kadm client it does not own.
type Admin struct {
	adm     *kadm.Client
	timeout time.Duration
}

// DefaultCallTimeout bounds one Admin call when none is given.
const DefaultCallTimeout = 15 * time.Second

// brokerTimeout bounds the reading of one broker's log directories.
const brokerTimeout = 5 * time.Second

// maxPerRequest keeps each reassignment or election request well under the KRaft
// controller's 10,000 records per request.
const maxPerRequest = 1000

// NewAdmin returns an Admin; timeout bounds every call (0 means DefaultCallTimeout).
func NewAdmin(adm *kadm.Client, timeout time.Duration) *Admin {
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	return &Admin{adm: adm, timeout: timeout}
}

func (a *Admin) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.timeout)
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

// Replication throttle configs (KIP-73).
const (
	LeaderThrottledRate       = "leader.replication.throttled.rate"
	FollowerThrottledRate     = "follower.replication.throttled.rate"
	LogDirsThrottledRate      = "replica.alter.log.dirs.io.max.bytes.per.second"
	LeaderThrottledReplicas   = "leader.replication.throttled.replicas"
	FollowerThrottledReplicas = "follower.replication.throttled.replicas"
)

// Throttle is a replication throttle for the replicas a plan moves.
type Throttle struct {
	Rate int64 // bytes/s
	// Leaders and Followers list, per topic, the "partition:broker" replicas to throttle:
	// the sources (current replicas) of moving partitions and their new replicas.
	Leaders   map[string][]string `json:"leaders,omitempty"`
	Followers map[string][]string `json:"followers,omitempty"`
	// LogDirs also throttles moves between directories of a broker.
	LogDirs bool `json:"logDirs,omitempty"`
	// Brokers are the brokers the moves go through (sources, destinations, directory
	// moves): a rate of their own beats the cluster-wide one, so the plan's rate must be
	// set there too.
	Brokers []int32 `json:"brokers,omitempty"`
}

// ThrottleConfigs are the values the throttle configs held before a plan set its own, so
// that the plan puts back exactly those: the cluster-wide broker defaults, the brokers'
// own values, the topics' replica lists. Only dynamic values are kept (what AlterConfigs
// set); a key that is absent was not set, and is removed again.
type ThrottleConfigs struct {
	Default map[string]string            `json:"default,omitempty"`
	Brokers map[int32]map[string]string  `json:"brokers,omitempty"`
	Topics  map[string]map[string]string `json:"topics,omitempty"`
}

var (
	rateKeys    = []string{LeaderThrottledRate, FollowerThrottledRate, LogDirsThrottledRate}
	replicaKeys = []string{LeaderThrottledReplicas, FollowerThrottledReplicas}
)

// ReadThrottle reads the throttle configs a plan is about to change: the cluster-wide
// rates, the rates of the given brokers, the replica lists of the given topics. A broker
// that does not answer is an error: its own rate cannot be known, so it cannot be put back.
func (a *Admin) ReadThrottle(ctx context.Context, brokers []int32, topics []string) (*ThrottleConfigs, error) {
	ctx, cancel := a.bound(ctx)
	defer cancel()
	was := &ThrottleConfigs{Default: map[string]string{}, Brokers: map[int32]map[string]string{}, Topics: map[string]map[string]string{}}
	pick := func(rc kadm.ResourceConfig, source kmsg.ConfigSource, keys []string) map[string]string {
		out := map[string]string{}
		for _, c := range rc.Configs {
			if c.Source == source && c.Value != nil && slices.Contains(keys, c.Key) {
				out[c.Key] = *c.Value
			}
		}
		return out
	}
	rcs, err := a.adm.DescribeBrokerConfigs(ctx) // the cluster-wide default resource
	if err := describeErr(rcs, err); err != nil {
		return nil, fmt.Errorf("describe cluster-wide broker configs: %w", err)
	}
	for _, rc := range rcs {
		maps.Copy(was.Default, pick(rc, kmsg.ConfigSourceDynamicDefaultBrokerConfig, rateKeys))
	}
	if len(brokers) > 0 {
		rcs, err := a.adm.DescribeBrokerConfigs(ctx, brokers...)
		if err := describeErr(rcs, err); err != nil {
			return nil, fmt.Errorf("describe broker configs: %w", err)
		}
		for _, rc := range rcs {
			id, err := strconv.ParseInt(rc.Name, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("describe broker configs: resource %q is not a broker id", rc.Name)
			}
			if own := pick(rc, kmsg.ConfigSourceDynamicBrokerConfig, rateKeys); len(own) > 0 {
				was.Brokers[int32(id)] = own
			}
		}
	}
	if len(topics) > 0 {
		rcs, err := a.adm.DescribeTopicConfigs(ctx, topics...)
		if err != nil {
			return nil, fmt.Errorf("describe topic configs: %w", err)
		}
		for _, rc := range rcs {
			if rc.Err != nil {
				if errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
					continue
				}
				return nil, fmt.Errorf("describe configs of topic %s: %w", rc.Name, rc.Err)
			}
			if lists := pick(rc, kmsg.ConfigSourceDynamicTopicConfig, replicaKeys); len(lists) > 0 {
				was.Topics[rc.Name] = lists
			}
		}
	}
	return was, nil
}

// SetThrottle sets the plan's rate where it takes effect: as the cluster-wide default, and
// on each broker that has a rate of its own (which beats the default), for the keys it
// has; and the replica lists on each topic, added to the lists the operator had (a "*"
// list already throttles every replica). was is what ReadThrottle read.
//
// The rates are cluster defaults rather than per-broker configs wherever possible because
// a per-broker config must be sent to its broker: a broker that died meanwhile could not
// be put back.
func (a *Admin) SetThrottle(ctx context.Context, t Throttle, was *ThrottleConfigs) error {
	ctx, cancel := a.bound(ctx)
	defer cancel()
	if was == nil {
		was = &ThrottleConfigs{}
	}
	rate := kadm.StringPtr(strconv.FormatInt(t.Rate, 10))
	keys := rateKeys[:2]
	if t.LogDirs {
		keys = rateKeys
	}
	var configs []kadm.AlterConfig
	for _, k := range keys {
		configs = append(configs, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: rate})
	}
	if err := alterErr(a.adm.AlterBrokerConfigs(ctx, configs)); err != nil {
		return fmt.Errorf("set throttle rates: %w", err)
	}
	for _, b := range sortedBrokerKeys(was.Brokers) {
		var own []kadm.AlterConfig
		for _, k := range keys {
			if _, ok := was.Brokers[b][k]; ok {
				own = append(own, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: rate})
			}
		}
		if len(own) == 0 {
			continue
		}
		if err := alterErr(a.adm.AlterBrokerConfigs(ctx, own, b)); err != nil {
			return fmt.Errorf("set throttle rates of broker %d: %w", b, err)
		}
	}
	topics := map[string]bool{}
	for tp := range t.Leaders {
		topics[tp] = true
	}
	for tp := range t.Followers {
		topics[tp] = true
	}
	for _, topic := range sortedKeys(topics) {
		var cs []kadm.AlterConfig
		for k, list := range map[string][]string{LeaderThrottledReplicas: t.Leaders[topic], FollowerThrottledReplicas: t.Followers[topic]} {
			if len(list) > 0 {
				cs = append(cs, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(mergeReplicaList(was.Topics[topic][k], list))})
			}
		}
		if err := alterErr(a.adm.AlterTopicConfigs(ctx, cs, topic)); err != nil {
			return fmt.Errorf("set throttled replicas of %s: %w", topic, err)
		}
	}
	return nil
}

// mergeReplicaList adds the plan's "partition:broker" entries to the operator's list.
func mergeReplicaList(had string, add []string) string {
	if strings.TrimSpace(had) == "*" {
		return "*"
	}
	var out []string
	for e := range strings.SplitSeq(had, ",") {
		if e = strings.TrimSpace(e); e != "" && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	for _, e := range add {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return strings.Join(out, ",")
}

// RestoreThrottle puts back what SetThrottle changed, as was holds it: each cluster-wide
// rate and each topic list is set to its old value or removed if it had none, each
// broker's own rate is set back. It is idempotent, so it can run again after a crash; a
// topic deleted meanwhile is skipped.
func (a *Admin) RestoreThrottle(ctx context.Context, was *ThrottleConfigs, topics []string) error {
	ctx, cancel := a.bound(ctx)
	defer cancel()
	if was == nil {
		was = &ThrottleConfigs{}
	}
	restore := func(keys []string, old map[string]string) []kadm.AlterConfig {
		var cs []kadm.AlterConfig
		for _, k := range keys {
			if v, ok := old[k]; ok {
				cs = append(cs, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
			} else {
				cs = append(cs, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
		}
		return cs
	}
	if err := alterErr(a.adm.AlterBrokerConfigs(ctx, restore(rateKeys, was.Default))); err != nil {
		return fmt.Errorf("restore throttle rates: %w", err)
	}
	for _, b := range sortedBrokerKeys(was.Brokers) {
		var own []kadm.AlterConfig
		for _, k := range slices.Sorted(maps.Keys(was.Brokers[b])) {
			own = append(own, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(was.Brokers[b][k])})
		}
		if err := alterErr(a.adm.AlterBrokerConfigs(ctx, own, b)); err != nil {
			return fmt.Errorf("restore throttle rates of broker %d: %w", b, err)
		}
	}
	for _, topic := range topics {
		resp, err := a.adm.AlterTopicConfigs(ctx, restore(replicaKeys, was.Topics[topic]), topic)
		if err != nil {
			return fmt.Errorf("restore throttled replicas of %s: %w", topic, err)
		}
		for _, r := range resp {
			if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
				return fmt.Errorf("restore throttled replicas of %s: %w", r.Name, r.Err)
			}
		}
	}
	return nil
}

func describeErr(rcs kadm.ResourceConfigs, err error) error {
	if err != nil {
		return err
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return fmt.Errorf("%s: %w", rc.Name, rc.Err)
		}
	}
	return nil
}

func sortedBrokerKeys[V any](m map[int32]V) []int32 { return slices.Sorted(maps.Keys(m)) }

func alterErr(resp kadm.AlterConfigsResponses, err error) error {
	if err != nil {
		return err
	}
	for _, r := range resp {
		if r.Err != nil {
			if r.ErrMessage != "" {
				return fmt.Errorf("%s: %w: %s", r.Name, r.Err, r.ErrMessage)
			}
			return fmt.Errorf("%s: %w", r.Name, r.Err)
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Retriable reports whether a failed call or partition result may succeed if tried again:
// Kafka's retriable errors and anything that is not a Kafka error code (timeouts, lost
// connections, an unreachable broker). A non-retriable Kafka error (an invalid assignment,
// an unknown partition or directory) will fail again.
func Retriable(err error) bool {
	if err == nil {
		return true
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable || errors.Is(err, kerr.ReplicaNotAvailable) || errors.Is(err, kerr.PreferredLeaderNotAvailable) ||
			errors.Is(err, kerr.ReassignmentInProgress) || errors.Is(err, kerr.KafkaStorageError)
	}
	return true
}
