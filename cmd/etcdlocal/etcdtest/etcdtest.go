// Package etcdtest gives tests a real 3-member etcd cluster (etcdcluster).
//
// make test starts one cluster (bin/etcdlocal, one process per member) for every test
// binary and passes its client endpoints in FULCRUM_TEST_ETCD_ENDPOINTS and its dir in
// FULCRUM_TEST_ETCD_DIR. Without them, a test binary whose TestMain calls Main starts one
// cluster inside the test process on first use and stops it at the end. A cluster that
// cannot start fails the test: never a skip.
//
// Tests share the cluster: each keeps its keys under its own Prefix. A test may stop one
// member (Cluster) — two still make a quorum, so the others go on — and must start it again.
package etcdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdcluster"
)

// EnvEndpoints names the variable make test sets to the shared cluster's client endpoints.
const EnvEndpoints = "FULCRUM_TEST_ETCD_ENDPOINTS"

// EnvDir names the variable make test sets to the shared cluster's dir, so that a test can
// stop and start its members.
const EnvDir = "FULCRUM_TEST_ETCD_DIR"

// Members stops and starts the members of a cluster, numbered from 0.
type Members interface {
	StopMember(i int, kill bool) error
	StartMember(ctx context.Context, i int) error
}

var shared struct {
	mu     sync.Mutex // one member change at a time
	once   sync.Once
	local  *etcdcluster.Local
	inMain bool
	err    error
}

// Main runs the tests, then stops the cluster if one was started in this process. Use it
// as: func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m)) }.
func Main(m *testing.M) int {
	shared.inMain = true
	code := m.Run()
	if shared.local != nil {
		if err := shared.local.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "etcdtest: stopping etcd: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Endpoints returns the client endpoints of a running cluster, starting one if needed.
func Endpoints(t testing.TB) []string {
	t.Helper()
	if v := os.Getenv(EnvEndpoints); v != "" {
		return strings.Split(strings.TrimSpace(v), ",")
	}
	return local(t).Endpoints()
}

// Cluster returns a handle to stop and start the members of the cluster Endpoints returns.
// Only one test at a time holds it (until its end), and it must start again what it stops.
func Cluster(t testing.TB) Members {
	t.Helper()
	var m Members
	if v := os.Getenv(EnvEndpoints); v != "" {
		dir := os.Getenv(EnvDir)
		if dir == "" {
			t.Fatalf("etcdtest: %s is set but %s is not", EnvEndpoints, EnvDir)
		}
		c, err := etcdcluster.Open(dir)
		if err != nil {
			t.Fatalf("etcdtest: open the cluster in %s: %v", dir, err)
		}
		m = c
		// Test binaries of several packages share this cluster and run at once: one
		// member down in each would be two of three, no quorum. A file lock in the
		// cluster's dir lets one test of all of them stop members at a time.
		lockMembers(t, dir)
	} else {
		m = local(t)
	}
	shared.mu.Lock()
	t.Cleanup(shared.mu.Unlock)
	return m
}

// lockMembers takes the member lock of the cluster in dir until the test ends.
func lockMembers(t testing.TB, dir string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "members.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("etcdtest: member lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("etcdtest: member lock: %v", err)
	}
	t.Cleanup(func() { f.Close() }) // releases the lock
}

func local(t testing.TB) *etcdcluster.Local {
	t.Helper()
	if !shared.inMain {
		t.Fatal("etcdtest: call etcdtest.Main in TestMain, or set " + EnvEndpoints)
	}
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "fulcrum-etcdtest-")
		if err != nil {
			shared.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		shared.local, shared.err = etcdcluster.StartLocal(ctx, dir, etcdcluster.DefaultStartTimeout)
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "etcdtest: etcd up in %s at %s\n", time.Since(start).Round(100*time.Millisecond), strings.Join(shared.local.Endpoints(), ","))
		}
	})
	if shared.err != nil {
		t.Fatalf("etcdtest: cannot start etcd: %v", shared.err)
	}
	return shared.local
}

// Prefix returns a key prefix unique to this run: tests of several packages share a cluster.
func Prefix(name string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "/fulcrum-test/" + name + "-" + hex.EncodeToString(b[:])
}
