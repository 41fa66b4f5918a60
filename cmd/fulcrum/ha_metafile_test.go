package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
)

// export-meta reads a live broker on etcd (two instances serving, one leading: a backup
// needs no stop), with flags or the FULCRUM_ETCD_* variables, and what it wrote, imported
// under another prefix, is served from there. (TestProcessMetaFileThroughEtcd moves a
// stopped deployment between bbolt and etcd.)
func TestHAExportFromALiveBroker(t *testing.T) {
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

	fulcrum := func(env []string, args ...string) string {
		t.Helper()
		return strings.TrimSpace(string(runFulcrum(t, env, args...)))
	}
	if got := fulcrum(nil, "export-meta", "--etcd-endpoints", endpoints, "--etcd-prefix", from.prefix); got != want {
		t.Fatalf("export-meta with flags\n got %s\nwant %s", got, want)
	}
	if got := fulcrum([]string{"FULCRUM_ETCD_ENDPOINTS=" + endpoints, "FULCRUM_ETCD_PREFIX=" + from.prefix}, "export-meta"); got != want {
		t.Fatalf("export-meta with the environment\n got %s\nwant %s", got, want)
	}

	file := filepath.Join(t.TempDir(), "metadata")
	if err := os.WriteFile(file, []byte(want), 0o600); err != nil {
		t.Fatal(err)
	}
	to := newHABroker(t, "import", 1)
	fulcrum(nil, "import-meta", "--etcd-endpoints", endpoints, "--etcd-prefix", to.prefix, file)
	to.start(to.nodes[0])
	if got := string(to.same("/api/v2/metadata", 20*time.Second)); got != want {
		t.Fatalf("imported into etcd\n got %s\nwant %s", got, want)
	}
}
