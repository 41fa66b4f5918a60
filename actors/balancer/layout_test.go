package balancer_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// TestLayoutSumsBrokersAndDirectories: bytes at planning size per broker and directory,
// current leaders from the partition states, preferred leaders from the first replicas.
func TestLayoutSumsBrokersAndDirectories(t *testing.T) {
	c, err := planner.NewCluster(
		[]planner.Broker{
			{ID: 2, Dirs: []string{"/b/x"}},
			{ID: 1, Dirs: []string{"/a/y", "/a/x"}, Rack: "r1", Space: map[string]planner.DirSpace{"/a/x": {Total: 1000, Usable: 400}}},
		},
		[]planner.Partition{
			// Planning size 30: the largest replica.
			{Topic: "t", Partition: 0, Replicas: []planner.Replica{{BrokerID: 1, Directory: "/a/x", Size: 30}, {BrokerID: 2, Directory: "/b/x", Size: 20}}},
			{Topic: "t", Partition: 1, Replicas: []planner.Replica{{BrokerID: 2, Directory: "/b/x", Size: 5}}},
			{Topic: "__consumer_offsets", Partition: 0, Replicas: []planner.Replica{{BrokerID: 1, Directory: "/a/y", Size: 1}}},
		})
	if err != nil {
		t.Fatal(err)
	}
	src := balancer.SourceFunc(func(context.Context) (*kafkaload.Snapshot, error) {
		return &kafkaload.Snapshot{Cluster: c, Internal: map[string]bool{"__consumer_offsets": true},
			States: map[string]map[int32]kafkaload.PartitionState{
				"t":                  {0: {Leader: 2}, 1: {Leader: 2}}, // partition 0 led by its second replica
				"__consumer_offsets": {0: {Leader: -1}},                // no leader
			}}, nil
	})
	b := start(t, newSystem(t), balancer.Options{Source: src})
	got, err := b.Layout()
	if err != nil {
		t.Fatal(err)
	}
	want := []balancer.BrokerLayout{
		{ID: 1, Rack: "r1", Bytes: 31, Replicas: 2, Leaders: 0, PreferredLeaders: 2, Dirs: []balancer.DirLayout{
			{Directory: "/a/x", Bytes: 30, TotalBytes: 1000, UsableBytes: 400}, {Directory: "/a/y", Bytes: 1}}},
		{ID: 2, Bytes: 35, Replicas: 2, Leaders: 2, PreferredLeaders: 1, Dirs: []balancer.DirLayout{{Directory: "/b/x", Bytes: 35}}},
	}
	if !reflect.DeepEqual(got.Brokers, want) {
		t.Errorf("brokers\n got %+v\nwant %+v", got.Brokers, want)
	}
	wantTopics := []balancer.TopicLayout{{Name: "__consumer_offsets", Partitions: 1, Internal: true}, {Name: "t", Partitions: 2}}
	if !reflect.DeepEqual(got.Topics, wantTopics) {
		t.Errorf("topics\n got %+v\nwant %+v", got.Topics, wantTopics)
	}
}

// TestLayoutErrorKinds: a layout that cannot be read whole is a conflict, an unreachable
// Kafka unavailable.
func TestLayoutErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		loadErr error
		kind    error
	}{
		{fmt.Errorf("%w: reassignment in progress for t-0", kafkaload.ErrNotPlannable), balancer.ErrConflict},
		{fmt.Errorf("%w: metadata: dial refused", kafkaload.ErrUnavailable), balancer.ErrUnavailable},
		{errors.New("anything else"), balancer.ErrUnavailable},
	} {
		src := balancer.SourceFunc(func(context.Context) (*kafkaload.Snapshot, error) { return nil, tc.loadErr })
		b := start(t, newSystem(t), balancer.Options{Source: src})
		if _, err := b.Layout(); !errors.Is(err, tc.kind) || !errors.Is(err, tc.loadErr) {
			t.Errorf("load error %v: got %v, want kind %v", tc.loadErr, err, tc.kind)
		}
	}
}
