package planner

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// The hard constraints (issue 11): a plan never breaks them, and the search first repairs
// the layout where it already does, whatever that costs.
//
//   - Racks: the replicas of a partition are on as many racks as possible, min(RF, racks),
//     with at most ⌈RF/racks⌉ on one rack. Racks are counted over the brokers that are not
//     excluded; a broker without a rack is a rack of its own, so a cluster without racks
//     has nothing to check (a partition never has two replicas on one broker).
//   - Capacity: no directory ends above MaxDiskUsage of its volume. The bytes on the volume
//     that are not this directory's replicas (other directories on the same volume, other
//     files) are taken as they are now. A directory whose capacity Kafka did not report is
//     not checked, and the plan says so.
//   - Excluded brokers: no replica of a movable partition stays on one, none arrives.
//   - Target brokers, when given: only they receive replicas (filling new brokers); a
//     change of leader among a partition's current replicas is still allowed anywhere.
//
// The repair is deterministic (no random draw) and runs once in NewSearch: each broken
// partition gets, replica by replica, the relocation that repairs it at the lowest
// objective; every batch starts from the repaired layout and only accepts moves that keep
// every constraint (allowed). Repairs count against the budgets: one that does not fit is
// not made, and the plan lists what is still broken (Plan.Constraints.Unmet). A
// leadership-only search copies no byte, so it repairs nothing.

// Names of the constraints in Constraints.Repaired.
const (
	ConstraintRacks    = "racks"
	ConstraintCapacity = "capacity"
	ConstraintExcluded = "excludedBrokers"
)

// Constraints is what a plan did about the hard constraints.
type Constraints struct {
	// Repaired counts, per constraint, the replicas the plan relocates because the current
	// layout breaks that constraint. Those moves are in the plan even when they raise the
	// cost.
	Repaired map[string]int `json:"repaired,omitempty"`
	// Unmet describes what the planned layout still breaks: nothing could repair it within
	// the budgets and the other constraints.
	Unmet []string `json:"unmet,omitempty"`
	// Notes say which constraints were not checked, and why (Kafka did not report a
	// directory's capacity; a leadership-only plan repairs nothing).
	Notes []string `json:"notes,omitempty"`
}

// constraints is a search's view of the hard constraints.
type constraints struct {
	excluded []bool  // broker index -> excluded
	closed   []bool  // broker index -> may receive no replica: excluded, or not a target
	dirLimit []int64 // directory index -> most planning bytes it may hold; MaxInt64 if unknown
	dirOther []int64 // directory index -> bytes on its volume that are not its replicas
	racks    int     // racks among the brokers that are not excluded
	repaired repairCounts
	notes    []string
}

type repairCounts struct{ racks, capacity, excluded int }

func (r repairCounts) total() int { return r.racks + r.capacity + r.excluded }

func (r repairCounts) asMap() map[string]int {
	m := map[string]int{}
	for name, n := range map[string]int{ConstraintRacks: r.racks, ConstraintCapacity: r.capacity, ConstraintExcluded: r.excluded} {
		if n > 0 {
			m[name] = n
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// CheckBrokers refuses excluded or target brokers the cluster does not have, and targets
// that are all excluded. NewSearch checks it; a caller that answers without a search (no
// topic may move) checks it too, so a bad request is refused the same way either way.
func CheckBrokers(c *Cluster, exclude, target []int32) error {
	for _, id := range exclude {
		if _, ok := c.brokerByID[id]; !ok {
			return fmt.Errorf("unknown broker %d to exclude", id)
		}
	}
	open := false
	for _, id := range target {
		if _, ok := c.brokerByID[id]; !ok {
			return fmt.Errorf("unknown target broker %d", id)
		}
		open = open || !slices.Contains(exclude, id)
	}
	if len(target) > 0 && !open {
		return fmt.Errorf("every target broker is excluded: there is nowhere to put the replicas")
	}
	return nil
}

// prepareConstraints checks the excluded brokers and works out the directory limits and
// the rack count, from the original aggregates l.
func (s *Search) prepareConstraints(l loads) error {
	c := s.cluster
	if err := CheckBrokers(c, s.opts.ExcludeBrokers, s.opts.TargetBrokers); err != nil {
		return err
	}
	s.excluded = make([]bool, len(c.brokers))
	for _, id := range s.opts.ExcludeBrokers {
		s.excluded[c.brokerByID[id]] = true
	}
	s.closed = slices.Clone(s.excluded)
	if len(s.opts.TargetBrokers) > 0 {
		for bi := range s.closed {
			s.closed[bi] = true
		}
		for _, id := range s.opts.TargetBrokers {
			bi := c.brokerByID[id]
			s.closed[bi] = s.excluded[bi]
		}
	}
	rackSeen := map[int32]bool{}
	for bi, rack := range c.brokerRack {
		if !s.excluded[bi] {
			rackSeen[rack] = true
		}
	}
	s.racks = len(rackSeen)
	if s.racks == 0 {
		return fmt.Errorf("every broker is excluded: there is nowhere to put the replicas")
	}

	s.dirLimit = make([]int64, len(c.dirPath))
	s.dirOther = make([]int64, len(c.dirPath))
	var unknown []string
	for d, space := range c.dirSpace {
		if space.Total <= 0 {
			s.dirLimit[d] = math.MaxInt64
			unknown = append(unknown, fmt.Sprintf("%d:%s", c.brokers[c.dirBroker[d]].ID, c.dirPath[d]))
			continue
		}
		// What the volume holds besides this directory's replicas stays as it is.
		s.dirOther[d] = max(0, space.Total-space.Usable-l.dirBytes[d])
		s.dirLimit[d] = int64(s.opts.MaxDiskUsage*float64(space.Total)) - s.dirOther[d]
	}
	switch {
	case s.opts.LeadershipOnly:
		s.notes = append(s.notes, "leadership only: no replica is copied, so no broken constraint is repaired")
	case len(unknown) == len(c.dirPath):
		s.notes = append(s.notes, "Kafka did not report the capacity of any log directory (TotalBytes, Kafka 3.3+): maxDiskUsage was not checked")
	case len(unknown) > 0:
		s.notes = append(s.notes, fmt.Sprintf("Kafka did not report the capacity of %d log directories (%s): maxDiskUsage was not checked on them",
			len(unknown), abbreviate(unknown)))
	}
	return nil
}

// rackViolation measures how far a partition is from rack awareness: replicas above
// ⌈RF/racks⌉ on a rack, plus racks missing to reach min(RF, racks). 0 means rack-aware.
// brokers are the partition's brokers, with brokers[replace] taken as on broker to
// (replace < 0 for none).
func (s *Search) rackViolation(brokers []int32, replace int, to int32) int {
	rack := s.cluster.brokerRack
	at := func(i int) int32 {
		if i == replace {
			return rack[to]
		}
		return rack[brokers[i]]
	}
	rf := len(brokers)
	most := (rf + s.racks - 1) / s.racks
	distinct, over := 0, 0
	for i := range rf {
		r := at(i)
		first := true
		for j := range i {
			if at(j) == r {
				first = false
				break
			}
		}
		if !first {
			continue
		}
		distinct++
		n := 1
		for j := i + 1; j < rf; j++ {
			if at(j) == r {
				n++
			}
		}
		over += max(0, n-most)
	}
	return over + max(0, min(rf, s.racks)-distinct)
}

// allowed reports whether a scored move keeps the hard constraints: it does not put a
// replica on an excluded broker or into a directory past its limit, and it does not make
// its partition less rack-aware.
func (s *Search) allowed(st *state, m move, sc *scored) bool {
	if m.exchange {
		return s.exchangeAllowed(st, m, sc)
	}
	if m.swap || sc.toDir == sc.fromDir {
		return true
	}
	c := s.cluster
	if s.closed[sc.to] || c.size[m.part] > s.dirLimit[sc.toDir]-st.dirs.values[sc.toDir] {
		return false
	}
	if c.hasRacks && c.brokerRack[sc.from] != c.brokerRack[sc.to] {
		start, end := c.slotStart[m.part], c.slotStart[m.part+1]
		brokers := st.slotBroker[start:end]
		if s.rackViolation(brokers, int(m.slot-start), sc.to) > s.rackViolation(brokers, -1, 0) {
			return false
		}
	}
	return true
}

// repair relocates replicas until the layout keeps the hard constraints, or nothing more
// can be done within the budgets: first off excluded brokers, then onto more racks, then
// out of directories above their limit.
func (s *Search) repair(st *state) {
	if s.opts.LeadershipOnly {
		return
	}
	c := s.cluster
	for _, p := range s.movable {
		start, end := c.slotStart[p], c.slotStart[p+1]
		for slot := start; slot < end; slot++ {
			if s.excluded[st.slotBroker[slot]] && s.relocateBest(st, slot, false) {
				s.repaired.excluded++
			}
		}
		if !c.hasRacks {
			continue
		}
		for range end - start {
			v := s.rackViolation(st.slotBroker[start:end], -1, 0)
			if v == 0 {
				break
			}
			// Of every replica's best relocation that lowers the violation, the cheapest.
			var best move
			var bestSc scored
			found := false
			for slot := start; slot < end; slot++ {
				if m, sc, ok := s.bestRelocation(st, slot, true); ok && (!found || s.objective(sc.cost, sc.movedBytes) < s.objective(bestSc.cost, bestSc.movedBytes)) {
					best, bestSc, found = m, sc, true
				}
			}
			if !found {
				break
			}
			s.commit(st, best, &bestSc)
			s.repaired.racks++
		}
	}
	for d := range int32(len(c.dirPath)) {
		s.repairDir(st, d)
	}
}

// repairDir moves replicas out of directory d until it is within its limit: each time the
// smallest replica that is enough on its own, else the largest, that can go somewhere.
func (s *Search) repairDir(st *state, d int32) {
	c := s.cluster
	for st.dirs.values[d] > s.dirLimit[d] {
		over := st.dirs.values[d] - s.dirLimit[d]
		var slots []int32
		for _, slot := range st.brokerSlots[c.dirBroker[d]] {
			if st.slotDir[slot] == d {
				slots = append(slots, slot)
			}
		}
		key := func(slot int32) int64 { // smaller is tried first
			if size := c.size[c.slotPart[slot]]; size >= over {
				return size - math.MaxInt64
			} else {
				return -size
			}
		}
		slices.SortStableFunc(slots, func(a, b int32) int { return cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(a, b)) })
		moved := false
		for _, slot := range slots {
			if s.relocateBest(st, slot, false) {
				s.repaired.capacity++
				moved = true
				break
			}
		}
		if !moved {
			return
		}
	}
}

// relocateBest commits the best relocation of slot (see bestRelocation), if there is one.
func (s *Search) relocateBest(st *state, slot int32, lowerRacks bool) bool {
	m, sc, ok := s.bestRelocation(st, slot, lowerRacks)
	if ok {
		s.commit(st, m, &sc)
	}
	return ok
}

// bestRelocation finds where slot's replica goes at the lowest objective: any directory of
// a broker that is not excluded and does not hold the partition (another directory when it
// is the replica's own broker), with room for it, within the budgets, without making the
// partition less rack-aware (strictly more rack-aware when lowerRacks). Ties go to the
// lowest broker index, then the directory with fewest bytes.
func (s *Search) bestRelocation(st *state, slot int32, lowerRacks bool) (move, scored, bool) {
	c := s.cluster
	part := c.slotPart[slot]
	start, end := c.slotStart[part], c.slotStart[part+1]
	brokers := st.slotBroker[start:end]
	from := st.slotBroker[slot]
	v := s.rackViolation(brokers, -1, 0)
	var best move
	var bestSc scored
	found := false
	for b := range int32(len(c.brokers)) {
		if s.closed[b] || (b != from && hasBroker(brokers, b)) {
			continue
		}
		if c.hasRacks {
			nv := s.rackViolation(brokers, int(slot-start), b)
			if nv > v || (lowerRacks && nv == v) {
				continue
			}
		} else if lowerRacks {
			continue
		}
		to := int32(-1)
		for d := c.dirStart[b]; d < c.dirStart[b+1]; d++ {
			if d == st.slotDir[slot] || c.size[part] > s.dirLimit[d]-st.dirs.values[d] {
				continue
			}
			if to < 0 || st.dirs.values[d] < st.dirs.values[to] {
				to = d
			}
		}
		if to < 0 {
			continue
		}
		m := move{part: part, slot: slot, dir: to}
		var sc scored
		s.score(st, m, &sc)
		if !s.withinBudget(sc.moves, sc.movedBytes, sc.leaderMoves) {
			continue
		}
		if !found || s.objective(sc.cost, sc.movedBytes) < s.objective(bestSc.cost, bestSc.movedBytes) {
			best, bestSc, found = m, sc, true
		}
	}
	return best, bestSc, found
}

// unmet describes what a layout (slotDir) still breaks, with a few examples each.
func (s *Search) unmet(slotDir []int32) []string {
	c := s.cluster
	var out []string
	var excluded, racks, full examples
	brokers := make([]int32, 0, 8)
	for _, p := range s.movable {
		start, end := c.slotStart[p], c.slotStart[p+1]
		brokers = brokers[:0]
		for _, d := range slotDir[start:end] {
			b := c.dirBroker[d]
			brokers = append(brokers, b)
			if s.excluded[b] {
				excluded.add(func() string {
					return fmt.Sprintf("%s-%d on broker %d", c.partitions[p].Topic, c.partitions[p].Partition, c.brokers[b].ID)
				})
			}
		}
		if c.hasRacks && s.rackViolation(brokers, -1, 0) > 0 {
			racks.add(func() string { return fmt.Sprintf("%s-%d", c.partitions[p].Topic, c.partitions[p].Partition) })
		}
	}
	if excluded.n > 0 {
		out = append(out, fmt.Sprintf("%d replicas stay on excluded brokers: %s", excluded.n, excluded))
	}
	if racks.n > 0 {
		out = append(out, fmt.Sprintf("%d partitions are not spread over min(RF, %d) racks: %s", racks.n, s.racks, racks))
	}
	dirBytes := make([]int64, len(c.dirPath))
	for slot, d := range slotDir {
		dirBytes[d] += c.size[c.slotPart[slot]]
	}
	for d, limit := range s.dirLimit {
		if dirBytes[d] > limit {
			full.add(func() string {
				usage := float64(s.dirOther[d]+dirBytes[d]) / float64(c.dirSpace[d].Total)
				return fmt.Sprintf("broker %d %s at %.1f%%", c.brokers[c.dirBroker[d]].ID, c.dirPath[d], 100*usage)
			})
		}
	}
	if full.n > 0 {
		out = append(out, fmt.Sprintf("%d log directories end above maxDiskUsage %g: %s", full.n, s.opts.MaxDiskUsage, full))
	}
	return out
}

// examples counts items and names the first few, so a message stays readable (and cheap
// to build) on a big cluster.
type examples struct {
	n     int
	names []string
}

func (e *examples) add(name func() string) {
	if e.n < 5 {
		e.names = append(e.names, name())
	}
	e.n++
}

func (e examples) String() string {
	if e.n <= len(e.names) {
		return strings.Join(e.names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(e.names, ", "), e.n-len(e.names))
}

// abbreviate lists at most 5 items, so a message stays readable on a big cluster.
func abbreviate(items []string) string {
	if len(items) <= 5 {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:5], ", "), len(items)-5)
}
