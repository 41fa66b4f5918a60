package planner

import "fmt"

// WalkForTest commits steps random moves to a fresh batch state, whether they help or not
// (hill-climbing proposals and Astraea shuffle steps in turn), and then checks everything
// the search keeps incrementally against a recomputation from the resulting layout. It
// returns the incrementally kept cost, the recomputed one, and an error for any exact
// mismatch (counters, budgets, broker lists).
func WalkForTest(s *Search, batch, steps int) (incremental, scratch float64, err error) {
	c := s.cluster
	st := s.newState(batch)
	for i := range steps {
		var m move
		var ok bool
		if i%2 == 0 {
			m, ok = s.propose(st, &st.rng, i%4 == 0)
		} else {
			m, ok = s.shuffleStep(st, &st.rng)
		}
		if ok {
			var sc scored
			s.score(st, m, &sc)
			s.commit(st, m, &sc)
		}
	}
	l := c.loads(st.slotBroker, st.slotDir)
	scratch = c.costOf(l, s.weights)
	pairs := map[string][2][]int64{
		"bytes per broker":    {l.brokerBytes, st.bytes.values},
		"leaders per broker":  {l.brokerLeaders, st.leaders.values},
		"bytes per dir":       {l.dirBytes, st.dirs.values},
		"replicas per broker": {l.brokerReplicas, st.replicas.values},
	}
	n := len(c.brokers)
	for t, sp := range st.topics {
		pairs[fmt.Sprint("replicas of topic ", t)] = [2][]int64{l.topicReplicas[t*n : (t+1)*n], sp.values}
	}
	for name, pair := range pairs {
		if fmt.Sprint(pair[0]) != fmt.Sprint(pair[1]) {
			return st.cost, scratch, fmt.Errorf("%s: recomputed %v, kept %v", name, pair[0], pair[1])
		}
	}
	for slot, d := range st.slotDir {
		if c.dirBroker[d] != st.slotBroker[slot] {
			return st.cost, scratch, fmt.Errorf("slot %d: dir %d is not on broker %d", slot, d, st.slotBroker[slot])
		}
	}
	var moves, leaderMoves int
	var movedBytes int64
	for p := range c.partitions {
		start, end := c.slotStart[p], c.slotStart[p+1]
		for _, d := range st.slotDir[start:end] {
			if !hasDir(c.slotDir[start:end], d) {
				moves++
				movedBytes += c.size[p]
			}
		}
		if st.slotBroker[start] != c.slotBroker[start] {
			leaderMoves++
		}
		for a := start; a < end; a++ {
			for b := a + 1; b < end; b++ {
				if st.slotBroker[a] == st.slotBroker[b] {
					return st.cost, scratch, fmt.Errorf("partition %d has two replicas on broker %d", p, st.slotBroker[a])
				}
			}
		}
	}
	if moves != st.moves || movedBytes != st.movedBytes || leaderMoves != st.leaderMoves {
		return st.cost, scratch, fmt.Errorf("budgets: recomputed %d moves, %d bytes, %d leader moves; kept %d, %d, %d",
			moves, movedBytes, leaderMoves, st.moves, st.movedBytes, st.leaderMoves)
	}
	listed := 0
	for b, list := range st.brokerSlots {
		for i, slot := range list {
			if st.slotBroker[slot] != int32(b) || st.slotPos[slot] != int32(i) {
				return st.cost, scratch, fmt.Errorf("broker list %d: slot %d misplaced", b, slot)
			}
		}
		listed += len(list)
	}
	movable := 0
	for _, p := range s.movable {
		movable += int(c.slotStart[p+1] - c.slotStart[p])
	}
	if listed != movable {
		return st.cost, scratch, fmt.Errorf("broker lists hold %d slots, want %d", listed, movable)
	}
	return st.cost, scratch, nil
}
