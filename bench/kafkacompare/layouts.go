package main

import (
	"fmt"
	"slices"
)

// A layout is a set of topics laid out by hand, each partition on given brokers with a
// given amount of data: a cluster skewed in a way an operator meets.
type layout struct {
	name   string
	what   string
	topics []topicLayout
}

type topicLayout struct {
	name       string
	assignment [][]int32 // partition -> brokers, the preferred leader first
	bytes      []int     // partition -> bytes written
}

// The three layouts, on 6 brokers spread over 3 racks (1, 4 on rack-a; 2, 5 on rack-b; 3, 6
// on rack-c).
func layouts() []layout {
	return []layout{
		{
			name: "hot-broker",
			what: "a balanced, rack-aware topic of 24 partitions of RF 2 (256 KiB) over all brokers, and 6 partitions of RF 2 (1.5 MiB) all led by broker 1",
			topics: []topicLayout{
				{name: "even", assignment: cycle(24, []int32{1, 2}, []int32{2, 3}, []int32{3, 4}, []int32{4, 5}, []int32{5, 6}, []int32{6, 1}), bytes: flat(24, 256<<10)},
				{name: "heavy", assignment: cycle(6, []int32{1, 2}, []int32{1, 3}, []int32{1, 5}, []int32{1, 6}), bytes: flat(6, 1536<<10)},
			},
		},
		{
			name: "shared-racks",
			what: "12 partitions of RF 2 and 6 of RF 3, every one with two replicas on one rack (1+4, 2+5, 3+6), bytes even",
			topics: []topicLayout{
				{name: "pairs", assignment: cycle(12, []int32{1, 4}, []int32{2, 5}, []int32{3, 6}, []int32{4, 1}, []int32{5, 2}, []int32{6, 3}), bytes: flat(12, 512<<10)},
				{name: "triples", assignment: cycle(6, []int32{1, 4, 2}, []int32{2, 5, 3}, []int32{3, 6, 1}), bytes: flat(6, 512<<10)},
			},
		},
		{
			name: "new-brokers",
			what: "brokers 4, 5, 6 just added, empty: 18 partitions of RF 3 on brokers 1, 2, 3 (64 KiB to 1.1 MiB)",
			topics: []topicLayout{
				{name: "old", assignment: cycle(18, []int32{1, 2, 3}, []int32{2, 3, 1}, []int32{3, 1, 2}), bytes: ramp(18, 64<<10)},
			},
		},
	}
}

// topicNames are the layout's topics, prefixed so that a run never meets an older one's.
func (l layout) topicNames(prefix string) []string {
	var out []string
	for _, t := range l.topics {
		out = append(out, fmt.Sprintf("%s-%s", prefix, t.name))
	}
	return out
}

func cycle(n int, sets ...[]int32) [][]int32 {
	out := make([][]int32, n)
	for i := range out {
		out[i] = slices.Clone(sets[i%len(sets)])
	}
	return out
}

// ramp gives partition p (p+1)·step bytes.
func ramp(n, step int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = (i + 1) * step
	}
	return out
}

func flat(n, size int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = size
	}
	return out
}
