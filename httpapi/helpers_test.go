package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/httpapi"
)

// testServer is an engine on a temp dir behind a real HTTP listener on 127.0.0.1.
type testServer struct {
	t      *testing.T
	base   string // http://127.0.0.1:port
	client *http.Client
	reg    *prometheus.Registry
	eng    *actors.Engine
	srv    *httpapi.Server
}

type serverConfig struct {
	maxBody, bodyBudget int
	engine              actors.Options
	http                func(*httpapi.Options) // optional: security options and the like
}

// startServer starts engine and server and stops both (server first) when the test ends.
func startServer(t *testing.T, opts ...func(*serverConfig)) *testServer {
	t.Helper()
	var cfg serverConfig
	for _, o := range opts {
		o(&cfg)
	}
	reg := prometheus.NewRegistry()
	eo := cfg.engine
	eo.DataDir, eo.Logger, eo.Registerer = t.TempDir(), zerolog.Nop(), reg
	eng, err := actors.Start(eo)
	if err != nil {
		t.Fatalf("start engine: %v", err)
	}
	ho := httpapi.Options{Engine: eng, Logger: zerolog.Nop(), Gatherer: reg, Registerer: reg,
		MaxBodyBytes: cfg.maxBody, BodyBytesInFlight: cfg.bodyBudget, Version: "9.9.9-test"}
	if cfg.http != nil {
		cfg.http(&ho)
	}
	srv := httpapi.New(ho)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		eng.Stop()
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	tr := &http.Transport{DisableCompression: true}
	ts := &testServer{t: t, base: "http://" + ln.Addr().String(), client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, reg: reg, eng: eng, srv: srv}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		if err := srv.Shutdown(); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve returned: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after Shutdown")
		}
		if err := eng.Stop(); err != nil {
			t.Errorf("engine stop: %v", err)
		}
	})
	return ts
}

func withMaxBody(n int) func(*serverConfig) { return func(c *serverConfig) { c.maxBody = n } }

func withBodyBudget(n int) func(*serverConfig) { return func(c *serverConfig) { c.bodyBudget = n } }

// withEngine adjusts the engine's options (DataDir, Logger and Registerer are the helper's).
func withEngine(f func(*actors.Options)) func(*serverConfig) {
	return func(c *serverConfig) { f(&c.engine) }
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; body "" sends none. Paths are relative to the server root.
func (s *testServer) do(method, path, body string) response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// api sends a request under /api/v2.
func (s *testServer) api(method, path, body string) response {
	s.t.Helper()
	return s.do(method, "/api/v2"+path, body)
}

// ok sends an /api/v2 request that must succeed with 200, and returns the body.
func (s *testServer) ok(method, path, body string) []byte {
	s.t.Helper()
	r := s.api(method, path, body)
	if r.status != http.StatusOK {
		s.t.Fatalf("%s %s: status %d, want 200; body %s", method, path, r.status, r.body)
	}
	return r.body
}

// okEmpty is ok for mutations whose success has no payload (undermoon answers them with an empty 200).
func (s *testServer) okEmpty(method, path, body string) {
	s.t.Helper()
	if b := s.ok(method, path, body); len(b) != 0 {
		s.t.Fatalf("%s %s: body %q, want empty", method, path, b)
	}
}

// getJSON GETs an /api/v2 path that must answer 200 with JSON and decodes it into v.
func (s *testServer) getJSON(path string, v any) {
	s.t.Helper()
	r := s.api("GET", path, "")
	if r.status != http.StatusOK {
		s.t.Fatalf("GET %s: status %d; body %s", path, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.t.Fatalf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		s.t.Fatalf("GET %s: decode %s: %v", path, r.body, err)
	}
}

// epoch is GET /epoch as a number.
func (s *testServer) epoch() uint64 {
	s.t.Helper()
	r := s.api("GET", "/epoch", "")
	if r.status != http.StatusOK {
		s.t.Fatalf("GET /epoch: status %d; body %s", r.status, r.body)
	}
	var n uint64
	if err := json.Unmarshal(r.body, &n); err != nil {
		s.t.Fatalf("GET /epoch: body %q is not an integer", r.body)
	}
	return n
}

// addProxy registers addr with the two given nodes; host "" leaves the field out.
func (s *testServer) addProxy(addr, host, n0, n1 string) {
	s.t.Helper()
	body := map[string]any{"proxy_address": addr, "nodes": []string{n0, n1}}
	if host != "" {
		body["host"] = host
	}
	b, _ := json.Marshal(body)
	s.okEmpty("POST", "/proxies/meta", string(b))
}

// addHosts registers perHost proxies on each of hosts "10.0.0.<h>", h = 1..hosts, proxy
// 10.0.0.h:60PP with nodes 10.0.0.h:70(2P) and 70(2P+1).
func (s *testServer) addHosts(hosts, perHost int) {
	s.t.Helper()
	for h := 1; h <= hosts; h++ {
		for p := 0; p < perHost; p++ {
			ip := "10.0.0." + strconv.Itoa(h)
			s.addProxy(ip+":"+strconv.Itoa(6000+p), "", ip+":"+strconv.Itoa(7000+2*p), ip+":"+strconv.Itoa(7000+2*p+1))
		}
	}
}

// wantError checks an error response: the status, a JSON content type and the code.
func wantError(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json; body %s", ct, r.body)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	if body["error"] != code {
		t.Errorf("error %v, want %s; body %s", body["error"], code, r.body)
	}
	return body
}

// compact normalises a JSON literal written for readability to the server's byte form.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("bad expected JSON: %v", err)
	}
	return b.String()
}

// clusterView is the parts of a v2 Cluster the tests look at.
type clusterView struct {
	Name  string `json:"name"`
	Epoch uint64 `json:"epoch"`
	Nodes []struct {
		Address      string `json:"address"`
		ProxyAddress string `json:"proxy_address"`
		ClusterName  string `json:"cluster_name"`
		Slots        []struct {
			RangeList [][2]int `json:"range_list"`
			Tag       any      `json:"tag"`
		} `json:"slots"`
		Repl struct {
			Role  string `json:"role"`
			Peers []struct {
				NodeAddress  string `json:"node_address"`
				ProxyAddress string `json:"proxy_address"`
			} `json:"peers"`
		} `json:"repl"`
	} `json:"nodes"`
	Config struct {
		CompressionStrategy string `json:"compression_strategy"`
		MigrationConfig     struct {
			ScanCount uint64 `json:"scan_count"`
		} `json:"migration_config"`
	} `json:"config"`
}

// cluster GETs /clusters/meta/<name>; nil when the broker answers {"cluster": null}.
func (s *testServer) cluster(name string) *clusterView {
	s.t.Helper()
	var body struct {
		Cluster *clusterView `json:"cluster"`
	}
	s.getJSON("/clusters/meta/"+name, &body)
	return body.Cluster
}

// roles lists "address=role" of every node of the cluster, in view order.
func (c *clusterView) roles() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Address + "=" + n.Repl.Role
	}
	return out
}

// proxies lists the distinct proxies of the cluster view in order.
func (c *clusterView) proxies() []string {
	var out []string
	for _, n := range c.Nodes {
		if len(out) == 0 || out[len(out)-1] != n.ProxyAddress {
			out = append(out, n.ProxyAddress)
		}
	}
	return out
}

// addresses decodes {"addresses": [...]} of an /api/v2 GET.
func (s *testServer) addresses(path string) []string {
	s.t.Helper()
	var body struct {
		Addresses []string `json:"addresses"`
	}
	s.getJSON(path, &body)
	if body.Addresses == nil {
		s.t.Fatalf("GET %s: addresses missing or null", path)
	}
	return body.Addresses
}
