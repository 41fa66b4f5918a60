package planner

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
)

// move is one candidate change: the preferred leader of a partition swaps places with a
// follower; or one replica goes to another log directory (of another broker, or of the same
// broker); or two replicas of different partitions on two brokers exchange places.
type move struct {
	part int32
	slot int32 // the replica to relocate, or the follower that becomes the preferred leader
	dir  int32 // where the replica goes (relocation only); the directory implies the broker
	swap bool  // leader swap rather than relocation

	// exchange: slot goes where other is, and other where slot is (each into the other's
	// directory, read when scored). The brokers' bytes change by the difference of sizes
	// only: the fine-tuning that single relocations, each too big, cannot do.
	exchange bool
	other    int32
}

// scored is what a move would make of the state: new cost, new aggregates, new budgets.
type scored struct {
	cost                float64
	bytesSq, leadersSq  float64
	dirsSq, replicasSq  float64
	topicSq, topicCV    float64 // the moved replica's topic: its Σ(x−ref)² and CV after
	topicSum            float64
	topicSq2, topicCV2  float64 // an exchange's second topic
	amount, leaderNet   int64   // an exchange's net bytes and leaders from broker from to to
	moves, leaderMoves  int
	movedBytes          int64
	from, to            int32 // brokers losing and gaining (bytes or a leader)
	fromDir, toDir      int32 // directories losing and gaining bytes
	leaderChange, bytes bool  // which broker aggregates change
}

// state is one batch's layout and aggregates. It is private to the batch: batches run in
// parallel on the same Search without sharing anything writable.
type state struct {
	// Padding on both sides keeps two batches' states, which the allocator may place next
	// to each other, off each other's cache lines: the fields below are written on every
	// candidate, and false sharing cost half the speedup of a second worker.
	_ [128]byte

	slotBroker []int32
	slotDir    []int32
	bytes      spread    // bytes per broker
	leaders    spread    // preferred leaders per broker
	dirs       spread    // bytes per directory
	replicas   spread    // replicas per broker
	topics     []spread  // per topic, replicas per broker (TopicSpreadCost only)
	topicCV    []float64 // per topic, the CV of its spread
	topicSum   float64   // Σ topicCV
	cost       float64

	// The budgets, relative to the original layout.
	moves       int   // replicas in a (broker, directory) the partition did not use before
	movedBytes  int64 // bytes those replicas copy
	leaderMoves int   // partitions whose preferred leader is on another broker

	// brokerSlots lists, per broker, the movable replica slots it holds, and slotPos is
	// each movable slot's index in its broker's list; the generator draws from them.
	brokerSlots [][]int32
	slotPos     []int32
	buffers     *layoutBuffers // where slotBroker, brokerSlots and slotPos live, for release

	rng random

	_ [128]byte
}

// newState starts a batch from the original layout, with a random stream that depends only
// on the seed and the batch index. Its layout buffers come from layoutPool when a
// finished climb left some there.
func (s *Search) newState(batch int) *state {
	buf, _ := layoutPool.Get().(*layoutBuffers)
	if buf == nil {
		buf = new(layoutBuffers)
	}
	st := &state{
		slotBroker:  append(buf.slotBroker[:0], s.start.slotBroker...),
		slotDir:     append([]int32(nil), s.start.slotDir...),
		bytes:       s.base.bytes.clone(),
		leaders:     s.base.leaders.clone(),
		dirs:        s.base.dirs.clone(),
		replicas:    s.base.replicas.clone(),
		topicCV:     slices.Clone(s.base.topicCV),
		topicSum:    s.base.topicSum,
		cost:        s.start.cost,
		moves:       s.start.moves,
		movedBytes:  s.start.movedBytes,
		leaderMoves: s.start.leaderMoves,
	}
	for _, sp := range s.base.topics {
		st.topics = append(st.topics, sp.clone())
	}
	st.rng.seed(s.opts.Seed, uint64(batch))
	buf.backing = append(buf.backing[:0], s.start.slots.backing...)
	st.brokerSlots = s.start.slots.lists(buf.backing)
	st.slotPos = append(buf.pos[:0], s.start.slots.pos...)
	st.buffers = buf
	return st
}

// layoutBuffers are the big arrays of a state that no result keeps (a result owns slotDir):
// ~300 KB per climb on plantest.Benchmark. A finished climb gives them back for the next
// one, so that back-to-back searches (each GET /balancer, the benchmarks) do not bring the
// collector every other search: a GC cycle takes a core from a round whose other worker
// then waits for it, and cost a 2-worker search 15-40 %.
type layoutBuffers struct{ slotBroker, backing, pos []int32 }

var layoutPool sync.Pool

// release gives the state's layout buffers back to layoutPool; the state must not be used
// afterwards, except its slotDir, which stays the caller's.
func (st *state) release() {
	buf := st.buffers
	if buf == nil {
		return
	}
	buf.slotBroker, buf.pos = st.slotBroker[:0], st.slotPos[:0]
	st.buffers, st.slotBroker, st.slotPos, st.brokerSlots = nil, nil, nil, nil
	layoutPool.Put(buf)
}

// slotLists are the broker lists of a layout (state.brokerSlots and slotPos), built once
// per search and copied by each state: a copy is two memmoves, a build a pass over the
// replicas with scattered writes, and a climb's start is not scored in parallel.
type slotLists struct {
	backing    []int32 // every list, each followed by its room to grow
	lens, caps []int   // per broker
	pos        []int32 // slot -> index in its broker's list
}

// buildSlots makes the broker lists of the movable replicas of a layout. Each list gets
// room for twice its replicas plus an even share, from one backing array: appends seldom
// reallocate in the hot loop (and may: a list then moves out), and the memory is
// O(replicas), not brokers × partitions (13 MB on plantest.Large).
func (s *Search) buildSlots(slotBroker []int32) slotLists {
	c := s.cluster
	l := slotLists{lens: make([]int, len(c.brokers)), caps: make([]int, len(c.brokers)), pos: make([]int32, len(c.slotBroker))}
	movableSlots := 0
	for _, p := range s.movable {
		for slot := c.slotStart[p]; slot < c.slotStart[p+1]; slot++ {
			l.lens[slotBroker[slot]]++
			movableSlots++
		}
	}
	share := movableSlots/len(c.brokers) + 16
	start := make([]int, len(c.brokers))
	total := 0
	for b := range l.caps {
		l.caps[b] = min(len(s.movable), 2*l.lens[b]+share)
		start[b] = total
		total += l.caps[b]
		l.lens[b] = 0
	}
	l.backing = make([]int32, total)
	for _, p := range s.movable {
		for slot := c.slotStart[p]; slot < c.slotStart[p+1]; slot++ {
			b := slotBroker[slot]
			l.pos[slot] = int32(l.lens[b])
			l.backing[start[b]+l.lens[b]] = slot
			l.lens[b]++
		}
	}
	return l
}

// lists cuts a copy of the backing array (backing) into the broker lists.
func (l *slotLists) lists(backing []int32) [][]int32 {
	lists := make([][]int32, len(l.lens))
	off := 0
	for b := range lists {
		lists[b] = backing[off : off+l.lens[b] : off+l.caps[b]]
		off += l.caps[b]
	}
	return lists
}

// reset puts the state back to the original aggregates; the caller restores the layout.
func (s *Search) reset(st *state) {
	copy(st.bytes.values, s.base.bytes.values)
	copy(st.leaders.values, s.base.leaders.values)
	copy(st.dirs.values, s.base.dirs.values)
	copy(st.replicas.values, s.base.replicas.values)
	st.bytes.sumSq, st.leaders.sumSq, st.dirs.sumSq = s.base.bytes.sumSq, s.base.leaders.sumSq, s.base.dirs.sumSq
	st.replicas.sumSq = s.base.replicas.sumSq
	for t, sp := range s.base.topics {
		copy(st.topics[t].values, sp.values)
		st.topics[t].sumSq = sp.sumSq
	}
	copy(st.topicCV, s.base.topicCV)
	st.topicSum = s.base.topicSum
	st.cost = s.start.cost
	st.moves, st.movedBytes, st.leaderMoves = s.start.moves, s.start.movedBytes, s.start.leaderMoves
}

func splitMix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// random is a PCG stream for proposals. Each batch, and each chunk of a climb's round, has
// its own, so what it draws does not depend on who runs it or when.
type random struct{ pcg rand.PCG }

// seed starts the stream for a seed and a stream number.
func (r *random) seed(seed, stream uint64) {
	r.pcg.Seed(splitMix(seed), splitMix(seed^splitMix(stream+1)))
}

// intn returns a number in [0, n), n > 0, by multiply-shift: no division, no allocation.
func (r *random) intn(n int) int {
	hi, _ := bits.Mul64(r.pcg.Uint64(), uint64(n))
	return int(hi)
}

// score evaluates a move in O(replication factor) into sc (a pointer: the struct is large
// and scoring is the hot loop): it reads the state and changes nothing.
func (s *Search) score(st *state, m move, sc *scored) {
	if m.exchange {
		s.scoreExchange(st, m, sc)
		return
	}
	c := s.cluster
	start := c.slotStart[m.part]
	*sc = scored{
		bytesSq:     st.bytes.sumSq,
		leadersSq:   st.leaders.sumSq,
		dirsSq:      st.dirs.sumSq,
		replicasSq:  st.replicas.sumSq,
		topicSum:    st.topicSum,
		moves:       st.moves,
		leaderMoves: st.leaderMoves,
		movedBytes:  st.movedBytes,
	}
	origLeader := c.slotBroker[start]
	if m.swap {
		sc.from, sc.to = st.slotBroker[start], st.slotBroker[m.slot]
		sc.leaderChange = true
		sc.leadersSq = st.leaders.transferSq(sc.from, sc.to, 1)
		sc.leaderMoves += b2i(sc.to != origLeader) - b2i(sc.from != origLeader)
	} else {
		size := c.size[m.part]
		sc.fromDir, sc.toDir = st.slotDir[m.slot], m.dir
		sc.from, sc.to = st.slotBroker[m.slot], c.dirBroker[m.dir]
		sc.dirsSq = st.dirs.transferSq(sc.fromDir, sc.toDir, size)
		if sc.from != sc.to {
			sc.bytes = true
			sc.bytesSq = st.bytes.transferSq(sc.from, sc.to, size)
			sc.replicasSq = st.replicas.transferSq(sc.from, sc.to, 1)
			if st.topics != nil {
				t := c.partTopic[m.part]
				sc.topicSq = st.topics[t].transferSq(sc.from, sc.to, 1)
				sc.topicCV = st.topics[t].cv(sc.topicSq)
				sc.topicSum = st.topicSum - st.topicCV[t] + sc.topicCV
			}
			if m.slot == start {
				sc.leaderChange = true
				sc.leadersSq = st.leaders.transferSq(sc.from, sc.to, 1)
				sc.leaderMoves += b2i(sc.to != origLeader) - b2i(sc.from != origLeader)
			}
		}
		end := c.slotStart[m.part+1]
		moved := b2i(!hasDir(c.slotDir[start:end], sc.toDir)) - b2i(!hasDir(c.slotDir[start:end], sc.fromDir))
		sc.moves += moved
		sc.movedBytes += int64(moved) * size
	}
	sc.cost = s.costFrom(&st.leaders, &st.bytes, &st.dirs, &st.replicas, sc.leadersSq, sc.bytesSq, sc.dirsSq, sc.replicasSq, sc.topicSum)
}

// withinBudget reports whether totals keep the plan inside maxMoves, maxMoveBytes
// and maxLeaderMoves (0 means no limit).
func (s *Search) withinBudget(moves int, movedBytes int64, leaderMoves int) bool {
	o := &s.opts
	return (o.MaxMoves == 0 || moves <= o.MaxMoves) &&
		(o.MaxMoveBytes == 0 || movedBytes <= o.MaxMoveBytes) &&
		(o.MaxLeaderMoves == 0 || leaderMoves <= o.MaxLeaderMoves)
}

// commit applies a scored move to the layout and the aggregates in O(1).
func (s *Search) commit(st *state, m move, sc *scored) {
	switch {
	case m.exchange:
		st.relocate(m.slot, sc.to, sc.toDir)
		st.relocate(m.other, sc.from, sc.fromDir)
	case m.swap:
		st.swapLeader(s.cluster.slotStart[m.part], m.slot)
	default:
		st.relocate(m.slot, sc.to, sc.toDir)
	}
	s.account(st, m, sc)
}

// account applies a scored move to the aggregates and budgets only; the layout stays.
func (s *Search) account(st *state, m move, sc *scored) {
	if m.exchange {
		s.accountExchange(st, m, sc)
		return
	}
	c := s.cluster
	if !m.swap {
		size := c.size[m.part]
		st.dirs.transfer(sc.fromDir, sc.toDir, size, sc.dirsSq)
		if sc.bytes {
			st.bytes.transfer(sc.from, sc.to, size, sc.bytesSq)
			st.replicas.transfer(sc.from, sc.to, 1, sc.replicasSq)
			if st.topics != nil {
				t := s.cluster.partTopic[m.part]
				st.topics[t].transfer(sc.from, sc.to, 1, sc.topicSq)
				st.topicCV[t] = sc.topicCV
				st.topicSum = sc.topicSum
			}
		}
	}
	if sc.leaderChange {
		st.leaders.transfer(sc.from, sc.to, 1, sc.leadersSq)
	}
	st.cost = sc.cost
	st.moves, st.movedBytes, st.leaderMoves = sc.moves, sc.movedBytes, sc.leaderMoves
}

// mirror makes v a view of st for one chunk: st's layout, shared and only read, and a copy
// of its aggregates and budgets, in v's own counters when they are big enough.
func (v *state) mirror(st *state) {
	bytes, leaders, dirs, replicas, topics, topicCV := v.bytes, v.leaders, v.dirs, v.replicas, v.topics, v.topicCV
	*v = *st
	v.bytes, v.leaders, v.dirs, v.replicas = bytes.copyOf(st.bytes), leaders.copyOf(st.leaders), dirs.copyOf(st.dirs), replicas.copyOf(st.replicas)
	v.topics = topics[:0]
	for t := range st.topics {
		var sp spread
		if t < len(topics) {
			sp = topics[t]
		}
		v.topics = append(v.topics, sp.copyOf(st.topics[t]))
	}
	if len(st.topics) == 0 {
		v.topics = nil
	}
	v.topicCV = append(topicCV[:0], st.topicCV...)
}

func hasDir(dirs []int32, d int32) bool {
	for _, x := range dirs {
		if x == d {
			return true
		}
	}
	return false
}

func hasBroker(brokers []int32, b int32) bool { return hasDir(brokers, b) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// swapLeader exchanges the places of the leader slot and a follower slot, and so which
// broker list each slot is in.
func (st *state) swapLeader(leader, follower int32) {
	a, b := st.slotBroker[leader], st.slotBroker[follower]
	st.slotBroker[leader], st.slotBroker[follower] = b, a
	st.slotDir[leader], st.slotDir[follower] = st.slotDir[follower], st.slotDir[leader]
	pa, pb := st.slotPos[leader], st.slotPos[follower]
	st.brokerSlots[a][pa] = follower
	st.brokerSlots[b][pb] = leader
	st.slotPos[leader], st.slotPos[follower] = pb, pa
}

// relocate puts a slot in another directory, moving it between broker lists if the broker
// changes.
func (st *state) relocate(slot, broker, dir int32) {
	from := st.slotBroker[slot]
	st.slotBroker[slot] = broker
	st.slotDir[slot] = dir
	if from == broker {
		return
	}
	list := st.brokerSlots[from]
	last := list[len(list)-1]
	list[st.slotPos[slot]] = last
	st.slotPos[last] = st.slotPos[slot]
	st.brokerSlots[from] = list[:len(list)-1]
	st.slotPos[slot] = int32(len(st.brokerSlots[broker]))
	st.brokerSlots[broker] = append(st.brokerSlots[broker], slot)
}
