package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/seed248d40c9/fulcrum/planner"
)

// fulcrumProc is a fulcrum serve process with the balancer on the local Kafka.
type fulcrumProc struct {
	cmd  *exec.Cmd
	base string
	exit chan error
	log  string
	http *http.Client
}

func startFulcrum(bin string, bootstrap []string, tmp string) (*fulcrumProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(tmp, "fulcrum.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	p := &fulcrumProc{
		cmd: exec.Command(bin, "serve", "--listen", addr, "--data-dir", filepath.Join(tmp, "fulcrum-data"),
			"--kafka-bootstrap", strings.Join(bootstrap, ","), "--log-format", "console"),
		base: "http://" + addr, exit: make(chan error, 1), log: logPath,
		http: &http.Client{Timeout: 2 * time.Minute},
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { p.exit <- p.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := p.http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, nil
			}
		}
		select {
		case err := <-p.exit:
			return nil, fmt.Errorf("%s exited at start (%v): %s", bin, err, tailOf(logPath))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			<-p.exit
			return nil, fmt.Errorf("%s not healthy after 30s: %s", bin, tailOf(logPath))
		}
	}
}

// balancerPlan is the part of GET /balancer's answer the comparison uses.
type balancerPlan struct {
	Function string           `json:"function"`
	Changes  []planner.Change `json:"changes"`
}

// balance asks GET /balancer for a plan moving only topics.
func (p *fulcrumProc) balance(ctx context.Context, topics []string, seed uint64, extra string) (balancerPlan, error) {
	q := "topics=" + url.QueryEscape(strings.Join(topics, ",")) + fmt.Sprintf("&seed=%d", seed)
	if extra != "" {
		q += "&" + extra
	}
	req, err := http.NewRequestWithContext(ctx, "GET", p.base+"/balancer?"+q, nil)
	if err != nil {
		return balancerPlan{}, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return balancerPlan{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return balancerPlan{}, err
	}
	if resp.StatusCode != 200 {
		return balancerPlan{}, fmt.Errorf("GET /balancer?%s: %d %s", q, resp.StatusCode, body)
	}
	var plan balancerPlan
	if err := json.Unmarshal(body, &plan); err != nil {
		return balancerPlan{}, fmt.Errorf("GET /balancer: %w in %s", err, body)
	}
	return plan, nil
}

// stop ends the process with SIGTERM, SIGKILL after 30 s.
func (p *fulcrumProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exit:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("fulcrum exit: %w: %s", err, tailOf(p.log))
		}
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exit
		return errors.New("fulcrum did not stop within 30s of SIGTERM; killed")
	}
}

func tailOf(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
