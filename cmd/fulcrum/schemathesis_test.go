package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// schemathesisExamples is the number of test cases per operation and phase: enough to find
// what a schema mismatch or a crash looks like, short enough for make test (a minute or two).
const schemathesisExamples = 20

// TestSchemathesis runs schemathesis (installed by make test into a venv under bin/ and
// passed as FULCRUM_SCHEMATHESIS) with every check (testdata/schemathesis.toml) against the
// real binary, serving
// httpapi/openapi.json with authentication on, and fails on any finding: a server error,
// a response outside the document, a request the document allows refused or the reverse.
//
// Both run in a network namespace of their own with only loopback: the generated requests
// register proxies and replicas at random addresses, and PUT /epoch/recovery, auto-scaling
// and replication connect to them — here nothing can leave the machine. Fulcrum runs
// without Kafka, so /balancer answers its documented 503 and never touches the shared
// test cluster.
func TestSchemathesis(t *testing.T) {
	st := os.Getenv("FULCRUM_SCHEMATHESIS")
	if st == "" {
		t.Fatal("FULCRUM_SCHEMATHESIS is not set: make test installs schemathesis into bin/ and sets it")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare (util-linux) is needed to run schemathesis in its own network namespace: %v", err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip (iproute2) is needed to bring up loopback in the namespace: %v", err)
	}
	config, err := filepath.Abs("testdata/schemathesis.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The document is read from the repository, not fetched: schemathesis leaves the
	// operation it fetched its schema from untested. TestOpenAPIServed checks that
	// GET /openapi.json serves these bytes.
	document, err := filepath.Abs("../../httpapi/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	operations := documentedOperations(t, document)
	dir := t.TempDir()
	tokens := tokenFile(t, "schemathesis-token")
	// $1 fulcrum, $2 schemathesis, $3 config, $4 dir, $5 token file, $6 examples, $7 document.
	const script = `set -e
ip link set lo up
cd "$4"
"$1" serve --listen 127.0.0.1:7799 --data-dir "$4/data" --auth-token-file "$5" --log-level warn >"$4/fulcrum.log" 2>&1 &
pid=$!
trap 'kill $pid; wait $pid' EXIT
"$(dirname "$2")/python" -c '
import time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen("http://127.0.0.1:7799/healthz", timeout=1); break
    except Exception: time.sleep(0.05)
else: raise SystemExit("fulcrum did not answer /healthz in 15 s")
def call(method, path, body):
    req = urllib.request.Request("http://127.0.0.1:7799/api/v2" + path, data=body.encode(), method=method,
                                 headers={"Authorization": "Bearer schemathesis-token", "Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10)
for h in range(1, 17):
    call("POST", "/proxies/meta", "{\"proxy_address\":\"127.0.0.%d:1\",\"nodes\":[\"127.0.0.%d:2\",\"127.0.0.%d:3\"]}" % (h, h, h))
call("POST", "/clusters/meta/st", "{\"node_number\":4}")
call("POST", "/clusters/meta/st2", "{\"node_number\":8}")'
"$2" --no-color --config-file "$3" run "$7" --url http://127.0.0.1:7799 \
  -n "$6" --seed 1 --generation-database none --request-timeout 20 \
  -H "Authorization: Bearer schemathesis-token"`
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "-rn", "sh", "-c", script, "sh", fulcrumBin, st, config, dir, tokens, fmt.Sprint(schemathesisExamples), document)
	out, err := cmd.CombinedOutput()
	log, _ := os.ReadFile(filepath.Join(dir, "fulcrum.log"))
	if err != nil {
		t.Fatalf("schemathesis: %v\n%s\nfulcrum's log:\n%s", err, out, log)
	}
	// A run that tested nothing would pass too: every operation must have been tested.
	if want := fmt.Sprintf("Selected: %d/%d\n  Tested: %d\n", operations, operations, operations); !strings.Contains(string(out), want) {
		t.Fatalf("schemathesis did not report %q (the document has %d operations):\n%s", want, operations, out)
	}
	if strings.Contains(string(log), "panic") {
		t.Fatalf("fulcrum panicked under schemathesis:\n%s", log)
	}
	t.Logf("schemathesis:\n%s", tail(string(out), 25))
}

// documentedOperations counts the operations of httpapi/openapi.json.
func documentedOperations(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ops := range doc.Paths {
		n += len(ops)
	}
	return n
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
