package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
)

// TestProcessMetaFileThroughEtcd moves a deployment from bbolt to etcd and back with the
// real binary: export-meta from a stopped bbolt Fulcrum, import-meta into etcd (endpoints
// from the environment), a Fulcrum on etcd serves it, import-meta refuses while it leads,
// export-meta from etcd gives the same file, which a fresh bbolt store takes.
func TestProcessMetaFileThroughEtcd(t *testing.T) {
	eps := strings.Join(etcdtest.Endpoints(t), ",")
	prefix := etcdtest.Prefix("metafile")
	from, listen := t.TempDir(), freeAddr(t)
	p := startFulcrum(t, from, listen)
	for h := 0; h < 2; h++ {
		p.mustDo("POST", "/proxies/meta", proxyBody(fmt.Sprintf("10.8.%d.1:6000", h), fmt.Sprintf("host%d", h)))
	}
	p.mustDo("POST", "/clusters/meta/moved", `{"node_number":4}`)
	want := string(p.mustDo("GET", "/metadata", ""))
	if err := p.kill(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "metadata")
	runFulcrum(t, nil, "export-meta", "--data-dir", from, ">", file)

	etcdEnv := []string{"FULCRUM_ETCD_ENDPOINTS=" + eps, "FULCRUM_ETCD_PREFIX=" + prefix}
	runFulcrum(t, etcdEnv, "import-meta", file)
	p = startFulcrum(t, t.TempDir(), listen, "--etcd-endpoints", eps, "--etcd-prefix", prefix, "--etcd-lease-ttl", "1s")
	waitLeader(t, p)
	if got := string(p.mustDo("GET", "/metadata", "")); got != want {
		t.Fatalf("state served from etcd\n got %s\nwant %s", got, want)
	}
	if out, err := fulcrumCommand(etcdEnv, "import-meta", file).CombinedOutput(); err == nil || !strings.Contains(string(out), "leads") {
		t.Fatalf("import-meta while an instance leads: %v\n%s", err, out)
	}
	if err := p.kill(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	exported := filepath.Join(t.TempDir(), "exported")
	runFulcrum(t, nil, "export-meta", "--etcd-endpoints", eps, "--etcd-prefix", prefix, ">", exported)
	if got, _ := os.ReadFile(exported); strings.TrimSpace(string(got)) != want {
		t.Fatalf("export-meta from etcd\n got %s\nwant %s", got, want)
	}
	to := t.TempDir()
	runFulcrum(t, nil, "import-meta", "--data-dir", to, exported)
	p = startFulcrum(t, to, listen)
	if got := string(p.mustDo("GET", "/metadata", "")); got != want {
		t.Fatalf("state back in bbolt\n got %s\nwant %s", got, want)
	}
}

func fulcrumCommand(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(fulcrumBin, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// runFulcrum runs the binary, fails the test if it fails, and returns its output; "> file"
// also writes the output there.
func runFulcrum(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	var out string
	if n := len(args); n >= 2 && args[n-2] == ">" {
		args, out = args[:n-2], args[n-1]
	}
	cmd := fulcrumCommand(env, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("fulcrum %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if out != "" {
		if err := os.WriteFile(out, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// waitLeader waits (bounded) until the instance leads, as GET /ha says.
func waitLeader(t *testing.T, p *process) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var body []byte
		resp, err := client.Get(p.base + "/ha")
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil && strings.Contains(string(body), `"role":"leader"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not leading after 30s: %s %v", body, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
