package planner

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// A Climb is one hill-climbing chain whose candidates are scored in parallel, in rounds.
//
// Each round draws RoundChunks chunks of ChunkSize candidates, all proposed and scored
// against the layout as it is at the start of the round; chunk i of round r has its own
// random stream (seed, r, i), so what a chunk finds depends on neither who scores it nor
// when. Scoring only reads the climb (it writes only its chunk's own buffers), so the chunks
// of a round may run on any number of goroutines or actors at once. Then Commit takes the improving candidates of the round in
// chunk order, scores each again on the layout as the earlier ones left it, and keeps those
// that still improve it. A climb is thus one chain, as good per candidate as a sequential
// one (a candidate sees a layout at most one round old), and its plan depends on the seed
// only: one core or many give the same plan, many give it sooner.
type Climb struct {
	s     *Search
	st    *state
	limit int // candidates in all; the last round is cut to fit

	round       int
	evaluated   int
	idle        int  // candidates since a move was last kept
	stallAfter  int  // end when idle reaches it (0: never)
	exchanges   bool // stuck once: exchanges are proposed too
	kicks       int  // perturbations so far
	best        *snapshot
	interrupted bool
	moves       [][]move // by chunk index: the buffer of its improving moves
	next        []Chunk  // Next's buffer
}

// Chunks per round and candidates per chunk. A round (512 candidates, ~0.3 ms on one
// core) is long enough that handing it out costs little, short enough that a candidate's
// view of the layout is recent. Its chunks are small (~10 µs) because the round ends when
// its slowest worker does: with 8 chunks of 64 on 2 workers, the wait for the last chunk
// was ~2% of a search, with 32 of 16 it is ~1% (BenchmarkSearchShares), and the plans are
// as good (see bench/RESULTS.md).
const (
	RoundChunks = 32
	ChunkSize   = 16
)

// exchangeAfter is how many candidates in a row must keep nothing before a climb also
// proposes exchanges.
const exchangeAfter = 4 * RoundChunks * ChunkSize

// Chunk is a share of one round's candidates.
type Chunk struct {
	Round int `json:"round"`
	Index int `json:"index"`
	Count int `json:"count"`
}

// ChunkResult is what a chunk found: the candidates that improved the round's layout.
type ChunkResult struct {
	Chunk Chunk
	moves []move
}

// NewClimb starts a climb from the search's start layout (the repaired one).
func (s *Search) NewClimb() *Climb {
	return &Climb{s: s, st: s.newState(0), limit: s.opts.Limit, stallAfter: s.opts.StallAfter,
		moves: make([][]move, RoundChunks), next: make([]Chunk, 0, RoundChunks)}
}

// Done reports whether the climb is over: its limit is evaluated, it has stalled, or it was
// interrupted.
func (c *Climb) Done() bool {
	return c.interrupted || c.evaluated >= c.limit || len(c.s.movable) == 0 || len(c.s.kinds) == 0 ||
		(c.stallAfter > 0 && c.idle >= c.stallAfter)
}

// Interrupt ends the climb early (its context ended); Result reports it.
func (c *Climb) Interrupt() { c.interrupted = true }

// Next returns the chunks of the next round, nil when the climb is over. The slice is
// the climb's: the next call overwrites it.
func (c *Climb) Next() []Chunk {
	if c.Done() {
		return nil
	}
	left := c.limit - c.evaluated
	out := c.next[:0]
	for i := 0; i < RoundChunks && left > 0; i++ {
		n := min(ChunkSize, left)
		out = append(out, Chunk{Round: c.round, Index: i, Count: n})
		left -= n
	}
	return out
}

// Score proposes and scores a chunk's candidates against the layout of the round, using
// view as scratch. It only reads the climb: the chunks of a round may be scored
// concurrently (each with a view of its own), but never while Commit runs, and each chunk
// only once (its result holds a buffer the same chunk of the next round reuses, so rounds
// allocate nothing).
//
// A chunk keeps the improving candidates in its view: the round's layout with its
// aggregates (bytes, leaders, … per broker and directory) changed by the moves the chunk
// kept so far. Its later candidates are proposed and scored on those, so a chunk does
// not hand Commit a dozen moves from the same full broker to the same empty one, of which
// Commit, the sequential part of a round, would keep one and score all.
func (c *Climb) Score(ch Chunk, view *View) ChunkResult {
	s := c.s
	var r random
	r.seed(s.opts.Seed, uint64(ch.Round)*RoundChunks+uint64(ch.Index))
	v := &view.st
	v.mirror(c.st)
	moves := c.moves[ch.Index][:0]
	var sc scored
	for range ch.Count {
		m, ok := s.propose(v, &r, c.exchanges)
		if !ok {
			continue
		}
		if s.score(v, m, &sc); s.keep(v, m, &sc, s.objective(v.cost, v.movedBytes)) {
			moves = append(moves, m)
			s.account(v, m, &sc)
		}
	}
	c.moves[ch.Index] = moves
	return ChunkResult{Chunk: ch, moves: moves}
}

// A View is the scratch a goroutine or an actor scores chunks in: a copy of the round's
// aggregates over the round's layout, which Score refills for every chunk. It belongs to
// the scorer, not to the chunk, so that its counters stay in the cache of the core that
// writes them: views that followed chunk indexes, handed from one core to the other, made
// every chunk on 2 workers start with a dozen cache misses. The zero View is ready; one
// View may serve any climb, one chunk at a time.
type View struct{ st state }

// keep reports whether a scored move improves on the objective before (by more than float
// noise: a move that only swaps two equal loads must not spend budget), within the budgets
// and the hard constraints.
func (s *Search) keep(st *state, m move, sc *scored, before float64) bool {
	return s.objective(sc.cost, sc.movedBytes) < before-1e-12 &&
		s.withinBudget(sc.moves, sc.movedBytes, sc.leaderMoves) && s.allowed(st, m, sc)
}

// Commit ends a round: results holds the round's chunks, in any order. Their candidates are
// scored again, in chunk order, each on the layout the earlier ones left, and kept if they
// still improve it.
func (c *Climb) Commit(results []ChunkResult) {
	s, st := c.s, c.st
	ordered := make([]*ChunkResult, RoundChunks)
	for i := range results {
		ordered[results[i].Chunk.Index] = &results[i]
	}
	kept := false
	var sc scored
	for _, res := range ordered {
		if res == nil {
			continue
		}
		c.evaluated += res.Chunk.Count
		for _, m := range res.moves {
			if !s.stillValid(st, m) {
				continue
			}
			s.score(st, m, &sc)
			if s.keep(st, m, &sc, s.objective(st.cost, st.movedBytes)) {
				s.commit(st, m, &sc)
				kept = true
			}
		}
	}
	if kept {
		c.idle = 0
	} else {
		for _, res := range results {
			c.idle += res.Chunk.Count
		}
		// Stuck: single relocations, each too big, can no longer close the last gaps;
		// exchanges move the difference of two sizes. Only now: early on they would take
		// the place of cheaper relocations and copy twice the bytes.
		c.exchanges = c.exchanges || c.idle >= exchangeAfter
		if c.exchanges && c.idle >= kickAfter && c.kicks < maxKicks {
			c.kick()
		}
	}
	c.round++
}

// snapshot is a climb's best layout before a kick.
type snapshot struct {
	slotDir    []int32
	cost       float64
	movedBytes int64
}

// Perturbation: a climb stuck even with exchanges keeps its layout aside (if it is the best
// so far), moves a few random replicas whatever it costs, and climbs again from there, at
// most maxKicks times; the best layout seen wins. Climbs from one start all end in the same
// local minimum, whatever the seed; a kick is what gets out of it.
const (
	kickAfter = 8 * RoundChunks * ChunkSize
	maxKicks  = 8
)

// kick keeps the layout if it is the best so far and perturbs it with random moves from
// its own stream, within the budgets and the hard constraints.
func (c *Climb) kick() {
	s, st := c.s, c.st
	if c.best == nil || s.objective(st.cost, st.movedBytes) < s.objective(c.best.cost, c.best.movedBytes) {
		c.best = &snapshot{slotDir: slices.Clone(st.slotDir), cost: st.cost, movedBytes: st.movedBytes}
	}
	var r random
	r.seed(s.opts.Seed, 1<<40+uint64(c.kicks))
	replicas := 0
	for _, p := range s.movable {
		replicas += int(s.cluster.slotStart[p+1] - s.cluster.slotStart[p])
	}
	for range min(64, max(2, replicas/100)) {
		m, ok := s.shuffleStep(st, &r)
		if !ok || (s.opts.LeadershipOnly && !m.swap) {
			continue
		}
		var sc scored
		if s.score(st, m, &sc); s.withinBudget(sc.moves, sc.movedBytes, sc.leaderMoves) && s.allowed(st, m, &sc) {
			s.commit(st, m, &sc)
		}
	}
	c.kicks++
	c.idle = 0
}

// stillValid reports whether a move proposed at the start of the round still makes sense:
// a relocation's target broker must not have received another replica of the partition in
// the meantime, and must not be where the replica already is.
func (s *Search) stillValid(st *state, m move) bool {
	if m.swap {
		return true
	}
	if m.exchange {
		return s.exchangeValid(st, m.slot, m.other)
	}
	c := s.cluster
	if st.slotDir[m.slot] == m.dir {
		return false
	}
	to := c.dirBroker[m.dir]
	start, end := c.slotStart[m.part], c.slotStart[m.part+1]
	for slot := start; slot < end; slot++ {
		if slot != m.slot && st.slotBroker[slot] == to {
			return false
		}
	}
	return true
}

// Evaluated is the number of candidates scored so far.
func (c *Climb) Evaluated() int { return c.evaluated }

// Result is the climb's layout now. The climb must not go on afterwards: its layout
// buffers go back to the pool for the next climb.
func (c *Climb) Result() Result {
	s, st := c.s, c.st
	defer st.release()
	if b := c.best; b != nil && s.objective(b.cost, b.movedBytes) < s.objective(st.cost, st.movedBytes) {
		return Result{Cost: s.cost, NewCost: b.cost, Evaluated: c.evaluated, Interrupted: c.interrupted,
			search: s, slotDir: b.slotDir, objective: s.objective(b.cost, b.movedBytes)}
	}
	return s.result(Batch{}, st, c.evaluated, c.interrupted)
}

// RunClimb runs a whole climb on up to workers goroutines (0 means GOMAXPROCS), until its
// limit, its stall or ctx's end. The plan is the same for any number of workers.
//
// A round is a fraction of a millisecond of work, less than waking a parked goroutine's
// thread takes on some machines: so the calling goroutine scores chunks too, and the
// helpers stay for the whole climb, waiting between rounds on an atomic round pointer:
// they spin for a while (the commit of a round is tens of microseconds) and only then
// yield. Yielding at once put every wait through the scheduler's global lock, which cost
// more than the commit. More workers than GOMAXPROCS would only spin against each other,
// so there are no more helpers than GOMAXPROCS − 1. On one worker there are no helpers:
// the caller scores every chunk itself.
func (s *Search) RunClimb(ctx context.Context, workers int) Result {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, runtime.GOMAXPROCS(0), RoundChunks)
	var (
		cur     atomic.Pointer[roundJob] // the round being scored, or the last one
		over    atomic.Bool              // the climb is over: helpers return
		wg      sync.WaitGroup
		results = make([]ChunkResult, RoundChunks)
	)
	defer wg.Wait()
	defer over.Store(true)
	for range workers - 1 {
		wg.Go(func() {
			var last *roundJob
			var view View
			for {
				j := awaitRound(&cur, last, &over)
				if j == nil {
					return
				}
				last = j
				j.score(&view)
			}
		})
	}
	// The helpers start first: their threads wake while the climb copies its start.
	c := s.NewClimb()
	var view View
	for chunks := c.Next(); chunks != nil; chunks = c.Next() {
		if ctx.Err() != nil {
			c.Interrupt()
			break
		}
		j := &roundJob{climb: c, chunks: chunks, results: results[:len(chunks)]}
		cur.Store(j)
		j.score(&view)
		for spins := 0; j.done.Load() < int64(len(chunks)); spins++ {
			if spins > spinLimit {
				runtime.Gosched()
			}
		}
		c.Commit(j.results)
	}
	return c.Result()
}

// spinLimit is how many times a worker checks for the next round (or the round's last
// chunk) before it yields between checks: about as long as the commit of a busy round.
const spinLimit = 20_000

// awaitRound waits for a round other than last, nil once the climb is over.
func awaitRound(cur *atomic.Pointer[roundJob], last *roundJob, over *atomic.Bool) *roundJob {
	for spins := 0; ; spins++ {
		if over.Load() {
			return nil
		}
		if j := cur.Load(); j != nil && j != last {
			return j
		}
		if spins > spinLimit {
			runtime.Gosched()
		}
	}
}

// roundJob is one round of a RunClimb, shared by its goroutines: each takes the next
// unscored chunk until none is left. A goroutine late for a round finds its chunks taken.
type roundJob struct {
	climb   *Climb
	chunks  []Chunk
	results []ChunkResult // indexed like chunks
	next    atomic.Int64  // chunks handed out
	done    atomic.Int64  // chunks scored
}

func (j *roundJob) score(view *View) {
	for i := int(j.next.Add(1) - 1); i < len(j.chunks); i = int(j.next.Add(1) - 1) {
		j.results[i] = j.climb.Score(j.chunks[i], view)
		j.done.Add(1)
	}
}

// Automatic effort: the candidates a search gets when its limit is not given, per movable
// replica, and how many in a row may keep no move before the climb is over.
const (
	autoPerReplica   = 10
	autoStallPerRepl = 1
	autoMinimum      = 10_000
)

// AutoEffort is the limit and StallAfter of a search whose limit is not given, scaled with
// the replicas of the topics that may move (every topic when topics is empty): a climb needs
// a few candidates per replica to converge (about 3 on plantest.Large), so it gets up to
// 10, and ends as soon as one candidate per replica in a row has kept no move.
func AutoEffort(c *Cluster, topics []string) (limit, stallAfter int) {
	replicas := 0
	if len(topics) == 0 {
		replicas = len(c.slotBroker)
	}
	for _, t := range topics {
		for _, p := range c.topics[t] {
			replicas += int(c.slotStart[p+1] - c.slotStart[p])
		}
	}
	return max(autoMinimum, autoPerReplica*replicas), max(autoMinimum, autoStallPerRepl*replicas)
}
