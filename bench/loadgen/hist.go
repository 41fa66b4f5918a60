package main

import (
	"math"
	"math/bits"
	"time"
)

// Histogram is an HDR-style log-linear histogram of durations in nanoseconds. Values below
// 2^subBits are counted exactly; above, every power-of-two range is split into 2^(subBits-1)
// equal buckets, so a reported percentile is within 1/2^(subBits-1) (0.8 %) of the true
// value whatever its magnitude. It is not safe for concurrent use: every worker records
// into its own and the results are merged.
type Histogram struct {
	counts   []uint64
	total    uint64
	min, max int64
	sum      float64
}

const (
	subBits  = 8
	subCount = 1 << subBits // exact buckets and the width of one "octave" index block
	halfSub  = subCount / 2
	// maxShift bounds the tracked range at 2^(subBits+maxShift) ns (about 2.4 hours).
	maxShift = 35
	nBuckets = subCount + maxShift*halfSub
)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]uint64, nBuckets), min: math.MaxInt64}
}

func bucketOf(v int64) int {
	if v < subCount {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits
	if shift > maxShift {
		return nBuckets - 1
	}
	top := int(v >> uint(shift)) // in [halfSub, subCount)
	return subCount + (shift-1)*halfSub + top - halfSub
}

// bucketHigh is the largest value that falls into bucket i.
func bucketHigh(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := (i-subCount)/halfSub + 1
	top := int64((i-subCount)%halfSub + halfSub)
	return (top+1)<<uint(shift) - 1
}

// Record adds one observation.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)]++
	h.total++
	h.sum += float64(v)
	if v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
}

// Merge adds every observation of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest observation (exact).
func (h *Histogram) Max() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.max)
}

// Mean is the exact mean.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// Percentile returns the value at or below which p percent of the observations fall
// (p in [0, 100]): the highest value of the bucket that holds the rank, clamped to the
// exact min and max, as HdrHistogram reports it.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.total)))
	rank = max(rank, 1)
	rank = min(rank, h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := bucketHigh(i)
			v = min(v, h.max)
			v = max(v, h.min)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}

// CurvePoint is one point of a percentile distribution.
type CurvePoint struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// Curve samples the percentile distribution on a logarithmic "nines" scale (50, 75, 87.5,
// ... up to 100·(1-1/count)), the way HdrHistogram plots are drawn, plus the maximum.
func (h *Histogram) Curve() []CurvePoint {
	if h.total == 0 {
		return nil
	}
	var out []CurvePoint
	for _, base := range []float64{0, 10, 25} {
		out = append(out, CurvePoint{base, ms(h.Percentile(base))})
	}
	// Four points per halving of the tail until the tail holds fewer than one observation.
	for k := 4; ; k++ {
		tail := math.Pow(2, -float64(k)/4)
		if tail*float64(h.total) < 1 {
			break
		}
		p := 100 * (1 - tail)
		out = append(out, CurvePoint{p, ms(h.Percentile(p))})
	}
	return append(out, CurvePoint{100, ms(h.Max())})
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
