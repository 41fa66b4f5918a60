package main

import (
	"testing"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
	"github.com/seed248d40c9/fulcrum/planner"
)

// Four brokers on two racks (1, 3 on a; 2, 4 on b), two directories each.
func testCluster(t *testing.T, parts ...planner.Partition) *planner.Cluster {
	t.Helper()
	var brokers []planner.Broker
	for id := int32(1); id <= 4; id++ {
		brokers = append(brokers, planner.Broker{ID: id, Dirs: []string{dir(id, "a"), dir(id, "b")}})
	}
	c, err := planner.NewCluster(brokers, parts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dir(b int32, d string) string { return "/k/b" + string(rune('0'+b)) + "/" + d }

var testRacks = map[int32]string{1: "a", 2: "b", 3: "a", 4: "b"}

func part(p int32, size int64, replicas ...planner.Replica) planner.Partition {
	for i := range replicas {
		replicas[i].Size = size
	}
	return planner.Partition{Topic: "t", Partition: p, Replicas: replicas}
}

func rep(b int32, d string) planner.Replica {
	return planner.Replica{BrokerID: b, Directory: dir(b, d)}
}

func TestRackConflicts(t *testing.T) {
	for _, c := range []struct {
		name  string
		parts []planner.Partition
		racks map[int32]string
		want  int
	}{
		{"distinct racks", []planner.Partition{part(0, 1, rep(1, "a"), rep(2, "a"))}, testRacks, 0},
		{"one rack", []planner.Partition{part(0, 1, rep(1, "a"), rep(3, "a")), part(1, 1, rep(2, "a"), rep(4, "b"))}, testRacks, 2},
		{"more replicas than racks", []planner.Partition{part(0, 1, rep(1, "a"), rep(2, "a"), rep(3, "a"))}, testRacks, 0},
		{"no racks: each broker its own", []planner.Partition{part(0, 1, rep(1, "a"), rep(3, "a"))}, map[int32]string{}, 0},
	} {
		if got := rackConflicts(testCluster(t, c.parts...), c.racks); got != c.want {
			t.Errorf("%s: %d conflicts, want %d", c.name, got, c.want)
		}
	}
}

// A replica that stays keeps its directory; new ones fill the emptiest directory first.
func TestKafkaChangesPicksDirectoriesAsKafka(t *testing.T) {
	c := testCluster(t,
		part(0, 10, rep(1, "a"), rep(3, "a")),
		part(1, 10, rep(1, "a"), rep(3, "a")),
		part(2, 10, rep(1, "b"), rep(3, "a")),
	)
	prop := kafkacluster.Reassignment{Partitions: []kafkacluster.ReassignmentPartition{
		{Topic: "t", Partition: 0, Replicas: []int32{2, 1}},
		{Topic: "t", Partition: 1, Replicas: []int32{3, 2}},
		{Topic: "t", Partition: 2, Replicas: []int32{3, 1}},
	}}
	changes, err := kafkaChanges(c, prop)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]planner.Placement{
		{{BrokerID: 2, Directory: dir(2, "a")}, {BrokerID: 1, Directory: dir(1, "a")}},
		{{BrokerID: 3, Directory: dir(3, "a")}, {BrokerID: 2, Directory: dir(2, "b")}},
		{{BrokerID: 3, Directory: dir(3, "a")}, {BrokerID: 1, Directory: dir(1, "b")}},
	}
	for i, ch := range changes {
		for j, p := range ch.After {
			if p != want[i][j] {
				t.Fatalf("partition %d: %+v, want %+v", i, ch.After, want[i])
			}
		}
	}
	if _, err := kafkaChanges(c, kafkacluster.Reassignment{Partitions: []kafkacluster.ReassignmentPartition{{Topic: "t", Partition: 0, Replicas: []int32{9}}}}); err == nil {
		t.Fatal("unknown broker accepted")
	}
	if _, err := kafkaChanges(c, kafkacluster.Reassignment{Partitions: []kafkacluster.ReassignmentPartition{{Topic: "u", Partition: 0, Replicas: []int32{1}}}}); err == nil {
		t.Fatal("unknown partition accepted")
	}
}

// score counts the bytes of every replica copied, the leaders moved and the partitions
// changed, and the rack conflicts left.
func TestScore(t *testing.T) {
	c := testCluster(t,
		part(0, 100, rep(1, "a"), rep(3, "a")),
		part(1, 50, rep(1, "b"), rep(2, "a")),
	)
	fs := planner.DefaultFunctions()
	changes := []planner.Change{
		{Topic: "t", Partition: 0, After: []planner.Placement{{BrokerID: 4, Directory: dir(4, "a")}, {BrokerID: 3, Directory: dir(3, "a")}}},
		{Topic: "t", Partition: 1, After: []planner.Placement{{BrokerID: 2, Directory: dir(2, "a")}, {BrokerID: 1, Directory: dir(1, "b")}}},
	}
	s, err := score(c, fs, testRacks, changes)
	if err != nil {
		t.Fatal(err)
	}
	if s.BytesMoved != 100 || s.LeadersMoved != 2 || s.Changed != 2 || s.RackConflicts != 0 {
		t.Fatalf("%+v", s)
	}
	none, err := score(c, fs, testRacks, nil)
	if err != nil || none.BytesMoved != 0 || none.Changed != 0 || none.RackConflicts != 1 || none.Cost != c.Cost(fs) {
		t.Fatalf("empty plan: %+v %v", none, err)
	}
}
