package kafkaexec

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

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
