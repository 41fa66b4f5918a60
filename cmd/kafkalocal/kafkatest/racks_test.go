package kafkatest

import (
	"fmt"
	"testing"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
)

func TestSharedRack(t *testing.T) {
	racks := map[int32]string{1: "rack-a", 2: "rack-b", 3: "rack-c", 4: "rack-a", 5: ""}
	for _, c := range []struct {
		replicas []int32
		want     string
	}{
		{[]int32{1, 2, 3}, ""},
		{[]int32{1, 4}, "rack-a"},
		{[]int32{2, 1, 4}, "rack-a"},
		{[]int32{1}, ""},
		{[]int32{5, 6, 1}, ""}, // brokers without a rack are racks of their own
	} {
		if got := SharedRack(racks, c.replicas); got != c.want {
			t.Errorf("%v: %q, want %q", c.replicas, got, c.want)
		}
	}
}

func layout(t *testing.T, brokers, racks int) kafkacluster.Layout {
	t.Helper()
	ports := make([]int, 1+brokers)
	l, err := kafkacluster.NewLayout("/d", "4.4.0", "/lib", "id", ports, racks)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Every partition RackBreaking lays out has rf distinct brokers, two of them on one rack;
// leaders are spread over more than one broker.
func TestRackBreaking(t *testing.T) {
	for _, c := range []struct{ brokers, racks, partitions, rf int }{
		{6, 3, 6, 2},
		{6, 3, 9, 3},
		{4, 2, 4, 2},
		{7, 3, 12, 3},
	} {
		l := layout(t, c.brokers, c.racks)
		racks := LayoutRacks(l)
		got := RackBreaking(t, l, c.partitions, c.rf)
		leaders := map[int32]bool{}
		for p, replicas := range got {
			seen := map[int32]bool{}
			for _, b := range replicas {
				if seen[b] || racks[b] == "" {
					t.Fatalf("%+v: partition %d on %v", c, p, replicas)
				}
				seen[b] = true
			}
			if len(replicas) != c.rf || SharedRack(racks, replicas) == "" {
				t.Fatalf("%+v: partition %d on %v: want %d replicas sharing a rack", c, p, replicas, c.rf)
			}
			leaders[replicas[0]] = true
		}
		if len(got) != c.partitions || len(leaders) < 2 {
			t.Fatalf("%+v: %s", c, fmt.Sprint(got))
		}
	}
}
