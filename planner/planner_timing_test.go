package planner_test

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/plantest"
)

// BenchmarkSearch is the planner target (README, Targets): 10,000 candidates on the 12-broker,
// 3-directory, 5,000-partition RF-3 skewed cluster, on 1 and 2 workers, for the hill
// climber (one climb scored in parallel rounds) and for Astraea's method (each candidate
// 30 random steps from the original layout, best of all, in Options.Batches = 2 batches).
// Each reports the cost it reaches (cost-after) next to the original cost (cost-before);
// 1 and 2 workers compute the same plan, only the time differs.
func BenchmarkSearch(b *testing.B) {
	c, err := plantest.Cluster(plantest.Benchmark())
	if err != nil {
		b.Fatal(err)
	}
	for _, fs := range []string{"ReplicaSizeCost", "ReplicaSizeCost:2,ReplicaLeaderCost:1,DirectorySizeCost:1"} {
		for _, strategy := range []planner.Strategy{planner.HillClimb, planner.Shuffle} {
			for _, workers := range []int{1, 2} {
				b.Run(fmt.Sprintf("functions=%s/strategy=%s/workers=%d", fs, strategy, workers), func(b *testing.B) {
					r := benchSearch(b, c, planner.Options{
						Functions: functions(b, fs),
						Limit:     10_000,
						Seed:      1,
						Strategy:  strategy,
					}, workers)
					b.ReportMetric(float64(len(r.Plan().Changes)), "changes")
				})
			}
		}
	}
}

// benchSearch runs a search with opts on workers for each of b's iterations, reports the
// allocations and the costs before and after, and returns the last result.
func benchSearch(b *testing.B, c *planner.Cluster, opts planner.Options, workers int) planner.Result {
	b.Helper()
	s, err := planner.NewSearch(c, opts)
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
	return r
}

// BenchmarkSpeedup is the 2-core target as a user of a 2-core machine sees it: the same
// 10,000-candidate search (DefaultFunctions, GET /balancer's default functions, and three
// functions) on 1 core (GOMAXPROCS 1, one worker; the garbage collector shares that core)
// and on 2 cores (GOMAXPROCS 2, two workers, whose helper must wake a parked thread as a
// GET /balancer's does), alternated search by search so that both see the same neighbours
// on a shared machine. It reports the median times and their ratio (x-2-cores), and the
// ratio of the means (x-2-cores-mean, which a GC cycle or a neighbour's burst moves more).
//
// Two controls say what the machine gave the run. x-2-independent: how much faster two
// searches that share nothing run on 2 cores at once than one after the other (2 × the
// 1-core median over the median of the pair); a parallel search cannot beat it.
// ns-core-to-core: the median time for one core to see a write of the other and answer
// it (an atomic ping-pong), which a virtual machine's host changes as it moves the two
// virtual cores closer or further apart (85-160 ns within seconds here); the rounds of a
// climb share the layout, so x-2-cores falls as it rises, while two independent searches
// do not notice.
func BenchmarkSpeedup(b *testing.B) {
	if runtime.NumCPU() < 2 {
		b.Skip("needs 2 CPUs")
	}
	c, err := plantest.Cluster(plantest.Benchmark())
	if err != nil {
		b.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, fs := range []string{"ReplicaSizeCost", "ReplicaSizeCost,ReplicaLeaderCost", "ReplicaSizeCost:2,ReplicaLeaderCost:1,DirectorySizeCost:1"} {
		b.Run("functions="+fs, func(b *testing.B) {
			s, err := planner.NewSearch(c, planner.Options{Functions: functions(b, fs), Limit: 10_000, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			timed := func(f func()) time.Duration {
				start := time.Now()
				f()
				return time.Since(start)
			}
			var one, two, pair, pingPong []time.Duration
			var sumOne, sumTwo time.Duration
			for b.Loop() {
				runtime.GOMAXPROCS(1)
				d := timed(func() { s.Run(context.Background(), 1) })
				one, sumOne = append(one, d), sumOne+d
				runtime.GOMAXPROCS(2)
				d = timed(func() { s.Run(context.Background(), 2) })
				two, sumTwo = append(two, d), sumTwo+d
				pingPong = append(pingPong, coreToCore(1000))
				pair = append(pair, timed(func() {
					var wg sync.WaitGroup
					for range 2 {
						wg.Go(func() { s.Run(context.Background(), 1) })
					}
					wg.Wait()
				}))
			}
			m1, m2 := median(one), median(two)
			b.ReportMetric(float64(m1.Microseconds())/1000, "ms-1-core")
			b.ReportMetric(float64(m2.Microseconds())/1000, "ms-2-cores")
			b.ReportMetric(float64(m1)/float64(m2), "x-2-cores")
			b.ReportMetric(float64(sumOne)/float64(sumTwo), "x-2-cores-mean")
			b.ReportMetric(2*float64(m1)/float64(median(pair)), "x-2-independent")
			b.ReportMetric(float64(median(pingPong).Nanoseconds()), "ns-core-to-core")
		})
	}
}

// coreToCore is the mean round trip of n atomic ping-pongs between two goroutines, which
// run on two cores when GOMAXPROCS is 2; the clock starts once the second goroutine answers,
// so its start (the wake-up of a parked thread) is not counted.
func coreToCore(n int) time.Duration {
	const warm = 100
	var x atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := int64(1); i < 2*int64(n+warm); i += 2 {
			for x.Load() != i {
			}
			x.Store(i + 1)
		}
	}()
	var start time.Time
	for i := int64(0); i < 2*int64(n+warm); i += 2 {
		if i == 2*warm {
			start = time.Now()
		}
		for x.Load() != i {
		}
		x.Store(i + 1)
	}
	d := time.Since(start)
	<-done
	return d / time.Duration(n)
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkMovement is the movement-aware target on plantest.Benchmark(): the default plan
// (MinGain = DefaultMinGain) against the balance-to-the-byte plan (MinGain 0), both with
// the automatic effort, for the GET /balancer default functions. It reports the share of
// the cost reduction the default plan keeps and the share of the bytes it copies.
func BenchmarkMovement(b *testing.B) {
	c, err := plantest.Cluster(plantest.Benchmark())
	if err != nil {
		b.Fatal(err)
	}
	fs := functions(b, "ReplicaSizeCost,ReplicaLeaderCost")
	limit, stall := planner.AutoEffort(c, nil)
	run := func(minGain float64) (planner.Result, planner.Plan) {
		s, err := planner.NewSearch(c, planner.Options{Functions: fs, Limit: limit, StallAfter: stall, Seed: 1, MinGain: minGain})
		if err != nil {
			b.Fatal(err)
		}
		r := s.Run(context.Background(), 0)
		return r, r.Plan()
	}
	full, fullPlan := run(0)
	var def planner.Result
	var defPlan planner.Plan
	for b.Loop() {
		def, defPlan = run(planner.DefaultMinGain)
	}
	b.ReportMetric(100*(def.Cost-def.NewCost)/(full.Cost-full.NewCost), "%reduction")
	b.ReportMetric(100*float64(defPlan.MovedBytes)/float64(fullPlan.MovedBytes), "%bytes")
	b.ReportMetric(float64(defPlan.MovedBytes>>30), "GiB-default")
	b.ReportMetric(float64(fullPlan.MovedBytes>>30), "GiB-to-the-byte")
}

// BenchmarkLarge is the scale target: plantest.Large() (100 brokers, 4 directories each,
// 33,000 partitions RF 3, about 100,000 replicas) with the automatic effort of a GET
// /balancer without limit, on 1 and 2 workers. It reports the cost reached and the
// candidates evaluated; with -large-reference it also runs, once, a search ten times as
// long and reports its cost (cost-10x), which the default's must be within 5% of.
func BenchmarkLarge(b *testing.B) {
	c, err := plantest.Cluster(plantest.Large())
	if err != nil {
		b.Fatal(err)
	}
	fs := functions(b, "ReplicaSizeCost,ReplicaLeaderCost")
	limit, stall := planner.AutoEffort(c, nil)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			r := benchSearch(b, c, planner.Options{Functions: fs, Limit: limit, StallAfter: stall, Seed: 1, MinGain: planner.DefaultMinGain}, workers)
			b.ReportMetric(float64(r.Evaluated), "candidates")
			if workers == 2 && *largeReference {
				long, err := planner.NewSearch(c, planner.Options{Functions: fs, Limit: 10 * r.Evaluated, Seed: 1, MinGain: planner.DefaultMinGain})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				ref := long.Run(context.Background(), workers)
				b.ReportMetric(ref.NewCost, "cost-10x")
				b.ReportMetric(time.Since(start).Seconds(), "s-10x")
			}
		})
	}
}

// BenchmarkLargeMemory reports the heap a search on plantest.Large() holds at its peak: the
// prepared search and one climb's state (the planner's whole working set).
func BenchmarkLargeMemory(b *testing.B) {
	c, err := plantest.Cluster(plantest.Large())
	if err != nil {
		b.Fatal(err)
	}
	fs := functions(b, "ReplicaSizeCost,ReplicaLeaderCost")
	var before, after runtime.MemStats
	var climb *planner.Climb
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := planner.NewSearch(c, planner.Options{Functions: fs, Limit: 1, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		climb = s.NewClimb()
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	runtime.KeepAlive(climb)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-search")
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

// largeReference: go test ./planner -bench Large -large-reference (ten times the time).
var largeReference = flag.Bool("large-reference", false, "BenchmarkLarge also runs a search ten times as long")
