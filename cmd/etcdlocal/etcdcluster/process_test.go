package etcdcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The test binary doubles as the member binary: Up runs "<binary> member --dir D --id N".
func TestMain(m *testing.M) {
	if len(os.Args) == 6 && os.Args[1] == "member" {
		id, _ := strconv.Atoi(os.Args[5])
		stop := make(chan struct{}) // a member process runs until it is killed
		if err := RunMember(os.Args[3], id-1, stop); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

func put(t *testing.T, endpoints []string, key string) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The first put after a member kill may meet an etcd election: retried, bounded.
	for {
		_, err := cli.Put(ctx, key, "v")
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("put %s: %v", key, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// One cluster's life in process mode: up, reuse, a member killed and restarted, down.
func TestProcessClusterLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, already, err := Up(ctx, dir, os.Args[0], DefaultStartTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Down() })
	if already {
		t.Fatal("a fresh dir reported an existing cluster")
	}
	put(t, c.Endpoints(), "a")

	again, already, err := Up(ctx, dir, os.Args[0], DefaultStartTimeout)
	if err != nil || !already || again.Endpoints()[0] != c.Endpoints()[0] {
		t.Fatalf("second Up: already=%v endpoints=%v err=%v", already, again.Endpoints(), err)
	}

	if err := c.StopMember(0, true); err != nil {
		t.Fatal(err)
	}
	if running(c.Layout.Members[0].PID) {
		t.Fatal("member 1 still running after a kill")
	}
	put(t, c.Endpoints(), "b")
	if err := c.StartMember(ctx, 0); err != nil {
		t.Fatal(err)
	}
	put(t, c.Endpoints()[:1], "c")

	reopened, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	pids := reopened.Layout.Members
	if err := reopened.Down(); err != nil {
		t.Fatal(err)
	}
	for _, m := range pids {
		if running(m.PID) {
			t.Errorf("member %s (pid %d) still running after Down", m.Name, m.PID)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dir left after Down: %v", err)
	}
}

func TestOpenWithoutCluster(t *testing.T) {
	if _, err := Open(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of an empty dir: %v, want ErrNotExist", err)
	}
}

func TestMemberOutOfRange(t *testing.T) {
	c := &Cluster{Dir: t.TempDir(), Layout: &Layout{Members: make([]Member, NumMembers)}}
	for _, i := range []int{-1, NumMembers} {
		if err := c.StopMember(i, true); err == nil {
			t.Errorf("StopMember(%d) accepted", i)
		}
		if err := c.StartMember(context.Background(), i); err == nil {
			t.Errorf("StartMember(%d) accepted", i)
		}
	}
}

// A live process that is not a member (a stale PID reused) is not taken for one, so Up and
// Down never signal it.
func TestRunningOnlyMembers(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("no procfs")
	}
	if running(os.Getpid()) {
		t.Error("the test process itself counts as a running member")
	}
}
