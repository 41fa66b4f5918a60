package planner

// Exchanges: replica x of partition p on broker A and replica y of partition q on broker B
// trade places (x into y's directory, y into x's). Every aggregate moves by a net amount
// between A and B (and between the two directories), so scoring stays O(1).

// scoreExchange is score for an exchange; it changes nothing.
func (s *Search) scoreExchange(st *state, m move, sc *scored) {
	c := s.cluster
	x, y := m.slot, m.other
	p, q := c.slotPart[x], c.slotPart[y]
	*sc = scored{
		bytesSq: st.bytes.sumSq, leadersSq: st.leaders.sumSq, dirsSq: st.dirs.sumSq, replicasSq: st.replicas.sumSq,
		topicSum: st.topicSum, moves: st.moves, leaderMoves: st.leaderMoves, movedBytes: st.movedBytes,
		from: st.slotBroker[x], to: st.slotBroker[y], fromDir: st.slotDir[x], toDir: st.slotDir[y],
		bytes: true,
	}
	sc.amount = c.size[p] - c.size[q]
	sc.bytesSq = st.bytes.transferSq(sc.from, sc.to, sc.amount)
	sc.dirsSq = st.dirs.transferSq(sc.fromDir, sc.toDir, sc.amount)
	px, qy := c.slotStart[p], c.slotStart[q]
	sc.leaderNet = int64(b2i(x == px) - b2i(y == qy))
	if sc.leaderNet != 0 {
		sc.leaderChange = true
		sc.leadersSq = st.leaders.transferSq(sc.from, sc.to, sc.leaderNet)
	}
	if x == px {
		lead := c.slotBroker[px]
		sc.leaderMoves += b2i(sc.to != lead) - b2i(sc.from != lead)
	}
	if y == qy {
		lead := c.slotBroker[qy]
		sc.leaderMoves += b2i(sc.from != lead) - b2i(sc.to != lead)
	}
	if st.topics != nil {
		if t, u := c.partTopic[p], c.partTopic[q]; t != u {
			sc.topicSq = st.topics[t].transferSq(sc.from, sc.to, 1)
			sc.topicCV = st.topics[t].cv(sc.topicSq)
			sc.topicSq2 = st.topics[u].transferSq(sc.to, sc.from, 1)
			sc.topicCV2 = st.topics[u].cv(sc.topicSq2)
			sc.topicSum = st.topicSum - st.topicCV[t] + sc.topicCV - st.topicCV[u] + sc.topicCV2
		}
	}
	orig := c.slotDir
	movedX := b2i(!hasDir(orig[px:c.slotStart[p+1]], sc.toDir)) - b2i(!hasDir(orig[px:c.slotStart[p+1]], sc.fromDir))
	movedY := b2i(!hasDir(orig[qy:c.slotStart[q+1]], sc.fromDir)) - b2i(!hasDir(orig[qy:c.slotStart[q+1]], sc.toDir))
	sc.moves += movedX + movedY
	sc.movedBytes += int64(movedX)*c.size[p] + int64(movedY)*c.size[q]
	sc.cost = s.costFrom(&st.leaders, &st.bytes, &st.dirs, &st.replicas, sc.leadersSq, sc.bytesSq, sc.dirsSq, sc.replicasSq, sc.topicSum)
}

// accountExchange is account for an exchange.
func (s *Search) accountExchange(st *state, m move, sc *scored) {
	c := s.cluster
	st.bytes.transfer(sc.from, sc.to, sc.amount, sc.bytesSq)
	st.dirs.transfer(sc.fromDir, sc.toDir, sc.amount, sc.dirsSq)
	if sc.leaderChange {
		st.leaders.transfer(sc.from, sc.to, sc.leaderNet, sc.leadersSq)
	}
	if st.topics != nil {
		if t, u := c.partTopic[c.slotPart[m.slot]], c.partTopic[c.slotPart[m.other]]; t != u {
			st.topics[t].transfer(sc.from, sc.to, 1, sc.topicSq)
			st.topics[u].transfer(sc.to, sc.from, 1, sc.topicSq2)
			st.topicCV[t], st.topicCV[u] = sc.topicCV, sc.topicCV2
			st.topicSum = sc.topicSum
		}
	}
	st.cost = sc.cost
	st.moves, st.movedBytes, st.leaderMoves = sc.moves, sc.movedBytes, sc.leaderMoves
}

// exchangeAllowed is allowed for an exchange: neither broker excluded, the directory that
// gains bytes has room for them, and neither partition less rack-aware.
func (s *Search) exchangeAllowed(st *state, m move, sc *scored) bool {
	c := s.cluster
	if s.closed[sc.from] || s.closed[sc.to] {
		return false
	}
	if sc.amount > 0 && sc.amount > s.dirLimit[sc.toDir]-st.dirs.values[sc.toDir] {
		return false
	}
	if sc.amount < 0 && -sc.amount > s.dirLimit[sc.fromDir]-st.dirs.values[sc.fromDir] {
		return false
	}
	if c.hasRacks && c.brokerRack[sc.from] != c.brokerRack[sc.to] {
		for _, mv := range [2]struct{ slot, to int32 }{{m.slot, sc.to}, {m.other, sc.from}} {
			p := c.slotPart[mv.slot]
			start, end := c.slotStart[p], c.slotStart[p+1]
			brokers := st.slotBroker[start:end]
			if s.rackViolation(brokers, int(mv.slot-start), mv.to) > s.rackViolation(brokers, -1, 0) {
				return false
			}
		}
	}
	return true
}

// exchangeValid reports whether two replicas can trade places now: on two brokers, neither
// of which holds the other's partition.
func (s *Search) exchangeValid(st *state, x, y int32) bool {
	c := s.cluster
	a, b := st.slotBroker[x], st.slotBroker[y]
	p, q := c.slotPart[x], c.slotPart[y]
	if a == b || p == q {
		return false
	}
	return !hasBroker(st.slotBroker[c.slotStart[p]:c.slotStart[p+1]], b) &&
		!hasBroker(st.slotBroker[c.slotStart[q]:c.slotStart[q+1]], a)
}

// exchangeDraws is how many replicas an exchange proposal draws on each side.
const exchangeDraws = 6

// proposeExchange picks a more loaded broker A and a less loaded B (proposePair), draws
// a few replicas on each, and pairs the two whose difference of sizes is closest to half the
// gap between A and B.
func (s *Search) proposeExchange(st *state, r *random) (move, bool) {
	c := s.cluster
	if len(c.brokers) < 2 {
		return move{}, false
	}
	a, to := s.proposePair(st, r)
	la, lb := st.brokerSlots[a], st.brokerSlots[to]
	if s.closed[to] || s.closed[a] || len(la) == 0 || len(lb) == 0 {
		return move{}, false
	}
	ideal := (st.bytes.values[a] - st.bytes.values[to]) / 2
	var xs, ys [exchangeDraws]int32
	for i := range exchangeDraws {
		xs[i] = la[r.intn(len(la))]
		ys[i] = lb[r.intn(len(lb))]
	}
	best := move{exchange: true, slot: -1}
	var bestGap int64
	for _, x := range xs {
		for _, y := range ys {
			if !s.exchangeValid(st, x, y) {
				continue
			}
			if gap := abs(c.size[c.slotPart[x]] - c.size[c.slotPart[y]] - ideal); best.slot < 0 || gap < bestGap {
				best, bestGap = move{exchange: true, part: c.slotPart[x], slot: x, other: y}, gap
			}
		}
	}
	return best, best.slot >= 0
}
