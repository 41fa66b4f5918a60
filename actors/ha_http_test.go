package actors_test

// HTTP tests of HA on etcd: engines behind real HTTP servers on loopback, the follower
// forwarding changes to the leader (httpapi/ha.go). They live here rather than in httpapi
// because this package's test binary runs etcdtest.Main (httpapi's runs kafkatest.Main).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
	"github.com/seed248d40c9/fulcrum/httpapi"
	"github.com/seed248d40c9/fulcrum/persist"
)

const httpWait = 30 * time.Second

type haServer struct {
	t     *testing.T
	base  string
	addr  string
	e     *actors.Engine
	store *persist.EtcdStore
	srv   *httpapi.Server
	token string
}

// startHAServer runs an engine on etcd behind an HTTP server whose address is its ID.
func startHAServer(t *testing.T, endpoints []string, prefix string, tokens *httpapi.Tokens) *haServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	store := actors.OpenEtcdRetrying(t, persist.EtcdConfig{Endpoints: endpoints, Prefix: prefix, ID: addr, LeaseTTL: 2 * time.Second})
	e, err := actors.Start(actors.Options{Store: store, Logger: zerolog.Nop()})
	if err != nil {
		ln.Close()
		store.Close()
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Options{Engine: e, Logger: zerolog.Nop(), Tokens: tokens})
	go srv.Serve(ln)
	s := &haServer{t: t, base: "http://" + addr, addr: addr, e: e, store: store, srv: srv}
	t.Cleanup(func() {
		srv.Shutdown()
		e.Stop()
		store.Close()
	})
	return s
}

var httpClient = &http.Client{Timeout: httpWait}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (s *haServer) do(method, path, body string, header ...string) reply {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if s.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

func (s *haServer) ok(method, path, body string) []byte {
	s.t.Helper()
	r := s.do(method, path, body)
	if r.status != 200 {
		s.t.Fatalf("%s %s via %s: %d %s", method, path, s.addr, r.status, r.body)
	}
	return r.body
}

func (s *haServer) status() actors.HAStatus {
	s.t.Helper()
	var st actors.HAStatus
	if err := json.Unmarshal(s.ok("GET", "/ha", ""), &st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *haServer) waitRole(role, leader string) {
	s.t.Helper()
	deadline := time.Now().Add(httpWait)
	for {
		st := s.status()
		if st.Role == role && st.Leader == leader {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: /ha %+v after %s, want role %s, leader %s", s.addr, st, httpWait, role, leader)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wantCode(t *testing.T, r reply, status int, code string) {
	t.Helper()
	var body struct{ Error, Message string }
	if err := json.Unmarshal(r.body, &body); r.status != status || err != nil || body.Error != code || body.Message == "" {
		t.Fatalf("got %d %s, want %d %s with a message", r.status, r.body, status, code)
	}
}

// pair starts a leader and a follower behind HTTP.
func pair(t *testing.T, name string, tokens *httpapi.Tokens) (leader, follower *haServer) {
	t.Helper()
	eps, prefix := etcdtest.Endpoints(t), etcdtest.Prefix(name)
	a := startHAServer(t, eps, prefix, tokens)
	a.waitRole(actors.RoleLeader, a.addr)
	b := startHAServer(t, eps, prefix, tokens)
	b.waitRole(actors.RoleFollower, a.addr)
	return a, b
}

func addHosts(s *haServer, hosts, perHost int) {
	for h := 1; h <= hosts; h++ {
		for p := range perHost {
			s.ok("POST", "/api/v2/proxies/meta", fmt.Sprintf(`{"proxy_address":"10.0.0.%d:70%02d","nodes":["10.0.0.%d:60%02d","10.0.0.%d:60%02d"]}`, h, p, h, 2*p, h, 2*p+1))
		}
	}
}

func clusterView(s *haServer, name string) *meta.ClusterView {
	var body struct{ Cluster *meta.ClusterView }
	if err := json.Unmarshal(s.ok("GET", "/api/v2/clusters/meta/"+name, ""), &body); err != nil {
		s.t.Fatal(err)
	}
	return body.Cluster
}

// An undermoon coordinator configured with a follower's address: every call it makes
// (failure reports, failover, migration commits, and its reads) works through the
// follower, which forwards the changes, and reads its own writes there.
func TestHACoordinatorCallsThroughFollower(t *testing.T) {
	a, b := pair(t, "coordinator", nil)
	addHosts(b, 4, 3)
	b.ok("POST", "/api/v2/clusters/meta/c", `{"node_number":4}`)
	if v := clusterView(b, "c"); v == nil || len(v.Nodes) != 4 { // read-your-writes on the follower
		t.Fatalf("cluster on the follower right after its creation: %+v", v)
	}
	failed := clusterView(b, "c").Nodes[0].ProxyAddress
	b.ok("POST", "/api/v2/failures/"+failed+"/coordinator-1", "")
	var list struct{ Addresses []string }
	if err := json.Unmarshal(b.ok("GET", "/api/v2/failures", ""), &list); err != nil || len(list.Addresses) != 1 || list.Addresses[0] != failed {
		t.Fatalf("failures on the follower: %s (%v)", b.ok("GET", "/api/v2/failures", ""), err)
	}
	var replacement struct{ Proxy *meta.ProxyView }
	if err := json.Unmarshal(b.ok("POST", "/api/v2/proxies/failover/"+failed, ""), &replacement); err != nil || replacement.Proxy == nil {
		t.Fatalf("failover through the follower: %v %+v", err, replacement)
	}
	b.ok("PATCH", "/api/v2/clusters/nodes/c", `{"node_number":4}`)
	b.ok("POST", "/api/v2/clusters/migrations/expand/c", "")
	commits := 0
	for round := 0; round < 100; round++ {
		committed := false
		for _, n := range clusterView(b, "c").Nodes {
			for _, r := range n.Slots {
				if r.Tag.Kind != meta.TagMigrating {
					continue
				}
				task, _ := json.Marshal(map[string]any{"cluster_name": "c", "slot_range": r})
				b.ok("PUT", "/api/v2/clusters/migrations", string(task))
				wantCode(t, b.do("PUT", "/api/v2/clusters/migrations", string(task)), 404, "MIGRATION_TASK_NOT_FOUND")
				committed, commits = true, commits+1
			}
		}
		if !committed {
			break
		}
	}
	if commits == 0 {
		t.Fatal("the expansion showed no migration to commit")
	}
	if v := clusterView(b, "c"); len(v.Nodes) != 8 {
		t.Fatalf("cluster after the expansion: %d nodes", len(v.Nodes))
	}
	if ea, eb := a.ok("GET", "/api/v2/epoch", ""), b.ok("GET", "/api/v2/epoch", ""); !bytes.Equal(ea, eb) {
		t.Fatalf("epochs: leader %s, follower %s", ea, eb)
	}
	if ma, mb := a.ok("GET", "/api/v2/metadata", ""), b.ok("GET", "/api/v2/metadata", ""); !bytes.Equal(ma, mb) {
		t.Fatalf("metadata differs:\nleader %s\nfollower %s", ma, mb)
	}
}

// The leader's answers are relayed as they are: errors of bad input, in their shape.
func TestHAFollowerRelaysLeaderErrors(t *testing.T) {
	_, b := pair(t, "errors", nil)
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"bad json", "POST", "/api/v2/proxies/meta", `{"proxy_address":`, 400, "INVALID_REQUEST"},
		{"unknown cluster", "DELETE", "/api/v2/clusters/meta/nope", "", 404, "CLUSTER_NOT_FOUND"},
		{"bad node number", "POST", "/api/v2/clusters/meta/c", `{"node_number":3}`, 400, "INVALID_NODE_NUMBER"},
		{"unknown path", "POST", "/api/v2/nope", "", 404, "NOT_FOUND"},
		{"v3 path", "POST", "/api/v3/clusters/meta/c", `{"node_number":4}`, 409, "NO_AVAILABLE_RESOURCE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, b.do(c.method, c.path, c.body), c.status, c.code)
		})
	}
	if e := b.ok("GET", "/api/v2/epoch", ""); string(e) != "0" {
		t.Fatalf("epoch after refused changes: %s", e)
	}
}

// A follower whose leader cannot be reached answers changes 503 NO_LEADER, in each path's
// error shape, and changes nothing; a change forwarded to an instance that does not lead
// is refused, never forwarded again.
func TestHAFollowerWithoutReachableLeader(t *testing.T) {
	a, b := pair(t, "noleader", nil)
	wantCode(t, b.do("POST", "/api/v2/failures/10.0.0.1:7000/r", "", "X-Fulcrum-Forwarded-By", "10.9.9.9:1"), 503, "NO_LEADER")
	if err := a.srv.Shutdown(); err != nil { // the leader's API is gone, its lease is not
		t.Fatal(err)
	}
	wantCode(t, b.do("POST", "/api/v2/proxies/meta", `{"proxy_address":"10.0.0.1:7000","nodes":["10.0.0.1:6000","10.0.0.1:6001"]}`), 503, "NO_LEADER")
	r := b.do("POST", "/balancer", `{}`)
	var bal struct {
		Code    int
		Message string
	}
	if err := json.Unmarshal(r.body, &bal); r.status != 503 || err != nil || bal.Code != 503 || !strings.Contains(bal.Message, "NO_LEADER") {
		t.Fatalf("POST /balancer without a reachable leader: %d %s", r.status, r.body)
	}
	if e := b.ok("GET", "/api/v2/epoch", ""); string(e) != "0" {
		t.Fatalf("epoch: %s", e)
	}
}

// With authentication on, the follower checks the token first and forwards it: the leader
// checks it again.
func TestHAForwardCarriesToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := httpapi.LoadTokens(file)
	if err != nil {
		t.Fatal(err)
	}
	_, b := pair(t, "auth", tokens)
	add := `{"proxy_address":"10.0.0.1:7000","nodes":["10.0.0.1:6000","10.0.0.1:6001"]}`
	if r := b.do("POST", "/api/v2/proxies/meta", add); r.status != 401 {
		t.Fatalf("change without a token: %d %s", r.status, r.body)
	}
	if r := b.do("POST", "/api/v2/proxies/meta", add, "Authorization", "Bearer wrong"); r.status != 401 {
		t.Fatalf("change with a wrong token: %d %s", r.status, r.body)
	}
	b.token = "s3cret"
	b.ok("POST", "/api/v2/proxies/meta", add)
	if e := b.ok("GET", "/api/v2/epoch", ""); string(e) != "1" {
		t.Fatalf("epoch after the change: %s", e)
	}
}

// A follower cut off from etcd says so: /ha unavailable, changes 503 ETCD_UNAVAILABLE;
// once healed it follows again and catches up.
func TestHAFollowerCutFromEtcd(t *testing.T) {
	eps, prefix := etcdtest.Endpoints(t), etcdtest.Prefix("cutfollower")
	a := startHAServer(t, eps, prefix, nil)
	a.waitRole(actors.RoleLeader, a.addr)
	var proxies []*etcdtest.Proxy
	var via []string
	for _, ep := range eps {
		p := etcdtest.NewProxy(t, strings.TrimPrefix(ep, "http://"))
		proxies, via = append(proxies, p), append(via, p.URL())
	}
	b := startHAServer(t, via, prefix, nil)
	b.waitRole(actors.RoleFollower, a.addr)
	for _, p := range proxies {
		p.Cut()
	}
	deadline := time.Now().Add(httpWait)
	for b.status().Role != actors.RoleUnavailable {
		if time.Now().After(deadline) {
			t.Fatalf("cut-off follower: /ha %+v", b.status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantCode(t, b.do("POST", "/api/v2/proxies/meta", `{"proxy_address":"10.0.0.1:7000","nodes":["10.0.0.1:6000","10.0.0.1:6001"]}`), 503, "ETCD_UNAVAILABLE")
	a.ok("POST", "/api/v2/proxies/meta", `{"proxy_address":"10.0.0.2:7000","nodes":["10.0.0.2:6000","10.0.0.2:6001"]}`)
	for _, p := range proxies {
		p.Heal()
	}
	b.waitRole(actors.RoleFollower, a.addr)
	deadline = time.Now().Add(httpWait)
	for string(b.ok("GET", "/api/v2/epoch", "")) != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("healed follower's epoch: %s", b.ok("GET", "/api/v2/epoch", ""))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
