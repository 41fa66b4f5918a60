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

const defaultConfigJSON = `{"compression_strategy":"disabled","migration_config":{"max_migration_time":10800,"max_blocking_time":10000,"scan_interval":500,"scan_count":16}}`

// addExampleProxies registers the two proxies of spec §2.1 (epoch 2 afterwards).
func addExampleProxies(s *testServer) {
	s.t.Helper()
	s.addProxy("10.0.0.1:6001", "", "10.0.0.1:7001", "10.0.0.1:7002")
	s.addProxy("10.0.0.2:6002", "", "10.0.0.2:7003", "10.0.0.2:7004")
}

// exampleCluster builds the store of spec §2.1: two proxies, "mycluster" with 4 nodes.
func exampleCluster(t *testing.T) *testServer {
	t.Helper()
	s := startServer(t)
	addExampleProxies(s)
	s.okEmpty("POST", "/clusters/meta/mycluster", `{"node_number":4}`)
	return s
}

// Spec §2.3: the v2 proxy view of the 2-proxy example, byte for byte.
func TestExampleProxyViewIsByteExact(t *testing.T) {
	s := startServer(t)
	addExampleProxies(s)
	if e := s.epoch(); e != 2 {
		t.Fatalf("epoch after two registrations = %d, want 2", e)
	}
	s.okEmpty("POST", "/clusters/meta/mycluster", `{"node_number":4}`)
	if e := s.epoch(); e != 3 {
		t.Fatalf("epoch after creating the cluster = %d, want 3", e)
	}

	f := func(addr, want string) {
		t.Helper()
		r := s.api("GET", "/proxies/meta/"+addr, "")
		if r.status != http.StatusOK {
			t.Fatalf("GET /proxies/meta/%s: %d %s", addr, r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		if w := compact(t, want); string(r.body) != w {
			t.Errorf("GET /proxies/meta/%s\n got %s\nwant %s", addr, r.body, w)
		}
	}
	// Verbatim from spec §2.3.
	f("10.0.0.1:6001", `{"proxy": {"address": "10.0.0.1:6001", "epoch": 3,
  "nodes": [
   {"address": "10.0.0.1:7001", "proxy_address": "10.0.0.1:6001", "cluster_name": "mycluster",
    "slots": [{"range_list": [[0, 8191]], "tag": "None"}],
    "repl": {"role": "master", "peers": [{"node_address": "10.0.0.2:7004", "proxy_address": "10.0.0.2:6002"}]}},
   {"address": "10.0.0.1:7002", "proxy_address": "10.0.0.1:6001", "cluster_name": "mycluster", "slots": [],
    "repl": {"role": "replica", "peers": [{"node_address": "10.0.0.2:7003", "proxy_address": "10.0.0.2:6002"}]}}],
  "free_nodes": [],
  "peers": [{"proxy_address": "10.0.0.2:6002", "cluster_name": "mycluster",
             "slots": [{"range_list": [[8192, 16383]], "tag": "None"}]}],
  "clusters_config": {"mycluster": {"compression_strategy": "disabled",
     "migration_config": {"max_migration_time": 10800, "max_blocking_time": 10000, "scan_interval": 500, "scan_count": 16}}}}}`)
	// The other proxy of the chunk, by the same rules.
	f("10.0.0.2:6002", `{"proxy": {"address": "10.0.0.2:6002", "epoch": 3,
  "nodes": [
   {"address": "10.0.0.2:7003", "proxy_address": "10.0.0.2:6002", "cluster_name": "mycluster",
    "slots": [{"range_list": [[8192, 16383]], "tag": "None"}],
    "repl": {"role": "master", "peers": [{"node_address": "10.0.0.1:7002", "proxy_address": "10.0.0.1:6001"}]}},
   {"address": "10.0.0.2:7004", "proxy_address": "10.0.0.2:6002", "cluster_name": "mycluster", "slots": [],
    "repl": {"role": "replica", "peers": [{"node_address": "10.0.0.1:7001", "proxy_address": "10.0.0.1:6001"}]}}],
  "free_nodes": [],
  "peers": [{"proxy_address": "10.0.0.1:6001", "cluster_name": "mycluster",
             "slots": [{"range_list": [[0, 8191]], "tag": "None"}]}],
  "clusters_config": {"mycluster": `+defaultConfigJSON+`}}}`)
}

// Spec §2.3: GET /clusters/meta/mycluster returns 7001 (master 0-8191, peer 7004), 7002
// (replica, peer 7003), 7003 (master 8192-16383, peer 7002), 7004 (replica, peer 7001).
func TestExampleClusterViewIsByteExact(t *testing.T) {
	s := exampleCluster(t)
	want := compact(t, `{"cluster": {"name": "mycluster", "epoch": 3, "nodes": [
  {"address": "10.0.0.1:7001", "proxy_address": "10.0.0.1:6001", "cluster_name": "mycluster",
   "slots": [{"range_list": [[0, 8191]], "tag": "None"}],
   "repl": {"role": "master", "peers": [{"node_address": "10.0.0.2:7004", "proxy_address": "10.0.0.2:6002"}]}},
  {"address": "10.0.0.1:7002", "proxy_address": "10.0.0.1:6001", "cluster_name": "mycluster", "slots": [],
   "repl": {"role": "replica", "peers": [{"node_address": "10.0.0.2:7003", "proxy_address": "10.0.0.2:6002"}]}},
  {"address": "10.0.0.2:7003", "proxy_address": "10.0.0.2:6002", "cluster_name": "mycluster",
   "slots": [{"range_list": [[8192, 16383]], "tag": "None"}],
   "repl": {"role": "master", "peers": [{"node_address": "10.0.0.1:7002", "proxy_address": "10.0.0.1:6001"}]}},
  {"address": "10.0.0.2:7004", "proxy_address": "10.0.0.2:6002", "cluster_name": "mycluster", "slots": [],
   "repl": {"role": "replica", "peers": [{"node_address": "10.0.0.1:7001", "proxy_address": "10.0.0.1:6001"}]}}],
 "config": `+defaultConfigJSON+`}}`)
	r := s.api("GET", "/clusters/meta/mycluster", "")
	if r.status != http.StatusOK || string(r.body) != want {
		t.Errorf("GET /clusters/meta/mycluster: %d\n got %s\nwant %s", r.status, r.body, want)
	}

	r = s.api("GET", "/clusters/info/mycluster", "")
	if want := `{"name":"mycluster","node_number":4,"node_number_with_slots":4,"is_migrating":false}`; r.status != http.StatusOK || string(r.body) != want {
		t.Errorf("GET /clusters/info/mycluster: %d %s, want %s", r.status, r.body, want)
	}
}

// Spec §2.1: GET /metadata is the mem-broker-0.2 store; this is its example document.
func TestMetadataOfExampleMatchesSpec(t *testing.T) {
	s := exampleCluster(t)
	want := `{
  "version": "mem-broker-0.2",
  "global_epoch": 3,
  "clusters": {
    "mycluster": {
      "epoch": 3,
      "name": "mycluster",
      "chunks": [{
        "role_position": "Normal",
        "stable_slots": [{"range_list": [[0, 8191]], "tag": "None"},
                         {"range_list": [[8192, 16383]], "tag": "None"}],
        "migrating_slots": [[], []],
        "proxy_addresses": ["10.0.0.1:6001", "10.0.0.2:6002"],
        "hosts": ["10.0.0.1", "10.0.0.2"],
        "node_addresses": ["10.0.0.1:7001", "10.0.0.1:7002", "10.0.0.2:7003", "10.0.0.2:7004"]
      }],
      "config": {"compression_strategy": "disabled",
                 "migration_config": {"max_migration_time": 10800, "max_blocking_time": 10000,
                                      "scan_interval": 500, "scan_count": 16}}
    }
  },
  "all_proxies": {
    "10.0.0.1:6001": {"proxy_address": "10.0.0.1:6001", "node_addresses": ["10.0.0.1:7001", "10.0.0.1:7002"],
                      "host": "10.0.0.1", "index": 0, "cluster": "mycluster"},
    "10.0.0.2:6002": {"proxy_address": "10.0.0.2:6002", "node_addresses": ["10.0.0.2:7003", "10.0.0.2:7004"],
                      "host": "10.0.0.2", "index": 0, "cluster": "mycluster"}
  },
  "failed_proxies": [],
  "failures": {},
  "enable_ordered_proxy": false
}`
	var got, exp any
	s.getJSON("/metadata", &got)
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("GET /metadata\n got %s\nwant %s", mustMarshal(got), mustMarshal(exp))
	}
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestMetadataOfEmptyBroker(t *testing.T) {
	s := startServer(t)
	want := `{"version":"mem-broker-0.2","global_epoch":0,"clusters":{},"all_proxies":{},"failed_proxies":[],"failures":{},"enable_ordered_proxy":false}`
	var got, exp map[string]any
	s.getJSON("/metadata", &got)
	_ = json.Unmarshal([]byte(want), &exp)
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("GET /metadata = %s, want %s", mustMarshal(got), want)
	}
}

func TestEpochIsPlainTextInteger(t *testing.T) {
	s := startServer(t)
	r := s.api("GET", "/epoch", "")
	if r.status != http.StatusOK || string(r.body) != "0" {
		t.Fatalf("GET /epoch: %d %q, want 200 \"0\"", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}
	s.addProxy("10.0.0.1:6001", "", "10.0.0.1:7001", "10.0.0.1:7002")
	if r := s.api("GET", "/epoch", ""); string(r.body) != "1" {
		t.Errorf("GET /epoch after a registration: %q, want \"1\"", r.body)
	}
}

// Spec §1.3 and §3.11: PUT /epoch/<n> needs n > global and sets global and every cluster.
func TestPutEpoch(t *testing.T) {
	s := exampleCluster(t) // epoch 3
	s.addProxy("10.0.0.3:6003", "", "10.0.0.3:7005", "10.0.0.3:7006")
	f := func(path string, status int, code string) {
		t.Helper()
		wantError(t, s.api("PUT", path, ""), status, code)
	}
	f("/epoch/4", http.StatusConflict, "EPOCH_SMALLER_THAN_CURRENT") // equal to the current one
	f("/epoch/1", http.StatusConflict, "EPOCH_SMALLER_THAN_CURRENT")
	f("/epoch/0", http.StatusConflict, "EPOCH_SMALLER_THAN_CURRENT")
	f("/epoch/abc", http.StatusBadRequest, "INVALID_REQUEST")
	f("/epoch/-5", http.StatusBadRequest, "INVALID_REQUEST")
	f("/epoch/1.5", http.StatusBadRequest, "INVALID_REQUEST")
	f("/epoch/18446744073709551616", http.StatusBadRequest, "INVALID_REQUEST") // 2^64
	if e := s.epoch(); e != 4 {
		t.Fatalf("refused PUT /epoch changed the epoch to %d", e)
	}

	s.okEmpty("PUT", "/epoch/233", "")
	if e := s.epoch(); e != 233 {
		t.Errorf("GET /epoch = %d, want 233", e)
	}
	if c := s.cluster("mycluster"); c.Epoch != 233 {
		t.Errorf("cluster epoch = %d, want 233", c.Epoch)
	}
	for _, addr := range []string{"10.0.0.1:6001", "10.0.0.3:6003"} { // in a cluster, free
		var body struct{ Proxy struct{ Epoch uint64 } }
		s.getJSON("/proxies/meta/"+addr, &body)
		if body.Proxy.Epoch != 233 {
			t.Errorf("proxy %s epoch = %d, want 233", addr, body.Proxy.Epoch)
		}
	}
	var md struct {
		GlobalEpoch uint64 `json:"global_epoch"`
		Clusters    map[string]struct {
			Epoch uint64 `json:"epoch"`
		} `json:"clusters"`
	}
	s.getJSON("/metadata", &md)
	if md.GlobalEpoch != 233 || md.Clusters["mycluster"].Epoch != 233 {
		t.Errorf("metadata epochs: global %d, cluster %d; want 233", md.GlobalEpoch, md.Clusters["mycluster"].Epoch)
	}
}

func TestAddProxy(t *testing.T) {
	s := startServer(t)
	f := func(body string, status int, code string) {
		t.Helper()
		wantError(t, s.api("POST", "/proxies/meta", body), status, code)
	}
	const bad, badAddr = http.StatusBadRequest, "INVALID_PROXY_ADDRESS"
	f(``, bad, "INVALID_REQUEST")
	f(`{`, bad, "INVALID_REQUEST")
	f(`[]`, bad, "INVALID_REQUEST")
	f(`{"nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, "INVALID_REQUEST")                      // no proxy_address
	f(`{"proxy_address":"10.0.0.1:6001"}`, bad, "INVALID_REQUEST")                                // no nodes
	f(`{"proxy_address":6001,"nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, "INVALID_REQUEST") // wrong type
	f(`{"proxy_address":"10.0.0.1:6001","nodes":"10.0.0.1:7001"}`, bad, "INVALID_REQUEST")
	f(`{"proxy_address":"10.0.0.1:6001","nodes":["10.0.0.1:7001"]}`, bad, "INVALID_REQUEST")
	f(`{"proxy_address":"10.0.0.1:6001","nodes":["a:1","b:1","c:1"]}`, bad, "INVALID_REQUEST")
	f(`{"proxy_address":"10.0.0.1:6001","nodes":["10.0.0.1:7001","10.0.0.1:7002"],"host":5}`, bad, "INVALID_REQUEST")
	f(`{"proxy_address":"10.0.0.1:6001","nodes":["10.0.0.1:7001","10.0.0.1:7002"],"index":"1"}`, bad, "INVALID_REQUEST")
	f(`{"proxy_address":"10.0.0.1","nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, badAddr) // no port
	f(`{"proxy_address":"10.0.0.1:6001:1","nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, badAddr)
	f(`{"proxy_address":"10.0.0.1:6001","proxy_address":"10.0.0.2:6001","nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, "INVALID_REQUEST") // duplicate key
	f(`{"Proxy_Address":"10.0.0.1:6001","nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, "INVALID_REQUEST")                                 // wrong case
	if got := s.addresses("/proxies/addresses"); len(got) != 0 {
		t.Fatalf("refused registrations left proxies %v", got)
	}
	if e := s.epoch(); e != 0 {
		t.Fatalf("refused registrations moved the epoch to %d", e)
	}

	// host may be null; unknown fields are ignored (spec §2.3).
	s.okEmpty("POST", "/proxies/meta", `{"proxy_address":"10.0.0.1:6001","nodes":["10.0.0.1:7001","10.0.0.1:7002"],"host":null,"extra":1}`)
	if e := s.epoch(); e != 1 {
		t.Errorf("epoch after a registration = %d, want 1", e)
	}
	// Re-registering is 409 and changes nothing: no epoch bump, nodes kept (spec §3.1).
	f(`{"proxy_address":"10.0.0.1:6001","nodes":["9.9.9.9:1","9.9.9.9:2"]}`, http.StatusConflict, "ALREADY_EXISTED")
	if e := s.epoch(); e != 1 {
		t.Errorf("epoch after a duplicate registration = %d, want 1", e)
	}
	want := `{"proxy":{"address":"10.0.0.1:6001","epoch":1,"nodes":[],"free_nodes":["10.0.0.1:7001","10.0.0.1:7002"],"peers":[],"clusters_config":{}}}`
	if got := s.ok("GET", "/proxies/meta/10.0.0.1:6001", ""); string(got) != want {
		t.Errorf("free proxy view\n got %s\nwant %s", got, want)
	}
	if got := s.ok("GET", "/proxies/meta/10.0.0.9:6009", ""); string(got) != `{"proxy":null}` {
		t.Errorf("view of an unknown proxy = %s, want {\"proxy\":null}", got)
	}
}

// Spec §3.1 step 2: an explicit host wins over the address's; allocation spreads over hosts.
func TestAddProxyHostDecidesPlacement(t *testing.T) {
	s := startServer(t)
	// Four proxies on one host: no chunk can be formed (spec §6.4).
	for i := 1; i <= 4; i++ {
		s.addProxy(fmt.Sprintf("10.0.0.%d:6001", i), "rack1", fmt.Sprintf("10.0.0.%d:7001", i), fmt.Sprintf("10.0.0.%d:7002", i))
	}
	wantError(t, s.api("POST", "/clusters/meta/c1", `{"node_number":4}`), http.StatusConflict, "NO_AVAILABLE_RESOURCE")
	// Fake distinct hosts on one machine work (docs/set_up_manually.md).
	s.addProxy("127.0.0.1:6001", "localhost1", "127.0.0.1:7001", "127.0.0.1:7002")
	s.addProxy("127.0.0.1:6002", "localhost2", "127.0.0.1:7003", "127.0.0.1:7004")
	s.okEmpty("POST", "/clusters/meta/c1", `{"node_number":8}`)
	var md struct {
		Clusters map[string]struct {
			Chunks []struct {
				Hosts [2]string `json:"hosts"`
			} `json:"chunks"`
		} `json:"clusters"`
	}
	s.getJSON("/metadata", &md)
	for i, ch := range md.Clusters["c1"].Chunks {
		if ch.Hosts[0] == ch.Hosts[1] {
			t.Errorf("chunk %d has both proxies on host %s", i, ch.Hosts[0])
		}
	}
	if n := len(md.Clusters["c1"].Chunks); n != 2 {
		t.Errorf("8-node cluster has %d chunks, want 2", n)
	}
}

func TestConcurrentRegistrationsEachBumpTheEpoch(t *testing.T) {
	s := startServer(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf(`{"proxy_address":"10.0.1.%d:6000","nodes":["10.0.1.%d:7000","10.0.1.%d:7001"]}`, i, i, i)
			resp, err := s.client.Post(s.base+"/api/v2/proxies/meta", "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("proxy %d: status %d", i, resp.StatusCode)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if e := s.epoch(); e != n {
		t.Errorf("epoch after %d registrations = %d", n, e)
	}
	if got := s.addresses("/proxies/addresses"); len(got) != n {
		t.Errorf("%d addresses, want %d", len(got), n)
	}
}

func TestDeleteProxy(t *testing.T) {
	s := exampleCluster(t)
	s.addProxy("10.0.0.3:6003", "", "10.0.0.3:7005", "10.0.0.3:7006")
	wantError(t, s.api("DELETE", "/proxies/meta/10.0.0.9:6009", ""), http.StatusNotFound, "PROXY_NOT_FOUND")
	wantError(t, s.api("DELETE", "/proxies/meta/10.0.0.1:6001", ""), http.StatusConflict, "IN_USE")

	before := s.epoch()
	s.okEmpty("DELETE", "/proxies/meta/10.0.0.3:6003", "")
	if e := s.epoch(); e != before+1 {
		t.Errorf("epoch after delete = %d, want %d", e, before+1)
	}
	if got := s.addresses("/proxies/addresses"); !reflect.DeepEqual(got, []string{"10.0.0.1:6001", "10.0.0.2:6002"}) {
		t.Errorf("addresses after delete: %v", got)
	}
	if got := s.ok("GET", "/proxies/meta/10.0.0.3:6003", ""); string(got) != `{"proxy":null}` {
		t.Errorf("view of a deleted proxy: %s", got)
	}
	wantError(t, s.api("DELETE", "/proxies/meta/10.0.0.3:6003", ""), http.StatusNotFound, "PROXY_NOT_FOUND")

	// Once its cluster is gone the proxy can be deleted.
	s.okEmpty("DELETE", "/clusters/meta/mycluster", "")
	s.okEmpty("DELETE", "/proxies/meta/10.0.0.1:6001", "")
}

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

// Spec §10 item 9: meta of a missing cluster is 200 null, info of it is 404.
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
	g("mycluster", `{"compression_strategy":"disabled","compression_strategy":"allow_all"}`, http.StatusBadRequest, "INVALID_REQUEST")
	g("nope", `{"compression_strategy":"allow_all"}`, http.StatusNotFound, "CLUSTER_NOT_FOUND")
	g("bad.name", `{"compression_strategy":"allow_all"}`, http.StatusBadRequest, "INVALID_CLUSTER_NAME")
	if e := s.epoch(); e != 4 {
		t.Errorf("refused PATCHes moved the epoch to %d", e)
	}
}

func TestPagination(t *testing.T) {
	s := startServer(t)
	s.addHosts(3, 2) // 6 proxies on 3 hosts
	for _, name := range []string{"c2", "c1", "c3"} {
		s.okEmpty("POST", "/clusters/meta/"+name, `{"node_number":4}`)
	}
	list := func(path, field string) []string {
		t.Helper()
		var body map[string][]string
		s.getJSON(path, &body)
		v, ok := body[field]
		if !ok || v == nil {
			t.Fatalf("GET %s: no %q list in %v", path, field, body)
		}
		return v
	}
	f := func(path, field string, wantLen int) {
		t.Helper()
		all := list(path, field)
		if len(all) != wantLen {
			t.Fatalf("GET %s: %d entries, want %d: %v", path, len(all), wantLen, all)
		}
		seen := map[string]bool{}
		for _, v := range all {
			if seen[v] {
				t.Errorf("GET %s: %s listed twice", path, v)
			}
			seen[v] = true
		}
		page := func(q string, lo, hi int) {
			t.Helper()
			if hi > len(all) {
				hi = len(all)
			}
			if lo > hi {
				lo = hi
			}
			if got, want := list(path+q, field), all[lo:hi]; !reflect.DeepEqual(got, want) {
				t.Errorf("GET %s%s = %v, want %v", path, q, got, want)
			}
		}
		n := len(all)
		page("?offset=0", 0, n)
		page("?offset=1", 1, n)
		page("?limit=2", 0, 2)
		page("?offset=1&limit=1", 1, 2)
		page("?offset=2&limit=100", 2, n)
		page("?limit=0", 0, 0)
		page(fmt.Sprintf("?offset=%d", n), n, n) // past the end: an empty list, never an error
		page(fmt.Sprintf("?offset=%d&limit=5", n+10), n, n)
		// Paging with limit=2 until the first empty page (the coordinator's loop) sees all.
		var paged []string
		for off := 0; ; off += 2 {
			p := list(fmt.Sprintf("%s?offset=%d&limit=2", path, off), field)
			if len(p) == 0 {
				break
			}
			paged = append(paged, p...)
		}
		if !reflect.DeepEqual(paged, all) {
			t.Errorf("GET %s paged by 2 = %v, want %v", path, paged, all)
		}
		for _, q := range []string{"?offset=x", "?limit=y", "?offset=-1", "?limit=-1", "?offset=1.5", "?limit=1e3"} {
			wantError(t, s.api("GET", path+q, ""), http.StatusBadRequest, "INVALID_REQUEST")
		}
	}
	f("/clusters/names", "names", 3)
	f("/proxies/addresses", "addresses", 6)

	// Failed list, empty then with two proxies.
	if got := s.ok("GET", "/proxies/failed/addresses?offset=5", ""); string(got) != `{"addresses":[]}` {
		t.Errorf("empty failed list past the end: %s", got)
	}
	s.okEmpty("DELETE", "/clusters/meta/c1", "")
	s.okEmpty("DELETE", "/clusters/meta/c2", "")
	free := []string{}
	for _, addr := range list("/proxies/addresses", "addresses") {
		var body struct {
			Proxy struct {
				FreeNodes []string `json:"free_nodes"`
			}
		}
		s.getJSON("/proxies/meta/"+addr, &body)
		if len(body.Proxy.FreeNodes) == 2 && len(free) < 2 {
			free = append(free, addr)
		}
	}
	for _, addr := range free {
		s.ok("POST", "/proxies/failover/"+addr, "")
	}
	f("/proxies/failed/addresses", "addresses", 2)
}

// Spec §1.2 (5)/(6): reports are accepted for any address; a report excludes a proxy from
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
	// A reported proxy is not free (spec §3.1): only one proxy is left for a chunk.
	wantError(t, s.api("POST", "/clusters/meta/c", `{"node_number":4}`), http.StatusConflict, "NO_AVAILABLE_RESOURCE")
	// Re-registering clears the report (409, but the proxy is usable again).
	wantError(t, s.api("POST", "/proxies/meta", `{"proxy_address":"10.0.0.2:6002","nodes":["10.0.0.2:7003","10.0.0.2:7004"]}`),
		http.StatusConflict, "ALREADY_EXISTED")
	if got := s.addresses("/failures"); len(got) != 0 {
		t.Errorf("GET /failures after re-registration = %v", got)
	}
	s.okEmpty("POST", "/clusters/meta/c", `{"node_number":4}`)
}

// Spec §3.9 with a spare: the partner takes the masters, a free proxy replaces the failed one.
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
	// The failed proxy is still reported until the TTL (spec §3.9), so the coordinator
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

// Spec §2.1 (end) and §1.2 (7): with no spare, failover answers 409 NO_AVAILABLE_RESOURCE
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

	// Balance keeps the roles while the failed proxy is in the chunk (spec §3.10), but
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

// Spec §1.2 (7): a proxy in no cluster is marked failed, its reports are dropped, null is
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

// Spec §3.10: balance restores Normal roles when both proxies of a chunk are healthy.
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

// Spec §3.12 tests: 4 hosts × 2 proxies, a 12-node cluster can lose any host, a 16-node one cannot.
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

// Spec §3.9: reports live failure_ttl; GET /failures needs failure_quorum reporters.
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

// Spec §3.4: ordered-proxy mode (Kubernetes StatefulSets).
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
