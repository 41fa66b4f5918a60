package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

func layoutSource(t *testing.T, err error) balancer.Source {
	t.Helper()
	c, cerr := planner.NewCluster(
		[]planner.Broker{{ID: 1, Dirs: []string{"/d1"}, Rack: "a"}, {ID: 2, Dirs: []string{"/d2"}}},
		[]planner.Partition{{Topic: "t", Partition: 0, Replicas: []planner.Replica{{BrokerID: 2, Directory: "/d2", Size: 7}, {BrokerID: 1, Directory: "/d1", Size: 9}}}})
	if cerr != nil {
		t.Fatal(cerr)
	}
	return balancer.SourceFunc(func(context.Context) (*kafkaload.Snapshot, error) {
		if err != nil {
			return nil, err
		}
		return &kafkaload.Snapshot{Cluster: c, Internal: map[string]bool{},
			States: map[string]map[int32]kafkaload.PartitionState{"t": {0: {Leader: 1}}}}, nil
	})
}

// TestBalancerLayoutHTTP: GET /balancer/layout answers the sums in JSON, 409 while the
// layout cannot be read whole, 503 without Kafka, all in the balancer's error shape.
func TestBalancerLayoutHTTP(t *testing.T) {
	s := startBalancerServerWith(t, &balancer.Options{Source: layoutSource(t, nil), Logger: zerolog.Nop()})
	r := s.do("GET", "/balancer/layout", "")
	want := `{"brokers":[` +
		`{"id":1,"rack":"a","bytes":9,"replicas":1,"leaders":1,"preferredLeaders":0,"dirs":[{"directory":"/d1","bytes":9}]},` +
		`{"id":2,"bytes":9,"replicas":1,"leaders":0,"preferredLeaders":1,"dirs":[{"directory":"/d2","bytes":9}]}],` +
		`"topics":[{"name":"t","partitions":1}],`
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" || !strings.HasPrefix(string(r.body), want) {
		t.Fatalf("GET /balancer/layout: %d %q\n%s\nwant prefix\n%s", r.status, r.header.Get("Content-Type"), r.body, want)
	}
	var l struct{ ReadAt *string }
	if err := json.Unmarshal(r.body, &l); err != nil || l.ReadAt == nil {
		t.Fatalf("readAt: %v %s", err, r.body)
	}

	moving := startBalancerServerWith(t, &balancer.Options{Logger: zerolog.Nop(),
		Source: layoutSource(t, fmt.Errorf("%w: reassignment in progress for t-0", kafkaload.ErrNotPlannable))})
	if body := wantBalancerError(t, moving.do("GET", "/balancer/layout", ""), http.StatusConflict); !strings.Contains(body.Message, "reassignment in progress") {
		t.Errorf("409 message %q", body.Message)
	}
	none := startBalancerServer(t, nil, 0)
	if body := wantBalancerError(t, none.do("GET", "/balancer/layout", ""), http.StatusServiceUnavailable); !strings.Contains(body.Message, "Kafka is not configured") {
		t.Errorf("503 message %q", body.Message)
	}
}
