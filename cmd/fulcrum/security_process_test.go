package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/httpapi"
)

// testCert writes a self-signed certificate for 127.0.0.1 and its key, and returns their
// paths and a pool that trusts it.
func testCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fulcrum-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func tokenFile(t *testing.T, tokens ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// endpoint is one listener of a process and the client that speaks its protocol.
type endpoint struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (e endpoint) call(token, method, path, body string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, bytes.NewBufferString(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e endpoint) must(token, method, path, body string) []byte {
	e.t.Helper()
	code, b := e.call(token, method, path, body)
	if code != 200 {
		e.t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	return b
}

// startServe runs `fulcrum serve args...` (log level info) and waits (bounded) until health answers 200.
func startServe(t *testing.T, health endpoint, args ...string) *process {
	t.Helper()
	return launch(t, health, "info", args...)
}

// TestProcessSecurity runs the real binary with HTTPS on --listen, a token file and a
// plain --coordinator-listen, and replays an undermoon deployment: the operator's calls go
// over HTTPS with the token; a coordinator's calls (reads, failure reports, failover,
// migration commits) go over plain HTTP from loopback without a token. Then the token file
// is rotated with SIGHUP.
func TestProcessSecurity(t *testing.T) {
	certFile, keyFile, pool := testCert(t)
	tokens := tokenFile(t, "first-token", "second-token")
	listen, coordListen := freeAddr(t), freeAddr(t)
	https := endpoint{t, "https://" + listen, &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	coord := endpoint{t, "http://" + coordListen, &http.Client{Timeout: 10 * time.Second}}
	p := startServe(t, https, "--listen", listen, "--data-dir", t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile,
		"--auth-token-file", tokens, "--coordinator-listen", coordListen)

	// TLS only on --listen: a plain request there gets no answer of ours.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + listen + "/healthz"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("plain HTTP on the TLS listener answered 200: %s", b)
		}
	}
	// The operator: changes need the token, over HTTPS.
	if code, b := https.call("", "POST", "/api/v2/proxies/meta", proxyBody("127.0.0.1:1", "h1")); code != 401 || !strings.Contains(string(b), `"UNAUTHORIZED"`) {
		t.Fatalf("a change without a token: %d %s", code, b)
	}
	for h := 1; h <= 8; h++ {
		https.must("second-token", "POST", "/api/v2/proxies/meta", proxyBody(fmt.Sprintf("127.0.0.%d:1", h), fmt.Sprintf("h%d", h)))
	}
	https.must("first-token", "POST", "/api/v2/clusters/meta/mydb", `{"node_number":4}`)
	https.must("first-token", "PATCH", "/api/v2/clusters/nodes/mydb", `{"node_number":4}`)
	https.must("first-token", "POST", "/api/v2/clusters/migrations/expand/mydb", "")
	// The coordinator listener does not take the operator's calls, token or not.
	if code, _ := coord.call("first-token", "PUT", "/api/v2/epoch/1000", ""); code != 404 {
		t.Fatalf("PUT /epoch on the coordinator listener: %d", code)
	}

	// The coordinator, one round after another, until every migration task is committed.
	for round := 0; ; round++ {
		if round == 20 {
			t.Fatal("the migration tasks were not all committed in 20 rounds")
		}
		coord.must("", "GET", "/api/v2/proxies/failed/addresses", "")
		coord.must("", "GET", "/api/v2/proxies/addresses?offset=0&limit=100", "")
		var names struct{ Names []string }
		json.Unmarshal(coord.must("", "GET", "/api/v2/clusters/names?offset=0&limit=100", ""), &names)
		if len(names.Names) != 1 {
			t.Fatalf("cluster names %v", names.Names)
		}
		var view struct{ Cluster *meta.ClusterView }
		json.Unmarshal(coord.must("", "GET", "/api/v2/clusters/meta/mydb", ""), &view)
		var task []byte
		for _, n := range view.Cluster.Nodes {
			coord.must("", "GET", "/api/v2/proxies/meta/"+n.ProxyAddress, "")
			for _, r := range n.Slots {
				if r.Tag.Kind == meta.TagMigrating && task == nil {
					task, _ = json.Marshal(map[string]any{"cluster_name": "mydb", "slot_range": r})
				}
			}
		}
		if task == nil {
			break
		}
		coord.must("", "PUT", "/api/v2/clusters/migrations", string(task))
	}
	coord.must("", "POST", "/api/v2/failures/127.0.0.1:1/coordinator1", "")
	var failures struct{ Addresses []string }
	json.Unmarshal(coord.must("", "GET", "/api/v2/failures", ""), &failures)
	if len(failures.Addresses) != 1 || failures.Addresses[0] != "127.0.0.1:1" {
		t.Fatalf("failures %v", failures.Addresses)
	}
	if got := string(coord.must("", "POST", "/api/v3/proxies/failover/127.0.0.1:1", "")); !strings.Contains(got, `"proxy":{`) {
		t.Fatalf("failover answered %s, want the replacement proxy", got)
	}
	var info meta.ClusterInfo
	json.Unmarshal(https.must("first-token", "GET", "/api/v2/clusters/info/mydb", ""), &info)
	if info.NodeNumber != 8 || info.NodeNumberWithSlots != 8 || info.IsMigrating {
		t.Fatalf("after the coordinator's rounds: %+v", info)
	}

	// Rotation: SIGHUP rereads the file; the old tokens stop working, the process goes on.
	os.WriteFile(tokens, []byte("third-token\n"), 0o600)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "the new token accepted", func() bool {
		code, _ := https.call("third-token", "PUT", "/api/v2/epoch/5000", "")
		return code == 200
	})
	if code, _ := https.call("first-token", "PUT", "/api/v2/epoch/6000", ""); code != 401 {
		t.Fatalf("a token removed from the file still works: %d", code)
	}
	// A file without tokens is refused on reload: the last good tokens stay.
	os.WriteFile(tokens, []byte("\n"), 0o600)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "the failed reload logged", func() bool {
		return strings.Contains(p.log.String(), "token file not reloaded")
	})
	https.must("third-token", "PUT", "/api/v2/epoch/7000", "")

	// Certificate rotation: new files, SIGHUP; new connections get the new certificate.
	newCert, newKey, newPool := testCert(t)
	for from, to := range map[string]string{newCert: certFile, newKey: keyFile} {
		b, _ := os.ReadFile(from)
		os.WriteFile(to, b, 0o600)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	rotated := endpoint{t, https.base, &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: newPool}}}}
	waitFor(t, 5*time.Second, "the new certificate served", func() bool {
		resp, err := rotated.client.Get(rotated.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if err := p.kill(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log)
	}
}

// TestProcessReplicaWithAuth: master and replica share a token file; the master's pushes
// carry its first token and are applied, while a direct write to the replica is refused
// with 409 REPLICA_READ_ONLY and counted in its /metrics.
func TestProcessReplicaWithAuth(t *testing.T) {
	tokens := tokenFile(t, "shared-token")
	replicaAddr, masterAddr := freeAddr(t), freeAddr(t)
	replica := endpoint{t, "http://" + replicaAddr, client}
	master := endpoint{t, "http://" + masterAddr, client}
	startServe(t, replica, "--listen", replicaAddr, "--data-dir", t.TempDir(), "--auth-token-file", tokens, "--replica")
	startServe(t, master, "--listen", masterAddr, "--data-dir", t.TempDir(), "--auth-token-file", tokens,
		"--replica-addresses", replicaAddr, "--sync-meta-interval", "500ms")
	for h := 1; h <= 4; h++ {
		master.must("shared-token", "POST", "/api/v2/proxies/meta", proxyBody(fmt.Sprintf("127.0.0.%d:1", h), fmt.Sprintf("h%d", h)))
	}
	master.must("shared-token", "POST", "/api/v2/clusters/meta/rep", `{"node_number":4}`)
	want := string(master.must("", "GET", "/api/v2/metadata", ""))
	waitFor(t, 5*time.Second, "the replica converges", func() bool {
		return string(replica.must("", "GET", "/api/v2/metadata", "")) == want
	})
	if code, b := replica.call("shared-token", "DELETE", "/api/v2/clusters/meta/rep", ""); code != 409 || !strings.Contains(string(b), `"REPLICA_READ_ONLY"`) {
		t.Fatalf("a direct write on the replica: %d %s", code, b)
	}
	if code, _ := replica.call("", "POST", "/api/v2/failures/127.0.0.1:1/coord", ""); code != 409 {
		t.Fatalf("a failure report sent to the replica: %d, want 409", code)
	}
	if got := string(replica.must("", "GET", "/api/v2/metadata", "")); got != want {
		t.Fatalf("the replica changed on direct writes")
	}
	if m := string(replica.must("", "GET", "/metrics", "")); !strings.Contains(m, "fulcrum_replica_refused_writes_total 2") {
		t.Fatalf("refused writes not counted:\n%s", grepLines(m, "refused"))
	}
	// The master goes on pushing.
	master.must("shared-token", "DELETE", "/api/v2/clusters/meta/rep", "")
	want = string(master.must("", "GET", "/api/v2/metadata", ""))
	waitFor(t, 5*time.Second, "the replica follows the delete", func() bool {
		return string(replica.must("", "GET", "/api/v2/metadata", "")) == want
	})
}

// TestProcessPushRefusedWithoutToken: a replica that wants a token the master does not
// send refuses every push; the master counts them as refused.
func TestProcessPushRefusedWithoutToken(t *testing.T) {
	replicaAddr, masterAddr := freeAddr(t), freeAddr(t)
	replica := endpoint{t, "http://" + replicaAddr, client}
	master := endpoint{t, "http://" + masterAddr, client}
	startServe(t, replica, "--listen", replicaAddr, "--data-dir", t.TempDir(), "--auth-token-file", tokenFile(t, "replica-only"), "--replica")
	startServe(t, master, "--listen", masterAddr, "--data-dir", t.TempDir(), "--auth-token-file", tokenFile(t, "master-only"),
		"--replica-addresses", replicaAddr, "--sync-meta-interval", "500ms")
	master.must("master-only", "POST", "/api/v2/proxies/meta", proxyBody("127.0.0.1:1", "h1"))
	waitFor(t, 5*time.Second, "the refused push counted", func() bool {
		return strings.Contains(string(master.must("", "GET", "/metrics", "")),
			fmt.Sprintf(`fulcrum_replication_pushes_total{replica=%q,result="refused"}`, replicaAddr))
	})
	if got := string(replica.must("", "GET", "/api/v2/proxies/addresses", "")); got != `{"addresses":[]}` {
		t.Fatalf("the replica applied a refused push: %s", got)
	}
}

func TestProcessPprofFlag(t *testing.T) {
	for _, c := range []struct {
		args   []string
		status int
	}{
		{nil, 404},
		{[]string{"--pprof"}, 200},
	} {
		addr := freeAddr(t)
		e := endpoint{t, "http://" + addr, client}
		p := startServe(t, e, append([]string{"--listen", addr, "--data-dir", t.TempDir()}, c.args...)...)
		if code, _ := e.call("", "GET", "/debug/pprof/goroutine?debug=1", ""); code != c.status {
			t.Errorf("fulcrum serve %v: GET /debug/pprof/goroutine answered %d, want %d", c.args, code, c.status)
		}
		p.kill(syscall.SIGTERM, 5*time.Second)
	}
}

func grepLines(s, word string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestWarnIfOpen(t *testing.T) {
	tokens, err := httpapi.LoadTokens(tokenFile(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr   string
		tokens *httpapi.Tokens
		warn   bool
	}{
		{"127.0.0.1:0", nil, false},
		{"[::1]:0", nil, false},
		{"0.0.0.0:0", nil, true},
		{"0.0.0.0:0", tokens, false},
	} {
		ln, err := net.Listen("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		warnIfOpen(zerolog.New(&buf), ln, "--listen", c.tokens)
		ln.Close()
		if got := strings.Contains(buf.String(), "not a loopback address"); got != c.warn {
			t.Errorf("listen %s, tokens %v: warned %v, want %v (%s)", c.addr, c.tokens != nil, got, c.warn, buf.String())
		}
	}
}

func TestParseServeSecurity(t *testing.T) {
	c, err := parseServe(nil, func(string) string { return "" })
	if err != nil || c.pprof || c.replica || c.authTokenFile != "" || networksString(c.coordinatorNetworks) != "127.0.0.0/8,::1/128" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	env := map[string]string{"FULCRUM_AUTH_TOKEN_FILE": "/t", "FULCRUM_COORDINATOR_NETWORKS": "10.0.0.0/8", "FULCRUM_PPROF": "true"}
	c, err = parseServe([]string{"--replica"}, func(k string) string { return env[k] })
	if err != nil || c.authTokenFile != "/t" || networksString(c.coordinatorNetworks) != "10.0.0.0/8" || !c.pprof || !c.replica {
		t.Fatalf("env and flags: %+v %v", c, err)
	}
	for _, args := range [][]string{
		{"--tls-cert", "c.pem"},
		{"--tls-key", "k.pem"},
		{"--coordinator-networks", "10.0.0.0/33"},
		{"--coordinator-networks", ""},
		{"--coordinator-listen", "127.0.0.1:7799"},
	} {
		if _, err := parseServe(args, func(string) string { return "" }); err == nil {
			t.Errorf("parseServe(%v) accepted", args)
		}
	}
}
