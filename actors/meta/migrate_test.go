package meta

import (
	"errors"
	"fmt"
	"testing"
)

// clusterOf builds a cluster with the given numbers of slot-bearing and slot-less chunks.
func clusterOf(withSlots, slotless int) *ClusterStore {
	all := testProxies(2*(withSlots+slotless), 1)
	var pairs [][2]*ProxyResource
	for i := 0; i+1 < len(all); i += 2 {
		pairs = append(pairs, [2]*ProxyResource{all[i], all[i+1]})
	}
	c := &ClusterStore{Name: "c", Epoch: 1, Config: DefaultClusterConfig(),
		Chunks: NewChunks(pairs[:withSlots], SplitSlots(withSlots))}
	return c.withChunks(NewChunks(pairs[withSlots:], nil))
}

func (c *ClusterStore) withChunks(chs []ChunkStore) *ClusterStore {
	c.Chunks = append(c.Chunks, chs...)
	return c
}

// tasks lists the migrating copies as "(src)->(dst) ranges" in chunk/part order.
func tasks(c *ClusterStore) []string {
	var out []string
	for i := range c.Chunks {
		for part := 0; part < 2; part++ {
			for _, m := range c.Chunks[i].MigratingSlots[part] {
				if m.IsMigrating {
					out = append(out, fmt.Sprintf("(%d,%d)->(%d,%d) %v", m.Meta.SrcChunkIndex, m.Meta.SrcChunkPart,
						m.Meta.DstChunkIndex, m.Meta.DstChunkPart, m.RangeList))
				}
			}
		}
	}
	return out
}

func TestExpandPlans(t *testing.T) {
	f := func(withSlots, slotless int, want ...string) {
		t.Helper()
		c := clusterOf(withSlots, slotless)
		if err := Expand(c, 9); err != nil {
			t.Fatal(err)
		}
		if got := tasks(c); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("expand %d+%d:\n got %v\nwant %v", withSlots, slotless, got, want)
		}
		if err := Validate(storeOf(c)); err != nil {
			t.Errorf("expand %d+%d: %v", withSlots, slotless, err)
		}
	}
	// undermoon's scaling examples.
	f(1, 1, "(0,0)->(1,0) [[4096 8191]]", "(0,1)->(1,1) [[12288 16383]]")
	f(1, 2, "(0,0)->(1,0) [[5461 8191]]", "(0,0)->(1,1) [[2731 5460]]", "(0,1)->(1,1) [[16383 16383]]",
		"(0,1)->(2,0) [[13653 16382]]", "(0,1)->(2,1) [[10923 13652]]")
}

func TestExpandErrors(t *testing.T) {
	if err := Expand(clusterOf(2, 0), 9); !errors.Is(err, ErrSlotsAlreadyEven) {
		t.Errorf("nothing to expand to: %v", err)
	}
	c := clusterOf(1, 1)
	Expand(c, 9)
	if err := Expand(c, 10); !errors.Is(err, ErrMigrationRunning) {
		t.Errorf("expand during a migration: %v", err)
	}
}

// commitAll commits every stored task, checking the invariants after each commit.
func commitAll(t *testing.T, c *ClusterStore, epoch uint64) uint64 {
	t.Helper()
	for c.IsMigrating() {
		for i := range c.Chunks {
			for part := 0; part < 2; part++ {
				for _, m := range c.Chunks[i].MigratingSlots[part] {
					if !m.IsMigrating {
						continue
					}
					epoch++
					if err := CommitTask(c, m.RangeList, m.Meta.Epoch, epoch); err != nil {
						t.Fatal(err)
					}
					if err := CommitTask(c, m.RangeList, m.Meta.Epoch, epoch); !errors.Is(err, ErrMigrationTaskNotFound) {
						t.Fatalf("a repeated commit: %v", err)
					}
					if err := Validate(storeOf(c)); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	return epoch
}

func balanced(t *testing.T, c *ClusterStore, masters int) {
	t.Helper()
	targets := masterTargets(masters)
	min, max := targets[len(targets)-1], targets[0]
	for i := 0; i < masters/2; i++ {
		for part := 0; part < 2; part++ {
			if n := c.Chunks[i].StableSlots[part].Count(); n < min || n > max {
				t.Fatalf("master (%d,%d) has %d slots, want %d..%d", i, part, n, min, max)
			}
		}
	}
}

func TestScaleOutAndInConverge(t *testing.T) {
	for start := 1; start <= 4; start++ {
		for add := 1; add <= 4; add++ {
			c := clusterOf(start, add)
			if err := Expand(c, 10); err != nil {
				t.Fatal(err)
			}
			epoch := commitAll(t, c, 10)
			balanced(t, c, 2*(start+add))
			if err := Shrink(c, int64(4*start), epoch+1); err != nil {
				t.Fatal(err)
			}
			if err := Validate(storeOf(c)); err != nil {
				t.Fatal(err)
			}
			epoch = commitAll(t, c, epoch+1)
			balanced(t, c, 2*start)
			freed, err := RemoveSlotlessChunks(c, epoch+1)
			if err != nil || len(freed) != 2*add || len(c.Chunks) != start {
				t.Fatalf("%d+%d: free-node deletion freed %v, %v", start, add, freed, err)
			}
		}
	}
}

func TestShrinkErrors(t *testing.T) {
	f := func(c *ClusterStore, nodes int64, want error) {
		t.Helper()
		if err := Shrink(c, nodes, 9); !errors.Is(err, want) {
			t.Errorf("shrink to %d: %v, want %v", nodes, err, want)
		}
	}
	f(clusterOf(2, 0), 8, ErrInvalidNodeNumber)
	f(clusterOf(2, 0), 0, ErrInvalidNodeNumber)
	f(clusterOf(2, 0), 6, ErrInvalidNodeNumber)
	f(clusterOf(2, 1), 4, ErrFreeNodeFound)
	c := clusterOf(2, 0)
	Shrink(c, 4, 9)
	f(c, 4, ErrMigrationRunning)
	if _, err := RemoveSlotlessChunks(c, 10); !errors.Is(err, ErrMigrationRunning) {
		t.Errorf("free-node deletion during a migration: %v", err)
	}
	if _, err := RemoveSlotlessChunks(clusterOf(2, 0), 10); !errors.Is(err, ErrFreeNodeNotFound) {
		t.Errorf("free-node deletion with none: %v", err)
	}
}

func TestShrinkMovesEverySlotOfRemovedChunks(t *testing.T) {
	c := clusterOf(3, 0)
	if err := Shrink(c, 4, 9); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		if c.Chunks[i].StableSlots[0] != nil || c.Chunks[i].StableSlots[1] != nil {
			t.Fatalf("removed chunk %d still owns stable slots", i)
		}
	}
	v := c.View(0)
	for _, n := range v.Nodes[4:] {
		for _, s := range n.Slots {
			if s.Tag.Kind != TagMigrating {
				t.Fatalf("a removed master shows %s ranges", s.Tag.Kind)
			}
		}
	}
	for _, n := range v.Nodes[:4] {
		if n.Repl.Role == "master" && (len(n.Slots) < 2 || n.Slots[0].Tag.Kind != TagNone || n.Slots[1].Tag.Kind != TagImporting) {
			t.Fatalf("a kept master shows %+v, want its stable range then importing ones", n.Slots)
		}
	}
}

func TestCommitMatchesRangesAndEpochOnly(t *testing.T) {
	c := clusterOf(1, 1)
	Expand(c, 9)
	if err := CommitTask(c, RangeList{{4096, 8191}}, 8, 10); !errors.Is(err, ErrMigrationTaskNotFound) {
		t.Errorf("commit with a wrong epoch: %v", err)
	}
	if err := CommitTask(c, RangeList{{4096, 8190}}, 9, 10); !errors.Is(err, ErrMigrationTaskNotFound) {
		t.Errorf("commit with wrong ranges: %v", err)
	}
	if err := CommitTask(c, RangeList{{4096, 8191}}, 9, 10); err != nil {
		t.Fatal(err)
	}
	if got := c.Chunks[1].StableSlots[0]; fmt.Sprint(got) != "[[4096 8191]]" || c.Epoch != 10 {
		t.Errorf("after commit the destination owns %v, epoch %d", got, c.Epoch)
	}
}
