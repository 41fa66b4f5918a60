package etcdcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// layoutFile in the cluster's dir holds its Layout (process mode).
const layoutFile = "cluster.json"

// DefaultStartTimeout bounds how long Up waits for a leader.
const DefaultStartTimeout = 30 * time.Second

// Cluster is a cluster whose members are processes of the etcdlocal binary.
type Cluster struct {
	Dir    string
	Layout *Layout
}

// Endpoints lists every member's client URL.
func (c *Cluster) Endpoints() []string { return c.Layout.Endpoints() }

func readLayout(dir string) (*Layout, error) {
	buf, err := os.ReadFile(filepath.Join(dir, layoutFile))
	if err != nil {
		return nil, err
	}
	var l Layout
	if err := json.Unmarshal(buf, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", layoutFile, err)
	}
	return &l, nil
}

func (c *Cluster) writeLayout() error {
	buf, err := json.MarshalIndent(c.Layout, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.Dir, layoutFile+".tmp")
	if err := os.WriteFile(tmp, buf, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.Dir, layoutFile))
}

// Open returns the cluster described in dir (os.ErrNotExist if none).
func Open(dir string) (*Cluster, error) {
	l, err := readLayout(dir)
	if err != nil {
		return nil, err
	}
	return &Cluster{Dir: dir, Layout: l}, nil
}

// Up starts a new cluster in dir, one process of binary (run as "binary member --dir dir
// --id N") per member, and returns once it has a leader. A cluster already running in dir
// is reused (already is then true). If the cluster cannot start, what was started is
// stopped and the error names the members' logs.
func Up(ctx context.Context, dir, binary string, timeout time.Duration) (c *Cluster, already bool, err error) {
	if c, err := Open(dir); err == nil {
		if c.alive() == NumMembers && WaitLeader(ctx, c.Endpoints(), 5*time.Second) == nil {
			return c, true, nil
		}
		if err := c.Down(); err != nil {
			return nil, false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, err
	}
	l, err := newLayout()
	if err != nil {
		return nil, false, err
	}
	abs, err := filepath.Abs(binary)
	if err != nil {
		return nil, false, err
	}
	l.Binary = abs
	c = &Cluster{Dir: dir, Layout: l}
	if err := c.writeLayout(); err != nil {
		return nil, false, err
	}
	for i := range l.Members {
		if err := c.spawn(i); err != nil {
			c.Down()
			return nil, false, err
		}
	}
	if err := WaitLeader(ctx, c.Endpoints(), timeout); err != nil {
		logs := c.logTails()
		c.Down()
		return nil, false, fmt.Errorf("%w\n%s", err, logs)
	}
	return c, false, nil
}

// logTails returns the end of every member's logs, for an error: Down removes them.
func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, m := range c.Layout.Members {
		for _, name := range []string{m.Name + ".out", m.Name + ".log"} {
			buf, _ := os.ReadFile(filepath.Join(c.Dir, name))
			lines := strings.Split(strings.TrimSpace(string(buf)), "\n")
			fmt.Fprintf(&b, "--- %s (last lines)\n%s\n", name, strings.Join(lines[max(0, len(lines)-10):], "\n"))
		}
	}
	return b.String()
}

// children are the member processes this process started, reaped as they exit so that a
// stopped member is seen gone (a zombie would still answer kill 0).
var children sync.Map // pid → chan struct{} closed on exit

func (c *Cluster) spawn(i int) error {
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.Layout.Binary, "member", "--dir", abs, "--id", strconv.Itoa(i+1))
	out, err := os.OpenFile(filepath.Join(c.Dir, c.Layout.Members[i].Name+".out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	// Its own session: a Ctrl-C in the terminal that ran "up" does not reach the members;
	// "down" stops them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start member %s: %w", c.Layout.Members[i].Name, err)
	}
	done := make(chan struct{})
	children.Store(cmd.Process.Pid, done)
	go func() { cmd.Wait(); close(done) }()
	c.Layout.Members[i].PID = cmd.Process.Pid
	return c.writeLayout()
}

func running(pid int) bool {
	if pid <= 0 {
		return false
	}
	if done, ok := children.Load(pid); ok {
		select {
		case <-done.(chan struct{}):
			return false
		default:
			return true
		}
	}
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A PID from cluster.json may have been reused by an unrelated process (the dir outlived
	// a reboot or a crash): only a member process ("<binary> member --dir ...") counts, so
	// that Up and Down never signal anything else, as kafkalocal checks its brokers'.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && !bytes.Contains(cmdline, []byte("\x00member\x00--dir\x00")) {
		return false
	}
	// A killed member whose parent ("up", long gone) was replaced by a reaper that has not
	// reaped it yet is a zombie: dead, though kill 0 still finds it.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

func (c *Cluster) alive() int {
	n := 0
	for _, m := range c.Layout.Members {
		if running(m.PID) {
			n++
		}
	}
	return n
}

// StopMember stops member i (0-based): SIGTERM and a wait of up to 10 s, or at once with
// SIGKILL (a crash) when kill is true.
func (c *Cluster) StopMember(i int, kill bool) error {
	if i < 0 || i >= len(c.Layout.Members) {
		return fmt.Errorf("no member %d", i+1)
	}
	pid := c.Layout.Members[i].PID
	if !running(pid) {
		return nil
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return err
	}
	if exited(pid, 10*time.Second) {
		return nil
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if exited(pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("member %s (pid %d) does not exit", c.Layout.Members[i].Name, pid)
}

func exited(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for running(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// StartMember restarts stopped member i (0-based) on its data and waits until the cluster
// has a leader again.
func (c *Cluster) StartMember(ctx context.Context, i int) error {
	if i < 0 || i >= len(c.Layout.Members) {
		return fmt.Errorf("no member %d", i+1)
	}
	if running(c.Layout.Members[i].PID) {
		return fmt.Errorf("member %s is running", c.Layout.Members[i].Name)
	}
	if err := c.spawn(i); err != nil {
		return err
	}
	return WaitLeader(ctx, []string{c.Layout.Members[i].ClientURL()}, DefaultStartTimeout)
}

// Down kills every member and removes the cluster's dir. A graceful stop would only slow
// this down (a stopping leader tries to hand over to members that are stopping too), and
// the data is removed anyway.
func (c *Cluster) Down() error {
	var errs []error
	for i := range c.Layout.Members {
		if err := c.StopMember(i, true); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return os.RemoveAll(c.Dir)
}

// WaitLeader waits until every one of endpoints answers and reports a leader, for at most
// timeout.
func WaitLeader(ctx context.Context, endpoints []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, Context: ctx, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	var last error
	for {
		last = nil
		for _, ep := range endpoints {
			sctx, scancel := context.WithTimeout(ctx, time.Second)
			st, err := cli.Status(sctx, ep)
			scancel()
			switch {
			case err != nil:
				last = fmt.Errorf("%s: %w", ep, err)
			case st.Leader == 0:
				last = fmt.Errorf("%s: no leader", ep)
			}
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd: no leader after %s: %w", timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
