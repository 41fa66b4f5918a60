package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBigBodiesAreRefusedBeforeReading: 16 concurrent 60 MiB PUT /metadata against the real
// process with its default limits. Each is refused — 503 OVERLOADED before its body is read,
// 413 if bigger than the maximum, or, for one admitted at a time, 400 once read (the body is
// not a valid document) —, the process's peak RSS stays well under 1 GiB, and a small read
// is answered within 2 s meanwhile. Before admission, fasthttp buffered every body whole:
// 16 × 39 MB took 2.19 GB.
func TestBigBodiesAreRefusedBeforeReading(t *testing.T) {
	p := startFulcrum(t, t.TempDir(), freeAddr(t))
	addr := strings.TrimPrefix(p.base, "http://")
	const size, clients = 60 << 20, 16
	var wg sync.WaitGroup
	answers := make(chan string, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers <- putBigBody(addr, size)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	small := &http.Client{Timeout: 2 * time.Second}
	for reads := 0; ; reads++ {
		resp, err := small.Get(p.base + "/api/v2/epoch")
		if err != nil {
			t.Fatalf("a small read was not answered within 2 s while big bodies arrive: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("a small read got %d while big bodies arrive", resp.StatusCode)
		}
		select {
		case <-done:
		case <-time.After(50 * time.Millisecond):
			continue
		}
		break
	}
	close(answers)
	count := map[string]int{}
	for a := range answers {
		count[a]++
	}
	admitted := count["400 INVALID_METADATA"]
	if count["503 OVERLOADED"]+count["413 PAYLOAD_TOO_LARGE"]+admitted != clients || count["503 OVERLOADED"] == 0 {
		t.Fatalf("answers %v: want every body refused, most before being read (503 OVERLOADED)", count)
	}
	peak := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("answers %v; peak RSS %d MiB", count, peak>>20)
	if peak > 768<<20 {
		t.Fatalf("peak RSS %d MiB under 16 concurrent 60 MiB bodies, want well under 1 GiB", peak>>20)
	}
	if ms := p.metadata(); ms.GlobalEpoch != 0 || len(ms.AllProxies) != 0 {
		t.Fatalf("refused bodies changed the state: %+v", ms)
	}
}

// putBigBody sends a PUT /metadata of n bytes over its own connection, writing the body
// while it waits for the answer, and stops writing once the answer comes. It returns
// "<status> <code>", or the error.
func putBigBody(addr string, n int) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	prefix := `{"version":"mem-broker-0.2","global_epoch":0,"junk":"`
	head := "PUT /api/v2/metadata HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n"
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		if _, err := io.WriteString(c, head+prefix); err != nil {
			return
		}
		chunk := bytes.Repeat([]byte("a"), 1<<20)
		left := n - len(prefix) - 2
		for left > 0 {
			select {
			case <-stop:
				return
			default:
			}
			m := min(left, len(chunk))
			if _, err := c.Write(chunk[:m]); err != nil {
				return
			}
			left -= m
		}
		io.WriteString(c, `"}`)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	close(stop)
	if err != nil {
		c.Close()
		<-writerDone
		return err.Error()
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.Close()
	<-writerDone
	code := "?"
	if i := bytes.Index(body, []byte(`"error":"`)); i >= 0 {
		rest := body[i+9:]
		code = string(rest[:bytes.IndexByte(rest, '"')])
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, code)
}

// peakRSS is the process's resident set high-water mark (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
