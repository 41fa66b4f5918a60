package planner

// search.go is over 500 lines on purpose: the options, their checks and the search's two
// strategies (one climb scored in rounds, Astraea's shuffle) read as one contract; the climb's
// inner loop is in climb.go and the moves in move.go.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Strategy is how a search turns its candidates into a plan.
type Strategy string

const (
	// HillClimb (the default): each candidate is one move applied to the climb's best layout
	// so far, kept if it lowers the objective (Climb, RunClimb; RunBatch runs one batch as a
	// sequential chain). See doc.go.
	HillClimb Strategy = "hill-climb"
	// Shuffle is Astraea's seed-time search: each candidate is ShuffleSteps random steps from
	// the original layout, and the batch keeps the cheapest. It is here to compare against.
	Shuffle Strategy = "shuffle"
)

// MinBatchSize is the smallest batch Batches makes: below it the fixed cost of a batch
// (copying the layout, building the result) outweighs the candidates.
const MinBatchSize = 100

// DefaultBatches is how many batches Run splits a Shuffle's limit into when Options.Batches
// is 0. Run's result depends on the batches, never on the number of workers. (A hill climb
// is one Climb, whatever the workers.)
const DefaultBatches = 2

// DefaultShuffleSteps is Astraea's RebalancePlanGenerator.random(30).
const DefaultShuffleSteps = 30

// Options configure a search.
type Options struct {
	// Functions is the weighted cluster cost to minimise (see ParseFunctions).
	Functions Functions
	// Limit is the number of candidates to evaluate, over all batches; it must be > 0.
	Limit int
	// Seed makes the search repeatable: the same cluster, options and batches give the same
	// result.
	Seed uint64
	// Topics, when not empty, restricts the changes to the partitions of these topics. The
	// cost always counts every partition. Every topic must exist in the cluster.
	Topics []string
	// MaxMoveBytes bounds the bytes the plan copies: the planning size of every replica put
	// in a (broker, directory) its partition did not use. 0 means no bound.
	MaxMoveBytes int64
	// MaxMoves bounds the number of such replica moves (between brokers or directories).
	// 0 means no bound.
	MaxMoves int
	// MaxLeaderMoves bounds the number of partitions whose preferred leader changes broker.
	// 0 means no bound.
	MaxLeaderMoves int
	// Strategy is HillClimb when empty.
	Strategy Strategy
	// ShuffleSteps is the number of random steps per Shuffle candidate; 0 means 30.
	ShuffleSteps int
	// Batches is the number of batches Run splits a Shuffle's Limit into; 0 means
	// DefaultBatches.
	Batches int
	// StallAfter ends a climb (RunClimb) once this many candidates in a row have kept no
	// move; 0 means never, the climb then evaluates its whole Limit.
	StallAfter int

	// ExcludeBrokers are brokers the plan drains: every replica of a movable partition on
	// them leaves, and none arrives. Each must be a broker of the cluster.
	ExcludeBrokers []int32
	// TargetBrokers, when not empty, are the only brokers that may receive replicas (to fill
	// new brokers and leave the others as they are, but for leaders). Each must be a broker
	// of the cluster.
	TargetBrokers []int32
	// MaxDiskUsage is the share of a directory's volume (DirSpace.Total) no directory may
	// end above; 0 means DefaultMaxDiskUsage. It is only checked on directories whose
	// capacity Kafka reported.
	MaxDiskUsage float64
	// LeadershipOnly allows only changes of preferred leader among a partition's current
	// replicas: the plan copies no byte (and so repairs no constraint).
	LeadershipOnly bool
	// MinGain makes the plan movement-aware: a move must lower the cost, per byte it copies,
	// by at least MinGain times what the best first move of the original layout does (see
	// bestGainPerByte); 0.5 keeps the moves at least half as good as the best. The search
	// minimises cost + penalty·bytes copied, so it also takes back a copy that is not worth
	// its bytes. 0 balances "to the byte". Changes of leader copy nothing and are free.
	MinGain float64
}

// DefaultMaxDiskUsage is the disk usage threshold when Options.MaxDiskUsage is 0.
const DefaultMaxDiskUsage = 0.8

// DefaultMinGain is the MinGain GET /balancer uses unless told otherwise; see doc.go.
const DefaultMinGain = 0.5

// Search is a prepared search on one cluster snapshot. It is immutable: RunBatch may be
// called from several goroutines at once, each batch working on its own copy of the layout.
type Search struct {
	cluster *Cluster
	opts    Options
	weights [functionCount]float64
	movable []int32 // partitions that may change, in cluster order
	kinds   []moveKind
	cost    float64 // cost of the original layout

	// start is where every batch starts: the original layout with the repairs of the hard
	// constraints (see constraint.go), and base its aggregates.
	start struct {
		slotBroker, slotDir []int32
		cost                float64
		moves, leaderMoves  int
		movedBytes          int64
		slots               slotLists
	}
	base struct {
		bytes, leaders, dirs, replicas spread
		topics                         []spread  // per topic, replicas per broker; only if TopicSpreadCost counts
		topicCV                        []float64 // per topic, its spread's CV
		topicSum                       float64   // Σ topicCV
	}
	constraints
	// bytePenalty is MinGain·cost₀/total bytes: the cost a copied byte must buy.
	bytePenalty float64

	// followersMatter is false when only the leader count is scored: then only the
	// leader's replica is worth moving between brokers.
	followersMatter bool
	bytesPerLoad    float64
	leadersPerLoad  float64
	replicasPerLoad float64
	exchanges       bool    // exchanges can lower the cost (bytes count); a climb uses them once stuck
	invTopics       float64 // 1/number of topics, 0 if none
}

// NewSearch checks the options and prepares a search on the cluster, repairs included (see
// constraint.go); it does not search.
func NewSearch(c *Cluster, opts Options) (*Search, error) { return newSearch(c, opts, true) }

// newSearch is NewSearch; without repair, every batch starts from the original layout, as
// Evaluate needs to score a given plan.
func newSearch(c *Cluster, opts Options, repair bool) (*Search, error) {
	if c == nil {
		return nil, errors.New("no cluster")
	}
	if opts.Limit <= 0 {
		return nil, fmt.Errorf("invalid search limit %d: must be > 0", opts.Limit)
	}
	if err := opts.Functions.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxMoveBytes < 0 || opts.MaxMoves < 0 || opts.MaxLeaderMoves < 0 {
		return nil, errors.New("move budgets must be ≥ 0 (0 means no limit)")
	}
	if opts.Strategy == "" {
		opts.Strategy = HillClimb
	}
	if opts.Strategy != HillClimb && opts.Strategy != Shuffle {
		return nil, fmt.Errorf("unknown strategy %q (known: %s, %s)", opts.Strategy, HillClimb, Shuffle)
	}
	if opts.ShuffleSteps < 0 || opts.Batches < 0 || opts.StallAfter < 0 {
		return nil, errors.New("shuffle steps, batches and stall must be ≥ 0")
	}
	if math.IsNaN(opts.MaxDiskUsage) || opts.MaxDiskUsage < 0 || opts.MaxDiskUsage > 1 {
		return nil, fmt.Errorf("invalid max disk usage %v: must be > 0 and ≤ 1", opts.MaxDiskUsage)
	}
	if opts.MaxDiskUsage == 0 {
		opts.MaxDiskUsage = DefaultMaxDiskUsage
	}
	if math.IsNaN(opts.MinGain) || math.IsInf(opts.MinGain, 0) || opts.MinGain < 0 {
		return nil, fmt.Errorf("invalid min gain %v: must be a finite number ≥ 0", opts.MinGain)
	}
	if opts.ShuffleSteps == 0 {
		opts.ShuffleSteps = DefaultShuffleSteps
	}
	if opts.Batches == 0 {
		opts.Batches = DefaultBatches
	}
	opts.Functions = append(Functions(nil), opts.Functions...)
	opts.Topics = append([]string(nil), opts.Topics...)
	opts.ExcludeBrokers = append([]int32(nil), opts.ExcludeBrokers...)
	opts.TargetBrokers = append([]int32(nil), opts.TargetBrokers...)

	s := &Search{cluster: c, opts: opts, weights: opts.Functions.weights()}
	if len(c.topicNames) > 0 {
		s.invTopics = 1 / float64(len(c.topicNames))
	}
	if len(opts.Topics) == 0 {
		for pi := range c.partitions {
			s.movable = append(s.movable, int32(pi))
		}
	} else {
		allowed := map[string]bool{}
		for _, t := range opts.Topics {
			if _, ok := c.topics[t]; !ok {
				return nil, fmt.Errorf("unknown topic %q", t)
			}
			allowed[t] = true
		}
		for pi, p := range c.partitions {
			if allowed[p.Topic] {
				s.movable = append(s.movable, int32(pi))
			}
		}
	}

	l := c.loads(c.slotBroker, c.slotDir)
	s.setBase(l)
	s.cost = s.baseCost()
	s.start.slotBroker, s.start.slotDir, s.start.cost = c.slotBroker, c.slotDir, s.cost

	w := &s.weights
	if !opts.LeadershipOnly {
		s.kinds = append(s.kinds, kindBroker)
		if w[DirectorySizeCost] > 0 {
			s.kinds = append(s.kinds, kindDir)
		}
		s.exchanges = w[ReplicaSizeCost] > 0 || w[DirectorySizeCost] > 0
	}
	if w[ReplicaLeaderCost] > 0 {
		s.kinds = append([]moveKind{kindLeader}, s.kinds...)
	}
	s.followersMatter = w[ReplicaSizeCost] > 0 || w[DirectorySizeCost] > 0 || w[ReplicaCountCost] > 0 || w[TopicSpreadCost] > 0
	// A directory's bytes count towards its broker's: a broker with more bytes than the
	// mean tends to have fuller directories too.
	s.bytesPerLoad = (w[ReplicaSizeCost] + w[DirectorySizeCost]) * s.base.bytes.invMean
	s.leadersPerLoad = w[ReplicaLeaderCost] * s.base.leaders.invMean
	s.replicasPerLoad = w[ReplicaCountCost] * s.base.replicas.invMean
	s.bytePenalty = opts.MinGain * s.bestGainPerByte()

	if err := s.prepareConstraints(l); err != nil {
		return nil, err
	}
	// Repair the layout where it breaks a hard constraint; every batch starts from there.
	s.start.slots = s.buildSlots(c.slotBroker)
	st := s.newState(-1)
	if repair {
		s.repair(st)
	}
	if !slices.Equal(st.slotBroker, s.start.slotBroker) {
		// The repair moved replicas between brokers: the lists are built again, in slot
		// order, as for a layout that needed no repair.
		s.start.slots = s.buildSlots(st.slotBroker)
	}
	// The search keeps the repaired layout; the state's pooled buffers go back for the
	// search's climb (a GET /balancer prepares a search and then climbs it).
	s.start.slotBroker, s.start.slotDir = slices.Clone(st.slotBroker), st.slotDir
	s.start.moves, s.start.movedBytes, s.start.leaderMoves = st.moves, st.movedBytes, st.leaderMoves
	st.release()
	s.setBase(c.loads(s.start.slotBroker, s.start.slotDir))
	s.start.cost = s.baseCost()
	return s, nil
}

// setBase makes aggregates the base every batch starts from.
func (s *Search) setBase(l loads) {
	s.base.bytes = newSpread(l.brokerBytes)
	s.base.leaders = newSpread(l.brokerLeaders)
	s.base.dirs = newSpread(l.dirBytes)
	s.base.replicas = newSpread(l.brokerReplicas)
	s.base.topics, s.base.topicCV, s.base.topicSum = nil, nil, 0
	if s.weights[TopicSpreadCost] > 0 {
		n := len(s.cluster.brokers)
		for t := range s.cluster.topicNames {
			sp := newSpread(l.topicReplicas[t*n : (t+1)*n])
			cv := sp.cv(sp.sumSq)
			s.base.topics = append(s.base.topics, sp)
			s.base.topicCV = append(s.base.topicCV, cv)
			s.base.topicSum += cv
		}
	}
}

// baseCost is the weighted cost of the base aggregates.
func (s *Search) baseCost() float64 {
	b := &s.base
	return s.costFrom(&b.leaders, &b.bytes, &b.dirs, &b.replicas,
		b.leaders.sumSq, b.bytes.sumSq, b.dirs.sumSq, b.replicas.sumSq, b.topicSum)
}

// costFrom weighs the functions' values for the given Σ(x−ref)² of each spread; the same
// sums in the same order wherever a cost is computed, so that a seed gives the same plan
// everywhere. Only weighted functions are computed (a square root each). float64(...)
// keeps the products from being fused (see spread.cv).
func (s *Search) costFrom(leaders, bytes, dirs, replicas *spread, leadersSq, bytesSq, dirsSq, replicasSq, topicSum float64) float64 {
	w := &s.weights
	var cost float64
	if w[ReplicaLeaderCost] > 0 {
		cost += float64(w[ReplicaLeaderCost] * leaders.cv(leadersSq))
	}
	if w[ReplicaSizeCost] > 0 {
		cost += float64(w[ReplicaSizeCost] * bytes.cv(bytesSq))
	}
	if w[DirectorySizeCost] > 0 {
		cost += float64(w[DirectorySizeCost] * dirs.cv(dirsSq))
	}
	if w[ReplicaCountCost] > 0 {
		cost += float64(w[ReplicaCountCost] * replicas.cv(replicasSq))
	}
	if w[TopicSpreadCost] > 0 {
		cost += float64(w[TopicSpreadCost] * float64(topicSum*s.invTopics))
	}
	return cost
}

// bestGainPerByte is what the best first move of the original layout lowers the cost by,
// per byte copied: for each byte-based function, moving m bytes from the fullest counter to
// the emptiest lowers its CV c by about c·m·gap/Σ(x−μ)². It is the yardstick of MinGain:
// a scale-free cost (a CV) makes a fixed price per byte stop every move on one layout and
// none on another, but "half as good as the best move" means the same everywhere.
func (s *Search) bestGainPerByte() float64 {
	// A replica count changes by 1 for a replica's bytes: a replica of the mean size.
	var total, replicas int64
	for _, b := range s.base.bytes.values {
		total += b
	}
	for _, r := range s.base.replicas.values {
		replicas += r
	}
	perReplica := 0.0
	if total > 0 {
		perReplica = float64(replicas) / float64(total)
	}
	var g float64
	for _, f := range []struct {
		w, unit float64 // unit: counter change per byte copied
		sp      *spread
	}{
		{s.weights[ReplicaSizeCost], 1, &s.base.bytes},
		{s.weights[DirectorySizeCost], 1, &s.base.dirs},
		{s.weights[ReplicaCountCost], perReplica, &s.base.replicas},
	} {
		sp := f.sp
		variance := float64(sp.sumSq*sp.invN) - sp.offsetSq
		if f.w == 0 || variance <= 0 {
			continue
		}
		gap := slices.Max(sp.values) - slices.Min(sp.values)
		g += f.w * sp.cv(sp.sumSq) * float64(gap) * sp.invN / variance * f.unit
	}
	return g
}

// objective is what the hill climber minimises: the cost, plus bytePenalty for each byte
// the plan copies (0 unless Options.MinGain is set).
func (s *Search) objective(cost float64, movedBytes int64) float64 {
	return cost + float64(s.bytePenalty*float64(movedBytes))
}

// Cost is the cost of the original layout, every topic counted.
func (s *Search) Cost() float64 { return s.cost }

// Limit is the number of candidates the search evaluates over all its batches.
func (s *Search) Limit() int { return s.opts.Limit }

// Batch is a share of a search's candidates. Index selects the random stream, so a batch
// gives the same result wherever and whenever it runs.
type Batch struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Batches splits the limit into n batches of equal size (±1), each at least MinBatchSize
// unless the limit itself is smaller, so it may return fewer than n.
func (s *Search) Batches(n int) []Batch {
	limit := s.opts.Limit
	n = max(1, min(n, limit/MinBatchSize))
	out := make([]Batch, n)
	for i := range out {
		out[i] = Batch{Index: i, Count: limit / n}
		if i < limit%n {
			out[i].Count++
		}
	}
	return out
}

// RunBatch evaluates b.Count candidates (fewer if ctx ends first) and returns the batch's
// best plan. It is deterministic for a given seed and batch index, and safe to call
// concurrently on the same Search.
func (s *Search) RunBatch(ctx context.Context, b Batch) Result {
	st := s.newState(b.Index)
	defer st.release() // the result keeps slotDir only
	stop := stopper{done: ctx.Done()}
	if len(s.movable) == 0 {
		return s.result(b, st, 0, false)
	}
	if s.opts.Strategy == Shuffle {
		return s.runShuffle(b, st, &stop)
	}
	var evaluated int
	for i := 0; i < b.Count && !stop.stop(i); i++ {
		evaluated++
		m, ok := s.propose(st, &st.rng, false)
		if !ok {
			continue
		}
		var sc scored
		s.score(st, m, &sc)
		// The margin stops float noise from counting as an improvement: a move that only
		// swaps two equal loads must not spend budget.
		if s.objective(sc.cost, sc.movedBytes) < s.objective(st.cost, st.movedBytes)-1e-12 &&
			s.withinBudget(sc.moves, sc.movedBytes, sc.leaderMoves) && s.allowed(st, m, &sc) {
			s.commit(st, m, &sc)
		}
	}
	return s.result(b, st, evaluated, stop.interrupted)
}

// runShuffle is Astraea's method: every candidate starts from the original layout and takes
// ShuffleSteps random steps; the cheapest candidate within budget wins. Steps are applied
// with the same O(1) scoring, then undone, so it is a fair and fast rendition.
func (s *Search) runShuffle(b Batch, st *state, stop *stopper) Result {
	type undo struct {
		slot, dir int32
		swap      bool
		part      int32
	}
	undoLog := make([]undo, 0, s.opts.ShuffleSteps)
	bestCost, bestBytes := s.start.cost, s.start.movedBytes
	var bestDir []int32
	var evaluated int
	for i := 0; i < b.Count && !stop.stop(i); i++ {
		evaluated++
		undoLog = undoLog[:0]
		for range s.opts.ShuffleSteps {
			m, ok := s.shuffleStep(st, &st.rng)
			if !ok {
				continue
			}
			var sc scored
			s.score(st, m, &sc)
			if !s.allowed(st, m, &sc) {
				continue
			}
			undoLog = append(undoLog, undo{slot: m.slot, dir: st.slotDir[m.slot], swap: m.swap, part: m.part})
			s.commit(st, m, &sc)
		}
		if s.objective(st.cost, st.movedBytes) < s.objective(bestCost, bestBytes)-1e-12 &&
			s.withinBudget(st.moves, st.movedBytes, st.leaderMoves) {
			bestCost, bestBytes = st.cost, st.movedBytes
			bestDir = append(bestDir[:0], st.slotDir...)
		}
		for j := len(undoLog) - 1; j >= 0; j-- {
			u := undoLog[j]
			if u.swap {
				st.swapLeader(s.cluster.slotStart[u.part], u.slot)
			} else {
				st.relocate(u.slot, s.cluster.dirBroker[u.dir], u.dir)
			}
		}
		s.reset(st)
	}
	if bestDir == nil {
		bestDir = st.slotDir
	}
	return Result{
		Cost: s.cost, NewCost: bestCost, Evaluated: evaluated, Batch: b.Index, Interrupted: stop.interrupted,
		search: s, slotDir: bestDir, objective: s.objective(bestCost, bestBytes),
	}
}

// result wraps a batch's final layout; the state must not change afterwards.
func (s *Search) result(b Batch, st *state, evaluated int, interrupted bool) Result {
	return Result{
		Cost: s.cost, NewCost: st.cost, Evaluated: evaluated, Batch: b.Index, Interrupted: interrupted,
		search: s, slotDir: st.slotDir, objective: s.objective(st.cost, st.movedBytes),
	}
}

// Run evaluates the whole limit with up to workers goroutines (0 means GOMAXPROCS) and
// returns the best plan, the same for any number of workers: a hill climb is one Climb
// (RunClimb); Astraea's shuffle splits the limit into Options.Batches batches.
func (s *Search) Run(ctx context.Context, workers int) Result {
	if s.opts.Strategy == HillClimb {
		return s.RunClimb(ctx, workers)
	}
	batches := s.Batches(s.opts.Batches)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(batches))
	results := make([]Result, len(batches))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(batches) {
					return
				}
				results[i] = s.RunBatch(ctx, batches[i])
			}
		})
	}
	wg.Wait()
	return Best(results...)
}

// Best merges batch results: the lowest objective (NewCost, plus the byte penalty of a
// movement-aware search) wins, ties go to the lowest batch index, so
// the merge does not depend on the order results arrive in. Evaluated is summed and
// Interrupted is set if any batch was interrupted.
func Best(results ...Result) Result {
	if len(results) == 0 {
		return Result{}
	}
	best := results[0]
	evaluated, interrupted := 0, false
	for _, r := range results {
		evaluated += r.Evaluated
		interrupted = interrupted || r.Interrupted
		if r.objective < best.objective || (r.objective == best.objective && r.Batch < best.Batch) {
			best = r
		}
	}
	best.Evaluated, best.Interrupted = evaluated, interrupted
	return best
}

// stopper notices a cancelled context. Checking every 64 candidates keeps channel
// operations out of the hot loop.
type stopper struct {
	done        <-chan struct{}
	interrupted bool
}

func (s *stopper) stop(i int) bool {
	if s.done == nil || i%64 != 0 {
		return false
	}
	select {
	case <-s.done:
		s.interrupted = true
		return true
	default:
		return false
	}
}
