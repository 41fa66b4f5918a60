package actors

import (
	"errors"
	"testing"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// TestClusterChangesOnThePool: delete, config, balance and migration commits go to the pool
// as named messages; a cluster that is not there (never created, or deleted) and a name
// that is not a cluster's are refused, and nothing changes.
func TestClusterChangesOnThePool(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 2, 2)
	ok(t, e.CreateCluster("gone", 4))
	ok(t, e.DeleteCluster("gone"))
	config := map[string]string{"migration_scan_count": "8"}
	tests := []struct {
		name   string
		change func(cluster string) Result
		bad    error // for a name that is no cluster's
	}{
		{"delete", e.DeleteCluster, meta.ErrInvalidClusterName},
		{"config", func(c string) Result { return e.PatchClusterConfig(c, config) }, meta.ErrInvalidClusterName},
		{"balance", e.BalanceCluster, meta.ErrInvalidClusterName},
		{"commit", func(c string) Result { return e.CommitMigration(c, meta.RangeList{{0, 1}}, 1) }, meta.ErrClusterNotFound},
	}
	before := epoch(t, e)
	for _, tt := range tests {
		for _, c := range []string{"never", "gone"} {
			if r := tt.change(c); !errors.Is(r.Err, meta.ErrClusterNotFound) {
				t.Errorf("%s of %q: %v, want CLUSTER_NOT_FOUND", tt.name, c, r.Err)
			}
		}
		if r := tt.change("no/such"); !errors.Is(r.Err, tt.bad) {
			t.Errorf("%s of an invalid name: %v, want %v", tt.name, r.Err, tt.bad)
		}
	}
	if got := epoch(t, e); got != before {
		t.Errorf("epoch %d after refused changes, want %d", got, before)
	}
	// The same messages change a cluster that is there.
	ok(t, e.CreateCluster("c", 4))
	ok(t, e.PatchClusterConfig("c", config))
	ok(t, e.BalanceCluster("c"))
	ok(t, e.DeleteCluster("c"))
	wantErr(t, e.ClusterInfo("c"), meta.ErrClusterNotFound)
}
