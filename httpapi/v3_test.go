package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// exampleStore registers the two proxies of undermoon's example and creates "mycluster".
func exampleStore(s *testServer) {
	s.addProxy("10.0.0.1:6001", "", "10.0.0.1:7001", "10.0.0.1:7002")
	s.addProxy("10.0.0.2:6002", "", "10.0.0.2:7003", "10.0.0.2:7004")
	s.okEmpty("POST", "/clusters/meta/mycluster", `{"node_number":4}`)
}

const exampleConfig = `{"compression_strategy":"disabled","migration_config":{"max_migration_time":10800,"max_blocking_time":10000,"scan_interval":500,"scan_count":16}}`

func TestV3ProxyView(t *testing.T) {
	s := startServer(t)
	exampleStore(s)
	got := string(s.do("GET", "/api/v3/proxies/meta/10.0.0.1:6001", "").body)
	want := `{"proxy":{"cluster_name":"mycluster","address":"10.0.0.1:6001","epoch":3,"nodes":[` +
		`{"address":"10.0.0.1:7001","proxy_address":"10.0.0.1:6001","slots":[{"range_list":[[0,8191]],"tag":"None"}],"repl":{"role":"master","peers":[{"node_address":"10.0.0.2:7004","proxy_address":"10.0.0.2:6002"}]}},` +
		`{"address":"10.0.0.1:7002","proxy_address":"10.0.0.1:6001","slots":[],"repl":{"role":"replica","peers":[{"node_address":"10.0.0.2:7003","proxy_address":"10.0.0.2:6002"}]}}],` +
		`"peers":[{"proxy_address":"10.0.0.2:6002","slots":[{"range_list":[[8192,16383]],"tag":"None"}]}],"cluster_config":` + exampleConfig + `}}`
	if got != want {
		t.Errorf("v3 proxy view\n got %s\nwant %s", got, want)
	}
	// v2 keeps its own shape on the same state.
	if v2 := string(s.ok("GET", "/proxies/meta/10.0.0.1:6001", "")); !strings.Contains(v2, `"free_nodes":[]`) || !strings.Contains(v2, `"cluster_name":"mycluster","slots"`) {
		t.Errorf("v2 proxy view lost its shape: %s", v2)
	}
}

func TestV3FreeProxyAndClusterViews(t *testing.T) {
	s := startServer(t)
	exampleStore(s)
	s.addProxy("10.0.0.3:6003", "", "10.0.0.3:7005", "10.0.0.3:7006")
	got := string(s.do("GET", "/api/v3/proxies/meta/10.0.0.3:6003", "").body)
	want := `{"proxy":{"cluster_name":null,"address":"10.0.0.3:6003","epoch":4,"nodes":[` +
		`{"address":"10.0.0.3:7005","proxy_address":"10.0.0.3:6003","slots":[],"repl":{"role":"master","peers":[]}},` +
		`{"address":"10.0.0.3:7006","proxy_address":"10.0.0.3:6003","slots":[],"repl":{"role":"master","peers":[]}}],"peers":[],"cluster_config":null}}`
	if got != want {
		t.Errorf("v3 free proxy view\n got %s\nwant %s", got, want)
	}
	cluster := string(s.do("GET", "/api/v3/clusters/meta/mycluster", "").body)
	if strings.Contains(cluster, "cluster_name") || !strings.Contains(cluster, `"name":"mycluster"`) {
		t.Errorf("v3 cluster view: %s", cluster)
	}
	if v2 := string(s.ok("GET", "/clusters/meta/mycluster", "")); !strings.Contains(v2, `"cluster_name":"mycluster"`) {
		t.Errorf("v2 cluster view: %s", v2)
	}
}

func TestV3MutationsShareTheState(t *testing.T) {
	s := startServer(t)
	s.addHosts(4, 1)
	if r := s.do("POST", "/api/v3/clusters/meta/c", `{"node_number":4}`); r.status != 200 {
		t.Fatalf("v3 create: %d %s", r.status, r.body)
	}
	r := s.do("PATCH", "/api/v3/clusters/nodes/c", `{"node_number":4}`)
	var nodes []map[string]any
	if err := json.Unmarshal(r.body, &nodes); err != nil || len(nodes) != 4 {
		t.Fatalf("v3 PATCH nodes: %d %s", r.status, r.body)
	}
	if _, has := nodes[0]["cluster_name"]; has {
		t.Errorf("v3 nodes must not carry cluster_name: %s", r.body)
	}
	if c := s.cluster("c"); c == nil || len(c.Nodes) != 8 {
		t.Fatal("v2 does not see the v3 change")
	}
	var failover struct {
		Proxy map[string]any `json:"proxy"`
	}
	json.Unmarshal(s.do("POST", "/api/v3/proxies/failover/10.0.0.1:6000", "").body, &failover)
	if failover.Proxy != nil {
		if _, has := failover.Proxy["free_nodes"]; has {
			t.Errorf("v3 failover answered a v2 proxy: %v", failover.Proxy)
		}
	}
	if got := string(s.do("GET", "/api/v3/epoch", "").body); got != string(s.ok("GET", "/epoch", "")) {
		t.Errorf("v3 and v2 epochs differ: %s", got)
	}
}

func TestGzipOnlyWhenAsked(t *testing.T) {
	s := startServer(t)
	exampleStore(s)
	get := func(path, enc string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", s.base+path, nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		resp, err := s.client.Do(req) // the client does not decompress by itself
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, path := range []string{"/api/v2/clusters/meta/mycluster", "/api/v3/proxies/meta/10.0.0.1:6001", "/api/v2/metadata"} {
		plain := get(path, "identity")
		want, _ := io.ReadAll(plain.Body)
		plain.Body.Close()
		if plain.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: compressed without being asked", path)
		}
		resp := get(path, "gzip, deflate")
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: Accept-Encoding gzip got Content-Encoding %q", path, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("%s: not gzip: %v", path, err)
		}
		got, _ := io.ReadAll(zr)
		resp.Body.Close()
		if !bytes.Equal(got, want) {
			t.Errorf("%s: gzipped body differs from the plain one", path)
		}
		if r := get(path, "gzip;q=0"); r.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: compressed although gzip;q=0", path)
		}
		if r := get(path, ""); r.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: compressed without Accept-Encoding", path)
		}
	}
}
