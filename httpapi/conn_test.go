package httpapi_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawRequest sends raw bytes on a new connection and reads one response. The read deadline
// dialServer opens a connection to the server, closed when the test ends; the deadline
// bounds every read and write on it.
func dialServer(t *testing.T, s *testServer) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// bounds the wait: a request that is never answered fails here instead of hanging.
func rawRequest(t *testing.T, s *testServer, raw string) (*http.Response, string) {
	t.Helper()
	c := dialServer(t, s)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to %q: %v", raw, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestBareLFRequestsAnsweredAtOnce: fasthttp waits for CRLFCRLF; a request with bare LF
// line ends gets a 400 at once, and no error body echoes request bytes or addresses.
func TestBareLFRequestsAnsweredAtOnce(t *testing.T) {
	s := startServer(t)
	addr := strings.TrimPrefix(s.base, "http://")
	tests := []struct{ name, raw string }{
		{"every line", "GET /api/v2/epoch HTTP/1.1\nHost: x\n\n"},
		{"request line", "GET /api/v2/epoch HTTP/1.1\nHost: x\r\n\r\n"},
		{"a header line", "GET /api/v2/epoch HTTP/1.1\r\nHost: x\nAccept: */*\r\n\r\n"},
		{"the last line", "GET /api/v2/epoch HTTP/1.1\r\nHost: x\r\n\n"},
		{"unknown path", "GET /x HTTP/1.1\nHost: x\n\n"},
	}
	for _, tt := range tests {
		resp, body := rawRequest(t, s, tt.raw)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"INVALID_REQUEST"`) {
			t.Errorf("%s: %d %s, want 400 INVALID_REQUEST", tt.name, resp.StatusCode, body)
		}
		for _, leak := range []string{"GET", "Host", "epoch", "127.0.0.1", addr} {
			if strings.Contains(body, leak) {
				t.Errorf("%s: error body %s echoes %q", tt.name, body, leak)
			}
		}
	}
}

// TestMalformedRequestsDoNotEcho: fasthttp's own refusals answer a fixed message.
func TestMalformedRequestsDoNotEcho(t *testing.T) {
	s := startServer(t)
	tests := []struct{ name, raw string }{
		{"no method", " /api/v2/epoch HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"bad method", "G@T /api/v2/epoch HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"bad header", "GET /api/v2/epoch HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"},
		{"bad content length", "POST /api/v2/epoch HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n"},
	}
	for _, tt := range tests {
		resp, body := rawRequest(t, s, tt.raw)
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("%s: status %d, want 4xx", tt.name, resp.StatusCode)
		}
		for _, leak := range []string{"epoch", "Host", "127.0.0.1", "Bad Header", "zz"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s: error body %s echoes %q", tt.name, body, leak)
			}
		}
	}
}

// TestKeepAliveAfterBodiesWithNewlines: the check reads header blocks only; bodies may hold
// any bytes, and the next request on the connection is checked again.
func TestKeepAliveAfterBodiesWithNewlines(t *testing.T) {
	s := startServer(t)
	c := dialServer(t, s)
	rd := bufio.NewReader(c)
	body := "{\n\"proxy_address\": \"10.0.0.1:6001\",\n\n\"nodes\": [\"10.0.0.1:7001\", \"10.0.0.1:7002\"]\n}\n"
	reqs := []struct {
		raw  string
		want int
	}{
		{"POST /api/v2/proxies/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body, 200},
		{"GET /api/v2/epoch HTTP/1.1\r\nHost: x\r\n\r\n", 200},
		{"GET /api/v2/epoch HTTP/1.1\nHost: x\n\n", 400},
	}
	for i, r := range reqs {
		if _, err := io.WriteString(c, r.raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatalf("request %d: no answer: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != r.want {
			t.Fatalf("request %d: %d %s, want %d", i, resp.StatusCode, b, r.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
