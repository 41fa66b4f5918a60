package actors

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeProxy is a tiny RESP server standing in for an undermoon server proxy: it answers
// UMCTL GETEPOCH with its epoch and an error to anything else (go-redis' HELLO included).
type fakeProxy struct {
	ln    net.Listener
	epoch atomic.Int64
	calls atomic.Int64
	wg    sync.WaitGroup
}

func startFakeProxy(t testing.TB, epoch int64) *fakeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProxy{ln: ln}
	p.epoch.Store(epoch)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *fakeProxy) addr() string { return p.ln.Addr().String() }

func (p *fakeProxy) close() {
	p.ln.Close()
	p.wg.Wait()
}

func (p *fakeProxy) serve() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer conn.Close()
			r := bufio.NewReader(conn)
			for {
				args, err := readCommand(r)
				if err != nil {
					return
				}
				reply := "-ERR unknown command\r\n"
				if len(args) == 2 && strings.EqualFold(args[0], "UMCTL") && strings.EqualFold(args[1], "GETEPOCH") {
					p.calls.Add(1)
					reply = fmt.Sprintf(":%d\r\n", p.epoch.Load())
				}
				if _, err := io.WriteString(conn, reply); err != nil {
					return
				}
			}
		}()
	}
}

// readCommand reads one RESP array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	args := make([]string, 0, n)
	for i := 0; i < n; i++ {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(hdr[1:]))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args = append(args, string(buf[:size]))
	}
	return args, nil
}
