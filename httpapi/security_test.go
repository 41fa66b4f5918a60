package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/httpapi"
)

const testToken = "s3cret-token"

// withSecurity turns authentication on with testToken (and the given coordinator networks,
// nil for the default loopback).
func withSecurity(t *testing.T, nets []netip.Prefix, more func(*httpapi.Options)) func(*serverConfig) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := httpapi.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *serverConfig) {
		c.http = func(o *httpapi.Options) {
			o.Tokens, o.CoordinatorNetworks = tokens, nets
			if more != nil {
				more(o)
			}
		}
	}
}

// as sends a request with the given bearer token ("" sends no Authorization header).
func (s *testServer) as(token, method, path, body string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// state is what a refused request must not change: the whole state document.
func (s *testServer) state() string {
	s.t.Helper()
	r := s.as(testToken, "GET", "/api/v2/metadata", "")
	if r.status != 200 {
		s.t.Fatalf("GET /metadata: %d %s", r.status, r.body)
	}
	return string(r.body)
}

// seedCluster registers 8 proxies on 127.0.0.1..8 (loopback: PUT /epoch/recovery asks
// them, and must reach nothing but this machine) and creates cluster c of 4 nodes.
func (s *testServer) seedCluster(token string) {
	s.t.Helper()
	for h := 1; h <= 8; h++ {
		body := fmt.Sprintf(`{"proxy_address":"127.0.0.%d:1","nodes":["127.0.0.%d:2","127.0.0.%d:3"]}`, h, h, h)
		if r := s.as(token, "POST", "/api/v2/proxies/meta", body); r.status != 200 {
			s.t.Fatalf("register proxy: %d %s", r.status, r.body)
		}
	}
	if r := s.as(token, "POST", "/api/v2/clusters/meta/c", `{"node_number":4}`); r.status != 200 {
		s.t.Fatalf("create cluster: %d %s", r.status, r.body)
	}
}

// tokenCalls is every request that changes state and needs a token, whatever the network.
func tokenCalls(metadata string) [][3]string {
	var calls [][3]string
	for _, v := range []string{"/api/v2", "/api/v3"} {
		calls = append(calls,
			[3]string{"PUT", v + "/metadata", metadata},
			[3]string{"PUT", v + "/config", `{"replica_addresses":["127.0.0.1:1"]}`},
			[3]string{"PUT", v + "/epoch/recovery", ""},
			[3]string{"PUT", v + "/epoch/1000", ""},
			[3]string{"POST", v + "/clusters/meta/d", `{"node_number":4}`},
			[3]string{"DELETE", v + "/clusters/meta/c", ""},
			[3]string{"PATCH", v + "/clusters/config/c", `{"compression_strategy":"allow_all"}`},
			[3]string{"PUT", v + "/clusters/balance/c", ""},
			[3]string{"PATCH", v + "/clusters/nodes/c", `{"node_number":4}`},
			[3]string{"PUT", v + "/clusters/nodes/c", `{"cluster_node_number":8}`},
			[3]string{"DELETE", v + "/clusters/free_nodes/c", ""},
			[3]string{"POST", v + "/clusters/migrations/expand/c", ""},
			[3]string{"POST", v + "/clusters/migrations/shrink/c/4", ""},
			[3]string{"POST", v + "/clusters/migrations/auto/c/8", ""},
			[3]string{"POST", v + "/proxies/meta", `{"proxy_address":"127.0.0.9:1","nodes":["127.0.0.9:2","127.0.0.9:3"]}`},
			[3]string{"DELETE", v + "/proxies/meta/127.0.0.8:1", ""},
		)
	}
	return append(calls,
		[3]string{"POST", "/balancer", `{"changes":[]}`},
		[3]string{"DELETE", "/balancer/5f0f5969-8cbc-4bbb-b18e-b24a05ac1e7e", ""},
	)
}

// TestAuthRefusesChangesWithoutToken: with a token file, each state-changing endpoint
// answers 401 UNAUTHORIZED without a token or with a wrong one, from loopback too, and the
// state does not move.
func TestAuthRefusesChangesWithoutToken(t *testing.T) {
	s := startServer(t, withSecurity(t, nil, nil))
	s.seedCluster(testToken)
	before := s.state()
	for _, token := range []string{"", "wrong-token", testToken + "x"} {
		for _, c := range tokenCalls(before) {
			r := s.as(token, c[0], c[1], c[2])
			body := wantError(t, r, 401, "UNAUTHORIZED")
			if body["message"] == "" || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s (token %q): message %q, WWW-Authenticate %q", c[0], c[1], token, body["message"], r.header.Get("WWW-Authenticate"))
			}
		}
	}
	if after := s.state(); after != before {
		t.Fatalf("refused requests changed the state\nbefore %s\nafter  %s", before, after)
	}
}

// TestAuthTokenWorks: with the token every change goes through to its handler.
func TestAuthTokenWorks(t *testing.T) {
	s := startServer(t, withSecurity(t, nil, nil))
	s.seedCluster(testToken)
	metadata := s.state()
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/api/v2/metadata", metadata, 200},
		{"PATCH", "/api/v2/clusters/config/c", `{"compression_strategy":"allow_all"}`, 200},
		{"PUT", "/api/v3/clusters/balance/c", "", 200},
		{"PATCH", "/api/v2/clusters/nodes/c", `{"node_number":4}`, 200},
		{"DELETE", "/api/v2/clusters/free_nodes/c", "", 200},
		{"PUT", "/api/v2/clusters/nodes/c", `{"cluster_node_number":8}`, 200},
		{"POST", "/api/v2/clusters/migrations/expand/c", "", 200},
		{"POST", "/api/v2/clusters/migrations/shrink/c/4", "", 409},   // MIGRATION_RUNNING: the handler answered
		{"POST", "/api/v2/clusters/migrations/auto/c/8", "", 409},     // MIGRATION_RUNNING
		{"POST", "/api/v2/clusters/meta/d", `{"node_number":4}`, 200}, // on the last 2 free proxies
		{"POST", "/api/v2/proxies/meta", `{"proxy_address":"127.0.0.9:1","nodes":["127.0.0.9:2","127.0.0.9:3"]}`, 200},
		{"DELETE", "/api/v3/proxies/meta/127.0.0.9:1", "", 200},
		{"PUT", "/api/v2/config", `{"replica_addresses":[]}`, 200},
		{"PUT", "/api/v2/epoch/recovery", "", 200},
		{"PUT", "/api/v2/epoch/100000", "", 200},
		{"DELETE", "/api/v2/clusters/meta/c", "", 200},
		{"POST", "/balancer", `{"changes":[]}`, 503}, // no Kafka configured
		{"DELETE", "/balancer/5f0f5969-8cbc-4bbb-b18e-b24a05ac1e7e", "", 503},
	} {
		if r := s.as(testToken, c.method, c.path, c.body); r.status != c.status {
			t.Errorf("%s %s with the token: %d %s, want %d", c.method, c.path, r.status, r.body, c.status)
		}
	}
	if got := s.epoch(); got != 100001 {
		t.Errorf("epoch %d after PUT /epoch/100000 and a delete, want 100001", got)
	}
}

// coordinatorRound makes an undermoon coordinator's calls without a token (its loops in
// undermoon's src/coordinator/service.rs): reads, a failure report, a failover, and the commit of a migration task. It
// returns the first status that is not the expected one.
func coordinatorRound(t *testing.T, s *testServer, token string) (int, string) {
	t.Helper()
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v2/proxies/failed/addresses"},
		{"GET", "/api/v2/proxies/addresses?offset=0&limit=100"},
		{"GET", "/api/v2/clusters/names?offset=0&limit=100"},
		{"GET", "/api/v2/clusters/meta/c"},
		{"GET", "/api/v3/proxies/meta/127.0.0.1:1"},
		{"POST", "/api/v2/failures/127.0.0.1:1/coord1"},
		{"GET", "/api/v2/failures"},
		{"POST", "/api/v2/proxies/failover/127.0.0.1:1"},
		{"POST", "/api/v2/resources/failures/check"},
		{"GET", "/metrics"},
	} {
		if r := s.as(token, c.method, c.path, ""); r.status != 200 {
			return r.status, c.method + " " + c.path + ": " + string(r.body)
		}
	}
	// Commit a task the cluster shows (after a scale-out), as the coordinator does.
	var view struct{ Cluster *meta.ClusterView }
	json.Unmarshal(s.as(token, "GET", "/api/v2/clusters/meta/c", "").body, &view)
	for _, n := range view.Cluster.Nodes {
		for _, r := range n.Slots {
			if r.Tag.Kind == meta.TagMigrating {
				task, _ := json.Marshal(map[string]any{"cluster_name": "c", "slot_range": r})
				if resp := s.as(token, "PUT", "/api/v2/clusters/migrations", string(task)); resp.status != 200 {
					return resp.status, "commit: " + string(resp.body)
				}
				return 200, ""
			}
		}
	}
	t.Fatal("no migration task to commit")
	return 0, ""
}

// TestAuthCoordinatorCallsFromLoopback: a coordinator cannot send a token; from a
// coordinator network (loopback by default) its calls work without one.
func TestAuthCoordinatorCallsFromLoopback(t *testing.T) {
	s := startServer(t, withSecurity(t, nil, nil))
	s.seedCluster(testToken)
	for _, c := range [][3]string{
		{"PATCH", "/api/v2/clusters/nodes/c", `{"node_number":4}`},
		{"POST", "/api/v2/clusters/migrations/expand/c", ""},
	} {
		if r := s.as(testToken, c[0], c[1], c[2]); r.status != 200 {
			t.Fatalf("%s %s: %d %s", c[0], c[1], r.status, r.body)
		}
	}
	if status, what := coordinatorRound(t, s, ""); status != 200 {
		t.Fatalf("coordinator call without a token from loopback: %d, %s", status, what)
	}
	if got := s.addresses("/proxies/failed/addresses"); len(got) != 1 || got[0] != "127.0.0.1:1" {
		t.Fatalf("failed proxies after the failover: %v", got)
	}
}

// TestAuthCoordinatorCallsOutsideNetworks: a client outside --coordinator-networks needs a
// token even for reads; /healthz stays open.
func TestAuthCoordinatorCallsOutsideNetworks(t *testing.T) {
	s := startServer(t, withSecurity(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, nil))
	s.seedCluster(testToken)
	for _, path := range []string{"/api/v2/clusters/names", "/api/v3/proxies/meta/127.0.0.1:1", "/metrics", "/balancer"} {
		wantError(t, s.as("", "GET", path, ""), 401, "UNAUTHORIZED")
	}
	for _, c := range [][2]string{
		{"POST", "/api/v2/failures/127.0.0.1:1/coord1"},
		{"POST", "/api/v2/proxies/failover/127.0.0.1:1"},
		{"PUT", "/api/v2/clusters/migrations"},
	} {
		wantError(t, s.as("", c[0], c[1], ""), 401, "UNAUTHORIZED")
	}
	if r := s.as("", "GET", "/healthz", ""); r.status != 200 {
		t.Fatalf("GET /healthz without a token: %d", r.status)
	}
	// With the token the same round works.
	for _, c := range [][3]string{
		{"PATCH", "/api/v2/clusters/nodes/c", `{"node_number":4}`},
		{"POST", "/api/v2/clusters/migrations/expand/c", ""},
	} {
		if r := s.as(testToken, c[0], c[1], c[2]); r.status != 200 {
			t.Fatalf("%s %s: %d %s", c[0], c[1], r.status, r.body)
		}
	}
	if status, what := coordinatorRound(t, s, testToken); status != 200 {
		t.Fatalf("coordinator round with the token: %d, %s", status, what)
	}
}

// TestNoAuthWithoutTokenFile: without --auth-token-file nothing is checked (as undermoon).
func TestNoAuthWithoutTokenFile(t *testing.T) {
	s := startServer(t)
	s.seedCluster("")
	if r := s.as("", "PUT", "/api/v2/epoch/1000", ""); r.status != 200 {
		t.Fatalf("PUT /epoch without authentication configured: %d %s", r.status, r.body)
	}
}

// TestPprofOffByDefault: profiles are served only with Pprof (TestPprofIsServed).
func TestPprofOffByDefault(t *testing.T) {
	s := startServer(t)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/profile?seconds=1"} {
		wantError(t, s.as("", "GET", path, ""), 404, "NOT_FOUND")
	}
}

// TestReplicaRefusesDirectWrites: a replica takes the master's push (PUT /metadata) and
// nothing else; each refusal is a 409 REPLICA_READ_ONLY, counted, and changes nothing.
func TestReplicaRefusesDirectWrites(t *testing.T) {
	master := startServer(t)
	master.seedCluster("")
	pushed := string(master.ok("GET", "/metadata", ""))
	s := startServer(t, func(c *serverConfig) { c.http = func(o *httpapi.Options) { o.Replica = true } })
	if r := s.as("", "PUT", "/api/v2/metadata", pushed); r.status != 200 {
		t.Fatalf("the master's push: %d %s", r.status, r.body)
	}
	before := s.state()
	refused := 0
	for _, c := range tokenCalls(pushed) {
		if c[1] == "/api/v2/metadata" || c[1] == "/api/v3/metadata" || strings.HasPrefix(c[1], "/balancer") {
			continue
		}
		wantError(t, s.as("", c[0], c[1], c[2]), 409, "REPLICA_READ_ONLY")
		refused++
	}
	for _, c := range [][2]string{
		{"POST", "/api/v2/failures/127.0.0.1:1/coord1"},
		{"POST", "/api/v3/proxies/failover/127.0.0.1:1"},
		{"PUT", "/api/v2/clusters/migrations"},
	} {
		wantError(t, s.as("", c[0], c[1], ""), 409, "REPLICA_READ_ONLY")
		refused++
	}
	if after := s.state(); after != before {
		t.Fatalf("a replica changed on a direct write\nbefore %s\nafter  %s", before, after)
	}
	// Reads and the read-only simulation are served.
	for _, c := range [][2]string{{"GET", "/api/v2/clusters/meta/c"}, {"POST", "/api/v2/resources/failures/check"}} {
		if r := s.as("", c[0], c[1], ""); r.status != 200 {
			t.Errorf("%s %s on a replica: %d %s", c[0], c[1], r.status, r.body)
		}
	}
	if got := counterValue(t, s, "fulcrum_replica_refused_writes_total"); got != float64(refused) {
		t.Fatalf("fulcrum_replica_refused_writes_total = %v, want %d", got, refused)
	}
}

func counterValue(t *testing.T, s *testServer, name string) float64 {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// TestCoordinatorListener: the plain coordinator listener serves a coordinator's calls and
// nothing else, with the same authentication rules.
func TestCoordinatorListener(t *testing.T) {
	s := startServer(t, withSecurity(t, nil, nil))
	s.seedCluster(testToken)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.srv.ServeCoordinator(ln)
	c := &testServer{t: t, base: "http://" + ln.Addr().String(), client: &http.Client{Timeout: 10 * time.Second}}
	for _, path := range []string{"/healthz", "/api/v2/clusters/names", "/api/v3/clusters/meta/c", "/api/v2/proxies/meta/127.0.0.2:1", "/api/v2/failures"} {
		if r := c.as("", "GET", path, ""); r.status != 200 {
			t.Errorf("GET %s on the coordinator listener: %d %s", path, r.status, r.body)
		}
	}
	if r := c.as("", "POST", "/api/v2/failures/127.0.0.5:1/coord1", ""); r.status != 200 {
		t.Errorf("failure report on the coordinator listener: %d %s", r.status, r.body)
	}
	for _, call := range [][2]string{
		{"GET", "/api/v2/metadata"},
		{"PUT", "/api/v2/metadata"},
		{"POST", "/api/v2/proxies/meta"},
		{"PUT", "/api/v2/epoch/1000"},
		{"GET", "/metrics"},
		{"GET", "/balancer"},
		{"GET", "/openapi.json"},
	} {
		// Not even with a token: the operator's calls go to the main listener.
		wantError(t, c.as(testToken, call[0], call[1], ""), 404, "NOT_FOUND")
	}
}

// rawTarget sends a request line as written (no client normalizes its path) and returns
// the status and body.
func rawTarget(t *testing.T, base, method, target string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method, target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAuthClassifiesTheRoutedPath: the guard decides on the path the router matches, so an
// encoded path that decodes to a coordinator call but is routed to another handler still
// needs a token; the handlers see decoded parameters.
func TestAuthClassifiesTheRoutedPath(t *testing.T) {
	s := startServer(t, withSecurity(t, nil, nil))
	for _, c := range [][2]string{
		{"DELETE", "/api/v2/proxies/meta/%2e%2e%2f%2e%2e%2ffailures%2fa%2fb"},
		{"POST", "/api/v2/clusters/meta/%2e%2e%2f%2e%2e%2ffailures%2fa%2fb"},
		{"PUT", "/api/v2/epoch/%2e%2e%2fclusters%2fmigrations"},
		{"DELETE", "/api/v2/clusters/meta/..%2f..%2fproxies%2ffailover%2fx"},
	} {
		if status, body := rawTarget(t, s.base, c[0], c[1]); status != 401 {
			t.Errorf("%s %s without a token: %d %s, want 401", c[0], c[1], status, body)
		}
	}
	s.seedCluster(testToken)
	if r := s.as(testToken, "POST", "/api/v2/clusters/meta/a%40b", `{"node_number":4}`); r.status != 200 {
		t.Fatalf("create a%%40b: %d %s", r.status, r.body)
	}
	if got := s.cluster("a@b"); got == nil || got.Name != "a@b" {
		t.Fatalf("cluster a@b after creating a%%40b: %+v", got)
	}
	if r := s.as(testToken, "DELETE", "/api/v3/clusters/meta/a%40b", ""); r.status != 200 {
		t.Fatalf("delete a%%40b: %d %s", r.status, r.body)
	}
}

// TestOpenAPIServed: GET /openapi.json serves the repository's document, to anyone, also
// with authentication on.
func TestOpenAPIServed(t *testing.T) {
	s := startServer(t, withSecurity(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, nil))
	want, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	r := s.as("", "GET", "/openapi.json", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || string(r.body) != string(want) {
		t.Fatalf("GET /openapi.json: %d %q, %d bytes (want the %d of httpapi/openapi.json)", r.status, r.header.Get("Content-Type"), len(r.body), len(want))
	}
}

// TestAuthBeforeBody: a change without a token is refused from its headers: of the body
// it announces only fasthttp's prefetch (8 KiB) is read, the rest is never waited for.
func TestAuthBeforeBody(t *testing.T) {
	s := startServer(t, withSecurity(t, nil, nil))
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// 60 MiB announced, 8 KiB sent.
	fmt.Fprintf(conn, "PUT /api/v2/metadata HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", 60<<20, strings.Repeat(" ", 8<<10))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 401 || !resp.Close {
		t.Fatalf("status %d, close %v; want 401 and the connection closed", resp.StatusCode, resp.Close)
	}
}
