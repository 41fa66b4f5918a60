package planner_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/plantest"
)

// benchmarkCluster is the BRIEF's target: 12 brokers, 3 directories each, 5,000 partitions
// with replication factor 3, skewed.
func benchmarkCluster(b *testing.B) *planner.Cluster {
	b.Helper()
	c, err := plantest.Cluster(plantest.Benchmark())
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkSearch runs 10,000 candidates with the hill climber and with Astraea's shuffle
// (30 random steps from the original layout per candidate, best of all), on 1 and 2
// workers, and reports the cost each reaches next to the original cost.
func BenchmarkSearch(b *testing.B) {
	c := benchmarkCluster(b)
	for _, strategy := range []planner.Strategy{planner.HillClimb, planner.Shuffle} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("strategy=%s/workers=%d", strategy, workers), func(b *testing.B) {
				s, err := planner.NewSearch(c, planner.Options{
					Functions: planner.DefaultFunctions(),
					Limit:     10_000,
					Seed:      1,
					Strategy:  strategy,
				})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				var r planner.Result
				for b.Loop() {
					r = s.Run(context.Background(), workers)
				}
				b.ReportMetric(r.Cost, "cost-before")
				b.ReportMetric(r.NewCost, "cost-after")
				b.ReportMetric(float64(len(r.Changes)), "changes")
			})
		}
	}
}
