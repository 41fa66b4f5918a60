package meta

import (
	"strings"
	"testing"
)

func exampleStore() *MetaStore { return storeOf(exampleCluster()) }

// storeOf wraps a cluster in a store that registers exactly its proxies.
func storeOf(c *ClusterStore) *MetaStore {
	ms := &MetaStore{Version: StoreVersion, GlobalEpoch: max(9, c.Epoch), Clusters: map[string]*ClusterStore{c.Name: c},
		AllProxies: map[string]*ProxyResource{}, FailedProxies: []string{}, Failures: map[string]map[string]int64{}}
	for _, ch := range c.Chunks {
		for i, addr := range ch.ProxyAddresses {
			ms.AllProxies[addr] = &ProxyResource{ProxyAddress: addr, Host: ch.Hosts[i], Cluster: c.Name,
				NodeAddresses: [2]string{ch.NodeAddresses[2*i], ch.NodeAddresses[2*i+1]}}
		}
	}
	return ms
}

func TestValidate(t *testing.T) {
	if err := Validate(exampleStore()); err != nil {
		t.Fatalf("valid store refused: %v", err)
	}
	f := func(breakIt func(ms *MetaStore), want string) {
		t.Helper()
		ms := exampleStore()
		breakIt(ms)
		if err := Validate(ms); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want an error containing %q", err, want)
		}
	}
	f(func(ms *MetaStore) { ms.Clusters["mycluster"].Chunks[0].StableSlots[1] = RangeList{{8192, 16382}} }, "slot 16383 has no owner")
	f(func(ms *MetaStore) { ms.Clusters["mycluster"].Chunks[0].StableSlots[1] = RangeList{{8000, 16383}} }, "owned twice")
	f(func(ms *MetaStore) { ms.Clusters["mycluster"].Chunks[0].Hosts[1] = "10.0.0.1" }, "both proxies on host")
	f(func(ms *MetaStore) { ms.AllProxies["10.0.0.1:6001"].Cluster = "" }, "its record says")
	f(func(ms *MetaStore) {
		c := ms.Clusters["mycluster"].Clone()
		c.Name = "other"
		ms.Clusters["other"] = c
	}, "is in clusters")
	f(func(ms *MetaStore) { ms.GlobalEpoch = 2 }, "above the global epoch")
	if err := Validate(storeOf(migratingCluster())); err != nil {
		t.Errorf("migrating cluster refused: %v", err)
	}
	ahead := storeOf(migratingCluster())
	ahead.Clusters["mycluster"].Chunks[0].MigratingSlots[1][0].Meta.Epoch = ahead.GlobalEpoch + 1
	if err := Validate(ahead); err == nil || !strings.Contains(err.Error(), "task epoch") {
		t.Errorf("task epoch above the global epoch: %v", err)
	}
	broken := storeOf(migratingCluster())
	broken.Clusters["mycluster"].Chunks[1].MigratingSlots[0] = nil
	if err := Validate(broken); err == nil || !strings.Contains(err.Error(), "not stored on its destination") {
		t.Errorf("task without its importing copy: %v", err)
	}
}
