package kafkatest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
)

// Racks returns each broker's rack in the cluster whose bootstrap list is boot.
func Racks(t testing.TB, boot []string) map[int32]string {
	t.Helper()
	return LayoutRacks(Layout(t, boot))
}

// LayoutRacks returns each broker's rack in l.
func LayoutRacks(l kafkacluster.Layout) map[int32]string {
	racks := make(map[int32]string, len(l.Brokers))
	for _, b := range l.Brokers {
		racks[b.ID] = b.Rack
	}
	return racks
}

// SharedRack returns a rack that holds two of replicas, or "" when they are on distinct
// racks. A broker without a rack is a rack of its own.
func SharedRack(racks map[int32]string, replicas []int32) string {
	seen := map[string]bool{}
	for _, b := range replicas {
		r, ok := racks[b]
		if !ok || r == "" {
			continue
		}
		if seen[r] {
			return r
		}
		seen[r] = true
	}
	return ""
}

// RackBreaking lays out partitions partitions of rf replicas each so that every partition
// has two replicas on one rack although the cluster has enough racks for none to: partition
// i takes two brokers of rack i mod racks (leaders spread over them) and, for rf > 2, brokers
// of the next racks. It fails the test when no rack holds two brokers or rf exceeds the
// racks (a layout the balancer could not repair).
func RackBreaking(t testing.TB, l kafkacluster.Layout, partitions, rf int) [][]int32 {
	t.Helper()
	var names []string
	byRack := map[string][]int32{}
	for _, b := range l.Brokers {
		if _, ok := byRack[b.Rack]; !ok {
			names = append(names, b.Rack)
		}
		byRack[b.Rack] = append(byRack[b.Rack], b.ID)
	}
	slices.Sort(names)
	if rf < 2 || rf > len(names) {
		t.Fatalf("kafkatest.RackBreaking: rf %d with %d racks: want 2..%d", rf, len(names), len(names))
	}
	out := make([][]int32, partitions)
	for i := range out {
		rack := byRack[names[i%len(names)]]
		if len(rack) < 2 {
			t.Fatalf("kafkatest.RackBreaking: rack %s has brokers %v, want two or more", names[i%len(names)], rack)
		}
		// Rotate within the rack so leaders are spread.
		k := i / len(names)
		out[i] = []int32{rack[k%len(rack)], rack[(k+1)%len(rack)]}
		for j := 1; len(out[i]) < rf; j++ {
			other := byRack[names[(i+j)%len(names)]]
			out[i] = append(out[i], other[k%len(other)])
		}
	}
	return out
}

// RackViolations reads where Kafka has the partitions of topic and lists those with two
// replicas on one rack, as "topic-p: brokers [1 4] share rack-a". Metadata is asked of a
// broker, not taken from the client's cache.
func RackViolations(t testing.TB, adm *kadm.Client, racks map[int32]string, topic string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	md, err := adm.Metadata(kadm.WithAuthorizedOps(ctx), topic)
	if err != nil {
		t.Fatal(err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		t.Fatalf("kafkatest.RackViolations: topic %s: %v", topic, td.Err)
	}
	var out []string
	for _, p := range td.Partitions.Sorted() {
		if r := SharedRack(racks, p.Replicas); r != "" {
			out = append(out, fmt.Sprintf("%s-%d: brokers %v share %s", topic, p.Partition, p.Replicas, r))
		}
	}
	return out
}
