package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkatest"
)

func balancerDo(t *testing.T, p *process, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", method, path, err, p.log)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

type planStatus struct {
	Token           string
	Done            bool
	Phase           string
	Error           string
	PartitionsTotal int
	PartitionsDone  int
	BytesTotal      int64
	BytesMoved      int64
	Restarts        int
}

func planStatusOf(t *testing.T, p *process, token string) planStatus {
	t.Helper()
	code, b := balancerDo(t, p, "GET", "/balancer/"+token, "")
	var st planStatus
	if err := json.Unmarshal(b, &st); code != 200 || err != nil {
		t.Fatalf("GET /balancer/%s: %d %s\n%s", token, code, b, p.log)
	}
	return st
}

// TestProcessPlanSurvivesKill: bin/fulcrum is killed with SIGKILL while a plan copies
// replicas, and started again on the same data dir: the token still answers (the plan was
// recorded before the 202), the plan is resumed and finishes, Kafka ends with the plan's
// layout, and the throttle is gone.
func TestProcessPlanSurvivesKill(t *testing.T) {
	boot := kafkatest.Exclusive(t)
	cl := kafkatest.Client(t, boot)
	t.Cleanup(func() { kafkatest.Healthy(t, cl) })
	adm := kadm.NewClient(cl)
	topic := kafkatest.Name("restart")
	kafkatest.CreateTopic(t, cl, topic, [][]int32{{1}, {1}})
	for p := range int32(2) {
		// More than Kafka's unthrottled first fetch (1 MiB), so that the plan lasts.
		kafkatest.Fill(t, cl, topic, p, 4<<20)
	}
	t.Setenv("FULCRUM_KAFKA_BOOTSTRAP", strings.Join(boot, ","))
	dir, listen := t.TempDir(), freeAddr(t)
	p := startFulcrum(t, dir, listen)

	plan := fmt.Sprintf(`{"changes":[
		{"topic":%q,"partition":0,"before":[{"brokerId":1}],"after":[{"brokerId":2},{"brokerId":1}]},
		{"topic":%q,"partition":1,"after":[{"brokerId":3},{"brokerId":1}]}],
		"throttle":"512KiB","allowReplicationFactorChange":true}`, topic, topic)
	code, b := balancerDo(t, p, "POST", "/balancer", plan)
	var accepted struct{ Token string }
	if err := json.Unmarshal(b, &accepted); code != http.StatusAccepted || err != nil || accepted.Token == "" {
		t.Fatalf("POST /balancer: %d %s\n%s", code, b, p.log)
	}
	token := accepted.Token
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := planStatusOf(t, p, token)
		if st.Done {
			t.Fatalf("the plan ended before the kill: %+v", st)
		}
		if st.Phase == "reassigning" && st.BytesMoved > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plan does not copy: %+v\n%s", st, p.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.kill(syscall.SIGKILL, 5*time.Second)

	p = startFulcrum(t, dir, listen)
	st := planStatusOf(t, p, token)
	if st.Restarts != 1 {
		t.Fatalf("after the restart: %+v", st)
	}
	deadline = time.Now().Add(2 * time.Minute)
	for !st.Done {
		if time.Now().After(deadline) {
			t.Fatalf("the resumed plan does not end: %+v\n%s", st, p.log)
		}
		time.Sleep(200 * time.Millisecond)
		st = planStatusOf(t, p, token)
	}
	if st.Phase != "executed" || st.Error != "" || st.PartitionsDone != 2 || st.BytesMoved != st.BytesTotal {
		t.Fatalf("resumed plan ended %+v\n%s", st, p.log)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	md, err := adm.Metadata(kadm.WithAuthorizedOps(ctx), topic)
	if err != nil {
		t.Fatal(err)
	}
	for part, want := range [][]int32{{2, 1}, {3, 1}} {
		pd := md.Topics[topic].Partitions[int32(part)]
		if !slices.Equal(pd.Replicas, want) || pd.Leader != want[0] || len(pd.ISR) != 2 {
			t.Errorf("partition %d: replicas %v leader %d isr %v, want %v led by %d", part, pd.Replicas, pd.Leader, pd.ISR, want, want[0])
		}
	}
	// The throttle set before the kill is removed by the resumed plan. Brokers learn
	// config changes a moment after the controller, hence the retries.
	deadline = time.Now().Add(10 * time.Second)
	for {
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, rc := range rcs {
			for _, c := range rc.Configs {
				if strings.HasSuffix(c.Key, ".replication.throttled.replicas") && c.Source == kmsg.ConfigSourceDynamicTopicConfig {
					left = append(left, c.Key)
				}
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("throttles left on %s: %v", topic, left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, b := balancerDo(t, p, "GET", "/balancer/plans", ""); code != 200 || !strings.Contains(string(b), token) {
		t.Fatalf("GET /balancer/plans: %d %s", code, b)
	}
	if err := p.kill(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log)
	}
}
