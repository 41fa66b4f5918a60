package httpapi_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// The broker API over HTTP: the views and the whole-state document byte for byte against
// undermoon's examples, and the epoch. Proxies, clusters and failures have files of their
// own (broker_*_test.go).

const defaultConfigJSON = `{"compression_strategy":"disabled","migration_config":{"max_migration_time":10800,"max_blocking_time":10000,"scan_interval":500,"scan_count":16}}`

// addExampleProxies registers the two proxies of undermoon's example store (epoch 2 afterwards).
func addExampleProxies(s *testServer) {
	s.t.Helper()
	s.addProxy("10.0.0.1:6001", "", "10.0.0.1:7001", "10.0.0.1:7002")
	s.addProxy("10.0.0.2:6002", "", "10.0.0.2:7003", "10.0.0.2:7004")
}

// exampleCluster builds undermoon's example store: two proxies, "mycluster" with 4 nodes.
func exampleCluster(t *testing.T) *testServer {
	t.Helper()
	s := startServer(t)
	addExampleProxies(s)
	s.okEmpty("POST", "/clusters/meta/mycluster", `{"node_number":4}`)
	return s
}

// The v2 proxy view of the 2-proxy example, byte for byte.
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
	// Verbatim undermoon's v2 shape.
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

// GET /clusters/meta/mycluster returns 7001 (master 0-8191, peer 7004), 7002
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

// GET /metadata is undermoon's mem-broker-0.2 store; this is its example document.
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

// As undermoon: PUT /epoch/<n> needs n > global and sets global and every cluster.
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
