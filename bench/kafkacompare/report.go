package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/seed248d40c9/fulcrum/bench/resultsfile"
	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
)

// render writes the comparison as a Markdown block.
func render(results []layoutResult, f flags, l kafkacluster.Layout) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Fulcrum vs Kafka's `kafka-reassign-partitions --generate` (`make bench-kafka`)\n\n")
	fmt.Fprintf(&b, "Run %s, commit %s, %d CPUs (%s/%s). Kafka %s, %d brokers on %d racks (%s), 2 log dirs each. "+
		"Fulcrum: `GET /balancer?topics=<the layout's>&seed=%d%s`. Kafka: `--generate --broker-list <all> "+
		"--topics-to-move-json-file <the layout's>` (rack aware), %d runs: it is random, so the best and the "+
		"median by cost are shown. Both proposals are scored on one reading of the cluster with the planner's "+
		"own cost and move accounting (`planner.Evaluate`, functions as Fulcrum answered); Kafka's new replicas "+
		"are put where its brokers put a new log (the directory with the fewest partitions). "+
		"Bytes moved: every new (broker, directory) of a partition copies its size. "+
		"Rack conflicts: partitions left with two replicas on one rack. Times include a JVM start for Kafka's "+
		"tool; the machine was shared with other builds and tests, so they are indicative only.\n\n",
		resultsfile.Now(), resultsfile.Commit(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH,
		l.Version, len(l.Brokers), l.Racks(), rackList(l), f.seed, queryNote(f.query), f.runs)
	b.WriteString("| layout | plan | cost | bytes moved | partitions changed | leaders moved | rack conflicts | time |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| **%s** (%d partitions) | current | %.4f | – | – | – | %d | – |\n",
			r.layout.name, r.partitions, r.current.Cost, r.current.RackConflicts)
		row(&b, "Fulcrum", r.fulcrum, r.fulcrumDur)
		for _, v := range r.also {
			row(&b, "Fulcrum, `"+v.query+"`", v.score, v.dur)
		}
		best, median := pick(r.kafka)
		row(&b, fmt.Sprintf("Kafka, best of %d", len(r.kafka)), r.kafka[best], r.kafkaDur[best])
		row(&b, fmt.Sprintf("Kafka, median of %d", len(r.kafka)), r.kafka[median], r.kafkaDur[median])
	}
	b.WriteString("\nLayouts:\n")
	for _, r := range results {
		fmt.Fprintf(&b, "- **%s**: %s. Cost functions: `%s`.\n", r.layout.name, r.layout.what, r.function)
	}
	return b.String()
}

func row(b *strings.Builder, name string, s Score, d time.Duration) {
	fmt.Fprintf(b, "| | %s | %.4f | %s | %d | %d | %d | %s |\n",
		name, s.Cost, mib(s.BytesMoved), s.Changed, s.LeadersMoved, s.RackConflicts, d.Round(10*time.Millisecond))
}

// pick returns the indexes of the cheapest score and of the median one by cost.
func pick(scores []Score) (best, median int) {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case scores[a].Cost < scores[b].Cost:
			return -1
		case scores[a].Cost > scores[b].Cost:
			return 1
		}
		return 0
	})
	return idx[0], idx[len(idx)/2]
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func rackList(l kafkacluster.Layout) string {
	byRack := map[string][]string{}
	var racks []string
	for _, b := range l.Brokers {
		if _, ok := byRack[b.Rack]; !ok {
			racks = append(racks, b.Rack)
		}
		byRack[b.Rack] = append(byRack[b.Rack], fmt.Sprint(b.ID))
	}
	slices.Sort(racks)
	var parts []string
	for _, r := range racks {
		parts = append(parts, strings.Join(byRack[r], ", ")+" on "+r)
	}
	return strings.Join(parts, "; ")
}

func queryNote(q string) string {
	if q == "" {
		return ""
	}
	return "&" + q
}
