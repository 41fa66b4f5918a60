//go:build hameta

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
)

// export-meta and import-meta work against etcd as against bbolt: the state a broker on
// etcd serves is exported (flags, or the FULCRUM_ETCD_* variables), imported under another
// prefix, and served from there; and a bbolt store moves to etcd the same way.
func TestHAExportImportMeta(t *testing.T) {
	t.Parallel()
	endpoints := strings.Join(etcdtest.Endpoints(t), ",")
	from := newHABroker(t, "export", 2)
	for _, n := range from.nodes {
		from.start(n)
	}
	leader := from.waitLeader(20 * time.Second)
	for h := range 2 {
		leader.p.mustDo("POST", "/proxies/meta", proxyBody(fmt.Sprintf("10.9.%d.1:6000", h), fmt.Sprintf("host%d", h)))
	}
	leader.p.mustDo("POST", "/clusters/meta/moved", `{"node_number":4}`)
	want := string(from.same("/api/v2/metadata", 20*time.Second))

	run := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(fulcrumBin, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("fulcrum %v: %v\n%s", args, err, stderr)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run(nil, "export-meta", "--etcd-endpoints", endpoints, "--etcd-prefix", from.prefix); got != want {
		t.Fatalf("export-meta with flags\n got %s\nwant %s", got, want)
	}
	if got := run([]string{"FULCRUM_ETCD_ENDPOINTS=" + endpoints, "FULCRUM_ETCD_PREFIX=" + from.prefix}, "export-meta"); got != want {
		t.Fatalf("export-meta with the environment\n got %s\nwant %s", got, want)
	}

	file := filepath.Join(t.TempDir(), "metadata")
	if err := os.WriteFile(file, []byte(want), 0o600); err != nil {
		t.Fatal(err)
	}
	to := newHABroker(t, "import", 1)
	run(nil, "import-meta", "--etcd-endpoints", endpoints, "--etcd-prefix", to.prefix, file)
	to.start(to.nodes[0])
	if got := string(to.same("/api/v2/metadata", 20*time.Second)); got != want {
		t.Fatalf("imported into etcd\n got %s\nwant %s", got, want)
	}

	// bbolt to etcd: a stopped bbolt store's export imported under a fresh prefix.
	dir := t.TempDir()
	run(nil, "import-meta", "--data-dir", dir, file)
	fromBolt := run(nil, "export-meta", "--data-dir", dir)
	moved := newHABroker(t, "moved", 1)
	os.WriteFile(file, []byte(fromBolt), 0o600)
	run(nil, "import-meta", "--etcd-endpoints", endpoints, "--etcd-prefix", moved.prefix, file)
	moved.start(moved.nodes[0])
	if got := string(moved.same("/api/v2/metadata", 20*time.Second)); got != want {
		t.Fatalf("bbolt moved to etcd\n got %s\nwant %s", got, want)
	}
}
