package planner_test

import (
	"context"
	"testing"

	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/plantest"
)

func TestExplore(t *testing.T) {
	c, _ := plantest.Cluster(plantest.Benchmark())
	for _, fs := range []string{"ReplicaSizeCost", "ReplicaLeaderCost", "DirectorySizeCost", "ReplicaSizeCost:2,ReplicaLeaderCost:1", "ReplicaSizeCost,ReplicaLeaderCost,DirectorySizeCost"} {
		f, _ := planner.ParseFunctions(fs)
		for _, batches := range []int{2, 4} {
			for _, limit := range []int{10000} {
				s, err := planner.NewSearch(c, planner.Options{Functions: f, Limit: limit, Seed: 1, Batches: batches})
				if err != nil {
					t.Fatal(err)
				}
				r := s.Run(context.Background(), 2)
				t.Logf("%-55s batches=%d limit=%d cost %.4f -> %.4f changes=%d moved=%d leaders=%d", fs, batches, limit, r.Cost, r.NewCost, len(r.Changes), r.Migrations[0].TotalCost>>30, r.Migrations[1].TotalCost)
			}
		}
		s, _ := planner.NewSearch(c, planner.Options{Functions: f, Limit: 10000, Seed: 1, Strategy: planner.Shuffle})
		r := s.Run(context.Background(), 2)
		t.Logf("%-55s SHUFFLE cost %.4f -> %.4f", fs, r.Cost, r.NewCost)
	}
}
