package meta

import "sort"

// Range is an inclusive slot range [start, end]; JSON [start, end] as in undermoon.
type Range [2]int

// RangeList is a sorted, merged list of slot ranges.
type RangeList []Range

// Clone copies the list; nil stays nil.
func (l RangeList) Clone() RangeList {
	if l == nil {
		return nil
	}
	return append(RangeList(make([]Range, 0, len(l))), l...)
}

// Count is the number of slots in the list.
func (l RangeList) Count() int {
	n := 0
	for _, r := range l {
		n += r[1] - r[0] + 1
	}
	return n
}

// Compact sorts the ranges, swaps reversed pairs and merges adjacent or overlapping ones,
// as undermoon's RangeList::compact does.
func (l RangeList) Compact() RangeList {
	if len(l) == 0 {
		return l
	}
	rs := make([]Range, len(l))
	for i, r := range l {
		if r[0] > r[1] {
			r[0], r[1] = r[1], r[0]
		}
		rs[i] = r
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	out := RangeList{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r[0] <= last[1]+1 {
			if r[1] > last[1] {
				last[1] = r[1]
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// Merge returns the compacted union of two lists.
func Merge(a, b RangeList) RangeList {
	out := make(RangeList, 0, len(a)+len(b))
	return append(append(out, a...), b...).Compact()
}

// SplitSlots gives the initial slots of a cluster with the given number of chunks: master k
// (chunk k/2, part k%2) owns avg+(k<rem) contiguous slots in order.
func SplitSlots(chunks int) [][2]RangeList {
	masters := 2 * chunks
	avg, rem := SlotCount/masters, SlotCount%masters
	out := make([][2]RangeList, chunks)
	start := 0
	for k := 0; k < masters; k++ {
		n := avg
		if k < rem {
			n++
		}
		out[k/2][k%2] = RangeList{{start, start + n - 1}}
		start += n
	}
	return out
}
