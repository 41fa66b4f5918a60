package planner_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/plantest"
)

// BenchmarkSearch is the BRIEF's planner target: 10,000 candidates on the 12-broker,
// 3-directory, 5,000-partition RF-3 skewed cluster, on 1 and 2 workers, for the hill
// climber and for Astraea's method (each candidate 30 random steps from the original
// layout, best of all). Each reports the cost it reaches (cost-after) next to the original
// cost (cost-before). Both strategies use the same split (Options.Batches = 2), so 1 and 2
// workers compute the same plan and only the time differs.
func BenchmarkSearch(b *testing.B) {
	c, err := plantest.Cluster(plantest.Benchmark())
	if err != nil {
		b.Fatal(err)
	}
	for _, fs := range []string{"ReplicaSizeCost", "ReplicaSizeCost:2,ReplicaLeaderCost:1,DirectorySizeCost:1"} {
		for _, strategy := range []planner.Strategy{planner.HillClimb, planner.Shuffle} {
			for _, workers := range []int{1, 2} {
				b.Run(fmt.Sprintf("functions=%s/strategy=%s/workers=%d", fs, strategy, workers), func(b *testing.B) {
					s, err := planner.NewSearch(c, planner.Options{
						Functions: functions(b, fs),
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
					b.ReportMetric(float64(len(r.Plan().Changes)), "changes")
				})
			}
		}
	}
}

// BenchmarkPrepare is what the plan actor pays once per plan before any batch: indexing the
// snapshot and preparing the search.
func BenchmarkPrepare(b *testing.B) {
	brokers, partitions, err := plantest.Generate(plantest.Benchmark())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := planner.NewCluster(brokers, partitions)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := planner.NewSearch(c, planner.Options{Functions: planner.DefaultFunctions(), Limit: 10_000}); err != nil {
			b.Fatal(err)
		}
	}
}
