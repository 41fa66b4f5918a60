package main

// Black-box tests: they run bin/fulcrum as a real process (FULCRUM_BIN, set by make test,
// or built here), talk to it over loopback HTTP and kill it with real signals.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
)

var fulcrumBin string

func TestMain(m *testing.M) {
	fulcrumBin = os.Getenv("FULCRUM_BIN")
	if fulcrumBin == "" {
		dir, err := os.MkdirTemp("", "fulcrum-bin")
		if err != nil {
			panic(err)
		}
		fulcrumBin = filepath.Join(dir, "fulcrum")
		out, err := exec.Command("go", "build", "-o", fulcrumBin, ".").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building fulcrum: %v\n%s", err, out)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
	}
	code := etcdtest.Main(m) // a 3-member etcd for the HA tests, unless make test runs one
	os.Exit(code)
}

type process struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	log  *logBuffer
	done chan error
}

// logBuffer is the process's output: exec's copying goroutine writes it while a test may
// read it (a log line awaited, a failure message).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// startFulcrum runs `fulcrum serve` and waits (bounded) until /healthz answers.
func startFulcrum(t *testing.T, dataDir, listen string, extra ...string) *process {
	t.Helper()
	p := launch(t, endpoint{t, "http://" + listen, client}, "warn", append([]string{"--listen", listen, "--data-dir", dataDir}, extra...)...)
	p.base = "http://" + listen
	return p
}

// launch runs `fulcrum serve --log-level level args...` and waits (bounded) until health
// answers /healthz with 200.
func launch(t *testing.T, health endpoint, level string, args ...string) *process {
	t.Helper()
	p := &process{t: t, log: &logBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(fulcrumBin, append([]string{"serve", "--log-level", level}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := health.client.Get(health.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("fulcrum exited at start: %v\n%s", err, p.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fulcrum did not answer /healthz in 15s\n%s", p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends sig and waits (bounded) for the exit; it returns the exit error.
func (p *process) kill(sig syscall.Signal, within time.Duration) error {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		return err
	case <-time.After(within):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("fulcrum did not exit within %v after %v\n%s", within, sig, p.log)
		return nil
	}
}

func (p *process) do(method, path, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, p.base+"/api/v2"+path, bytes.NewBufferString(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (p *process) mustDo(method, path, body string) []byte {
	p.t.Helper()
	code, b, err := p.do(method, path, body)
	if err != nil || code != 200 {
		p.t.Fatalf("%s %s: %d %s %v", method, path, code, b, err)
	}
	return b
}

func (p *process) metadata() *meta.MetaStore {
	p.t.Helper()
	var ms meta.MetaStore
	if err := json.Unmarshal(p.mustDo("GET", "/metadata", ""), &ms); err != nil {
		p.t.Fatal(err)
	}
	return &ms
}

func proxyBody(addr, host string) string {
	return fmt.Sprintf(`{"proxy_address":%q,"nodes":[%q,%q],"host":%q}`, addr, addr+"0", addr+"1", host)
}

// acked records what the server acknowledged; it must all be there after a crash.
type acked struct {
	mu       sync.Mutex
	proxies  []string
	clusters map[string]bool // true: last ack created it, false: last ack deleted it
	// unsure holds clusters whose last request got no answer (the process died): it may or
	// may not have been applied.
	unsure  map[string]bool
	reports []string
}

// drive sends random valid mutations from several clients until stop closes.
func drive(p *process, worker int, stop <-chan struct{}, a *acked, wg *sync.WaitGroup) {
	defer wg.Done()
	rnd := rand.New(rand.NewSource(int64(worker)))
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		switch rnd.Intn(7) {
		case 0, 1:
			addr := fmt.Sprintf("10.%d.%d.%d:6000", worker, i/256, i%256)
			if code, _, err := p.do("POST", "/proxies/meta", proxyBody(addr, fmt.Sprintf("host%d", rnd.Intn(8)))); err == nil && code == 200 {
				a.mu.Lock()
				a.proxies = append(a.proxies, addr)
				a.mu.Unlock()
			}
		case 2:
			// Each worker owns its cluster names, so its own acks say the final state.
			name := fmt.Sprintf("w%dc%d", worker, rnd.Intn(3))
			method, body := "POST", `{"node_number":4}`
			a.mu.Lock()
			exists := a.clusters[name]
			a.mu.Unlock()
			if exists {
				method, body = "DELETE", ""
			}
			code, _, err := p.do(method, "/clusters/meta/"+name, body)
			a.mu.Lock()
			switch {
			case err != nil:
				a.unsure[name] = true
			case code == 200:
				a.clusters[name] = method == "POST"
			}
			a.mu.Unlock()
		case 3:
			// Never a registered address: registering a proxy clears its reports.
			target := fmt.Sprintf("172.16.%d.%d:6000", worker, rnd.Intn(4))
			reporter := fmt.Sprintf("coord%d-%d", worker, i)
			if code, _, err := p.do("POST", "/failures/"+target+"/"+reporter, ""); err == nil && code == 200 {
				a.mu.Lock()
				a.reports = append(a.reports, target+"|"+reporter)
				a.mu.Unlock()
			}
		case 4:
			// A coordinator's failure handling: report and fail over a seeded proxy.
			target := fmt.Sprintf("192.168.%d.%d:6000", rnd.Intn(8), rnd.Intn(4))
			p.do("POST", "/failures/"+target+"/coord", "")
			p.do("POST", "/proxies/failover/"+target, "")
		case 5:
			// Scaling and config changes on one of the worker's clusters; refusals are fine.
			name := fmt.Sprintf("w%dc%d", worker, rnd.Intn(3))
			switch rnd.Intn(4) {
			case 0:
				p.do("PATCH", "/clusters/nodes/"+name, `{"node_number":4}`)
			case 1:
				p.do("POST", "/clusters/migrations/expand/"+name, "")
			case 2:
				p.do("DELETE", "/clusters/free_nodes/"+name, "")
			default:
				p.do("PATCH", "/clusters/config/"+name, fmt.Sprintf(`{"migration_scan_count":"%d"}`, 1+rnd.Intn(99)))
			}
		case 6:
			// Commit whatever task a cluster shows, as the coordinator does.
			name := fmt.Sprintf("w%dc%d", worker, rnd.Intn(3))
			if code, body, err := p.do("GET", "/clusters/meta/"+name, ""); err == nil && code == 200 {
				var v struct{ Cluster *meta.ClusterView }
				json.Unmarshal(body, &v)
				if v.Cluster != nil {
					for _, n := range v.Cluster.Nodes {
						for _, r := range n.Slots {
							if r.Tag.Kind == meta.TagMigrating {
								task, _ := json.Marshal(map[string]any{"cluster_name": name, "slot_range": r})
								p.do("PUT", "/clusters/migrations", string(task))
							}
						}
					}
				}
			}
		}
	}
}

func (a *acked) check(t *testing.T, ms *meta.MetaStore) {
	t.Helper()
	if err := meta.Validate(ms); err != nil {
		t.Fatalf("invariant broken after restart: %v", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, addr := range a.proxies {
		if ms.AllProxies[addr] == nil {
			t.Fatalf("acknowledged proxy %s lost", addr)
		}
	}
	for name, exists := range a.clusters {
		if a.unsure[name] {
			continue
		}
		if _, ok := ms.Clusters[name]; ok != exists {
			t.Fatalf("cluster %s: acknowledged exists=%v, store has %v", name, exists, ok)
		}
	}
	for _, r := range a.reports {
		target, reporter := splitReport(r)
		if _, ok := ms.Failures[target][reporter]; !ok {
			t.Fatalf("acknowledged failure report %s lost", r)
		}
	}
}

func splitReport(r string) (string, string) {
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] == '|' {
			return r[:i], r[i+1:]
		}
	}
	return r, ""
}

// reseed re-registers the seeded proxies, which clears their failure marks.
func reseed(p *process) {
	for h := 0; h < 8; h++ {
		for i := 0; i < 4; i++ {
			p.do("POST", "/proxies/meta", proxyBody(fmt.Sprintf("192.168.%d.%d:6000", h, i), fmt.Sprintf("host%d", h)))
		}
	}
}

// seed registers proxies on 8 hosts so that clusters can be created.
func seed(p *process, a *acked) {
	for h := 0; h < 8; h++ {
		for i := 0; i < 4; i++ {
			addr := fmt.Sprintf("192.168.%d.%d:6000", h, i)
			p.mustDo("POST", "/proxies/meta", proxyBody(addr, fmt.Sprintf("host%d", h)))
			a.proxies = append(a.proxies, addr)
		}
	}
}

func TestKillDashNineLosesNothingAcknowledged(t *testing.T) {
	dir, listen := t.TempDir(), freeAddr(t)
	a := &acked{clusters: map[string]bool{}, unsure: map[string]bool{}}
	p := startFulcrum(t, dir, listen)
	seed(p, a)
	rnd := rand.New(rand.NewSource(1))
	for round := 0; round < 21; round++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go drive(p, round*8+w, stop, a, &wg)
		}
		time.Sleep(time.Duration(50+rnd.Intn(250)) * time.Millisecond)
		p.kill(syscall.SIGKILL, 5*time.Second)
		close(stop)
		wg.Wait()
		p = startFulcrum(t, dir, listen)
		a.check(t, p.metadata())
		reseed(p) // failovers mark seeded proxies failed; re-registering brings them back
	}
	if len(a.proxies) < 40 {
		t.Fatalf("only %d acknowledged proxies: the load did not run", len(a.proxies))
	}
}

func TestSigtermUnderLoadExitsCleanly(t *testing.T) {
	dir, listen := t.TempDir(), freeAddr(t)
	a := &acked{clusters: map[string]bool{}, unsure: map[string]bool{}}
	p := startFulcrum(t, dir, listen)
	seed(p, a)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go drive(p, w, stop, a, &wg)
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if err := p.kill(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log)
	}
	t.Logf("SIGTERM to exit: %v", time.Since(start))
	close(stop)
	wg.Wait()
	p = startFulcrum(t, dir, listen)
	a.check(t, p.metadata())
}
