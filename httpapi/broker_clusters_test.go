package httpapi_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/seed248d40c9/fulcrum/actors"
)

// Cluster creation, deletion, config, balance, and the ordered-proxy mode.

func TestCreateClusterErrors(t *testing.T) {
	s := startServer(t)
	addExampleProxies(s)
	f := func(name, body string, status int, code string) {
		t.Helper()
		wantError(t, s.api("POST", "/clusters/meta/"+name, body), status, code)
	}
	const bad = http.StatusBadRequest
	f("my.cluster", `{"node_number":4}`, bad, "INVALID_CLUSTER_NAME")
	f(strings.Repeat("a", 32), `{"node_number":4}`, bad, "INVALID_CLUSTER_NAME")
	f("my%20cluster", `{"node_number":4}`, bad, "INVALID_CLUSTER_NAME")
	f("c", `{"node_number":0}`, bad, "INVALID_NODE_NUMBER")
	f("c", `{"node_number":3}`, bad, "INVALID_NODE_NUMBER")
	f("c", `{"node_number":5}`, bad, "INVALID_NODE_NUMBER")
	f("c", `{"node_number":-4}`, bad, "INVALID_NODE_NUMBER")
	f("c", `{"node_number":"8"}`, bad, "INVALID_REQUEST")
	f("c", `{"node_number":4.5}`, bad, "INVALID_REQUEST")
	f("c", `{}`, bad, "INVALID_REQUEST")
	f("c", `null`, bad, "INVALID_REQUEST")
	f("c", ``, bad, "INVALID_REQUEST")
	f("c", `{"node_number":`, bad, "INVALID_REQUEST")
	f("c", `{"node_number":4,"node_number":8}`, bad, "INVALID_REQUEST") // duplicate key: json would keep the last
	f("c", `{"NODE_NUMBER":4}`, bad, "INVALID_REQUEST")                 // wrong case: json would accept it
	f("c", `{"Node_Number":4}`, bad, "INVALID_REQUEST")
	f("c", `{"node_number":8}`, http.StatusConflict, "NO_AVAILABLE_RESOURCE") // 2 proxies = 4 nodes
	if e := s.epoch(); e != 2 {
		t.Errorf("refused creations moved the epoch to %d", e)
	}
	if got := s.ok("GET", "/clusters/names", ""); string(got) != `{"names":[]}` {
		t.Errorf("names after refused creations: %s", got)
	}

	name := strings.Repeat("a", 15) + "@_-Z9" + strings.Repeat("b", 11) // 31 bytes, every allowed kind
	s.okEmpty("POST", "/clusters/meta/"+name, `{"node_number":4}`)
	f(name, `{"node_number":4}`, http.StatusConflict, "ALREADY_EXISTED")
	if c := s.cluster(name); c == nil || len(c.Nodes) != 4 || c.Epoch != 3 {
		t.Errorf("created cluster: %+v", c)
	}
}

func TestDeleteCluster(t *testing.T) {
	s := exampleCluster(t)
	wantError(t, s.api("DELETE", "/clusters/meta/nope", ""), http.StatusNotFound, "CLUSTER_NOT_FOUND")
	wantError(t, s.api("DELETE", "/clusters/meta/bad.name", ""), http.StatusBadRequest, "INVALID_CLUSTER_NAME")

	s.okEmpty("DELETE", "/clusters/meta/mycluster", "")
	if e := s.epoch(); e != 4 {
		t.Errorf("epoch after delete = %d, want 4", e)
	}
	if c := s.cluster("mycluster"); c != nil {
		t.Errorf("deleted cluster still served: %+v", c)
	}
	wantError(t, s.api("GET", "/clusters/info/mycluster", ""), http.StatusNotFound, "CLUSTER_NOT_FOUND")
	if got := s.ok("GET", "/clusters/names", ""); string(got) != `{"names":[]}` {
		t.Errorf("names after delete: %s", got)
	}
	want := `{"proxy":{"address":"10.0.0.1:6001","epoch":4,"nodes":[],"free_nodes":["10.0.0.1:7001","10.0.0.1:7002"],"peers":[],"clusters_config":{}}}`
	if got := s.ok("GET", "/proxies/meta/10.0.0.1:6001", ""); string(got) != want {
		t.Errorf("freed proxy view\n got %s\nwant %s", got, want)
	}
	wantError(t, s.api("DELETE", "/clusters/meta/mycluster", ""), http.StatusNotFound, "CLUSTER_NOT_FOUND")

	// The name can be used again at once, on the freed proxies.
	s.okEmpty("POST", "/clusters/meta/mycluster", `{"node_number":4}`)
	if c := s.cluster("mycluster"); c == nil || c.Epoch != 5 || len(c.Nodes) != 4 {
		t.Errorf("re-created cluster: %+v", c)
	}
}

// As undermoon's code (not its docs): meta of a missing cluster is 200 null, info of it is 404.
func TestMissingCluster(t *testing.T) {
	s := startServer(t)
	f := func(name string) {
		t.Helper()
		r := s.api("GET", "/clusters/meta/"+name, "")
		if r.status != http.StatusOK || string(r.body) != `{"cluster":null}` {
			t.Errorf("GET /clusters/meta/%s: %d %s, want 200 {\"cluster\":null}", name, r.status, r.body)
		}
		wantError(t, s.api("GET", "/clusters/info/"+name, ""), http.StatusNotFound, "CLUSTER_NOT_FOUND")
	}
	f("nope")
	f("bad.name")
	f(strings.Repeat("x", 40))
}

func TestPatchClusterConfig(t *testing.T) {
	s := exampleCluster(t) // epoch 3
	s.okEmpty("PATCH", "/clusters/config/mycluster", `{"compression_strategy":"set_get_only","migration_scan_count":"32"}`)
	c := s.cluster("mycluster")
	if c.Config.CompressionStrategy != "set_get_only" || c.Config.MigrationConfig.ScanCount != 32 || c.Epoch != 4 {
		t.Errorf("after PATCH: config %+v epoch %d; want set_get_only, scan_count 32, epoch 4", c.Config, c.Epoch)
	}
	var pv struct {
		Proxy struct {
			Epoch          uint64
			ClustersConfig map[string]struct {
				CompressionStrategy string `json:"compression_strategy"`
			} `json:"clusters_config"`
		}
	}
	s.getJSON("/proxies/meta/10.0.0.2:6002", &pv)
	if pv.Proxy.Epoch != 4 || pv.Proxy.ClustersConfig["mycluster"].CompressionStrategy != "set_get_only" {
		t.Errorf("proxy view after PATCH: %+v", pv.Proxy)
	}

	f := func(body, want string) {
		t.Helper()
		r := s.api("PATCH", "/clusters/config/mycluster", body)
		wantError(t, r, http.StatusBadRequest, "INVALID_CONFIG")
		if string(r.body) != want {
			t.Errorf("PATCH %s\n got %s\nwant %s", body, r.body, want)
		}
	}
	f(`{"compression_strategy":"xxxx"}`, `{"error":"INVALID_CONFIG","key":"compression_strategy","value":"xxxx","message":"INVALID_VALUE"}`)
	f(`{"migration_scan_count":"0"}`, `{"error":"INVALID_CONFIG","key":"migration_scan_count","value":"0","message":"INVALID_VALUE"}`)
	f(`{"migration_max_blocking_time":"-1"}`, `{"error":"INVALID_CONFIG","key":"migration_max_blocking_time","value":"-1","message":"INVALID_VALUE"}`)
	f(`{"bogus":"1"}`, `{"error":"INVALID_CONFIG","key":"bogus","value":"1","message":"FIELD_NOT_FOUND"}`)
	// All or nothing: a valid change next to an unknown key is not applied.
	f(`{"compression_strategy":"allow_all","zzz":"1"}`, `{"error":"INVALID_CONFIG","key":"zzz","value":"1","message":"FIELD_NOT_FOUND"}`)
	// undermoon always carries key, value and message, even an empty value.
	f(`{"compression_strategy":""}`, `{"error":"INVALID_CONFIG","key":"compression_strategy","value":"","message":"INVALID_VALUE"}`)
	if c := s.cluster("mycluster"); c.Config.CompressionStrategy != "set_get_only" || c.Epoch != 4 {
		t.Errorf("refused PATCHes changed the cluster: strategy %s epoch %d", c.Config.CompressionStrategy, c.Epoch)
	}

	g := func(name, body string, status int, code string) {
		t.Helper()
		wantError(t, s.api("PATCH", "/clusters/config/"+name, body), status, code)
	}
	g("mycluster", `{"migration_scan_count":16}`, http.StatusBadRequest, "INVALID_REQUEST") // numbers are strings
	g("mycluster", `{`, http.StatusBadRequest, "INVALID_REQUEST")
	g("mycluster", ``, http.StatusBadRequest, "INVALID_REQUEST")
	g("mycluster", `["compression_strategy"]`, http.StatusBadRequest, "INVALID_REQUEST")
	g("mycluster", `null`, http.StatusBadRequest, "INVALID_REQUEST") // found by schemathesis: was 200
	g("mycluster", `{"compression_strategy":"disabled","compression_strategy":"allow_all"}`, http.StatusBadRequest, "INVALID_REQUEST")
	g("nope", `{"compression_strategy":"allow_all"}`, http.StatusNotFound, "CLUSTER_NOT_FOUND")
	g("bad.name", `{"compression_strategy":"allow_all"}`, http.StatusBadRequest, "INVALID_CLUSTER_NAME")
	if e := s.epoch(); e != 4 {
		t.Errorf("refused PATCHes moved the epoch to %d", e)
	}
}

// undermoon's balance restores Normal roles when both proxies of a chunk are healthy.
func TestBalance(t *testing.T) {
	s := startServer(t)
	addExampleProxies(s)
	s.addProxy("10.0.0.3:6003", "", "10.0.0.3:7005", "10.0.0.3:7006")
	s.okEmpty("POST", "/clusters/meta/mycluster", `{"node_number":4}`)
	s.ok("POST", "/proxies/failover/10.0.0.2:6002", "") // no report needed; replaced by 6003
	before := s.cluster("mycluster")
	if before.Nodes[1].Repl.Role != "master" {
		t.Fatalf("roles after failover: %v", before.roles())
	}

	s.okEmpty("PUT", "/clusters/balance/mycluster", "")
	c := s.cluster("mycluster")
	if got, want := c.roles(), []string{"10.0.0.1:7001=master", "10.0.0.1:7002=replica", "10.0.0.3:7005=master", "10.0.0.3:7006=replica"}; !reflect.DeepEqual(got, want) {
		t.Errorf("roles after balance %v, want %v", got, want)
	}
	if len(c.Nodes[2].Slots) != 1 || c.Nodes[2].Slots[0].RangeList[0] != [2]int{8192, 16383} {
		t.Errorf("10.0.0.3:7005 slots after balance: %+v, want 8192-16383", c.Nodes[2].Slots)
	}
	if c.Epoch != before.Epoch+1 || s.epoch() != c.Epoch {
		t.Errorf("epoch after balance: cluster %d global %d, want %d", c.Epoch, s.epoch(), before.Epoch+1)
	}
	// Balancing a balanced cluster still bumps the epoch (undermoon).
	s.okEmpty("PUT", "/clusters/balance/mycluster", "")
	if e := s.cluster("mycluster").Epoch; e != c.Epoch+1 {
		t.Errorf("second balance: cluster epoch %d, want %d", e, c.Epoch+1)
	}
	wantError(t, s.api("PUT", "/clusters/balance/nope", ""), http.StatusNotFound, "CLUSTER_NOT_FOUND")
	wantError(t, s.api("PUT", "/clusters/balance/bad.name", ""), http.StatusBadRequest, "INVALID_CLUSTER_NAME")
}

// undermoon's ordered-proxy mode (Kubernetes StatefulSets).
func TestOrderedProxyMode(t *testing.T) {
	ordered := withEngine(func(o *actors.Options) { o.OrderedProxy = true })
	add := func(s *testServer, addr string, index int) response {
		s.t.Helper()
		return s.api("POST", "/proxies/meta", fmt.Sprintf(`{"proxy_address":%q,"nodes":["%s1","%s2"],"index":%d}`, addr, addr, addr, index))
	}

	s := startServer(t, ordered)
	wantError(t, s.api("POST", "/proxies/meta", `{"proxy_address":"p0:6000","nodes":["n:1","n:2"]}`), http.StatusBadRequest, "MISSING_SERVER_PROXY_INDEX")
	wantError(t, add(s, "p0:6000", -1), http.StatusBadRequest, "INVALID_REQUEST")
	for i, addr := range []string{"p0:6000", "p1:6000", "p2:6000", "p3:6000"} {
		if r := add(s, addr, i); r.status != http.StatusOK {
			t.Fatalf("register %s: %d %s", addr, r.status, r.body)
		}
	}
	s.okEmpty("POST", "/clusters/meta/c", `{"node_number":4}`)
	if got := s.cluster("c").proxies(); !reflect.DeepEqual(got, []string{"p0:6000", "p1:6000"}) {
		t.Errorf("ordered allocation %v, want [p0:6000 p1:6000]", got)
	}
	wantError(t, s.api("POST", "/clusters/meta/d", `{"node_number":4}`), http.StatusConflict, "ONE_CLUSTER_ALREADY_EXISTED")
	// Failover only swaps the roles: null, nothing marked failed.
	before := s.epoch()
	if got := s.ok("POST", "/proxies/failover/p1:6000", ""); string(got) != `{"proxy":null}` {
		t.Errorf("ordered failover: %s, want {\"proxy\":null}", got)
	}
	c := s.cluster("c")
	if got := c.roles(); !reflect.DeepEqual(got, []string{"p0:60001=master", "p0:60002=master", "p1:60001=replica", "p1:60002=replica"}) {
		t.Errorf("roles after ordered failover: %v", got)
	}
	if c.Epoch <= before {
		t.Errorf("cluster epoch %d after failover, want > %d", c.Epoch, before)
	}
	if got := s.addresses("/proxies/failed/addresses"); len(got) != 0 {
		t.Errorf("ordered failover marked %v failed", got)
	}
	var md struct {
		Ordered    bool `json:"enable_ordered_proxy"`
		AllProxies map[string]struct {
			Index int `json:"index"`
		} `json:"all_proxies"`
	}
	s.getJSON("/metadata", &md)
	if !md.Ordered || md.AllProxies["p3:6000"].Index != 3 {
		t.Errorf("metadata: enable_ordered_proxy %v, index of p3 %d; want true and 3", md.Ordered, md.AllProxies["p3:6000"].Index)
	}

	// Indices must be consecutive from 0.
	s2 := startServer(t, ordered)
	add(s2, "p0:6000", 0)
	add(s2, "p2:6000", 2)
	wantError(t, s2.api("POST", "/clusters/meta/c", `{"node_number":4}`), http.StatusConflict, "PROXY_RESOURCE_OUT_OF_ORDER")
}
