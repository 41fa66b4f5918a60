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
)

// waitFor polls cond every 20ms until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *process) metricsText() string {
	resp, err := client.Get(p.base + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestReplication runs two real processes, the second configured as the first's replica:
// after mutations on the primary, the replica holds the same state within two sync
// intervals; a replica that moved past the primary's epoch refuses its pushes.
func TestReplication(t *testing.T) {
	const interval = 500 * time.Millisecond
	replicaAddr, primaryAddr := freeAddr(t), freeAddr(t)
	replica := startFulcrum(t, t.TempDir(), replicaAddr)
	primary := startFulcrum(t, t.TempDir(), primaryAddr, "--replica-addresses", replicaAddr,
		"--sync-meta-interval", interval.String())
	if got := string(primary.mustDo("GET", "/config", "")); got != fmt.Sprintf(`{"replica_addresses":[%q]}`, replicaAddr) {
		t.Fatalf("primary config %s", got)
	}
	for h := 0; h < 4; h++ {
		primary.mustDo("POST", "/proxies/meta", proxyBody(fmt.Sprintf("10.9.%d.1:6000", h), fmt.Sprintf("host%d", h)))
	}
	primary.mustDo("POST", "/clusters/meta/rep", `{"node_number":4}`)
	primary.mustDo("PATCH", "/clusters/config/rep", `{"compression_strategy":"allow_all"}`)
	want := string(primary.mustDo("GET", "/metadata", ""))
	waitFor(t, 2*interval, "replica converges", func() bool {
		return string(replica.mustDo("GET", "/metadata", "")) == want
	})
	// The replica serves the pushed state through its own actors, not only the store.
	if got, exp := string(replica.mustDo("GET", "/clusters/meta/rep", "")), string(primary.mustDo("GET", "/clusters/meta/rep", "")); got != exp {
		t.Fatalf("replica cluster view\n got %s\nwant %s", got, exp)
	}

	// The replica is promoted and moves on; the old primary's pushes are now refused.
	replica.mustDo("PUT", "/epoch/1000", "")
	primary.mustDo("POST", "/failures/10.9.0.1:6000/coord", "")
	waitFor(t, 4*interval, "refused push counted", func() bool {
		return strings.Contains(primary.metricsText(), fmt.Sprintf(`fulcrum_replication_pushes_total{replica=%q,result="refused"}`, replicaAddr))
	})
	if got := string(replica.mustDo("GET", "/epoch", "")); got != "1000" {
		t.Fatalf("replica epoch after a refused push: %s", got)
	}
	if strings.Contains(string(replica.mustDo("GET", "/failures", "")), "10.9.0.1:6000") {
		t.Fatal("the replica applied a push from a primary behind it")
	}
}

// TestExportImportMetaCommands moves a state out of one stopped Fulcrum as undermoon's meta
// file and into another with the two subcommands, as an operator would.
func TestExportImportMetaCommands(t *testing.T) {
	from, to, listen := t.TempDir(), t.TempDir(), freeAddr(t)
	p := startFulcrum(t, from, listen)
	for h := 0; h < 2; h++ {
		p.mustDo("POST", "/proxies/meta", proxyBody(fmt.Sprintf("10.8.%d.1:6000", h), fmt.Sprintf("host%d", h)))
	}
	p.mustDo("POST", "/clusters/meta/moved", `{"node_number":4}`)
	want := string(p.mustDo("GET", "/metadata", ""))
	if err := p.kill(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(fulcrumBin, "export-meta", "--data-dir", from).Output()
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Fatalf("export-meta: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "metadata")
	os.WriteFile(file, out, 0o600)
	if out, err := exec.Command(fulcrumBin, "import-meta", "--data-dir", to, file).CombinedOutput(); err != nil {
		t.Fatalf("import-meta: %v\n%s", err, out)
	}
	p = startFulcrum(t, to, listen)
	if got := string(p.mustDo("GET", "/metadata", "")); got != want {
		t.Fatalf("imported state\n got %s\nwant %s", got, want)
	}
	// A running Fulcrum holds its store: import-meta fails fast instead of corrupting it.
	if out, err := exec.Command(fulcrumBin, "import-meta", "--data-dir", to, file).CombinedOutput(); err == nil {
		t.Fatalf("import-meta into a running Fulcrum's store succeeded: %s", out)
	}
}
