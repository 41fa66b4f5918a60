package actors

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// TestLinksFollowClusterChanges: the host-link table kept up to date delta by delta equals
// the one counted from scratch, and a transaction's view includes its own changes.
func TestLinksFollowClusterChanges(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	st := newPoolState()
	cluster := func(name string) *meta.ClusterStore {
		c := &meta.ClusterStore{Name: name}
		for i := 0; i < 1+rnd.Intn(3); i++ {
			a, b := rnd.Intn(6), rnd.Intn(6)
			c.Chunks = append(c.Chunks, meta.ChunkStore{Hosts: [2]string{fmt.Sprint("h", a), fmt.Sprint("h", b+6)}})
		}
		return c
	}
	for step := 0; step < 300; step++ {
		tx := &poolTx{base: st}
		for i := 0; i < 1+rnd.Intn(3); i++ {
			name := fmt.Sprint("c", rnd.Intn(10))
			if rnd.Intn(3) == 0 {
				tx.setCluster(name, nil)
			} else {
				tx.setCluster(name, cluster(name))
			}
		}
		want := meta.LinksOf(tx.clusters())
		got := tx.links()
		for a := 0; a < 6; a++ {
			for b := 6; b < 12; b++ {
				ha, hb := fmt.Sprint("h", a), fmt.Sprint("h", b)
				if got.Count(ha, hb) != want.Count(ha, hb) {
					t.Fatalf("step %d: transaction sees %d links %s-%s, want %d", step, got.Count(ha, hb), ha, hb, want.Count(ha, hb))
				}
			}
		}
		tx.d.applyTo(st)
		if !reflect.DeepEqual(st.links, meta.LinksOf(st.clusters)) {
			t.Fatalf("step %d: kept links %v, counted %v", step, st.links, meta.LinksOf(st.clusters))
		}
	}
}
