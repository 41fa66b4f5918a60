package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkatest"
)

// GET /balancer refusals: bad queries, no Kafka configured, Kafka down.

// TestBalancerBadRequests: every malformed parameter is a 400 in Astraea's error shape.
func TestBalancerBadRequests(t *testing.T) {
	boot := kafkatest.Bootstrap(t)
	cl := kafkatest.Client(t, boot)
	s := startBalancerServer(t, kadm.NewClient(cl), 0)
	// Excluding every broker of the cluster leaves nowhere to put a replica: a topic of its
	// own, so there is one even when this test runs alone on a fresh cluster.
	kafkatest.CreateTopic(t, cl, kafkatest.Name("bad-requests"), [][]int32{{1}})
	var all []string
	for _, b := range kafkatest.Layout(t, boot).Brokers {
		all = append(all, fmt.Sprint(b.ID))
	}
	for _, q := range []string{
		"limit=0", "limit=-3", "limit=abc", "limit=NaN", "limit=1.5", "limit=",
		"topics=no-such-topic-anywhere", "topics=", "topics=a,,b",
		"function=NoSuchCost", "function=", "function=ReplicaSizeCost:abc", "function=ReplicaSizeCost:0",
		"function=ReplicaSizeCost:-1", "function=ReplicaSizeCost:NaN", "function=ReplicaSizeCost,ReplicaSizeCost",
		"timeout=abc", "timeout=0", "timeout=-1s", "timeout=1h", "timeout=3x",
		"seed=-1", "seed=x", "maxMoves=-1", "maxMoves=x", "maxMoveBytes=-1", "maxMoveBytes=5XB",
		"excludeBrokers=", "excludeBrokers=a", "excludeBrokers=1,,2", "excludeBrokers=-1", "excludeBrokers=99",
		"excludeBrokers=" + strings.Join(all, ","), "targetBrokers=", "targetBrokers=x", "targetBrokers=99", "excludeBrokers=3&targetBrokers=3",
		"maxDiskUsage=0", "maxDiskUsage=1.5", "maxDiskUsage=abc", "maxDiskUsage=NaN",
		"maxDiskUsage=", "minGain=-1", "minGain=abc", "minGain=Inf", "minGain=NaN", "minGain=",
		"loop=10",
	} {
		r := s.do("GET", "/balancer?"+q, "")
		body := wantBalancerError(t, r, http.StatusBadRequest)
		if t.Failed() {
			t.Fatalf("query %q: %s", q, r.body)
		}
		if q == "limit=0" && !strings.Contains(body.Message, "> 0") {
			t.Fatalf("limit=0 message %q", body.Message)
		}
		if q == "topics=no-such-topic-anywhere" && !strings.Contains(body.Message, "no-such-topic-anywhere") {
			t.Fatalf("unknown topic message %q does not name the topic", body.Message)
		}
		if q == "excludeBrokers=99" && !strings.Contains(body.Message, "unknown broker 99") {
			t.Fatalf("unknown broker message %q does not name the broker", body.Message)
		}
	}
}

type balancerError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func wantBalancerError(t *testing.T, r response, status int) balancerError {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var body balancerError
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Code != status || body.Message == "" {
		t.Errorf("body %s: want {\"code\": %d, \"message\": ...} (%v)", r.body, status, err)
	}
	return body
}

// TestBalancerWithoutKafka: no --kafka-bootstrap means 503, whatever the parameters.
func TestBalancerWithoutKafka(t *testing.T) {
	s := startBalancerServer(t, nil, 0)
	for _, q := range []string{"", "limit=10", "limit=0"} {
		body := wantBalancerError(t, s.do("GET", "/balancer?"+q, ""), http.StatusServiceUnavailable)
		if !strings.Contains(body.Message, "Kafka is not configured") {
			t.Fatalf("message %q", body.Message)
		}
	}
	// The broker API is unaffected.
	if r := s.api("GET", "/epoch", ""); r.status != http.StatusOK {
		t.Fatalf("GET /api/v2/epoch: %d", r.status)
	}
}

// TestBalancerKafkaDown: a configured Kafka that does not answer is a 503 within the read
// timeout, not a hang.
func TestBalancerKafkaDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(200*time.Millisecond), kgo.RetryTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	s := startBalancerServer(t, kadm.NewClient(cl), 2*time.Second)
	start := time.Now()
	body := wantBalancerError(t, s.do("GET", "/balancer", ""), http.StatusServiceUnavailable)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s with a 2s read timeout", d)
	}
	if !strings.Contains(body.Message, "metadata") {
		t.Fatalf("message %q does not say what failed", body.Message)
	}
}
