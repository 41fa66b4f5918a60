package balancer_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/planner/plantest"
)

// BenchmarkPropose is the planner target (README, Targets) through the actors: 10,000 candidates on
// the 12-broker, 3-dir, 5,000-partition RF-3 cluster, with a pool of 1 and 2 planners. The
// difference from planner's BenchmarkSearch is the actors' cost: spawning a search, one
// message per planner and round to the planners and back (20 rounds), and the report.
func BenchmarkPropose(b *testing.B) {
	c, err := plantest.Cluster(plantest.Benchmark())
	if err != nil {
		b.Fatal(err)
	}
	for _, planners := range []int{1, 2} {
		b.Run(fmt.Sprintf("planners=%d", planners), func(b *testing.B) {
			bal := start(b, newSystem(b), balancer.Options{Source: static(c), Planners: planners})
			req := balancer.Request{Functions: functions(b, "ReplicaSizeCost"), Limit: 10_000, Timeout: time.Minute, Seed: 1}
			var r *balancer.Report
			for b.Loop() {
				if r, err = bal.Propose(req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(r.Cost, "cost-before")
			b.ReportMetric(r.NewCost, "cost-after")
			b.ReportMetric(float64(len(r.Changes)), "changes")
		})
	}
}
