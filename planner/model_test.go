package planner_test

import (
	"math"
	"strings"
	"testing"

	"github.com/seed248d40c9/fulcrum/planner"
)

func threeBrokers() []planner.Broker {
	return []planner.Broker{
		{ID: 2, Dirs: []string{"/b", "/a"}},
		{ID: 0, Dirs: []string{"/a", "/b"}},
		{ID: 1, Dirs: []string{"/a", "/b"}},
	}
}

func TestNewClusterRejectsBadLayouts(t *testing.T) {
	r := func(broker int32, dir string) planner.Replica {
		return planner.Replica{BrokerID: broker, Directory: dir, Size: 10}
	}
	cases := map[string]struct {
		brokers    []planner.Broker
		partitions []planner.Partition
		want       string
	}{
		"duplicate broker": {
			brokers: []planner.Broker{{ID: 1, Dirs: []string{"/a"}}, {ID: 1, Dirs: []string{"/a"}}},
			want:    "broker 1 is listed twice",
		},
		"broker without dirs": {brokers: []planner.Broker{{ID: 1}}, want: "no log directory"},
		"duplicate dir":       {brokers: []planner.Broker{{ID: 1, Dirs: []string{"/a", "/a"}}}, want: "twice"},
		"unknown broker": {
			brokers:    threeBrokers(),
			partitions: []planner.Partition{{Topic: "t", Replicas: []planner.Replica{r(7, "/a")}}},
			want:       "unknown broker 7",
		},
		"unknown dir": {
			brokers:    threeBrokers(),
			partitions: []planner.Partition{{Topic: "t", Replicas: []planner.Replica{r(0, "/zz")}}},
			want:       `no log directory "/zz"`,
		},
		"offline replica": {
			brokers:    threeBrokers(),
			partitions: []planner.Partition{{Topic: "t", Replicas: []planner.Replica{r(0, "")}}},
			want:       `no log directory ""`,
		},
		"broker twice in a partition": {
			brokers:    threeBrokers(),
			partitions: []planner.Partition{{Topic: "t", Replicas: []planner.Replica{r(0, "/a"), r(0, "/b")}}},
			want:       "two replicas",
		},
		"no replica": {
			brokers:    threeBrokers(),
			partitions: []planner.Partition{{Topic: "t"}},
			want:       "no replica",
		},
		"duplicate partition": {
			brokers: threeBrokers(),
			partitions: []planner.Partition{
				{Topic: "t", Replicas: []planner.Replica{r(0, "/a")}},
				{Topic: "t", Replicas: []planner.Replica{r(1, "/a")}},
			},
			want: "listed twice",
		},
	}
	for name, tc := range cases {
		_, err := planner.NewCluster(tc.brokers, tc.partitions)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want it to mention %q", name, err, tc.want)
		}
	}
}

// TestCostFormulas checks the three functions against the coefficient of variation worked
// out by hand, and the loads they come from.
func TestCostFormulas(t *testing.T) {
	rep := func(b int32, dir string, size int64) planner.Replica {
		return planner.Replica{BrokerID: b, Directory: dir, Size: size}
	}
	c, err := planner.NewCluster(threeBrokers(), []planner.Partition{
		{Topic: "t", Partition: 0, Replicas: []planner.Replica{rep(0, "/a", 600), rep(1, "/a", 600)}},
		{Topic: "t", Partition: 1, Replicas: []planner.Replica{rep(0, "/a", 300), rep(2, "/b", 290)}},
		{Topic: "u", Partition: 0, Replicas: []planner.Replica{rep(1, "/b", -1)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Planning sizes: t-0 600, t-1 300 (the largest replica), u-0 0 (unknown).
	// Bytes per broker 0,1,2 = 900, 600, 300: mean 600, population std sqrt(60000).
	// Leaders 2, 1, 0: mean 1, std sqrt(2/3).
	// Bytes per dir (0/a, 0/b, 1/a, 1/b, 2/a, 2/b) = 900, 0, 600, 0, 0, 300: mean 300.
	// Replicas per broker 2, 2, 1: mean 5/3, std √2/3.
	// Topic t per broker 2, 1, 1: CV (√2/3)/(4/3); topic u 0, 1, 0: CV (√2/3)/(1/3).
	cases := map[planner.Function]float64{
		planner.ReplicaCountCost:  math.Sqrt2 / 5,
		planner.TopicSpreadCost:   (math.Sqrt2/4 + math.Sqrt2) / 2,
		planner.ReplicaSizeCost:   math.Sqrt(60000) / 600,
		planner.ReplicaLeaderCost: math.Sqrt(2.0 / 3),
		planner.DirectorySizeCost: math.Sqrt((600*600+300*300+300*300+0+300*300+300*300)/6.0) / 300,
	}
	for f, want := range cases {
		if got := c.CostOf(f); math.Abs(got-want) > 1e-12 {
			t.Errorf("%v = %v, want %v", f, got, want)
		}
	}
	weighted := planner.Functions{{Function: planner.ReplicaSizeCost, Weight: 3}, {Function: planner.ReplicaLeaderCost, Weight: 1}}
	if got, want := c.Cost(weighted), (3*cases[planner.ReplicaSizeCost]+cases[planner.ReplicaLeaderCost])/4; math.Abs(got-want) > 1e-12 {
		t.Errorf("weighted cost = %v, want %v", got, want)
	}
	loads := c.Loads()
	if loads[0].BrokerID != 0 || loads[0].Bytes != 900 || loads[0].Leaders != 2 || loads[0].Replicas != 2 || loads[0].Dirs[0].Bytes != 900 {
		t.Errorf("loads of broker 0 = %+v", loads[0])
	}
}

func TestApplyChecksBefore(t *testing.T) {
	rep := func(b int32, dir string) planner.Replica {
		return planner.Replica{BrokerID: b, Directory: dir, Size: 5}
	}
	c, err := planner.NewCluster(threeBrokers(), []planner.Partition{
		{Topic: "t", Replicas: []planner.Replica{rep(0, "/a"), rep(1, "/a")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	after := []planner.Placement{{BrokerID: 2, Directory: "/b"}, {BrokerID: 1, Directory: "/a"}}
	stale := []planner.Change{{Topic: "t", Before: []planner.Replica{rep(1, "/a"), rep(0, "/a")}, After: after}}
	if _, err := c.Apply(stale); err == nil {
		t.Error("Apply accepted a change whose before has another leader")
	}
	// Follower order does not matter.
	ok := []planner.Change{{Topic: "t", Before: []planner.Replica{rep(0, "/a"), rep(1, "/a")}, After: after}}
	applied, err := c.Apply(ok)
	if err != nil {
		t.Fatal(err)
	}
	got := applied.Partitions()[0].Replicas
	if got[0].BrokerID != 2 || got[0].Size != 5 || got[1].BrokerID != 1 {
		t.Errorf("applied replicas = %+v", got)
	}
	if _, err := c.Apply([]planner.Change{{Topic: "nope", After: after}}); err == nil {
		t.Error("Apply accepted an unknown partition")
	}
}
