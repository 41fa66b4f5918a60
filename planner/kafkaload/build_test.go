package kafkaload

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed248d40c9/fulcrum/planner"
)

// Hand-made Kafka answers for the cases a live test cannot stage on demand.

func metadata(replicas ...[]int32) kadm.Metadata {
	rack := "r1"
	md := kadm.Metadata{
		Brokers: kadm.BrokerDetails{{NodeID: 1, Rack: &rack}, {NodeID: 2}},
		Topics: kadm.TopicDetails{
			"t": {Topic: "t", Partitions: kadm.PartitionDetails{}},
			"__consumer_offsets": {Topic: "__consumer_offsets", IsInternal: true, Partitions: kadm.PartitionDetails{
				0: {Topic: "__consumer_offsets", Partition: 0, Leader: 2, Replicas: []int32{2}, ISR: []int32{2}},
			}},
		},
	}
	for p, r := range replicas {
		md.Topics["t"].Partitions[int32(p)] = kadm.PartitionDetail{Topic: "t", Partition: int32(p), Leader: r[0], Replicas: r, ISR: r}
	}
	return md
}

func logDirs() kadm.DescribedAllLogDirs {
	entry := func(b int32, dir, topic string, p int32, size int64) kadm.DescribedLogDirPartition {
		return kadm.DescribedLogDirPartition{Broker: b, Dir: dir, Topic: topic, Partition: p, Size: size}
	}
	return kadm.DescribedAllLogDirs{
		1: {
			"/b1/a": {Broker: 1, Dir: "/b1/a", Topics: kadm.DescribedLogDirTopics{"t": {0: entry(1, "/b1/a", "t", 0, 100)}},
				TotalBytes: 10000, UsableBytes: 4000},
			"/b1/b": {Broker: 1, Dir: "/b1/b", Topics: kadm.DescribedLogDirTopics{"t": {1: entry(1, "/b1/b", "t", 1, 300)}},
				TotalBytes: -1, UsableBytes: -1}, // not reported: before Kafka 3.3
		},
		2: {
			"/b2/a": {Broker: 2, Dir: "/b2/a", Topics: kadm.DescribedLogDirTopics{
				"t":                  {0: entry(2, "/b2/a", "t", 0, 90)},
				"__consumer_offsets": {0: entry(2, "/b2/a", "__consumer_offsets", 0, 7)},
			}},
			"/b2/b": {Broker: 2, Dir: "/b2/b", Topics: kadm.DescribedLogDirTopics{}},
		},
	}
}

func TestBuild(t *testing.T) {
	snap, err := build(metadata([]int32{2, 1}, []int32{1}), logDirs())
	if err != nil {
		t.Fatal(err)
	}
	parts := snap.Cluster.Partitions()
	if len(parts) != 3 {
		t.Fatalf("%d partitions, want 3", len(parts))
	}
	// Sorted by topic: __consumer_offsets-0, t-0, t-1. The replica order is Kafka's: the
	// first is the preferred leader.
	t0 := parts[1]
	if t0.Topic != "t" || t0.Partition != 0 || t0.Replicas[0].BrokerID != 2 || t0.Replicas[0].Directory != "/b2/a" ||
		t0.Replicas[0].Size != 90 || t0.Replicas[1].BrokerID != 1 || t0.Replicas[1].Directory != "/b1/a" || t0.Replicas[1].Size != 100 {
		t.Fatalf("t-0: %+v", t0)
	}
	if got := snap.Cluster.Brokers(); len(got) != 2 || len(got[1].Dirs) != 2 || got[1].Dirs[1] != "/b2/b" {
		t.Fatalf("brokers %+v: the empty directory /b2/b must be a place to move to", got)
	}
	if !snap.Internal["__consumer_offsets"] || snap.Internal["t"] {
		t.Fatalf("internal %v", snap.Internal)
	}
	if d := snap.DefaultTopics(); len(d) != 1 || d[0] != "t" {
		t.Fatalf("default topics %v, want [t]", d)
	}
	if snap.Racks[1] != "r1" || len(snap.Racks) != 1 {
		t.Fatalf("racks %v", snap.Racks)
	}
	if b := snap.Cluster.Brokers(); b[0].Rack != "r1" || b[1].Rack != "" {
		t.Fatalf("brokers' racks %q and %q, want r1 and none", b[0].Rack, b[1].Rack)
	}
	// The capacity is what Kafka reported, and nothing where it reported -1 or nothing.
	if sp := snap.Cluster.Brokers()[0].Space; len(sp) != 1 || sp["/b1/a"] != (planner.DirSpace{Total: 10000, Usable: 4000}) {
		t.Fatalf("space of broker 1: %v", sp)
	}
	if sp := snap.Cluster.Brokers()[1].Space; sp != nil {
		t.Fatalf("space of broker 2: %v, want none reported", sp)
	}
	if s := snap.States["t"][0]; s.Leader != 2 || len(s.ISR) != 2 {
		t.Fatalf("state of t-0: %+v", s)
	}
}

func TestBuildRefuses(t *testing.T) {
	cases := map[string]func(md *kadm.Metadata, ld kadm.DescribedAllLogDirs){
		"replica on a broker that is down": func(md *kadm.Metadata, ld kadm.DescribedAllLogDirs) {
			md.Brokers = md.Brokers[:1]
			delete(ld, 2)
		},
		"offline replica": func(md *kadm.Metadata, _ kadm.DescribedAllLogDirs) {
			p := md.Topics["t"].Partitions[0]
			p.OfflineReplicas = []int32{1}
			md.Topics["t"].Partitions[0] = p
		},
		"offline log dir": func(_ *kadm.Metadata, ld kadm.DescribedAllLogDirs) {
			d := ld[1]["/b1/b"]
			d.Err = kerr.KafkaStorageError
			ld[1]["/b1/b"] = d
		},
		"replica moving between dirs": func(_ *kadm.Metadata, ld kadm.DescribedAllLogDirs) {
			ld[1]["/b1/a"].Topics["t"][1] = kadm.DescribedLogDirPartition{Broker: 1, Dir: "/b1/a", Topic: "t", Partition: 1, IsFuture: true}
		},
		"log not created yet": func(_ *kadm.Metadata, ld kadm.DescribedAllLogDirs) {
			delete(ld[1]["/b1/b"].Topics["t"], 1)
		},
	}
	for name, edit := range cases {
		md, ld := metadata([]int32{2, 1}, []int32{1}), logDirs()
		edit(&md, ld)
		_, err := build(md, ld)
		if !errors.Is(err, ErrNotPlannable) {
			t.Errorf("%s: %v, want ErrNotPlannable", name, err)
		}
		// Only a log a live broker has not created yet is worth reading again for.
		if wait := name == "log not created yet"; errors.Is(err, errLogNotYet) != wait {
			t.Errorf("%s: %v: waited for = %v, want %v", name, err, !wait, wait)
		}
	}
	md := metadata([]int32{2, 1})
	md.Brokers = append(md.Brokers, kgo.BrokerMetadata{NodeID: 3})
	if _, err := build(md, logDirs()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("broker without log dir answer: %v, want ErrUnavailable", err)
	}
}
