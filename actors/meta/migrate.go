package meta

// Scaling and slot migration, as undermoon's (scaling, migration_limit, commit, free-node deletion). Every function works on a private clone
// of the cluster and leaves it unchanged when it returns an error.

// slotless reports whether a chunk owns no slots at all: a node set added for a scale-out
// or left behind by a committed shrink.
func (ch *ChunkStore) slotless() bool {
	return ch.StableSlots[0] == nil && ch.StableSlots[1] == nil &&
		len(ch.MigratingSlots[0]) == 0 && len(ch.MigratingSlots[1]) == 0
}

// SlotlessChunks counts the chunks that own no slots.
func (c *ClusterStore) SlotlessChunks() int {
	n := 0
	for i := range c.Chunks {
		if c.Chunks[i].slotless() {
			n++
		}
	}
	return n
}

// masterTargets is the balanced slot count of each of n masters: avg, plus one for the
// first rem.
func masterTargets(n int) []int {
	t := make([]int, n)
	for k := range t {
		t[k] = SlotCount / n
		if k < SlotCount%n {
			t[k]++
		}
	}
	return t
}

// takeBack removes n slots from the end of l; takeFront from its start. They return what
// was taken and what is left.
func takeBack(l RangeList, n int) (taken, left RangeList) {
	left = l.Clone()
	for n > 0 && len(left) > 0 {
		last := left[len(left)-1]
		size := last[1] - last[0] + 1
		if size <= n {
			taken = append(taken, last)
			left = left[:len(left)-1]
			n -= size
			continue
		}
		taken = append(taken, Range{last[1] - n + 1, last[1]})
		left[len(left)-1][1] = last[1] - n
		n = 0
	}
	return taken.Compact(), left
}

func takeFront(l RangeList, n int) (taken, left RangeList) {
	left = l.Clone()
	for n > 0 && len(left) > 0 {
		first := left[0]
		size := first[1] - first[0] + 1
		if size <= n {
			taken = append(taken, first)
			left = left[1:]
			n -= size
			continue
		}
		taken = append(taken, Range{first[0], first[0] + n - 1})
		left[0][0] = first[0] + n
		n = 0
	}
	return taken.Compact(), left
}

// addTask stores a task on both ends: migrating on the source, importing on the destination.
func (c *ClusterStore) addTask(src, dst [2]int, ranges RangeList, epoch uint64) {
	m := MigrationMeta{Epoch: epoch, SrcChunkIndex: src[0], SrcChunkPart: src[1], DstChunkIndex: dst[0], DstChunkPart: dst[1]}
	s, d := &c.Chunks[src[0]], &c.Chunks[dst[0]]
	s.MigratingSlots[src[1]] = append(s.MigratingSlots[src[1]], MigrationSlotRange{RangeList: ranges, IsMigrating: true, Meta: m})
	d.MigratingSlots[dst[1]] = append(d.MigratingSlots[dst[1]], MigrationSlotRange{RangeList: ranges.Clone(), IsMigrating: false, Meta: m})
}

// planMoves walks source masters in order and fills destination masters in order: each
// source gives away give[i] slots (taken by take), each destination receives need[j]; a task
// is emitted whenever a destination is full or a source has given all it must. The last
// destination takes whatever is left, so every slot of a source that must empty finds a home.
func (c *ClusterStore) planMoves(srcs, dsts [][2]int, give, need []int, take func(RangeList, int) (RangeList, RangeList), epoch uint64) {
	d, filled := 0, 0
	for i, src := range srcs {
		excess := give[i]
		var acc RangeList
		for excess > 0 && d < len(dsts) {
			n := excess
			lastDst := d == len(dsts)-1
			if room := need[d] - filled; !lastDst && room < n {
				n = room
			}
			part := &c.Chunks[src[0]].StableSlots[src[1]]
			var taken RangeList
			taken, *part = take(*part, n)
			acc = Merge(acc, taken)
			filled += n
			excess -= n
			if !lastDst && filled >= need[d] {
				c.addTask(src, dsts[d], acc, epoch)
				acc = nil
				d, filled = d+1, 0
			}
		}
		if len(acc) > 0 {
			c.addTask(src, dsts[d], acc, epoch)
		}
	}
}

// Expand plans the scale-out onto the slot-less chunks (POST migrations/expand): the source
// masters give slots from the end of their ranges until every master holds its balanced
// share. Source stable slots shrink at once; destinations own nothing until commit.
func Expand(c *ClusterStore, epoch uint64) error {
	if c.IsMigrating() {
		return ErrMigrationRunning
	}
	var srcs, dsts [][2]int
	for i := range c.Chunks {
		for part := 0; part < 2; part++ {
			if c.Chunks[i].slotless() {
				dsts = append(dsts, [2]int{i, part})
			} else {
				srcs = append(srcs, [2]int{i, part})
			}
		}
	}
	if len(dsts) == 0 {
		return ErrSlotsAlreadyEven
	}
	targets := masterTargets(len(srcs) + len(dsts))
	give := make([]int, len(srcs))
	for i, s := range srcs {
		if n := c.Chunks[s[0]].StableSlots[s[1]].Count() - targets[i]; n > 0 {
			give[i] = n
		}
	}
	c.planMoves(srcs, dsts, give, targets[len(srcs):], takeBack, epoch)
	c.Epoch = epoch
	return nil
}

// Shrink plans the scale-in to nodes (POST migrations/shrink): the first nodes/4 chunks
// keep their slots and receive, in order, all slots of the other chunks, taken from the
// front. The removed chunks are not deleted; DELETE free_nodes does that after the commits.
func Shrink(c *ClusterStore, nodes int64, epoch uint64) error {
	if c.IsMigrating() {
		return ErrMigrationRunning
	}
	if !ValidNodeNumber(nodes) || nodes >= int64(4*len(c.Chunks)) {
		return ErrInvalidNodeNumber
	}
	if c.SlotlessChunks() > 0 {
		return ErrFreeNodeFound
	}
	keep := int(nodes / 4)
	var srcs, dsts [][2]int
	var give, need []int
	targets := masterTargets(2 * keep)
	for i := range c.Chunks {
		for part := 0; part < 2; part++ {
			n := c.Chunks[i].StableSlots[part].Count()
			if i < keep {
				dsts = append(dsts, [2]int{i, part})
				need = append(need, max(0, targets[2*i+part]-n))
			} else {
				srcs = append(srcs, [2]int{i, part})
				give = append(give, n)
			}
		}
	}
	c.planMoves(srcs, dsts, give, need, takeFront, epoch)
	for _, s := range srcs {
		c.Chunks[s[0]].StableSlots[s[1]] = nil
	}
	c.Epoch = epoch
	return nil
}

// CommitTask ends a finished migration task (PUT /clusters/migrations): it is found by its
// range list and epoch only, and its slots join the destination's stable slots.
func CommitTask(c *ClusterStore, ranges RangeList, taskEpoch, epoch uint64) error {
	ranges = ranges.Compact()
	same := func(m *MigrationSlotRange) bool {
		return m.Meta.Epoch == taskEpoch && sameRanges(m.RangeList.Compact(), ranges)
	}
	var srcMeta *MigrationMeta
	var dst [2]int
	foundDst := false
	for i := range c.Chunks {
		for part := 0; part < 2; part++ {
			for k := range c.Chunks[i].MigratingSlots[part] {
				m := &c.Chunks[i].MigratingSlots[part][k]
				if !same(m) {
					continue
				}
				if m.IsMigrating && srcMeta == nil {
					mm := m.Meta
					srcMeta = &mm
				}
				if !m.IsMigrating && !foundDst {
					dst, foundDst = [2]int{i, part}, true
				}
			}
		}
	}
	if srcMeta == nil || !foundDst {
		return ErrMigrationTaskNotFound
	}
	for i := range c.Chunks {
		for part := 0; part < 2; part++ {
			ms := c.Chunks[i].MigratingSlots[part]
			out := ms[:0:0]
			for k := range ms {
				if ms[k].IsMigrating && ms[k].Meta == *srcMeta && sameRanges(ms[k].RangeList.Compact(), ranges) {
					continue
				}
				out = append(out, ms[k])
			}
			c.Chunks[i].MigratingSlots[part] = out
		}
	}
	ms := c.Chunks[dst[0]].MigratingSlots[dst[1]]
	for k := range ms {
		if !ms[k].IsMigrating && same(&ms[k]) {
			c.Chunks[dst[0]].StableSlots[dst[1]] = Merge(c.Chunks[dst[0]].StableSlots[dst[1]], ms[k].RangeList)
			c.Chunks[dst[0]].MigratingSlots[dst[1]] = append(ms[:k:k], ms[k+1:]...)
			break
		}
	}
	c.Epoch = epoch
	return nil
}

func sameRanges(a, b RangeList) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// RemoveSlotlessChunks deletes the chunks that own no slots (DELETE free_nodes) and returns
// the proxies it freed.
func RemoveSlotlessChunks(c *ClusterStore, epoch uint64) ([]string, error) {
	if c.IsMigrating() {
		return nil, ErrMigrationRunning
	}
	var freed []string
	kept := c.Chunks[:0:0]
	for _, ch := range c.Chunks {
		if ch.slotless() {
			freed = append(freed, ch.ProxyAddresses[0], ch.ProxyAddresses[1])
			continue
		}
		kept = append(kept, ch)
	}
	if len(freed) == 0 {
		return nil, ErrFreeNodeNotFound
	}
	c.Chunks = kept
	c.Epoch = epoch
	return freed, nil
}
