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

// openRequest sends a request's header block announcing n body bytes and the first part
// of the body, and leaves the connection open: the server holds the request (and its share
// of the budget) until the rest comes.
func openRequest(t *testing.T, s *testServer, method, path string, n int, part string, extra string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	head := method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra +
		"Content-Length: " + strconv.Itoa(n) + "\r\n\r\n"
	if _, err := io.WriteString(c, head+part); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

func readResponse(t *testing.T, rd *bufio.Reader) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBodyBudget: a body that does not fit the bytes in flight is refused with 503
// OVERLOADED before it is read (past the first 8 KiB, which fasthttp reads with the
// headers); one bigger than the maximum with 413; both change nothing.
func TestBodyBudget(t *testing.T) {
	const budget, head = 100 << 10, 8 << 10
	s := startServer(t, withBodyBudget(budget))
	body := `{"replica_addresses":["127.0.0.1:17799"]}` + strings.Repeat(" ", 60<<10)
	// The first request holds 60 KiB of the budget while its body is on its way.
	first, firstRd := openRequest(t, s, "PUT", "/api/v2/config", len(body), body[:20<<10], "")
	waitBudgetTaken(t, s, budget-len(body))

	tests := []struct {
		name   string
		n      int
		status int
		code   string
	}{
		{"does not fit now", 50 << 10, 503, "OVERLOADED"},
		{"can never fit", budget + 1, 413, "PAYLOAD_TOO_LARGE"},
		{"fits", 100, 400, "INVALID_REQUEST"}, // admitted; its body is not JSON
	}
	for _, tt := range tests {
		_, rd := openRequest(t, s, "POST", "/api/v2/proxies/meta", tt.n, strings.Repeat("x", min(tt.n, head)), "")
		status, b := readResponse(t, rd)
		if status != tt.status || !strings.Contains(b, `"`+tt.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, status, b, tt.status, tt.code)
		}
	}
	if _, err := io.WriteString(first, body[20<<10:]); err != nil {
		t.Fatal(err)
	}
	if status, b := readResponse(t, firstRd); status != 200 {
		t.Fatalf("the admitted request: %d %s", status, b)
	}
	// The budget is given back: the same body fits again.
	r := s.api("PUT", "/config", body)
	if r.status != 200 {
		t.Fatalf("after the budget is back: %d %s", r.status, r.body)
	}
	if got := s.addresses("/proxies/addresses"); len(got) != 0 {
		t.Fatalf("refused requests registered proxies %v", got)
	}
}

// waitBudgetTaken waits (bounded) until a request of free+1 bytes would be refused, i.e.
// the first request has been admitted and holds its share. The probe asks for 100 Continue,
// so it never holds any of the budget itself.
func waitBudgetTaken(t *testing.T, s *testServer, free int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, rd := openRequest(t, s, "POST", "/api/v2/proxies/meta", free+1, "", "Expect: 100-continue\r\n")
		status, _ := readResponse(t, rd)
		c.Close()
		if status == 503 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the first request was not admitted within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExpectContinueRefusedBeforeTheBody: a client waiting for 100 Continue is told 413 or
// 503 instead, and never sends the body.
func TestExpectContinueRefusedBeforeTheBody(t *testing.T) {
	s := startServer(t, withBodyBudget(1000))
	_, rd := openRequest(t, s, "PUT", "/api/v2/metadata", 5000, "", "Expect: 100-continue\r\n")
	if status, b := readResponse(t, rd); status != 413 || !strings.Contains(b, "PAYLOAD_TOO_LARGE") {
		t.Fatalf("oversized body with Expect: %d %s", status, b)
	}
	// One that fits is continued and served.
	c, rd := openRequest(t, s, "PUT", "/api/v2/config", 23, "", "Expect: 100-continue\r\n")
	if status, _ := readResponse(t, rd); status != 100 {
		t.Fatalf("a fitting body with Expect got %d, want 100 Continue", status)
	}
	io.WriteString(c, `{"replica_addresses":[]}`[:23])
	if status, b := readResponse(t, rd); status != 400 { // 23 bytes cut the JSON short
		t.Fatalf("after 100 Continue: %d %s", status, b)
	}
}

// TestChunkedBodies: a body without a length is read up to the maximum.
func TestChunkedBodies(t *testing.T) {
	s := startServer(t, withBodyBudget(1000))
	send := func(body string) int {
		req, _ := http.NewRequest("PUT", s.base+"/api/v2/config", io.MultiReader(strings.NewReader(body))) // unknown length: chunked
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send(`{"replica_addresses":["127.0.0.1:17799"]}`); got != 200 {
		t.Fatalf("chunked body: %d", got)
	}
	if got := send(`{"replica_addresses":[]}` + strings.Repeat(" ", 2000)); got != 413 {
		t.Fatalf("chunked body over the maximum: %d, want 413", got)
	}
}
