package planner_test

import (
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"unsafe"

	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/plantest"
)

// BenchmarkSearchShares measures where a climb's work goes, on one goroutine, in thread CPU
// time: the start (NewClimb), the scoring of each chunk (parallel), the commit of each round
// (sequential). CPU time, unlike wall time, hardly depends on what else the machine runs, so
// it shows on a shared machine what the wall-time ratio of 1 to 2 workers cannot: the
// sequential share, the imbalance at each round's end (the slowest chunk over the mean
// one), and the time on 2 workers and the speedup they allow with no hand-off cost (chunks
// taken in order by whichever worker is free, as RunClimb does). A change that raises the
// speedup by slowing 1 worker down shows in the 2-worker time.
func BenchmarkSearchShares(b *testing.B) {
	c, err := plantest.Cluster(plantest.Benchmark())
	if err != nil {
		b.Fatal(err)
	}
	for _, fs := range []string{"ReplicaSizeCost", "ReplicaSizeCost:2,ReplicaLeaderCost:1,DirectorySizeCost:1"} {
		b.Run("functions="+fs, func(b *testing.B) {
			s, err := planner.NewSearch(c, planner.Options{Functions: functions(b, fs), Limit: 10_000, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var start, commit, score, makespan2, worst, mean float64
			var view planner.View
			for b.Loop() {
				t0 := threadCPU()
				climb := s.NewClimb()
				start += threadCPU() - t0
				for chunks := climb.Next(); chunks != nil; chunks = climb.Next() {
					times := make([]float64, len(chunks))
					results := make([]planner.ChunkResult, len(chunks))
					for i, ch := range chunks {
						t := threadCPU()
						results[i] = climb.Score(ch, &view)
						times[i] = threadCPU() - t
					}
					t := threadCPU()
					climb.Commit(results)
					commit += threadCPU() - t
					for _, x := range times {
						score += x
					}
					makespan2 += listSchedule(times, 2)
					worst += slices.Max(times)
					mean += sum(times) / float64(len(times))
				}
				climb.Result() // gives the layout buffers back, as Run does
			}
			n := float64(b.N)
			seq := start + commit
			b.ReportMetric(start/n/1e3, "µs-start")
			b.ReportMetric(commit/n/1e3, "µs-commit")
			b.ReportMetric(score/n/1e3, "µs-score")
			b.ReportMetric(100*seq/(seq+score), "%sequential")
			b.ReportMetric(worst/mean, "slowest/mean-chunk")
			b.ReportMetric((seq+makespan2)/n/1e3, "µs-2-workers")
			b.ReportMetric((seq+score)/(seq+makespan2), "x-2-workers-bound")
		})
	}
}

// listSchedule is the time workers take for jobs handed out in order, each to the first
// worker free.
func listSchedule(jobs []float64, workers int) float64 {
	free := make([]float64, workers)
	for _, j := range jobs {
		i := slices.Index(free, slices.Min(free))
		free[i] += j
	}
	return slices.Max(free)
}

func sum(xs []float64) float64 {
	var t float64
	for _, x := range xs {
		t += x
	}
	return t
}

// threadCPU is the calling thread's CPU time in nanoseconds.
func threadCPU() float64 {
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		panic(fmt.Sprint("clock_gettime: ", errno))
	}
	return float64(ts.Nano())
}
