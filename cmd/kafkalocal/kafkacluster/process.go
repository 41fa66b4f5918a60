package kafkacluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// JVM options per node. Up to seven JVMs share a 2-core machine (make test runs 6
// brokers), and test data are a few MB, so heaps stay small.
// Tool runs are short-lived: C1 only and a serial GC start fastest.
var (
	brokerJVMOpts     = []string{"-Xms64m", "-Xmx256m"}
	controllerJVMOpts = []string{"-Xms32m", "-Xmx192m"}
	commonJVMOpts     = []string{
		"-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
		// C1 only: brokers become ready in about 5 s instead of 8-10 s on two
		// cores, and test traffic is too small to miss C2.
		"-XX:TieredStopAtLevel=1",
		"-XX:+ExitOnOutOfMemoryError",
		"-Djava.awt.headless=true",
	}
	toolJVMOpts = []string{"-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"}
)

const (
	formatTimeout = 90 * time.Second
	termTimeout   = 30 * time.Second
	killTimeout   = 10 * time.Second
)

func javaBin() string {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		p := filepath.Join(h, "bin", "java")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "java"
}

func classpath(libDir string) string { return filepath.Join(libDir, "*") }

// format runs StorageTool format for n, which writes meta.properties (with a
// directory.id) into every log dir.
func format(ctx context.Context, l Layout, n Node) error {
	ctx, cancel := context.WithTimeout(ctx, formatTimeout)
	defer cancel()
	args := append([]string{}, toolJVMOpts...)
	args = append(args,
		"-Dlog4j2.configurationFile="+l.Log4jPath(),
		"-cp", classpath(l.LibDir),
		"kafka.tools.StorageTool", "format",
		"-t", l.ClusterID, "-c", l.PropertiesPath(n))
	cmd := exec.CommandContext(ctx, javaBin(), args...)
	out, err := cmd.CombinedOutput()
	logPath := filepath.Join(l.NodeDir(n), "format.log")
	_ = os.WriteFile(logPath, out, 0o644)
	if err != nil {
		return fmt.Errorf("format %s: %w\n%s", n.Name, err, tail(out, 20))
	}
	return nil
}

// procs reaps JVMs started by this process. Without it an in-process user
// (a Go test) would keep zombies around that still look alive to kill(pid, 0).
type procs struct {
	mu   sync.Mutex
	done map[int]chan struct{}
}

func (p *procs) start(l Layout, n Node) (int, error) {
	logf, err := os.OpenFile(l.LogPath(n), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	args := append([]string{}, brokerJVMOpts...)
	if n.Role == "controller" {
		args = append([]string{}, controllerJVMOpts...)
	}
	args = append(args, commonJVMOpts...)
	args = append(args,
		"-Dlog4j2.configurationFile="+l.Log4jPath(),
		"-Dkafka.logs.dir="+l.NodeDir(n),
		"-cp", classpath(l.LibDir),
		"kafka.Kafka", l.PropertiesPath(n))
	cmd := exec.Command(javaBin(), args...)
	cmd.Dir = l.NodeDir(n)
	cmd.Stdout, cmd.Stderr = logf, logf
	// A new session keeps the JVMs alive after "kafkalocal up" exits and out
	// of reach of the terminal's Ctrl-C.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", n.Name, err)
	}
	pid := cmd.Process.Pid
	done := make(chan struct{})
	p.mu.Lock()
	if p.done == nil {
		p.done = map[int]chan struct{}{}
	}
	p.done[pid] = done
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	if err := os.WriteFile(l.PIDPath(n), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return pid, err
	}
	return pid, nil
}

// alive reports whether pid is still the JVM we started for n. Matching the
// command line guards against signalling an unrelated process that reused a
// stale PID.
func (p *procs) alive(l Layout, n Node, pid int) bool {
	if pid <= 0 {
		return false
	}
	p.mu.Lock()
	done, ours := p.done[pid]
	p.mu.Unlock()
	if ours {
		select {
		case <-done:
			return false
		default:
		}
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		if _, serr := os.Stat("/proc/self/cmdline"); serr != nil {
			return true // no procfs (macOS): trust kill(pid, 0)
		}
		return false
	}
	return bytes.Contains(cmdline, []byte(l.PropertiesPath(n)))
}

// stop sends SIGTERM (a broker then does a controlled shutdown), and SIGKILL
// if the JVM has not exited after termTimeout.
func (p *procs) stop(l Layout, n Node, pid int) error {
	if p.alive(l, n, pid) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		if !p.waitExit(l, n, pid, termTimeout) {
			return p.kill(l, n, pid)
		}
	}
	return removeIfExists(l.PIDPath(n))
}

// kill sends SIGKILL at once. The PID file stays if the JVM survives, so a
// later "down" can try again.
func (p *procs) kill(l Layout, n Node, pid int) error {
	if p.alive(l, n, pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !p.waitExit(l, n, pid, killTimeout) {
			return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", n.Name, pid)
		}
	}
	return removeIfExists(l.PIDPath(n))
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (p *procs) waitExit(l Layout, n Node, pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !p.alive(l, n, pid) {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return !p.alive(l, n, pid)
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

func tail(b []byte, lines int) string {
	s := strings.TrimRight(string(b), "\n")
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// tailFile returns the last lines of a file; it reads at most the last 64 KiB
// since JVM logs can grow large.
func tailFile(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const max = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, 0)
	}
	b, _ := io.ReadAll(f)
	return tail(b, lines)
}
