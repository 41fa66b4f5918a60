package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors"
)

// Failure reports, their TTL and quorum, failover, and the resource check.

// undermoon: reports are accepted for any address; a report excludes a proxy from
// allocation; a repeated report changes nothing.
func TestFailureReports(t *testing.T) {
	s := startServer(t)
	addExampleProxies(s) // epoch 2
	if got := s.ok("GET", "/failures", ""); string(got) != `{"addresses":[]}` {
		t.Errorf("GET /failures with no reports: %s", got)
	}
	s.okEmpty("POST", "/failures/10.0.0.2:6002/127.0.0.1:6699", "")
	if e := s.epoch(); e != 3 {
		t.Errorf("epoch after the first report = %d, want 3", e)
	}
	s.okEmpty("POST", "/failures/10.0.0.2:6002/127.0.0.1:6699", "")
	if e := s.epoch(); e != 3 {
		t.Errorf("a repeated report moved the epoch to %d", e)
	}
	s.okEmpty("POST", "/failures/10.9.9.9:6009/127.0.0.1:6699", "") // unknown proxy: accepted, not listed
	if got := s.addresses("/failures"); !reflect.DeepEqual(got, []string{"10.0.0.2:6002"}) {
		t.Errorf("GET /failures = %v, want [10.0.0.2:6002]", got)
	}
	var md struct {
		Failures map[string]map[string]int64 `json:"failures"`
	}
	s.getJSON("/metadata", &md)
	if md.Failures["10.0.0.2:6002"]["127.0.0.1:6699"] <= 0 {
		t.Errorf("metadata failures = %v, want a timestamp for 10.0.0.2:6002 by 127.0.0.1:6699", md.Failures)
	}
	// A reported proxy is not free (as in undermoon): only one proxy is left for a chunk.
	wantError(t, s.api("POST", "/clusters/meta/c", `{"node_number":4}`), http.StatusConflict, "NO_AVAILABLE_RESOURCE")
	// Re-registering clears the report (409, but the proxy is usable again).
	wantError(t, s.api("POST", "/proxies/meta", `{"proxy_address":"10.0.0.2:6002","nodes":["10.0.0.2:7003","10.0.0.2:7004"]}`),
		http.StatusConflict, "ALREADY_EXISTED")
	if got := s.addresses("/failures"); len(got) != 0 {
		t.Errorf("GET /failures after re-registration = %v", got)
	}
	s.okEmpty("POST", "/clusters/meta/c", `{"node_number":4}`)
}

// undermoon's failover with a spare: the partner takes the masters, a free proxy replaces the failed one.
func TestFailoverReplacesProxy(t *testing.T) {
	s := startServer(t)
	addExampleProxies(s)
	s.addProxy("10.0.0.3:6003", "", "10.0.0.3:7005", "10.0.0.3:7006")
	s.okEmpty("POST", "/clusters/meta/mycluster", `{"node_number":4}`) // chunk [6001, 6002], epoch 4
	if got := s.cluster("mycluster").proxies(); !reflect.DeepEqual(got, []string{"10.0.0.1:6001", "10.0.0.2:6002"}) {
		t.Fatalf("cluster proxies %v, want [10.0.0.1:6001 10.0.0.2:6002] (sorted allocation)", got)
	}
	s.okEmpty("POST", "/failures/10.0.0.2:6002/coord1", "") // epoch 5
	if got := s.addresses("/failures"); !reflect.DeepEqual(got, []string{"10.0.0.2:6002"}) {
		t.Fatalf("GET /failures = %v", got)
	}

	// Takeover (epoch 6) then replacement (epoch 7); the reply is the replacement's view.
	r := s.api("POST", "/proxies/failover/10.0.0.2:6002", "")
	want := compact(t, `{"proxy": {"address": "10.0.0.3:6003", "epoch": 7,
  "nodes": [
   {"address": "10.0.0.3:7005", "proxy_address": "10.0.0.3:6003", "cluster_name": "mycluster", "slots": [],
    "repl": {"role": "replica", "peers": [{"node_address": "10.0.0.1:7002", "proxy_address": "10.0.0.1:6001"}]}},
   {"address": "10.0.0.3:7006", "proxy_address": "10.0.0.3:6003", "cluster_name": "mycluster", "slots": [],
    "repl": {"role": "replica", "peers": [{"node_address": "10.0.0.1:7001", "proxy_address": "10.0.0.1:6001"}]}}],
  "free_nodes": [],
  "peers": [{"proxy_address": "10.0.0.1:6001", "cluster_name": "mycluster",
             "slots": [{"range_list": [[0, 8191]], "tag": "None"}, {"range_list": [[8192, 16383]], "tag": "None"}]}],
  "clusters_config": {"mycluster": `+defaultConfigJSON+`}}}`)
	if r.status != http.StatusOK || string(r.body) != want {
		t.Fatalf("failover: %d\n got %s\nwant %s", r.status, r.body, want)
	}
	if got := s.ok("GET", "/proxies/meta/10.0.0.3:6003", ""); string(got) != want {
		t.Errorf("GET /proxies/meta of the replacement differs from the failover reply:\n got %s", got)
	}
	if e := s.epoch(); e != 7 {
		t.Errorf("epoch after failover = %d, want 7", e)
	}
	c := s.cluster("mycluster")
	if got, want := c.roles(), []string{"10.0.0.1:7001=master", "10.0.0.1:7002=master", "10.0.0.3:7005=replica", "10.0.0.3:7006=replica"}; !reflect.DeepEqual(got, want) {
		t.Errorf("roles after failover %v, want %v", got, want)
	}
	if c.Epoch != 7 {
		t.Errorf("cluster epoch %d, want 7", c.Epoch)
	}
	if got := s.addresses("/proxies/failed/addresses"); !reflect.DeepEqual(got, []string{"10.0.0.2:6002"}) {
		t.Errorf("failed proxies %v, want [10.0.0.2:6002]", got)
	}
	// The failed proxy is still reported until the TTL (as in undermoon), so the coordinator
	// fails it over again: now it is in no cluster, which answers null, drops the reports
	// and does not bump the epoch.
	if got := s.addresses("/failures"); !reflect.DeepEqual(got, []string{"10.0.0.2:6002"}) {
		t.Errorf("GET /failures after failover = %v, want [10.0.0.2:6002]", got)
	}
	if got := s.ok("POST", "/proxies/failover/10.0.0.2:6002", ""); string(got) != `{"proxy":null}` {
		t.Errorf("repeated failover: %s, want {\"proxy\":null}", got)
	}
	if e := s.epoch(); e != 7 {
		t.Errorf("repeated failover moved the epoch to %d", e)
	}
	if got := s.addresses("/failures"); len(got) != 0 {
		t.Errorf("GET /failures after the repeated failover = %v, want []", got)
	}
	if got := s.addresses("/proxies/failed/addresses"); !reflect.DeepEqual(got, []string{"10.0.0.2:6002"}) {
		t.Errorf("failed proxies %v, want [10.0.0.2:6002]", got)
	}
	wantError(t, s.api("POST", "/proxies/failover/10.0.0.9:6009", ""), http.StatusNotFound, "PROXY_NOT_FOUND")

	// Re-registering brings the failed proxy back (409, marks cleared, epoch bumped).
	wantError(t, s.api("POST", "/proxies/meta", `{"proxy_address":"10.0.0.2:6002","nodes":["10.0.0.2:7003","10.0.0.2:7004"]}`),
		http.StatusConflict, "ALREADY_EXISTED")
	if got := s.addresses("/proxies/failed/addresses"); len(got) != 0 {
		t.Errorf("failed proxies after re-registration: %v", got)
	}
	if e := s.epoch(); e != 8 {
		t.Errorf("epoch after re-registering a failed proxy = %d, want 8", e)
	}
}

// undermoon: with no spare, failover answers 409 NO_AVAILABLE_RESOURCE
// but keeps the takeover and the failed mark.
func TestFailoverWithoutSpareKeepsTakeover(t *testing.T) {
	s := exampleCluster(t)                                          // epoch 3
	s.okEmpty("POST", "/failures/10.0.0.2:6002/127.0.0.1:6699", "") // epoch 4
	wantError(t, s.api("POST", "/proxies/failover/10.0.0.2:6002", ""), http.StatusConflict, "NO_AVAILABLE_RESOURCE")

	var md struct {
		GlobalEpoch uint64 `json:"global_epoch"`
		Clusters    map[string]struct {
			Epoch  uint64 `json:"epoch"`
			Chunks []struct {
				RolePosition   string    `json:"role_position"`
				ProxyAddresses [2]string `json:"proxy_addresses"`
			} `json:"chunks"`
		} `json:"clusters"`
		FailedProxies []string `json:"failed_proxies"`
	}
	s.getJSON("/metadata", &md)
	mc := md.Clusters["mycluster"]
	if md.GlobalEpoch != 5 || mc.Epoch != 5 {
		t.Errorf("epochs after failover: global %d cluster %d, want 5 and 5", md.GlobalEpoch, mc.Epoch)
	}
	if len(mc.Chunks) != 1 || mc.Chunks[0].RolePosition != "FirstChunkMaster" || mc.Chunks[0].ProxyAddresses[1] != "10.0.0.2:6002" {
		t.Errorf("chunks after failover %+v, want FirstChunkMaster with 10.0.0.2:6002 still in it", mc.Chunks)
	}
	if !reflect.DeepEqual(md.FailedProxies, []string{"10.0.0.2:6002"}) {
		t.Errorf("failed_proxies %v, want [10.0.0.2:6002]", md.FailedProxies)
	}
	if got := s.addresses("/proxies/failed/addresses"); !reflect.DeepEqual(got, []string{"10.0.0.2:6002"}) {
		t.Errorf("GET /proxies/failed/addresses = %v", got)
	}
	// The survivor serves all slots: both its nodes are masters.
	want := compact(t, `{"proxy": {"address": "10.0.0.1:6001", "epoch": 5,
  "nodes": [
   {"address": "10.0.0.1:7001", "proxy_address": "10.0.0.1:6001", "cluster_name": "mycluster",
    "slots": [{"range_list": [[0, 8191]], "tag": "None"}],
    "repl": {"role": "master", "peers": [{"node_address": "10.0.0.2:7004", "proxy_address": "10.0.0.2:6002"}]}},
   {"address": "10.0.0.1:7002", "proxy_address": "10.0.0.1:6001", "cluster_name": "mycluster",
    "slots": [{"range_list": [[8192, 16383]], "tag": "None"}],
    "repl": {"role": "master", "peers": [{"node_address": "10.0.0.2:7003", "proxy_address": "10.0.0.2:6002"}]}}],
  "free_nodes": [], "peers": [],
  "clusters_config": {"mycluster": `+defaultConfigJSON+`}}}`)
	if got := s.ok("GET", "/proxies/meta/10.0.0.1:6001", ""); string(got) != want {
		t.Errorf("survivor view\n got %s\nwant %s", got, want)
	}

	// Balance keeps the roles while the failed proxy is in the chunk (as in undermoon), but
	// still bumps the epochs.
	s.okEmpty("PUT", "/clusters/balance/mycluster", "")
	c := s.cluster("mycluster")
	if got := c.roles(); !reflect.DeepEqual(got, []string{"10.0.0.1:7001=master", "10.0.0.1:7002=master", "10.0.0.2:7003=replica", "10.0.0.2:7004=replica"}) {
		t.Errorf("roles after balance with a failed proxy: %v", got)
	}
	if c.Epoch != 6 || s.epoch() != 6 {
		t.Errorf("balance epochs: cluster %d global %d, want 6", c.Epoch, s.epoch())
	}

	// Repeating the failover of a proxy still in the chunk retries the replacement: still
	// 409 with no spare, then a new proxy on another host replaces it.
	wantError(t, s.api("POST", "/proxies/failover/10.0.0.2:6002", ""), http.StatusConflict, "NO_AVAILABLE_RESOURCE")
	s.addProxy("10.0.0.3:6003", "", "10.0.0.3:7005", "10.0.0.3:7006")
	var pv struct {
		Proxy *struct {
			Address string `json:"address"`
			Epoch   uint64 `json:"epoch"`
		} `json:"proxy"`
	}
	if err := json.Unmarshal(s.ok("POST", "/proxies/failover/10.0.0.2:6002", ""), &pv); err != nil || pv.Proxy == nil || pv.Proxy.Address != "10.0.0.3:6003" {
		t.Fatalf("failover with a new spare: %+v (%v), want the view of 10.0.0.3:6003", pv.Proxy, err)
	}
	c = s.cluster("mycluster")
	if got := c.proxies(); !reflect.DeepEqual(got, []string{"10.0.0.1:6001", "10.0.0.3:6003"}) {
		t.Errorf("cluster proxies %v after replacement", got)
	}
	if pv.Proxy.Epoch != c.Epoch || c.Epoch != s.epoch() || c.Epoch <= 6 {
		t.Errorf("epochs after replacement: view %d cluster %d global %d, want equal and > 6", pv.Proxy.Epoch, c.Epoch, s.epoch())
	}
}

// undermoon: a proxy in no cluster is marked failed, its reports are dropped, null is
// returned and the epoch does not move.
func TestFailoverOfFreeProxy(t *testing.T) {
	s := startServer(t)
	addExampleProxies(s)
	s.okEmpty("POST", "/failures/10.0.0.1:6001/c1", "") // epoch 3
	if got := s.ok("POST", "/proxies/failover/10.0.0.1:6001", ""); string(got) != `{"proxy":null}` {
		t.Errorf("failover of a free proxy: %s, want {\"proxy\":null}", got)
	}
	if e := s.epoch(); e != 3 {
		t.Errorf("epoch after failover of a free proxy = %d, want 3", e)
	}
	if got := s.addresses("/failures"); len(got) != 0 {
		t.Errorf("GET /failures = %v, want []", got)
	}
	if got := s.addresses("/proxies/failed/addresses"); !reflect.DeepEqual(got, []string{"10.0.0.1:6001"}) {
		t.Errorf("failed proxies %v", got)
	}
	// A failed proxy is not allocated; deleting it also clears the failed mark.
	wantError(t, s.api("POST", "/clusters/meta/c", `{"node_number":4}`), http.StatusConflict, "NO_AVAILABLE_RESOURCE")
	s.okEmpty("DELETE", "/proxies/meta/10.0.0.1:6001", "")
	if got := s.addresses("/proxies/failed/addresses"); len(got) != 0 {
		t.Errorf("failed proxies after delete: %v", got)
	}
}

// undermoon's resource-check tests: 4 hosts × 2 proxies, a 12-node cluster can lose any host, a 16-node one cannot.
func TestCheckResourcesForFailures(t *testing.T) {
	f := func(nodes int, wantAll bool) {
		t.Helper()
		s := startServer(t)
		s.addHosts(4, 2)
		if got := s.ok("POST", "/resources/failures/check", ""); string(got) != `{"hosts_cannot_fail":[]}` {
			t.Errorf("check with no cluster: %s", got)
		}
		s.okEmpty("POST", "/clusters/meta/c", fmt.Sprintf(`{"node_number":%d}`, nodes))
		epoch := s.epoch()
		var body struct {
			Hosts []string `json:"hosts_cannot_fail"`
		}
		if err := json.Unmarshal(s.ok("POST", "/resources/failures/check", ""), &body); err != nil || body.Hosts == nil {
			t.Fatalf("check: %v, hosts %v", err, body.Hosts)
		}
		sort.Strings(body.Hosts)
		if wantAll {
			// No spare at all: no host's proxies can be replaced.
			if want := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}; !reflect.DeepEqual(body.Hosts, want) {
				t.Errorf("%d nodes: hosts_cannot_fail %v, want %v", nodes, body.Hosts, want)
			}
		} else if len(body.Hosts) != 0 {
			t.Errorf("%d nodes: hosts_cannot_fail %v, want []", nodes, body.Hosts)
		}
		// The check is a simulation: nothing changed.
		if e := s.epoch(); e != epoch {
			t.Errorf("check moved the epoch from %d to %d", epoch, e)
		}
		if got := s.addresses("/proxies/failed/addresses"); len(got) != 0 {
			t.Errorf("check marked proxies failed: %v", got)
		}
	}
	f(12, false)
	f(16, true)
}

// undermoon: reports live failure_ttl; GET /failures needs failure_quorum reporters.
func TestFailureTTLAndQuorum(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := startServer(t, withEngine(func(o *actors.Options) {
		o.Now, o.FailureTTL, o.FailureQuorum = clock, 60*time.Second, 2
	}))
	addExampleProxies(s)
	s.okEmpty("POST", "/failures/10.0.0.2:6002/c1", "")
	if got := s.addresses("/failures"); len(got) != 0 {
		t.Errorf("one reporter with quorum 2: GET /failures = %v, want []", got)
	}
	advance(30 * time.Second)
	s.okEmpty("POST", "/failures/10.0.0.2:6002/c2", "")
	if got := s.addresses("/failures"); !reflect.DeepEqual(got, []string{"10.0.0.2:6002"}) {
		t.Errorf("two reporters: GET /failures = %v, want [10.0.0.2:6002]", got)
	}
	var md struct {
		Failures map[string]map[string]int64 `json:"failures"`
	}
	s.getJSON("/metadata", &md)
	if want := map[string]int64{"c1": 1700000000, "c2": 1700000030}; !reflect.DeepEqual(md.Failures["10.0.0.2:6002"], want) {
		t.Errorf("metadata failures %v, want %v (unix seconds of the first report)", md.Failures, want)
	}
	// c1's report expires at 60 s: below quorum again.
	advance(30 * time.Second)
	if got := s.addresses("/failures"); len(got) != 0 {
		t.Errorf("after c1's report expired: GET /failures = %v, want []", got)
	}
	// A repeated report does not refresh the time; after c2's expires the proxy is free again.
	s.okEmpty("POST", "/failures/10.0.0.2:6002/c2", "")
	advance(30 * time.Second)
	s.okEmpty("POST", "/clusters/meta/c", `{"node_number":4}`)
}

// TestFailureReportBoundsOverHTTP: junk reports are refused with 400 and change nothing.
func TestFailureReportBoundsOverHTTP(t *testing.T) {
	s := startServer(t)
	wantError(t, s.api("POST", "/failures/10.0.0.1:6001/"+strings.Repeat("r", 300), ""), http.StatusBadRequest, "INVALID_REQUEST")
	wantError(t, s.api("POST", "/failures/"+strings.Repeat("a", 300)+":1/coord", ""), http.StatusBadRequest, "INVALID_PROXY_ADDRESS")
	wantError(t, s.api("POST", "/failures/nohost/coord", ""), http.StatusBadRequest, "INVALID_PROXY_ADDRESS")
	if e := s.epoch(); e != 0 {
		t.Fatalf("refused reports moved the epoch to %d", e)
	}
}
