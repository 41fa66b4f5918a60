package planner

// Move kinds the hill climber proposes. NewSearch enables only those that can change the
// chosen cost functions, so no candidate is spent on a move that cannot matter.
type moveKind uint8

const (
	kindLeader moveKind = iota // a follower becomes the preferred leader
	kindBroker                 // a replica goes to another broker, into a chosen directory
	kindDir                    // a replica goes to another directory of its broker
)

// draws is how many replicas a proposal looks at before picking the one that suits best.
const draws = 32

// propose draws one hill-climbing candidate: a kind among the enabled ones, then a move of
// that kind (falling back to the other kinds if the draw finds none, e.g. replication
// factor = brokers). Every choice is random but tilted towards useful moves, in O(1):
//
//   - brokers: of two random brokers, the more loaded gives and the less loaded takes
//     ("power of two choices"), which finds the heavy and light brokers without sorting
//     and never sticks to one pair;
//   - replicas: of a few drawn on the giving side, the one whose size is closest to half
//     the gap between giver and taker, the move that lowers the spread most;
//   - directories: a replica goes into its new broker's emptiest directory, and a move
//     inside a broker goes from its fullest directory to its emptiest.
//
// With exchanges (a climb that is stuck, see Climb), half the candidates are exchanges of two
// replicas between two brokers.
func (s *Search) propose(st *state, r *random, exchanges bool) (move, bool) {
	if len(s.kinds) == 0 {
		return move{}, false
	}
	if exchanges && s.exchanges && r.intn(2) == 0 {
		if m, ok := s.proposeExchange(st, r); ok {
			return m, true
		}
	}
	first := r.intn(len(s.kinds))
	for k := range s.kinds {
		var m move
		var ok bool
		switch s.kinds[(first+k)%len(s.kinds)] {
		case kindLeader:
			m, ok = s.proposeLeader(st, r)
		case kindBroker:
			m, ok = s.proposeBroker(st, r)
		case kindDir:
			m, ok = s.proposeDir(st, r)

		}
		if ok {
			return m, true
		}
	}
	return move{}, false
}

// proposeLeader makes a follower of a partition led by a broker with many leaders the new
// preferred leader; of two followers, the one on the broker with fewer leaders.
func (s *Search) proposeLeader(st *state, r *random) (move, bool) {
	c := s.cluster
	a := s.randomBroker(r)
	if b := s.randomBroker(r); st.leaders.values[b] > st.leaders.values[a] {
		a = b
	}
	list := st.brokerSlots[a]
	if len(list) == 0 {
		return move{}, false
	}
	for range draws {
		slot := list[r.intn(len(list))]
		part := c.slotPart[slot]
		start, end := c.slotStart[part], c.slotStart[part+1]
		if slot != start || end-start < 2 {
			continue
		}
		rf := int(end - start)
		f := start + 1 + int32(r.intn(rf-1))
		if g := start + 1 + int32(r.intn(rf-1)); st.leaders.values[st.slotBroker[g]] < st.leaders.values[st.slotBroker[f]] {
			f = g
		}
		return move{part: part, slot: f, swap: true}, true
	}
	return move{}, false
}

// proposeBroker moves a replica from a more loaded broker to a less loaded one that does not
// hold the partition. When only leaders are scored, only leader replicas are worth moving.
func (s *Search) proposeBroker(st *state, r *random) (move, bool) {
	c := s.cluster
	if len(c.brokers) < 2 {
		return move{}, false
	}
	a, to := s.proposePair(st, r)
	if s.closed[to] {
		return move{}, false
	}
	list := st.brokerSlots[a]
	if len(list) == 0 {
		return move{}, false
	}
	ideal := (st.bytes.values[a] - st.bytes.values[to]) / 2
	best, bestGap := int32(-1), int64(0)
	for range draws {
		slot := list[r.intn(len(list))]
		part := c.slotPart[slot]
		start, end := c.slotStart[part], c.slotStart[part+1]
		if (!s.followersMatter && slot != start) || hasBroker(st.slotBroker[start:end], to) {
			continue
		}
		if gap := abs(c.size[part] - ideal); best < 0 || gap < bestGap {
			best, bestGap = slot, gap
		}
	}
	if best < 0 {
		return move{}, false
	}
	return move{part: c.slotPart[best], slot: best, dir: s.emptiestDir(st, to, -1)}, true
}

// proposePair draws the two brokers of a move between brokers: a more loaded one (of two
// drawn) and another, less loaded (of two drawn, preferring an open one). to may still be
// closed. There must be at least two brokers.
func (s *Search) proposePair(st *state, r *random) (a, to int32) {
	a = s.randomBroker(r)
	if b := s.randomBroker(r); s.load(st, b) > s.load(st, a) {
		a = b
	}
	to = s.otherBroker(r, a)
	if b := s.otherBroker(r, a); s.closed[to] || (!s.closed[b] && s.load(st, b) < s.load(st, to)) {
		to = b
	}
	return a, to
}

// proposeDir moves a replica from the fullest directory of a broker to its emptiest; of two
// brokers, the one whose directories differ most.
func (s *Search) proposeDir(st *state, r *random) (move, bool) {
	c := s.cluster
	b := s.randomBroker(r)
	from, to := s.fullestDir(st, b), s.emptiestDir(st, b, -1)
	if o := s.randomBroker(r); o != b {
		of, ot := s.fullestDir(st, o), s.emptiestDir(st, o, -1)
		if st.dirs.values[of]-st.dirs.values[ot] > st.dirs.values[from]-st.dirs.values[to] {
			b, from, to = o, of, ot
		}
	}
	list := st.brokerSlots[b]
	if from == to || len(list) == 0 {
		return move{}, false
	}
	ideal := (st.dirs.values[from] - st.dirs.values[to]) / 2
	best, bestGap := int32(-1), int64(0)
	for range draws {
		slot := list[r.intn(len(list))]
		if st.slotDir[slot] != from {
			continue
		}
		if gap := abs(c.size[c.slotPart[slot]] - ideal); best < 0 || gap < bestGap {
			best, bestGap = slot, gap
		}
	}
	if best < 0 {
		return move{}, false
	}
	return move{part: c.slotPart[best], slot: best, dir: to}, true
}

func (s *Search) randomBroker(r *random) int32 { return int32(r.intn(len(s.cluster.brokers))) }

// otherBroker draws a broker other than b, uniformly; there must be at least two.
func (s *Search) otherBroker(r *random, b int32) int32 {
	o := int32(r.intn(len(s.cluster.brokers) - 1))
	if o >= b {
		o++
	}
	return o
}

// emptiestDir is the directory of broker b with the fewest bytes, other than except.
func (s *Search) emptiestDir(st *state, b int32, except int32) int32 {
	c := s.cluster
	best := int32(-1)
	for d := c.dirStart[b]; d < c.dirStart[b+1]; d++ {
		if d != except && (best < 0 || st.dirs.values[d] < st.dirs.values[best]) {
			best = d
		}
	}
	return best
}

// fullestDir is the directory of broker b with the most bytes.
func (s *Search) fullestDir(st *state, b int32) int32 {
	c := s.cluster
	best := c.dirStart[b]
	for d := best + 1; d < c.dirStart[b+1]; d++ {
		if st.dirs.values[d] > st.dirs.values[best] {
			best = d
		}
	}
	return best
}

// load is a broker's weighted load relative to the mean, over the active functions; it
// ranks brokers when the generator picks where to move from and to. A directory's bytes
// count towards its broker's.
func (s *Search) load(st *state, b int32) float64 {
	return float64(s.bytesPerLoad*float64(st.bytes.values[b])) + float64(s.leadersPerLoad*float64(st.leaders.values[b])) +
		float64(s.replicasPerLoad*float64(st.replicas.values[b]))
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// shuffleStep draws one step of Astraea's ShufflePlanGenerator: a
// uniform partition, then a uniform pick among its (RF−1) leader swaps and (B−RF)·RF moves
// of a replica to a broker that lacks the partition, into a random directory of it.
func (s *Search) shuffleStep(st *state, r *random) (move, bool) {
	c := s.cluster
	part := s.movable[r.intn(len(s.movable))]
	start, end := c.slotStart[part], c.slotStart[part+1]
	rf := int(end - start)
	leaderSwaps := rf - 1
	total := leaderSwaps + (len(c.brokers)-rf)*rf
	if total <= 0 {
		return move{}, false
	}
	i := r.intn(total)
	if i < leaderSwaps {
		return move{part: part, slot: start + 1 + int32(i), swap: true}, true
	}
	i -= leaderSwaps
	nth, slot := i/rf, start+int32(i%rf)
	for b := range int32(len(c.brokers)) {
		if hasBroker(st.slotBroker[start:end], b) {
			continue
		}
		if nth == 0 {
			dirs := int(c.dirStart[b+1] - c.dirStart[b])
			return move{part: part, slot: slot, dir: c.dirStart[b] + int32(r.intn(dirs))}, true
		}
		nth--
	}
	return move{}, false
}
