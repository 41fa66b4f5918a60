package planner

import "math"

// coefficientOfVariation is sqrt(Σ(x−μ)²/n)/μ with the population deviation, 0 when x is
// empty or μ ≤ 0 (Astraea's formula). It is the from-scratch, two-pass formula; the
// search uses spread, which gives the same value in O(1) per change.
func coefficientOfVariation(x []int64) float64 {
	if len(x) == 0 {
		return 0
	}
	var sum int64
	for _, v := range x {
		sum += v
	}
	mean := float64(sum) / float64(len(x))
	if mean <= 0 {
		return 0
	}
	var sq float64
	for _, v := range x {
		d := float64(v) - mean
		sq += d * d
	}
	return math.Sqrt(sq/float64(len(x))) / mean
}

// Cost returns the weighted cost of the cluster's current layout, computed from scratch.
func (c *Cluster) Cost(fs Functions) float64 {
	return c.costOf(c.loads(c.slotBroker, c.slotDir), fs.weights())
}

// CostOf returns each function's unweighted value on the current layout.
func (c *Cluster) CostOf(f Function) float64 {
	var w [functionCount]float64
	w[f] = 1
	return c.costOf(c.loads(c.slotBroker, c.slotDir), w)
}

func (c *Cluster) costOf(l loads, w [functionCount]float64) float64 {
	var cost float64
	if w[ReplicaLeaderCost] > 0 {
		cost += w[ReplicaLeaderCost] * coefficientOfVariation(l.brokerLeaders)
	}
	if w[ReplicaSizeCost] > 0 {
		cost += w[ReplicaSizeCost] * coefficientOfVariation(l.brokerBytes)
	}
	if w[DirectorySizeCost] > 0 {
		cost += w[DirectorySizeCost] * coefficientOfVariation(l.dirBytes)
	}
	if w[ReplicaCountCost] > 0 {
		cost += w[ReplicaCountCost] * coefficientOfVariation(l.brokerReplicas)
	}
	if w[TopicSpreadCost] > 0 && len(c.topicNames) > 0 {
		var sum float64
		n := len(c.brokers)
		for t := range c.topicNames {
			sum += coefficientOfVariation(l.topicReplicas[t*n : (t+1)*n])
		}
		cost += w[TopicSpreadCost] * sum / float64(len(c.topicNames))
	}
	return cost
}

// spread keeps what the coefficient of variation of a set of counters needs, so that moving
// an amount from one counter to another updates it in O(1).
//
// Every move the planner makes transfers an amount between two counters, so the sum, and
// the mean, never change. Only Σ(x−ref)² changes. ref is the mean rounded to an integer at
// the start: deviations stay small, so float64 keeps them precise even when the counters
// are terabytes (Σx² itself would lose the variance to rounding).
type spread struct {
	values   []int64
	sumSq    float64 // Σ (x − ref)²
	ref      int64
	invN     float64 // 1/n
	invMean  float64 // 1/μ, or 0 when μ ≤ 0 (the CV is then 0)
	offsetSq float64 // (μ − ref)²
}

func newSpread(values []int64) spread {
	s := spread{values: values}
	if len(values) == 0 {
		return s
	}
	var sum int64
	for _, v := range values {
		sum += v
	}
	n := int64(len(values))
	s.ref = sum / n
	s.invN = 1 / float64(n)
	mean := float64(sum) / float64(n)
	if mean > 0 {
		s.invMean = 1 / mean
	}
	off := mean - float64(s.ref)
	s.offsetSq = off * off
	for _, v := range values {
		d := float64(v - s.ref)
		s.sumSq += d * d
	}
	return s
}

// clone copies the counters, so that each batch has its own. The copy has a cache line of
// padding on each side: small arrays of two batches could otherwise share a line, and
// every accepted move writes to them.
func (s spread) clone() spread {
	const pad = 8 // int64s in a 64-byte cache line
	n := len(s.values)
	padded := make([]int64, n+2*pad)
	copy(padded[pad:], s.values)
	s.values = padded[pad : pad+n : pad+n]
	return s
}

// copyOf is o with its own counters: dst's if they fit, a clone otherwise.
func (dst spread) copyOf(o spread) spread {
	if cap(dst.values) < len(o.values) {
		return o.clone()
	}
	values := dst.values[:len(o.values)]
	copy(values, o.values)
	o.values = values
	return o
}

// cv is the coefficient of variation for a given Σ(x−ref)².
func (s *spread) cv(sumSq float64) float64 {
	// float64(...) forbids fusing into an FMA (which arm64 does and amd64 does not), so a
	// seed gives the same plan on every architecture.
	v := float64(sumSq*s.invN) - s.offsetSq
	if v <= 0 {
		return 0
	}
	return math.Sqrt(v) * s.invMean
}

// transferSq is Σ(x−ref)² after moving amount from counter from to counter to; it changes
// nothing.
func (s *spread) transferSq(from, to int32, amount int64) float64 {
	if from == to || amount == 0 {
		return s.sumSq
	}
	// (a−m)² − a² + (b+m)² − b² = 2m(m + b − a), with a and b the deviations; b − a is
	// exact in int64, so this adds one rounding, not the cancellation of four squares.
	m := float64(amount)
	return s.sumSq + float64(2*m*(m+float64(s.values[to]-s.values[from])))
}

// transfer moves amount from counter from to counter to, with sumSq from transferSq.
func (s *spread) transfer(from, to int32, amount int64, sumSq float64) {
	s.values[from] -= amount
	s.values[to] += amount
	s.sumSq = sumSq
}
