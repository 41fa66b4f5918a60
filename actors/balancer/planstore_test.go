package balancer

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
	"github.com/seed248d40c9/fulcrum/persist"
)

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m)) }

// loadPlans reads the plan records alone, oldest first (not in token order), skipping a
// record that does not parse or is stored under another token; on bbolt and on etcd,
// where it reads the plans bucket only, beside a broker state in the other buckets.
func TestLoadPlans(t *testing.T) {
	for _, c := range []struct {
		name  string
		store func(t *testing.T) persist.Backend
	}{
		{"bbolt", func(t *testing.T) persist.Backend { return openStore(t) }},
		{"etcd", openEtcdLeader},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := c.store(t)
			if recs, bad, err := loadPlans(store); err != nil || len(recs) != 0 || len(bad) != 0 {
				t.Fatalf("empty store: %v %v %v", recs, bad, err)
			}
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var b persist.Batch
			b.Put(persist.Clusters, "c1", []byte(`{"name":"c1"}`))
			b.Put(persist.Meta, "global_epoch", []byte("7"))
			b.Put(persist.Failed, "p1", nil)
			if err := store.Commit(&b); err != nil {
				t.Fatal(err)
			}
			for i, tok := range []string{"a-newest", "b-oldest", "c-middle"} {
				rec := planRecord{Status: PlanStatus{Token: tok, Phase: PhaseExecuted, StartTime: t0.Add(time.Duration([]int{3, 1, 2}[i]) * time.Hour)}}
				if err := writePlan(store, tok, rec.encode()); err != nil {
					t.Fatal(err)
				}
			}
			other := planRecord{Status: PlanStatus{Token: "elsewhere"}}
			if err := writePlan(store, "d-wrong-token", other.encode()); err != nil {
				t.Fatal(err)
			}
			if err := writePlan(store, "e-garbage", []byte("{")); err != nil {
				t.Fatal(err)
			}
			recs, bad, err := loadPlans(store)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.Status.Token)
			}
			if want := []string{"b-oldest", "c-middle", "a-newest"}; !slices.Equal(got, want) || len(bad) != 2 {
				t.Fatalf("loaded %v (bad %v), want %v and 2 bad", got, bad, want)
			}
		})
	}
}

// openEtcdLeader opens the etcd store under a prefix of its own and makes it the leader,
// so that it can write.
func openEtcdLeader(t *testing.T) persist.Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := persist.OpenEtcd(ctx, persist.EtcdConfig{Endpoints: etcdtest.Endpoints(t), Prefix: etcdtest.Prefix("plans"), ID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Campaign(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
