package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkatest"
	"github.com/seed248d40c9/fulcrum/planner"
)

// TestExecutePlanFromProposal: the plan GET /balancer proposes, posted as it is, runs to
// the end: Kafka's layout is then the plan's (brokers in order, the first leading,
// directories), the progress adds up, the throttle was set while it ran and is gone, and
// the plan is listed.
func TestExecutePlanFromProposal(t *testing.T) {
	e := newExecEnv(t, fastExec)
	topic := e.topic("exec", 128<<10, []int32{1, 2}, []int32{1, 2}, []int32{1, 2}, []int32{1, 2})

	rep := e.s.balance("topics=" + topic + "&seed=1")
	if len(rep.Changes) == 0 {
		t.Fatalf("no changes proposed for a skewed topic: %+v", rep)
	}
	// The report, posted as it is (with "cost", "before" sizes...), plus a throttle high
	// enough not to slow the test.
	raw := e.s.do("GET", "/balancer?"+roomOnDisk("topics="+topic+"&seed=1"), "")
	var body map[string]any
	if err := json.Unmarshal(raw.body, &body); err != nil {
		t.Fatal(err)
	}
	body["throttle"] = "50MiB"
	token := e.post(body)

	st := e.waitDone(token, 90*time.Second)
	if st.Phase != balancer.PhaseExecuted || st.Error != "" {
		t.Fatalf("plan ended %s: %s", st.Phase, st.Error)
	}
	if st.PartitionsTotal != len(rep.Changes) || st.PartitionsDone != st.PartitionsTotal || st.BytesMoved != st.BytesTotal ||
		st.BytesTotal <= 0 || st.FinishTime == nil || st.FinishTime.Before(st.StartTime) || st.Throttle != 50<<20 ||
		st.ETASeconds == nil || *st.ETASeconds != 0 {
		t.Fatalf("final status %+v", st)
	}
	e.wantLayout(rep.Changes) // the report's changes are the plan's
	e.wantNoThrottle(topic)

	r := e.s.do("GET", "/balancer/plans", "")
	var list struct{ Plans []balancer.PlanStatus }
	if err := json.Unmarshal(r.body, &list); r.status != 200 || err != nil || len(list.Plans) != 1 ||
		list.Plans[0].Token != token || list.Plans[0].Phase != balancer.PhaseExecuted {
		t.Fatalf("GET /balancer/plans: %d %s", r.status, r.body)
	}
	wantBalancerError(t, e.s.do("GET", "/balancer/00000000-0000-4000-8000-000000000000", ""), http.StatusNotFound)
	wantBalancerError(t, e.s.do("DELETE", "/balancer/nope", ""), http.StatusNotFound)
	// A plan that is over cannot be cancelled.
	wantBalancerError(t, e.s.do("DELETE", "/balancer/"+token, ""), http.StatusConflict)
}

// TestExecuteDirectoryOnlyAndLeaderOnly: a plan that only moves a replica to the other
// directory of its broker, then one that only changes the leader (same replicas, another
// order): both end with Kafka as planned; the leader-only plan copies nothing.
func TestExecuteDirectoryOnlyAndLeaderOnly(t *testing.T) {
	e := newExecEnv(t, fastExec)
	topic := e.topic("dirs", 256<<10, []int32{1, 2}, []int32{1, 2})
	now := e.layout(topic)
	from := now[0].dirs[1]
	var to string
	for _, d := range e.brokerDirs()[1] {
		if d != from {
			to = d
		}
	}
	if to == "" || from == "" {
		t.Fatalf("broker 1 dirs %v, replica in %q", e.brokerDirs()[1], from)
	}

	dirOnly := []balancer.PlanChange{{
		Topic: topic, Partition: 0,
		Before: []planner.Replica{{BrokerID: 1, Directory: from}, {BrokerID: 2}},
		After:  []balancer.Placement{{BrokerID: 1, Directory: to}, {BrokerID: 2}},
	}}
	token := e.post(planOf(20<<20, dirOnly...))
	st := e.waitDone(token, 60*time.Second)
	if st.Phase != balancer.PhaseExecuted || st.BytesTotal < 256<<10 || st.BytesMoved != st.BytesTotal {
		t.Fatalf("directory-only plan: %+v", st)
	}
	e.wantLayout(dirOnly)
	if got := e.layout(topic)[0].dirs[2]; got != now[0].dirs[2] {
		t.Fatalf("broker 2's replica moved from %s to %s", now[0].dirs[2], got)
	}

	leaderOnly := []balancer.PlanChange{{Topic: topic, Partition: 1, After: after(2, 1)}}
	token = e.post(planOf(0, leaderOnly...))
	st = e.waitDone(token, 60*time.Second)
	if st.Phase != balancer.PhaseExecuted || st.BytesTotal != 0 || st.PartitionsDone != 1 {
		t.Fatalf("leader-only plan: %+v", st)
	}
	e.wantLayout(leaderOnly)
	e.wantNoThrottle(topic)
}

// TestExecuteRefusals: every malformed plan is a 400 and every plan the cluster's state
// contradicts a 409, each with a message saying why, and nothing runs; of two plans posted
// at once exactly one runs.
func TestExecuteRefusals(t *testing.T) {
	e := newExecEnv(t, fastExec)
	topic := e.topic("refuse", 64<<10, []int32{1, 2}, []int32{1, 2})
	dirs := e.brokerDirs()
	ok := fmt.Sprintf(`{"topic":%q,"partition":0,"after":[{"brokerId":2},{"brokerId":1}]}`, topic)
	for _, c := range []struct{ body, want string }{
		{``, "JSON object"},
		{`[]`, "JSON object"},
		{`{"changes":`, "invalid JSON"},
		{`{}`, "changes is required"},
		{`{"changes":null}`, "changes is required"},
		{`{"changes":[]}`, "at least one change"},
		{`{"changes":{}}`, "invalid JSON"},
		{`{"changes":[{"partition":0,"after":[{"brokerId":1}]}]}`, "topic is required"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"after":[{"brokerId":1}]}]}`, topic), "partition is required"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":"0","after":[{"brokerId":1}]}]}`, topic), "invalid JSON"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":0}]}`, topic), "after is required"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":0,"after":[]}]}`, topic), "at least one replica"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":0,"after":[{"directory":"/x"}]}]}`, topic), "brokerId is required"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":0,"after":[{"brokerId":1},{"brokerId":1}]}]}`, topic), "broker 1 twice"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":0,"before":[{"brokerId":2},{"brokerId":2}],"after":[{"brokerId":1}]}]}`, topic), "broker 2 twice"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":-1,"after":[{"brokerId":1}]}]}`, topic), "≥ 0"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":0,"after":[{"brokerId":1,"directory":""}]}]}`, topic), "directory is empty"},
		{fmt.Sprintf(`{"changes":[%s,%s]}`, ok, ok), "changed twice"},
		{fmt.Sprintf(`{"changes":[%s],"throttle":-1}`, ok), "throttle"},
		{fmt.Sprintf(`{"changes":[%s],"throttle":"fast"}`, ok), "throttle"},
		{fmt.Sprintf(`{"changes":[%s],"concurrency":0}`, ok), "concurrency"},
		// Against Kafka.
		{`{"changes":[{"topic":"no-such-topic-at-all","partition":0,"after":[{"brokerId":1}]}]}`, `unknown topic "no-such-topic-at-all"`},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":7,"after":[{"brokerId":1}]}]}`, topic), "unknown partition " + topic + "-7"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":0,"after":[{"brokerId":1},{"brokerId":9}]}]}`, topic), "unknown broker 9"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":0,"after":[{"brokerId":1,"directory":%q}]}]}`, topic, dirs[2][0]), "broker 1 has no log directory"},
	} {
		r := e.postRaw(c.body)
		got := wantBalancerError(t, r, http.StatusBadRequest)
		if !strings.Contains(got.Message, c.want) {
			t.Errorf("POST %s: message %q, want it to say %q", c.body, got.Message, c.want)
		}
	}

	now := e.layout(topic)[0]
	for _, c := range []struct{ body, want string }{
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":0,"before":[{"brokerId":2},{"brokerId":1}],"after":[{"brokerId":3},{"brokerId":1}]}]}`, topic), "before lists brokers [2 1]"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":0,"before":[{"brokerId":1},{"brokerId":3}],"after":[{"brokerId":3},{"brokerId":1}]}]}`, topic), "before lists brokers [1 3]"},
		{fmt.Sprintf(`{"changes":[{"topic":%q,"partition":0,"before":[{"brokerId":1,"directory":"/elsewhere"},{"brokerId":2}],"after":[{"brokerId":3},{"brokerId":1}]}]}`, topic), "but it is in " + now.dirs[1]},
	} {
		got := wantBalancerError(t, e.postRaw(c.body), http.StatusConflict)
		if !strings.Contains(got.Message, c.want) {
			t.Errorf("POST %s: message %q, want it to say %q", c.body, got.Message, c.want)
		}
	}

	// A reassignment started by someone else (kept slow by a throttle) is in progress.
	busy := e.topic("busy", 1<<20, []int32{1})
	admin := kafkaexec.NewAdmin(e.adm, 0)
	ctx := context.Background()
	if err := admin.SetThrottle(ctx, kafkaexec.Throttle{Rate: 10 << 10, Leaders: map[string][]string{busy: {"0:1"}},
		Followers: map[string][]string{busy: {"0:2"}}}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.CancelReassign(ctx, []kafkaexec.TP{{Topic: busy, Partition: 0}}); err != nil {
			t.Errorf("cancel reassignment: %v", err)
		}
		if err := admin.RestoreThrottle(ctx, nil, []string{busy}); err != nil {
			t.Errorf("clear throttle: %v", err)
		}
	})
	if res, err := admin.Reassign(ctx, map[kafkaexec.TP][]int32{{Topic: busy, Partition: 0}: {1, 2}}); err != nil || res[kafkaexec.TP{Topic: busy, Partition: 0}] != nil {
		t.Fatalf("reassign: %v %v", res, err)
	}
	got := wantBalancerError(t, e.postRaw(planOf(0, balancer.PlanChange{Topic: busy, Partition: 0, After: after(3)})), http.StatusConflict)
	if !strings.Contains(got.Message, "reassignment is in progress") {
		t.Errorf("message %q", got.Message)
	}

	// Two plans posted at once: exactly one is accepted, the other is told one executes.
	// The accepted one is slow (a low throttle), so a third is refused too.
	slow := e.topic("slow", 4<<20, []int32{1}, []int32{1})
	plans := []map[string]any{
		planOf(32<<10, balancer.PlanChange{Topic: slow, Partition: 0, After: after(2)}),
		planOf(32<<10, balancer.PlanChange{Topic: slow, Partition: 1, After: after(3)}),
	}
	results := make([]response, 2)
	var wg sync.WaitGroup
	for i := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.postRaw(plans[i])
		}()
	}
	wg.Wait()
	var token string
	for i, r := range results {
		switch r.status {
		case http.StatusAccepted:
			if token != "" {
				t.Fatalf("both plans accepted: %s / %s", results[0].body, results[1].body)
			}
			var out struct{ Token string }
			json.Unmarshal(r.body, &out)
			token = out.Token
		case http.StatusConflict:
			if !strings.Contains(string(r.body), "executing") {
				t.Errorf("plan %d refused with %s", i, r.body)
			}
		default:
			t.Fatalf("plan %d: %d %s", i, r.status, r.body)
		}
	}
	if token == "" {
		t.Fatalf("no plan accepted: %s / %s", results[0].body, results[1].body)
	}
	got = wantBalancerError(t, e.postRaw(planOf(0, balancer.PlanChange{Topic: topic, Partition: 1, After: after(2, 1)})), http.StatusConflict)
	if !strings.Contains(got.Message, token) {
		t.Errorf("message %q does not name the executing plan %s", got.Message, token)
	}
	if st := e.status(token); st.Done {
		t.Fatalf("the slow plan is already over: %+v", st)
	}
	// Cancelling it frees the way.
	r := e.s.do("DELETE", "/balancer/"+token, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"phase":"cancelled"`) {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	next := e.post(planOf(0, balancer.PlanChange{Topic: topic, Partition: 1, After: after(2, 1)}))
	if st := e.waitDone(next, 60*time.Second); st.Phase != balancer.PhaseExecuted {
		t.Fatalf("plan after the cancelled one: %+v", st)
	}
	r = e.s.do("GET", "/balancer/plans", "")
	var list struct{ Plans []balancer.PlanStatus }
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Plans) != 2 {
		t.Fatalf("plans: %s (refused plans are not listed)", r.body)
	}
}

// TestExecuteCancel: DELETE during execution cancels the reassignments in flight (Kafka
// puts back the replicas), so every partition is either as it was or as planned, in sync,
// with no move left; the throttle is removed; the plan is "cancelled", and stays so.
func TestExecuteCancel(t *testing.T) {
	e := newExecEnv(t, fastExec)
	// Kafka lets the first fetch of a new replica through unthrottled (up to 1 MiB), so
	// the partitions hold more than that for the plan to last.
	topic := e.topic("cancel", 4<<20, []int32{1, 2}, []int32{1, 2}, []int32{1, 2})
	before := e.layout(topic)
	var changes []balancer.PlanChange
	for p := range int32(3) {
		changes = append(changes, balancer.PlanChange{Topic: topic, Partition: p, After: after(3, 1)})
	}
	token := e.post(planOf(256<<10, changes...))
	e.waitFor(token, 30*time.Second, "copying", func(s balancer.PlanStatus) bool {
		return s.Phase == balancer.PhaseReassigning && s.BytesMoved > 0
	})
	if !e.throttleSet(topic) {
		t.Fatal("no throttle on the topic while the plan copies")
	}
	r := e.s.do("DELETE", "/balancer/"+token, "")
	var st balancer.PlanStatus
	if err := json.Unmarshal(r.body, &st); r.status != http.StatusOK || err != nil || st.Phase != balancer.PhaseCancelled ||
		!st.Done || st.FinishTime == nil || st.Error != "" {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	for p, l := range e.layout(topic) {
		if !(slices.Equal(l.replicas, before[p].replicas) || slices.Equal(l.replicas, []int32{3, 1})) ||
			len(l.isr) != 2 || l.futures != 0 {
			t.Errorf("partition %d after cancel: %+v", p, l)
		}
	}
	e.wantNoThrottle(topic)
	// Cancelling again answers the same; the plan stays cancelled.
	if r := e.s.do("DELETE", "/balancer/"+token, ""); r.status != http.StatusOK {
		t.Fatalf("second DELETE: %d %s", r.status, r.body)
	}
	if st := e.status(token); st.Phase != balancer.PhaseCancelled {
		t.Fatalf("after cancel: %+v", st)
	}
}

// TestExecuteBrokerStopped: the broker receiving the new replicas dies during the plan.
// The plan does not hang: it ends (done, failed) with an error that names the broker, its
// reassignments are cancelled, its partitions are back in their original order with their
// leader (partition 0's cancellation leaves [2 1]), and its throttle is removed. The broker is then started
// again, and the cluster is healthy.
func TestExecuteBrokerStopped(t *testing.T) {
	exec := fastExec
	// Long enough for a throttled leader to serve again (Kafka's quota window is 11 s),
	// short enough for the test.
	exec.StallTimeout = 15 * time.Second
	e := newExecEnv(t, exec)
	kc := kafkatest.Cluster(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := kc.StartBroker(ctx, 3); err != nil {
			t.Errorf("restart broker 3: %v", err)
		}
	})
	topic := e.topic("stop", 4<<20, []int32{1, 2}, []int32{1, 2})
	changes := []balancer.PlanChange{
		{Topic: topic, Partition: 0, After: after(2, 3)},
		{Topic: topic, Partition: 1, After: after(3, 1)},
	}
	token := e.post(planOf(256<<10, changes...))
	e.waitFor(token, 30*time.Second, "copying", func(s balancer.PlanStatus) bool {
		return s.Phase == balancer.PhaseReassigning && s.BytesMoved > 0
	})
	if err := kc.StopBroker(3, true); err != nil {
		t.Fatal(err)
	}
	st := e.waitDone(token, 90*time.Second)
	if st.Phase != balancer.PhaseFailed || !strings.Contains(st.Error, "no progress") ||
		!(strings.Contains(st.Error, "brokers [3] are not in the cluster") || strings.Contains(st.Error, "brokers [3] do not answer")) {
		t.Fatalf("plan with broker 3 dead: %+v", st)
	}
	t.Logf("error: %s", st.Error)
	e.wantNoThrottle(topic)
	for p, l := range e.layout(topic) {
		if !slices.Equal(l.replicas, []int32{1, 2}) || l.leader != 1 {
			t.Errorf("partition %d not reverted: %+v", p, l)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := kc.StartBroker(ctx, 3); err != nil {
		t.Fatal(err)
	}
	kafkatest.Healthy(t, e.cl)
	e.wantNoThrottle(topic) // broker 3's own configs too
}
