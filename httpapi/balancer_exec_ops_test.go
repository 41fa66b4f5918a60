package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
)

// TestExecuteCancelRestoresOrderAndLeader: partitions on [a b] led by a are moved to
// [b c]; while they copy, KRaft lists their replicas as [b c a], and its cancellation
// leaves [b a], whose preferred leader is b. After DELETE every partition is as it was:
// replicas [a b] in that order, a leading, all in sync, no future log.
func TestExecuteCancelRestoresOrderAndLeader(t *testing.T) {
	e := newExecEnvWithMetrics(t, fastExec)
	ids := e.brokers(3)
	a, b, c := ids[0], ids[1], ids[2]
	// Kafka lets the first fetch of a new replica through unthrottled (up to 1 MiB), so
	// each partition holds more for the plan to be still copying when it is cancelled.
	topic := e.topic("unorder", 4<<20, []int32{a, b}, []int32{a, b}, []int32{a, b})
	before := e.layout(topic)
	var changes []balancer.PlanChange
	for p := range int32(3) {
		if l := before[p]; !slices.Equal(l.replicas, []int32{a, b}) || l.leader != a {
			t.Fatalf("partition %d starts as %+v", p, l)
		}
		changes = append(changes, balancer.PlanChange{Topic: topic, Partition: p, After: after(b, c)})
	}
	const throttle = 256 << 10
	token := e.post(planOf(throttle, changes...))
	copying := e.waitFor(token, 30*time.Second, "copying with an ETA", func(s balancer.PlanStatus) bool {
		return s.Phase == balancer.PhaseReassigning && s.BytesMoved > 0 && s.ETASeconds != nil
	})
	// Only broker c receives data: the ETA never assumes more than the throttle through it,
	// however fast Kafka's unthrottled first fetches went.
	if eta, left := *copying.ETASeconds, float64(copying.BytesTotal-copying.BytesMoved); eta < left/throttle {
		t.Errorf("etaSeconds %.1f with %.0f bytes left at %d bytes/s: faster than the throttle", eta, left, throttle)
	}
	r := e.s.do("DELETE", "/balancer/"+token, "")
	var st balancer.PlanStatus
	if err := json.Unmarshal(r.body, &st); r.status != http.StatusOK || err != nil || st.Phase != balancer.PhaseCancelled || st.Error != "" {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	reverted := 0
	for p, l := range e.layout(topic) {
		asBefore := slices.Equal(l.replicas, before[p].replicas) && l.leader == before[p].leader
		asPlanned := slices.Equal(l.replicas, []int32{b, c}) && l.leader == b
		if !(asBefore || asPlanned) || len(l.isr) != 2 || l.futures != 0 {
			t.Errorf("partition %d after cancel: replicas %v leader %d isr %v futures %d; want %v led by %d (as before) or %v led by %d (as planned)",
				p, l.replicas, l.leader, l.isr, l.futures, before[p].replicas, before[p].leader, []int32{b, c}, b)
		}
		if asBefore {
			reverted++
		}
	}
	if reverted == 0 {
		t.Fatal("every partition finished before the cancel: the test did not exercise the revert")
	}
	e.wantNoThrottle(topic)
	m := e.metrics()
	if m[`fulcrum_balancer_plans{phase="cancelled"}`] != 1 || m["fulcrum_balancer_bytes_moved_total"] <= 0 {
		t.Errorf("metrics after a cancelled plan: plans cancelled %v, bytes moved %v",
			m[`fulcrum_balancer_plans{phase="cancelled"}`], m["fulcrum_balancer_bytes_moved_total"])
	}
}

// TestExecuteRestoresOperatorThrottle: the operator has a cluster-wide throttle, a rate of
// its own on one broker, and a throttled replica list on the topic. While a plan copies,
// its rate is in force on that broker too (a broker's own rate beats the default) and its
// replicas are added to the topic's list; after the plan every config is exactly as the
// operator had it.
func TestExecuteRestoresOperatorThrottle(t *testing.T) {
	e := newExecEnv(t, fastExec)
	ids := e.brokers(3)
	a, b, c := ids[0], ids[1], ids[2]
	topic := e.topic("opthrottle", 4<<20, []int32{a, b}, []int32{a, b})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	set := func(configs []kadm.AlterConfig, alter func([]kadm.AlterConfig) (kadm.AlterConfigsResponses, error)) {
		t.Helper()
		resp, err := alter(configs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp {
			if r.Err != nil {
				t.Fatalf("%s: %v %s", r.Name, r.Err, r.ErrMessage)
			}
		}
	}
	rate := func(v string) *string { return &v }
	const plan = 512 << 10
	operatorBroker := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: kafkaexec.FollowerThrottledRate, Value: rate("3000000")}}
	t.Cleanup(func() { // leave the cluster without throttles for the other tests
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		del := []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: kafkaexec.FollowerThrottledRate}}
		if _, err := e.adm.AlterBrokerConfigs(ctx, del, c); err != nil {
			t.Errorf("remove broker %d's throttle: %v", c, err)
		}
		if err := kafkaexec.NewAdmin(e.adm, 0).RestoreThrottle(ctx, nil, []string{topic}); err != nil {
			t.Errorf("remove the throttle: %v", err)
		}
		e.wantNoThrottle(topic)
	})
	set([]kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: kafkaexec.LeaderThrottledRate, Value: rate("1000000")},
		{Op: kadm.SetConfig, Name: kafkaexec.FollowerThrottledRate, Value: rate("2000000")},
	}, func(cs []kadm.AlterConfig) (kadm.AlterConfigsResponses, error) {
		return e.adm.AlterBrokerConfigs(ctx, cs)
	})
	set(operatorBroker, func(cs []kadm.AlterConfig) (kadm.AlterConfigsResponses, error) {
		return e.adm.AlterBrokerConfigs(ctx, cs, c)
	})
	set([]kadm.AlterConfig{{Op: kadm.SetConfig, Name: kafkaexec.FollowerThrottledReplicas, Value: rate("1:" + strconv.Itoa(int(a)))}},
		func(cs []kadm.AlterConfig) (kadm.AlterConfigsResponses, error) {
			return e.adm.AlterTopicConfigs(ctx, cs, topic)
		})
	operator := e.waitThrottleConfigs("set by the operator", func(m map[string]string) bool { return len(m) == 4 }, topic)
	t.Logf("operator's throttle: %v", operator)

	// Both partitions gain a replica on c, the broker with its own rate.
	token := e.post(planOf(plan,
		balancer.PlanChange{Topic: topic, Partition: 0, After: after(a, c)},
		balancer.PlanChange{Topic: topic, Partition: 1, After: after(c, a)}))
	// The plan sets the rates and the topic's list in separate calls: wait for all of its
	// settings, so that a reading between two calls is not taken for a missing one.
	planReplicas := []string{"1:" + strconv.Itoa(int(a)), "0:" + strconv.Itoa(int(c)), "1:" + strconv.Itoa(int(c))}
	during := e.waitThrottleConfigs("while the plan copies", func(m map[string]string) bool {
		list := strings.Split(m["topic "+topic+" "+kafkaexec.FollowerThrottledReplicas], ",")
		for _, want := range planReplicas {
			if !slices.Contains(list, want) {
				return false
			}
		}
		return m[fmt.Sprintf("broker %d %s", c, kafkaexec.FollowerThrottledRate)] == strconv.Itoa(plan)
	}, topic)
	if st := e.status(token); st.Done {
		t.Fatalf("the plan ended before its throttle was seen: %+v", st)
	}
	for k, v := range map[string]string{
		"default " + kafkaexec.LeaderThrottledRate:   strconv.Itoa(plan),
		"default " + kafkaexec.FollowerThrottledRate: strconv.Itoa(plan),
	} {
		if during[k] != v {
			t.Errorf("while the plan copies: %s = %q, want %q", k, during[k], v)
		}
	}
	list := strings.Split(during["topic "+topic+" "+kafkaexec.FollowerThrottledReplicas], ",")
	for _, want := range planReplicas {
		if !slices.Contains(list, want) {
			t.Errorf("while the plan copies, the topic's follower list %v lacks %s", list, want)
		}
	}
	st := e.waitDone(token, 90*time.Second)
	if st.Phase != balancer.PhaseExecuted {
		t.Fatalf("plan: %+v", st)
	}
	e.waitThrottleConfigs("after the plan, as the operator had them", func(m map[string]string) bool {
		return fmt.Sprint(m) == fmt.Sprint(operator)
	}, topic)
}

// TestExecuteReplicationFactorChange: a plan that gives a partition more replicas than it
// has is refused with a 400 that says so, and nothing changes; with
// allowReplicationFactorChange it runs.
func TestExecuteReplicationFactorChange(t *testing.T) {
	e := newExecEnv(t, fastExec)
	ids := e.brokers(3)
	a, b, c := ids[0], ids[1], ids[2]
	topic := e.topic("rf", 64<<10, []int32{a, b})
	before := e.layout(topic)
	change := balancer.PlanChange{Topic: topic, Partition: 0, After: after(a, b, c)}
	got := wantBalancerError(t, e.postRaw(planOf(0, change)), http.StatusBadRequest)
	for _, want := range []string{"replication factor", "allowReplicationFactorChange", "has 2"} {
		if !strings.Contains(got.Message, want) {
			t.Errorf("message %q does not say %q", got.Message, want)
		}
	}
	if now := e.layout(topic); !slices.Equal(now[0].replicas, before[0].replicas) {
		t.Fatalf("a refused plan changed the partition: %+v", now[0])
	}
	if r := e.s.do("GET", "/balancer/plans", ""); !strings.Contains(string(r.body), `"plans":[]`) {
		t.Fatalf("a refused plan is listed: %s", r.body)
	}
	body := planOf(0, change)
	body["allowReplicationFactorChange"] = true
	if st := e.waitDone(e.post(body), 60*time.Second); st.Phase != balancer.PhaseExecuted || st.BytesMoved != st.BytesTotal || st.BytesTotal <= 0 {
		t.Fatalf("plan with allowReplicationFactorChange: %+v", st)
	}
	e.wantLayout([]balancer.PlanChange{change})
	r := e.postRaw(`{"changes":[{"topic":"x","partition":0,"after":[{"brokerId":1}]}],"allowReplicationFactorChange":"yes"}`)
	wantBalancerError(t, r, http.StatusBadRequest)
}

// TestExecuteReorderOnly: a plan whose changes only reorder replicas (what GET
// /balancer?maxMoveBytes=0 proposes) is executed as a reorder and preferred elections: the
// leaders end as planned, no replica moves (same brokers, same directories, no future
// log), nothing is copied, and no throttle is set although the plan asks for one.
func TestExecuteReorderOnly(t *testing.T) {
	e := newExecEnvWithMetrics(t, fastExec)
	ids := e.brokers(3)
	a, b, c := ids[0], ids[1], ids[2]
	topic := e.topic("reorder", 256<<10, []int32{a, b}, []int32{b, c}, []int32{a, c}, []int32{c, a})
	before := e.layout(topic)
	changes := []balancer.PlanChange{
		{Topic: topic, Partition: 0, After: after(b, a)},
		{Topic: topic, Partition: 1, After: after(c, b)},
		{Topic: topic, Partition: 2, After: after(c, a)},
		{Topic: topic, Partition: 3, After: after(a, c)},
	}
	// Watch the throttle configs for the whole run.
	stop := make(chan struct{})
	var seen []string
	var watchErr error
	brokers := e.brokers(1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			m, err := readThrottleConfigs(e.adm, brokers, topic)
			if err != nil {
				watchErr = err
				return
			}
			if len(m) > 0 {
				seen = append(seen, fmt.Sprint(m))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	token := e.post(planOf(10<<20, changes...))
	st := e.waitDone(token, 60*time.Second)
	close(stop)
	wg.Wait()
	if st.Phase != balancer.PhaseExecuted || st.BytesTotal != 0 || st.BytesMoved != 0 || st.Throttle != 0 || st.PartitionsDone != len(changes) {
		t.Fatalf("reorder-only plan: %+v", st)
	}
	if watchErr != nil {
		t.Fatal(watchErr)
	}
	if len(seen) > 0 {
		t.Errorf("a throttle was set while the plan ran: %v", seen[0])
	}
	e.wantLayout(changes)
	for p, l := range e.layout(topic) {
		if fmt.Sprint(l.dirs) != fmt.Sprint(before[p].dirs) {
			t.Errorf("partition %d: replica logs moved from %v to %v", p, before[p].dirs, l.dirs)
		}
	}
	m := e.metrics()
	if m[`fulcrum_balancer_plans{phase="executed"}`] != 1 {
		t.Errorf("metrics: %v", m)
	}
	// A search shows in the search time.
	e.s.balance("topics=" + topic)
	m = e.metrics()
	for _, k := range []string{"fulcrum_balancer_search_seconds_count", `fulcrum_balancer_kafka_errors_total{op="read"}`, "fulcrum_balancer_bytes_moved_total"} {
		if _, ok := m[k]; !ok {
			t.Errorf("/metrics has no %s", k)
		}
	}
	if m["fulcrum_balancer_search_seconds_count"] < 1 {
		t.Errorf("search time not observed: %v", m["fulcrum_balancer_search_seconds_count"])
	}
}
