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
// against the layout as it was two commits before (round r sees the layout Commit r−2 left);
// chunk i of round r has its own random stream (seed, r, i), so what a chunk finds depends
// on neither who scores it nor when. Scoring only reads the climb, so the chunks of a round
// may run on any number of goroutines or actors at once. Then Commit takes the improving
// candidates of the round in chunk order, scores each again on the layout as the earlier
// ones left it, and keeps those that still improve it. A climb is thus one chain, nearly as
// good per candidate as a sequential one, and its plan depends on the seed only: one core
// or many give the same plan, many give it sooner.
//
// The climb keeps two copies of the layout, one per round parity: Commit r brings the copy
// of round r up to date (it replays the moves Commit r−1 applied to the other one) and
// applies round r's moves to it, while round r+1 may already be scored on the other copy,
// which Commit r−1 left. RunClimb overlaps the two: the commit, the sequential part of a
// round, no longer keeps the other workers waiting.
type Climb struct {
	s       *Search
	layouts [2]*state     // by round parity
	second  sync.Once     // layouts[1], made by the first chunk of round 1
	replay  []appliedMove // the moves the last Commit applied, for the other layout
	applied []appliedMove // the moves this Commit applies
	limit   int           // candidates in all; the last round is cut to fit

	round       int
	evaluated   int
	idle        int     // candidates since a move was last kept
	stallAfter  int     // end when idle reaches it (0: never)
	exchanges   bool    // stuck once: exchanges are proposed too
	exchangesAt [2]bool // by round parity: whether its chunks propose exchanges (Commit r−2's exchanges)
	kicks       int     // perturbations so far
	best        *snapshot
	interrupted bool
	chunks      [2][]chunkBuffers // by round parity, then chunk index
}

// Chunks per round and candidates per chunk. A round (256 candidates, ~0.15 ms on one
// core) is long enough that handing it out costs little, short enough that a candidate's
// view of the layout is recent: it sees the layout of two commits before, so 256 here sees
// about as recent a layout as 512 did when the commit did not overlap the next round. Its
// chunks are small (~5 µs) because the round ends when its slowest worker does: with 8
// chunks of 64 on 2 workers the wait for the last chunk was ~2% of a search, with 32 chunks
// ~1% (BenchmarkSearchShares).
const (
	RoundChunks = 32
	ChunkSize   = 8
)

// exchangeAfter is how many candidates in a row must keep nothing before a climb also
// proposes exchanges.
const exchangeAfter = 2048 // 8 rounds

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
	return &Climb{s: s, layouts: [2]*state{s.newState(0)}, limit: s.opts.Limit, stallAfter: s.opts.StallAfter,
		chunks: [2][]chunkBuffers{make([]chunkBuffers, RoundChunks), make([]chunkBuffers, RoundChunks)}}
}

// layout is the copy round r is scored on and committed to.
func (c *Climb) layout(r int) *state {
	if r%2 == 1 {
		c.second.Do(func() { c.layouts[1] = c.s.newState(0) })
	}
	return c.layouts[r%2]
}

// Done reports whether the climb is over: its limit is evaluated, it has stalled, or it was
// interrupted.
func (c *Climb) Done() bool {
	return c.interrupted || c.evaluated >= c.limit || len(c.s.movable) == 0 || len(c.s.kinds) == 0 ||
		(c.stallAfter > 0 && c.idle >= c.stallAfter)
}

// Interrupt ends the climb early (its context ended); Result reports it.
func (c *Climb) Interrupt() { c.interrupted = true }

// Next returns the chunks of the next round, nil when the climb is over.
func (c *Climb) Next() []Chunk {
	if c.Done() {
		return nil
	}
	return c.chunksOf(c.round)
}

// chunksOf returns the chunks of round r, nil if the limit ends before it; every round
// before r has all its chunks.
func (c *Climb) chunksOf(r int) []Chunk {
	left := c.limit - r*RoundChunks*ChunkSize
	var out []Chunk
	for i := 0; i < RoundChunks && left > 0; i++ {
		n := min(ChunkSize, left)
		out = append(out, Chunk{Round: r, Index: i, Count: n})
		left -= n
	}
	return out
}

// Score proposes and scores a chunk's candidates against the layout of the round. It only
// reads the climb: the chunks of a round may be scored concurrently, but never while Commit
// runs, and each chunk only once (its result holds a buffer the same chunk of the next
// round reuses, so rounds allocate nothing).
//
// A chunk keeps the improving candidates in a view of its own: the round's layout with its
// aggregates (bytes, leaders, … per broker and directory) changed by the moves the chunk
// kept so far. Its later candidates are proposed and scored on those, so a chunk does
// not hand Commit a dozen moves from the same full broker to the same empty one, of which
// Commit, the sequential part of a round, would keep one and score all.
func (c *Climb) Score(ch Chunk) ChunkResult {
	s := c.s
	var r random
	r.seed(s.opts.Seed, uint64(ch.Round)*RoundChunks+uint64(ch.Index))
	b := &c.chunks[ch.Round%2][ch.Index]
	v := &b.view
	v.mirror(c.layout(ch.Round))
	exchanges := c.exchangesAt[ch.Round%2]
	moves := b.moves[:0]
	var sc scored
	for range ch.Count {
		m, ok := s.propose(v, &r, exchanges)
		if !ok {
			continue
		}
		if s.score(v, m, &sc); s.keep(v, m, &sc, s.objective(v.cost, v.movedBytes)) {
			moves = append(moves, m)
			s.account(v, m, &sc)
		}
	}
	b.moves = moves
	return ChunkResult{Chunk: ch, moves: moves}
}

// chunkBuffers are what the chunk of a given index uses in every other round: its view and
// the buffer of its improving moves.
type chunkBuffers struct {
	view  state
	moves []move
}

// keep reports whether a scored move improves on the objective before (by more than float
// noise: a move that only swaps two equal loads must not spend budget), within the budgets
// and the hard constraints.
func (s *Search) keep(st *state, m move, sc *scored, before float64) bool {
	return s.objective(sc.cost, sc.movedBytes) < before-1e-12 &&
		s.withinBudget(sc.moves, sc.movedBytes, sc.leaderMoves) && s.allowed(st, m, sc)
}

// Commit ends a round: results holds the round's chunks, in any order. Their candidates are
// scored again, in chunk order, each on the layout the earlier ones left, and kept if they
// still improve it. It changes only the round's copy of the layout: the chunks of the next
// round may be scored meanwhile.
func (c *Climb) Commit(results []ChunkResult) {
	s, st := c.s, c.layout(c.round)
	var sc scored
	for i := range c.replay {
		s.commit(st, c.replay[i].m, &c.replay[i].sc)
	}
	c.applied = c.applied[:0]
	ordered := make([]*ChunkResult, RoundChunks)
	for i := range results {
		ordered[results[i].Chunk.Index] = &results[i]
	}
	kept := false
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
				c.applied = append(c.applied, appliedMove{m, sc})
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
			c.kick(st)
		}
	}
	c.exchangesAt[c.round%2] = c.exchanges
	c.replay, c.applied = c.applied, c.replay
	c.round++
}

// appliedMove is a move a Commit applied, with its score: the other copy of the layout,
// when its turn comes, is in the same state as this one was, so the score is the same.
type appliedMove struct {
	m  move
	sc scored
}

// current is the layout the last Commit left.
func (c *Climb) current() *state {
	if c.round == 0 {
		return c.layouts[0]
	}
	return c.layouts[(c.round-1)%2]
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
	kickAfter = 4096 // 16 rounds
	maxKicks  = 8
)

// kick keeps the layout if it is the best so far and perturbs it with random moves from
// its own stream, within the budgets and the hard constraints.
func (c *Climb) kick(st *state) {
	s := c.s
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
			c.applied = append(c.applied, appliedMove{m, sc})
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

// Result is the climb's layout now. The climb must not go on afterwards.
func (c *Climb) Result() Result {
	s, st := c.s, c.current()
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
// they spin for a while and only then yield. Yielding at once put every wait through the
// scheduler's global lock, which cost more than the commit. More workers than GOMAXPROCS
// would only spin against each other, so there are no more helpers than GOMAXPROCS − 1. On
// one worker there are no helpers: the caller scores every chunk itself.
//
// The caller commits each round while the helpers already score the next one (on the other
// copy of the layout, see Climb), then joins them.
func (s *Search) RunClimb(ctx context.Context, workers int) Result {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, runtime.GOMAXPROCS(0), RoundChunks)
	var (
		cur     atomic.Pointer[roundJob] // the round being scored, or the last one
		over    atomic.Bool              // the climb is over: helpers return
		wg      sync.WaitGroup
		results = [2][]ChunkResult{make([]ChunkResult, RoundChunks), make([]ChunkResult, RoundChunks)}
	)
	defer wg.Wait()
	defer over.Store(true)
	for range workers - 1 {
		wg.Go(func() {
			var last *roundJob
			for {
				j := awaitRound(&cur, last, &over)
				if j == nil {
					return
				}
				last = j
				j.score()
			}
		})
	}
	// The helpers start first: their threads wake while the climb copies its start.
	c := s.NewClimb()
	publish := func(chunks []Chunk) *roundJob {
		if chunks == nil {
			return nil
		}
		j := &roundJob{climb: c, chunks: chunks, results: results[chunks[0].Round%2][:len(chunks)]}
		cur.Store(j)
		return j
	}
	if ctx.Err() != nil {
		c.Interrupt()
	}
	j := publish(c.Next())
	if j == nil {
		return c.Result()
	}
	j.score()
	j.wait()
	for {
		interrupted := ctx.Err() != nil
		var next *roundJob
		if !interrupted {
			next = publish(c.chunksOf(c.round + 1))
		}
		c.Commit(j.results)
		if interrupted {
			c.Interrupt()
		}
		if next == nil || c.Done() {
			// Stalled: the next round is dropped. Helpers finish the chunks they hold.
			if next != nil {
				next.next.Store(int64(len(next.chunks)))
			}
			break
		}
		next.score()
		next.wait()
		j = next
	}
	return c.Result()
}

// spinLimit is how many times a worker checks for the next round (or the round's last
// chunk) before it yields between checks: tens of microseconds, a few chunks.
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

// wait waits until every chunk of the round is scored.
func (j *roundJob) wait() {
	for spins := 0; j.done.Load() < int64(len(j.chunks)); spins++ {
		if spins > spinLimit {
			runtime.Gosched()
		}
	}
}

func (j *roundJob) score() {
	for i := int(j.next.Add(1) - 1); i < len(j.chunks); i = int(j.next.Add(1) - 1) {
		j.results[i] = j.climb.Score(j.chunks[i])
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
