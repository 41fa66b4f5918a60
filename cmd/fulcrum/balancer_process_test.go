package main

import (
	"encoding/json"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkatest"
)

func getBalancer(t *testing.T, p *process, query string) (int, map[string]any) {
	t.Helper()
	// The test Kafka shares this machine's disk: on a full one, the default maxDiskUsage
	// (0.8 of the volume) would forbid every copy, so tests lift it unless they set it.
	if !strings.Contains(query, "maxDiskUsage=") {
		query += "&maxDiskUsage=1"
	}
	resp, err := client.Get(p.base + "/balancer?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET /balancer?%s: %d %q is not JSON", query, resp.StatusCode, b)
	}
	return resp.StatusCode, body
}

// TestProcessBalancer: bin/fulcrum reads FULCRUM_KAFKA_BOOTSTRAP (as --kafka-bootstrap),
// plans on the real Kafka, and still stops cleanly on SIGTERM with its Kafka client open.
func TestProcessBalancer(t *testing.T) {
	boot := kafkatest.Bootstrap(t)
	cl := kafkatest.Client(t, boot)
	topic := kafkatest.Name("proc")
	kafkatest.CreateTopic(t, cl, topic, [][]int32{{1}, {1}, {1}})
	for p := range 3 {
		kafkatest.Fill(t, cl, topic, int32(p), 64<<10)
	}
	t.Setenv("FULCRUM_KAFKA_BOOTSTRAP", strings.Join(boot, ","))
	p := startFulcrum(t, t.TempDir(), freeAddr(t))
	// 409 means the layout is in motion: the test Kafka is shared, and another test binary
	// may be executing a plan (a reassignment in progress). An operator asks again; so do we.
	// (A topic another test has just created no longer answers 409: Fulcrum waits for its
	// logs.)
	status, body := getBalancer(t, p, "topics="+topic+"&seed=1")
	for deadline := time.Now().Add(15 * time.Second); status == 409 && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		status, body = getBalancer(t, p, "topics="+topic+"&seed=1")
	}
	if status != 200 {
		t.Fatalf("GET /balancer: %d %v\n%s", status, body, p.log)
	}
	if cost, newCost := body["cost"].(float64), body["newCost"].(float64); !(newCost < cost) {
		t.Fatalf("cost %v → %v: want a cheaper plan for a topic all on broker 1", cost, newCost)
	}
	if changes, _ := body["changes"].([]any); len(changes) == 0 {
		t.Fatalf("no changes: %v", body)
	}
	if err := p.kill(syscall.SIGTERM, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log)
	}
}

// TestProcessBalancerWithoutKafka: no bootstrap list, so /balancer answers 503 in JSON.
func TestProcessBalancerWithoutKafka(t *testing.T) {
	t.Setenv("FULCRUM_KAFKA_BOOTSTRAP", "")
	p := startFulcrum(t, t.TempDir(), freeAddr(t))
	status, body := getBalancer(t, p, "")
	if status != 503 || body["code"] != float64(503) || body["message"] == "" {
		t.Fatalf("GET /balancer without Kafka: %d %v", status, body)
	}
}
