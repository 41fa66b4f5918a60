package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkatest"
)

// haPlanStatus reads GET /balancer/<token> of n.
func haPlanStatus(t *testing.T, n *haNode, token string) planStatus {
	t.Helper()
	st, err := tryPlanStatus(n, token)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tryPlanStatus is haPlanStatus for a wait, which may see a takeover's brief refusals.
func tryPlanStatus(n *haNode, token string) (planStatus, error) {
	code, body, err := haGet(n.base(), "/balancer/"+token)
	var st planStatus
	if err == nil && code == 200 {
		err = json.Unmarshal(body, &st)
	}
	if err != nil || code != 200 {
		return st, fmt.Errorf("GET /balancer/%s on %s: %d %s %v", token, n.listen, code, body, err)
	}
	return st, nil
}

// Plans live in etcd and only the leader executes them: a plan posted to a follower
// (forwarded) runs on the leader; the leader is killed -9 while it copies replicas; the
// follower takes over, resumes the plan from its record and finishes it, and Kafka ends
// with the plan's layout. The old leader, restarted, reports the finished plan.
func TestHAPlanResumesOnTheNewLeader(t *testing.T) {
	t.Parallel() // after the serial tests, which release their Kafka locks
	boot := kafkatest.Exclusive(t)
	cl := kafkatest.Client(t, boot)
	t.Cleanup(func() { kafkatest.Healthy(t, cl) })
	topic := kafkatest.Name("ha-plan")
	kafkatest.CreateTopic(t, cl, topic, [][]int32{{1}, {1}})
	for p := range int32(2) {
		// More than Kafka's unthrottled first fetch (1 MiB), so that the plan lasts.
		kafkatest.Fill(t, cl, topic, p, 4<<20)
	}
	b := newHABroker(t, "plans", 2)
	b.extra = []string{"--kafka-bootstrap", strings.Join(boot, ",")}
	for _, n := range b.nodes {
		b.start(n)
	}
	leader := b.waitLeader(20 * time.Second)
	follower := b.nodes[0]
	if follower == leader {
		follower = b.nodes[1]
	}

	plan := fmt.Sprintf(`{"changes":[
		{"topic":%q,"partition":0,"before":[{"brokerId":1}],"after":[{"brokerId":2},{"brokerId":1}]},
		{"topic":%q,"partition":1,"after":[{"brokerId":3},{"brokerId":1}]}],
		"throttle":"512KiB","allowReplicationFactorChange":true}`, topic, topic)
	code, body, err := haDo(follower.base(), "POST", "/balancer", plan)
	var accepted struct{ Token string }
	if err == nil {
		err = json.Unmarshal(body, &accepted)
	}
	if code != http.StatusAccepted || err != nil || accepted.Token == "" {
		t.Fatalf("POST /balancer to the follower: %d %s %v", code, body, err)
	}
	token := accepted.Token
	waitFor(t, 30*time.Second, "the plan copies replicas", func() bool {
		st := haPlanStatus(t, leader, token)
		if st.Done {
			t.Fatalf("the plan ended before the kill: %+v", st)
		}
		return st.Phase == "reassigning" && st.BytesMoved > 0
	})
	// The follower answers the plan's status too (from the records in etcd).
	if st := haPlanStatus(t, follower, token); st.Token != token {
		t.Fatalf("the follower's status of the plan: %+v", st)
	}

	b.kill(leader)
	if got := b.waitLeader(20 * time.Second); got != follower {
		t.Fatalf("%s leads after the kill, want %s", got.listen, follower.listen)
	}
	var st planStatus
	waitFor(t, 2*time.Minute, "the new leader finishes the plan", func() bool {
		var err error
		st, err = tryPlanStatus(follower, token)
		return err == nil && st.Done
	})
	if st.Phase != "executed" || st.Error != "" || st.PartitionsDone != 2 || st.BytesMoved != st.BytesTotal || st.Restarts < 1 {
		t.Fatalf("the plan resumed by the new leader ended %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).Metadata(kadm.WithAuthorizedOps(ctx), topic)
	if err != nil {
		t.Fatal(err)
	}
	for part, want := range [][]int32{{2, 1}, {3, 1}} {
		pd := md.Topics[topic].Partitions[int32(part)]
		if !slices.Equal(pd.Replicas, want) || pd.Leader != want[0] || len(pd.ISR) != 2 {
			t.Errorf("partition %d: replicas %v leader %d isr %v, want %v led by %d", part, pd.Replicas, pd.Leader, pd.ISR, want, want[0])
		}
	}

	b.start(leader)
	waitFor(t, 20*time.Second, "the restarted old leader reports the finished plan", func() bool {
		got, err := tryPlanStatus(leader, token)
		return err == nil && got.Done && got.Phase == "executed"
	})
}
