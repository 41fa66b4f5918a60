package planner_test

import (
	"context"
	"math"
	"testing"

	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/plantest"
)

// TestMinGainRule: broker 1 holds partitions of 70 and 30 bytes, broker 2 nothing. Moving
// the 30 lowers the CV from 1 to 0.4 at the best rate the layout offers (the yardstick);
// moving the 70 lowers it as much for 70 bytes, 0.43 of the yardstick. MinGain says which
// moves are worth their bytes.
func TestMinGainRule(t *testing.T) {
	brokers := []planner.Broker{{ID: 1, Dirs: []string{"/d"}}, {ID: 2, Dirs: []string{"/d"}}}
	parts := []planner.Partition{
		{Topic: "t", Partition: 0, Replicas: []planner.Replica{{BrokerID: 1, Directory: "/d", Size: 70}}},
		{Topic: "t", Partition: 1, Replicas: []planner.Replica{{BrokerID: 1, Directory: "/d", Size: 30}}},
	}
	c, err := planner.NewCluster(brokers, parts)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		minGain float64
		bytes   int64 // moved by the plan
	}{
		{minGain: 0.5, bytes: 30},
		{minGain: 0.9, bytes: 30},
		{minGain: 1.5, bytes: 0}, // nothing is that good
	}
	for _, tc := range cases {
		for seed := range uint64(8) {
			r := mustSearch(t, c, planner.Options{Functions: planner.DefaultFunctions(), Limit: 200, Seed: seed, MinGain: tc.minGain}).Run(context.Background(), 1)
			if p := r.Plan(); p.MovedBytes != tc.bytes {
				t.Fatalf("minGain %v seed %d: moved %d bytes (cost %v -> %v), want %d", tc.minGain, seed, p.MovedBytes, r.Cost, r.NewCost, tc.bytes)
			}
		}
	}
}

// TestMovementAwareBenchmark is the quality check on plantest.Benchmark(), with a
// fixed seed: the default plan against the balance-to-the-byte plan (MinGain 0), each
// searched to convergence. It reports the share of the cost reduction kept and of the bytes
// copied, and the least any plan must copy (divisible data, bytes per broker only).
//
// The issue asks for ≥ 90% of the reduction for ≤ 25% of the bytes; on this layout no plan
// can do that: two brokers are empty and the rest skewed, so bringing the spread of bytes
// per broker down by 90% needs at least 61% of the to-the-byte plan's bytes, and 90% of the
// reduction of GET /balancer's default functions at least 50% even were the leaders
// balanced for free (both bounds are logged, and checked against the default plan).
// What the test holds the default to: ≥ 99% of the reduction for ≤ 80% of the bytes, and
// close to the least copy that balances the brokers exactly.
func TestMovementAwareBenchmark(t *testing.T) {
	c := mustCluster(t, plantest.Benchmark())
	for _, tc := range []struct {
		text  string
		above float64 // how far above the least copy of bytes per broker the plan may be
	}{
		{"ReplicaSizeCost", 0.03},
		// Balancing leaders onto the empty brokers copies replicas too.
		{"ReplicaSizeCost,ReplicaLeaderCost", 0.10},
	} {
		text := tc.text
		fs := functions(t, text)
		run := func(minGain float64) (planner.Result, planner.Plan) {
			r := mustSearch(t, c, planner.Options{Functions: fs, Limit: 100_000, Seed: 1, Batches: 1, MinGain: minGain}).Run(context.Background(), 1)
			return r, r.Plan()
		}
		full, fullPlan := run(0)
		def, defPlan := run(planner.DefaultMinGain)
		kept := (def.Cost - def.NewCost) / (full.Cost - full.NewCost)
		copied := float64(defPlan.MovedBytes) / float64(fullPlan.MovedBytes)
		least := leastCopy(c, 1)
		t.Logf("%s: to the byte %.4f -> %.5f copying %d GiB; default (minGain %g) -> %.5f copying %d GiB: %.1f%% of the reduction for %.1f%% of the bytes; least copy for 100%%: %d GiB, for 90%%: %d GiB (%.1f%%)",
			text, full.Cost, full.NewCost, fullPlan.MovedBytes>>30, planner.DefaultMinGain, def.NewCost, defPlan.MovedBytes>>30,
			100*kept, 100*copied, least>>30, leastCopy(c, 0.9)>>30, 100*float64(leastCopy(c, 0.9))/float64(fullPlan.MovedBytes))
		if kept < 0.99 || copied > 0.80 {
			t.Errorf("%s: default plan keeps %.1f%% of the reduction for %.1f%% of the bytes; want ≥ 99%% for ≤ 80%%", text, 100*kept, 100*copied)
		}
		// The least copy for 90% of the to-the-byte plan's reduction, were every other
		// function's term brought to 0 for free: the bytes' CV alone must come down to what
		// is left of the cost, over its share of the weights.
		var wBytes, wAll float64
		for _, f := range fs {
			wAll += f.Weight
			if f.Function == planner.ReplicaSizeCost {
				wBytes = f.Weight
			}
		}
		bytesCV := mustSearch(t, c, planner.Options{Functions: functions(t, "ReplicaSizeCost"), Limit: 1}).Cost()
		left := full.Cost - 0.9*(full.Cost-full.NewCost)
		least90 := leastCopy(c, 1-left*wAll/wBytes/bytesCV)
		t.Logf("%s: the bytes' CV must fall from %.4f to %.4f for 90%% of the reduction: at least %d GiB, %.1f%% of the to-the-byte plan's bytes",
			text, bytesCV, left*wAll/wBytes, least90>>30, 100*float64(least90)/float64(fullPlan.MovedBytes))
		if defPlan.MovedBytes < least90 && kept >= 0.9 {
			t.Errorf("%s: the default plan keeps 90%% of the reduction for %d bytes, under the bound %d: the bound is wrong", text, defPlan.MovedBytes, least90)
		}
		if float64(defPlan.MovedBytes) > (1+tc.above)*float64(least) {
			t.Errorf("%s: default plan copies %d bytes, more than %g%% above the least copy %d", text, defPlan.MovedBytes, 100*tc.above, least)
		}
	}
}

// leastCopy is the fewest bytes that lower the spread (population standard deviation) of
// bytes per broker by the share reduce, with data divisible at will: bring the fullest
// brokers down to one level and the emptiest up to another, as little as needed. For
// reduce = 1 it is Σ max(0, x − μ).
func leastCopy(c *planner.Cluster, reduce float64) int64 {
	var x []float64
	var mean float64
	for _, l := range c.Loads() {
		x = append(x, float64(l.Bytes))
		mean += float64(l.Bytes)
	}
	mean /= float64(len(x))
	std := func(y []float64) float64 {
		var s float64
		for _, v := range y {
			s += (v - mean) * (v - mean)
		}
		return math.Sqrt(s / float64(len(y)))
	}
	// clip moves b bytes: the top down to level hi, the bottom up to level lo.
	clip := func(b float64) []float64 {
		level := func(above bool) float64 {
			lo, hi := 0.0, 2*mean*float64(len(x))
			for range 100 {
				m := (lo + hi) / 2
				var s float64
				for _, v := range x {
					if above {
						s += math.Max(0, v-m)
					} else {
						s += math.Max(0, m-v)
					}
				}
				if (s > b) == above {
					lo = m
				} else {
					hi = m
				}
			}
			return (lo + hi) / 2
		}
		top, bottom := math.Max(level(true), mean), math.Min(level(false), mean)
		y := make([]float64, len(x))
		for i, v := range x {
			y[i] = math.Min(math.Max(v, bottom), top)
		}
		return y
	}
	s0 := std(x)
	lo, hi := 0.0, mean*float64(len(x))
	for range 100 {
		b := (lo + hi) / 2
		if 1-std(clip(b))/s0 >= reduce-1e-9 {
			hi = b
		} else {
			lo = b
		}
	}
	return int64(hi)
}

// TestMovementAwareOnExtremeSkew: every partition on one broker of three: every move is as
// good as the first, so the default plan balances as far as the to-the-byte one.
func TestMovementAwareOnExtremeSkew(t *testing.T) {
	c := mustCluster(t, plantest.Config{Brokers: 3, DirsPerBroker: 2, Topics: 3, Partitions: 60, ReplicationFactor: 1,
		Skew: 0, EmptyBrokers: 2, MeanPartitionBytes: 1 << 20, Seed: 1})
	fs := planner.DefaultFunctions()
	full := mustSearch(t, c, planner.Options{Functions: fs, Limit: 20_000, Seed: 1}).Run(context.Background(), 1)
	def := mustSearch(t, c, planner.Options{Functions: fs, Limit: 20_000, Seed: 1, MinGain: planner.DefaultMinGain}).Run(context.Background(), 1)
	if kept := (def.Cost - def.NewCost) / (full.Cost - full.NewCost); kept < 0.95 {
		t.Fatalf("default plan keeps %.1f%% of the reduction (%v -> %v, to the byte %v)", 100*kept, def.Cost, def.NewCost, full.NewCost)
	}
}
