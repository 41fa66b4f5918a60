package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Proc is a server process the harness started (Fulcrum or the reference).
type Proc struct {
	cmd     *exec.Cmd
	URL     string
	Started time.Time     // just before exec
	Ready   time.Duration // from exec to the readiness check passing
	exit    chan error
	log     *os.File
}

// freeAddr finds a free loopback port. Another process could take it before the server
// binds it; on a benchmark machine that is unlikely enough.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// StartProc execs name args (with "{addr}" replaced by a free address), sends its output
// to logPath, and waits until ready(url) says yes or timeout passes.
func StartProc(name string, args []string, logPath string, ready func(url string) bool, timeout time.Duration) (*Proc, error) {
	return StartProcOn(nil, nil, name, args, logPath, ready, timeout)
}

// StartProcOn is StartProc with extra environment variables (KEY=value) and the process
// pinned to cpus (nil: not pinned).
func StartProcOn(cpus []int, env []string, name string, args []string, logPath string, ready func(url string) bool, timeout time.Duration) (*Proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	argv := make([]string, len(args))
	for i, a := range args {
		argv[i] = strings.ReplaceAll(a, "{addr}", addr)
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &Proc{cmd: exec.Command(name, argv...), URL: "http://" + addr, exit: make(chan error, 1), log: log}
	p.cmd.Stdout, p.cmd.Stderr = log, log
	start := time.Now()
	p.Started = start
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	if err := startOn(p.cmd, cpus); err != nil {
		log.Close()
		return nil, err
	}
	go func() { p.exit <- p.cmd.Wait() }()
	for {
		if ready(p.URL) {
			p.Ready = time.Since(start)
			return p, nil
		}
		select {
		case err := <-p.exit:
			log.Close()
			return nil, fmt.Errorf("%s exited before it was ready (%v); log: %s", name, err, logPath)
		case <-time.After(2 * time.Millisecond):
		}
		if time.Since(start) > timeout {
			p.Kill()
			return nil, fmt.Errorf("%s not ready after %s; log: %s", name, timeout, logPath)
		}
	}
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM and waits for the exit (SIGKILL after 30 s).
func (p *Proc) Stop() error {
	defer p.log.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exit:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("exit: %w", err)
		}
		return err
	case <-time.After(30 * time.Second):
		p.Kill()
		return errors.New("did not stop within 30s after SIGTERM; killed")
	}
}

// Kill stops the process at once.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exit
	p.log.Close()
}

var probe = &http.Client{Timeout: time.Second}

// healthy says whether GET url/healthz answers 200.
func healthy(url string) bool {
	resp, err := probe.Get(url + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// serving says whether the server is healthy and answers a real read of cluster name
// under the API prefix api.
func serving(api, name string) func(url string) bool {
	return func(url string) bool {
		if !healthy(url) {
			return false
		}
		resp, err := probe.Get(url + api + "/clusters/meta/" + name)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode == 200 && bytes.HasPrefix(buf.Bytes(), []byte(`{"cluster":{`))
	}
}
