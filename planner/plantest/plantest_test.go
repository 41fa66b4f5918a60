package plantest_test

import (
	"reflect"
	"testing"

	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/plantest"
)

func TestBenchmarkClusterIsSkewedAndRepeatable(t *testing.T) {
	cfg := plantest.Benchmark()
	brokers, partitions, err := plantest.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(brokers) != 12 || len(partitions) != 5000 || len(brokers[0].Dirs) != 3 || len(partitions[0].Replicas) != 3 {
		t.Fatalf("%d brokers, %d partitions", len(brokers), len(partitions))
	}
	_, again, _ := plantest.Generate(cfg)
	if !reflect.DeepEqual(partitions, again) {
		t.Fatal("the same config gave two layouts")
	}
	c, err := planner.NewCluster(brokers, partitions)
	if err != nil {
		t.Fatal(err)
	}
	loads := c.Loads()
	if loads[11].Bytes != 0 || loads[10].Bytes != 0 || loads[0].Bytes <= 2*loads[9].Bytes {
		t.Errorf("not skewed as documented: %+v", loads)
	}
	if cost := c.Cost(planner.DefaultFunctions()); cost < 0.3 {
		t.Errorf("ReplicaSizeCost %v: the cluster is hardly skewed", cost)
	}
}

func TestGenerateRejectsBadConfigs(t *testing.T) {
	for _, cfg := range []plantest.Config{
		{},
		{Brokers: 3, DirsPerBroker: 1, Topics: 1, Partitions: 1, ReplicationFactor: 4},
		{Brokers: 3, DirsPerBroker: 1, Topics: 1, Partitions: 1, ReplicationFactor: 2, EmptyBrokers: 2},
		{Brokers: 3, DirsPerBroker: 1, Topics: 1, Partitions: 1, ReplicationFactor: 1, Skew: -1},
	} {
		if _, _, err := plantest.Generate(cfg); err == nil {
			t.Errorf("Generate(%+v) accepted a bad config", cfg)
		}
	}
}
