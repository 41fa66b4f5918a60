package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkatest"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// The environment of the execution tests (balancer_exec*_test.go): a Fulcrum with a
// balancer on the shared test Kafka, and what the tests ask of both (post a plan, wait for
// its phases, read the layout, the throttles and the metrics back).
//
// Execution tests: plans run against the real local Kafka. Each test moves replicas of its
// own topics, so it takes the cluster for itself (kafkatest.Exclusive): a GET /balancer
// elsewhere would see its reassignments. Data are small and throttles high, except where a
// test needs a plan to still be running when it acts.

// fastExec polls often, so that a plan ends soon after Kafka is done.
var fastExec = balancer.ExecOptions{PollInterval: 200 * time.Millisecond, Debounce: 3, StallTimeout: 45 * time.Second}

type execEnv struct {
	t   *testing.T
	cl  *kgo.Client
	adm *kadm.Client
	s   *testServer
}

func newExecEnv(t *testing.T, exec balancer.ExecOptions) *execEnv {
	t.Helper()
	return startExecEnv(t, exec, nil)
}

// newExecEnvWithMetrics is newExecEnv with the engine's Prometheus registry wired to the
// balancer and served at /metrics, as fulcrum serve does.
func newExecEnvWithMetrics(t *testing.T, exec balancer.ExecOptions) *execEnv {
	t.Helper()
	return startExecEnv(t, exec, prometheus.NewRegistry())
}

// startExecEnv takes the test Kafka for the test alone and starts a server whose balancer
// executes plans with exec; reg, when not nil, is wired as startBalancerServerMetrics says.
func startExecEnv(t *testing.T, exec balancer.ExecOptions, reg *prometheus.Registry) *execEnv {
	t.Helper()
	boot := kafkatest.Exclusive(t)
	cl := kafkatest.Client(t, boot)
	adm := kadm.NewClient(cl)
	e := &execEnv{t: t, cl: cl, adm: adm}
	// Registered before the server's cleanup, so it runs after the server has stopped.
	t.Cleanup(func() { kafkatest.Healthy(t, cl) })
	e.s = startBalancerServerMetrics(t, &balancer.Options{
		Source: kafkaload.New(adm, 0), Logger: zerolog.Nop(), Executor: kafkaexec.NewAdmin(adm, 0), Exec: exec,
	}, reg)
	return e
}

// post sends a plan and returns its token, failing unless the answer is 202.
func (e *execEnv) post(body any) string {
	e.t.Helper()
	r := e.postRaw(body)
	if r.status != http.StatusAccepted {
		e.t.Fatalf("POST /balancer: %d %s", r.status, r.body)
	}
	var out struct{ Token string }
	if err := json.Unmarshal(r.body, &out); err != nil || len(out.Token) != 36 {
		e.t.Fatalf("POST /balancer: body %s: want {\"token\": <uuid>}", r.body)
	}
	return out.Token
}

func (e *execEnv) postRaw(body any) response {
	e.t.Helper()
	b, ok := body.(string)
	if !ok {
		j, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		b = string(j)
	}
	return e.s.do("POST", "/balancer", b)
}

func (e *execEnv) status(token string) balancer.PlanStatus {
	e.t.Helper()
	r := e.s.do("GET", "/balancer/"+token, "")
	if r.status != http.StatusOK {
		e.t.Fatalf("GET /balancer/%s: %d %s", token, r.status, r.body)
	}
	var st balancer.PlanStatus
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		e.t.Fatalf("GET /balancer/%s: %s: %v", token, r.body, err)
	}
	if st.Token != token || st.Done != st.Phase.Final() {
		e.t.Fatalf("GET /balancer/%s: %s", token, r.body)
	}
	return st
}

// waitFor polls the plan until cond holds, at most within.
func (e *execEnv) waitFor(token string, within time.Duration, what string, cond func(balancer.PlanStatus) bool) balancer.PlanStatus {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := e.status(token)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("plan %s: not %s within %s: %+v", token, what, within, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *execEnv) waitDone(token string, within time.Duration) balancer.PlanStatus {
	e.t.Helper()
	return e.waitFor(token, within, "done", func(s balancer.PlanStatus) bool { return s.Done })
}

// replica is where Kafka has one replica.
type partLayout struct {
	replicas []int32
	leader   int32
	isr      []int32
	dirs     map[int32]string
	futures  int
}

func (e *execEnv) layout(topic string) map[int32]partLayout {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	md, err := e.adm.Metadata(kadm.WithAuthorizedOps(ctx), topic) // fresh, not kgo's cache
	if err != nil {
		e.t.Fatal(err)
	}
	dirs, err := e.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int32]partLayout{}
	for _, p := range md.Topics[topic].Partitions.Sorted() {
		l := partLayout{replicas: p.Replicas, leader: p.Leader, isr: p.ISR, dirs: map[int32]string{}}
		for b, ds := range dirs {
			for _, d := range ds {
				if dp, ok := d.Topics.Lookup(topic, p.Partition); ok {
					if dp.IsFuture {
						l.futures++
					} else {
						l.dirs[b] = d.Dir
					}
				}
			}
		}
		out[p.Partition] = l
	}
	return out
}

// brokerDirs lists each broker's log directories.
func (e *execEnv) brokerDirs() map[int32][]string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dirs, err := e.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int32][]string{}
	for b, ds := range dirs {
		for _, d := range ds.Sorted() {
			out[b] = append(out[b], d.Dir)
		}
	}
	return out
}

// wantLayout checks that Kafka has the plan's placement: brokers in order, the first one
// leading, every replica in sync, each directory given, no future log.
func (e *execEnv) wantLayout(changes []balancer.PlanChange) {
	e.t.Helper()
	byTopic := map[string]map[int32]partLayout{}
	for _, c := range changes {
		if byTopic[c.Topic] == nil {
			byTopic[c.Topic] = e.layout(c.Topic)
		}
		got := byTopic[c.Topic][c.Partition]
		var want []int32
		for _, p := range c.After {
			want = append(want, p.BrokerID)
			if p.Directory != "" && got.dirs[p.BrokerID] != p.Directory {
				e.t.Errorf("%s-%d: replica on broker %d in %q, plan says %q", c.Topic, c.Partition, p.BrokerID, got.dirs[p.BrokerID], p.Directory)
			}
		}
		if !slices.Equal(got.replicas, want) || got.leader != want[0] || len(got.isr) != len(want) || got.futures != 0 {
			e.t.Errorf("%s-%d: replicas %v leader %d isr %v futures %d; plan says %v", c.Topic, c.Partition, got.replicas, got.leader, got.isr, got.futures, want)
		}
	}
}

// wantNoThrottle checks with DescribeConfigs that no replication throttle is left: not as
// a cluster default, not on any broker, not on the topics. Brokers learn config changes
// from the controller a moment later, so it asks again for a few seconds.
func (e *execEnv) wantNoThrottle(topics ...string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := e.throttlesLeft(topics)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Errorf("throttles left: %s", strings.Join(left, "; "))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *execEnv) throttlesLeft(topics []string) []string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var left []string
	dynamic := func(rc kadm.ResourceConfig, names ...string) {
		for _, c := range rc.Configs {
			if slices.Contains(names, c.Key) && c.Value != nil && *c.Value != "" &&
				(c.Source == kmsg.ConfigSourceDynamicBrokerConfig || c.Source == kmsg.ConfigSourceDynamicDefaultBrokerConfig ||
					c.Source == kmsg.ConfigSourceDynamicTopicConfig) {
				left = append(left, fmt.Sprintf("%s %s=%s (%v)", rc.Name, c.Key, *c.Value, c.Source))
			}
		}
	}
	// The cluster default, then every live broker's own configs.
	md, err := e.adm.Metadata(kadm.WithAuthorizedOps(ctx))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, brokers := range [][]int32{nil, md.Brokers.NodeIDs()} {
		rcs, err := e.adm.DescribeBrokerConfigs(ctx, brokers...)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, rc := range rcs {
			dynamic(rc, kafkaexec.LeaderThrottledRate, kafkaexec.FollowerThrottledRate, kafkaexec.LogDirsThrottledRate)
		}
	}
	rcs, err := e.adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, rc := range rcs {
		dynamic(rc, kafkaexec.LeaderThrottledReplicas, kafkaexec.FollowerThrottledReplicas)
	}
	return left
}

// throttleSet reports whether the topic's throttled replica lists are set.
func (e *execEnv) throttleSet(topic string) bool {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rcs, err := e.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key == kafkaexec.FollowerThrottledReplicas && c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				return true
			}
		}
	}
	return false
}

// topic creates a topic laid out by hand with bytes of data in every partition.
func (e *execEnv) topic(prefix string, bytes int, assignment ...[]int32) string {
	e.t.Helper()
	name := kafkatest.Name(prefix)
	kafkatest.CreateTopic(e.t, e.cl, name, assignment)
	for p := range assignment {
		if bytes > 0 {
			kafkatest.Fill(e.t, e.cl, name, int32(p), bytes)
		}
	}
	return name
}

func after(brokers ...int32) []balancer.Placement {
	var out []balancer.Placement
	for _, b := range brokers {
		out = append(out, balancer.Placement{BrokerID: b})
	}
	return out
}

func planOf(throttle int64, changes ...balancer.PlanChange) map[string]any {
	body := map[string]any{"changes": changes}
	if throttle > 0 {
		body["throttle"] = throttle
	}
	return body
}

// Execution that leaves nothing changed it did not promise (issue 11, item 8), on the real
// local Kafka: a cancelled plan puts back the replica order and the leaders, the operator's
// throttle configs are as they were after a plan, a change of replication factor needs
// allowReplicationFactorChange, a plan that only reorders replicas copies nothing and sets
// no throttle. None of them assumes the number of brokers: they read it.

// brokers returns the cluster's broker ids, sorted; the test needs at least n.
func (e *execEnv) brokers(n int) []int32 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	md, err := e.adm.Metadata(kadm.WithAuthorizedOps(ctx))
	if err != nil {
		e.t.Fatal(err)
	}
	ids := md.Brokers.NodeIDs()
	slices.Sort(ids)
	if len(ids) < n {
		e.t.Fatalf("the test Kafka has brokers %v; this test needs %d", ids, n)
	}
	return ids
}

// throttleConfigs are the dynamic throttle configs set anywhere: the cluster-wide default
// ("default"), each broker ("broker N") and the given topics ("topic T"), by "where key".
func (e *execEnv) throttleConfigs(topics ...string) map[string]string {
	e.t.Helper()
	m, err := readThrottleConfigs(e.adm, e.brokers(1), topics...)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func readThrottleConfigs(adm *kadm.Client, brokers []int32, topics ...string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := map[string]string{}
	keys := []string{kafkaexec.LeaderThrottledRate, kafkaexec.FollowerThrottledRate, kafkaexec.LogDirsThrottledRate,
		kafkaexec.LeaderThrottledReplicas, kafkaexec.FollowerThrottledReplicas}
	add := func(where string, rcs kadm.ResourceConfigs, err error, source kmsg.ConfigSource) error {
		if err != nil {
			return err
		}
		for _, rc := range rcs {
			if rc.Err != nil {
				return fmt.Errorf("%s %s: %w", where, rc.Name, rc.Err)
			}
			for _, c := range rc.Configs {
				if c.Source == source && c.Value != nil && slices.Contains(keys, c.Key) {
					name := where
					if where != "default" {
						name += " " + rc.Name
					}
					out[name+" "+c.Key] = *c.Value
				}
			}
		}
		return nil
	}
	rcs, err := adm.DescribeBrokerConfigs(ctx)
	if err := add("default", rcs, err, kmsg.ConfigSourceDynamicDefaultBrokerConfig); err != nil {
		return nil, err
	}
	rcs, err = adm.DescribeBrokerConfigs(ctx, brokers...)
	if err := add("broker", rcs, err, kmsg.ConfigSourceDynamicBrokerConfig); err != nil {
		return nil, err
	}
	rcs, err = adm.DescribeTopicConfigs(ctx, topics...)
	if err := add("topic", rcs, err, kmsg.ConfigSourceDynamicTopicConfig); err != nil {
		return nil, err
	}
	return out, nil
}

// waitThrottleConfigs waits until the throttle configs hold want (brokers learn config
// changes from the controller a moment later).
func (e *execEnv) waitThrottleConfigs(what string, want func(map[string]string) bool, topics ...string) map[string]string {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := e.throttleConfigs(topics...)
		if want(got) {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("throttle configs %s: %v", what, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var metricLine = regexp.MustCompile(`^(fulcrum_balancer_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$`)

// metrics reads the balancer's samples from GET /metrics.
func (e *execEnv) metrics() map[string]float64 {
	e.t.Helper()
	r := e.s.do("GET", "/metrics", "")
	if r.status != http.StatusOK {
		e.t.Fatalf("GET /metrics: %d %s", r.status, r.body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(r.body), "\n") {
		if m := metricLine.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				e.t.Fatalf("metric %q: %v", line, err)
			}
			out[m[1]] = v
		}
	}
	return out
}
