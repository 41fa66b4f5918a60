package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// serveWith puts the server's middleware around h, serves it on a real listener and
// returns the base URL; everything is stopped when the test ends.
func serveWith(t *testing.T, s *Server, h fasthttp.RequestHandler) string {
	t.Helper()
	s.srv.Handler = s.middleware(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		_ = s.Shutdown()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return "http://" + ln.Addr().String()
}

type rawResponse struct {
	status int
	header http.Header
	body   string
}

func get(url string) (rawResponse, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return rawResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header, string(b)}, err
}

func mustGet(t *testing.T, url string) rawResponse {
	t.Helper()
	r, err := get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return r
}

func checkErrorBody(t *testing.T, r rawResponse, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body struct{ Error, Message string }
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	if body.Error != code || body.Message == "" {
		t.Errorf("body %s, want error %s with a message", r.body, code)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestPanickingHandlerAnswers500AndServerKeepsServing(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Options{Logger: zerolog.Nop(), Registerer: reg})
	base := serveWith(t, s, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/boom" {
			ctx.Response.Header.Set("X-Half-Written", "1")
			ctx.SetBodyString("half a response")
			panic("boom")
		}
		ctx.SetBodyString("alive")
	})

	for i := 0; i < 3; i++ { // repeatedly, on a kept-alive connection
		r := mustGet(t, base+"/boom")
		checkErrorBody(t, r, http.StatusInternalServerError, "INTERNAL_ERROR")
		if strings.Contains(r.body, "half") || r.header.Get("X-Half-Written") != "" {
			t.Errorf("the panicking handler's partial response leaked: %v %s", r.header, r.body)
		}
		if ok := mustGet(t, base+"/fine"); ok.status != http.StatusOK || ok.body != "alive" {
			t.Fatalf("after a panic: %d %q, want 200 alive", ok.status, ok.body)
		}
	}
	if n := counterValue(t, s.metrics.requests.WithLabelValues("GET", "unmatched", "500")); n != 3 {
		t.Errorf("requests_total{status=500} = %v, want 3", n)
	}
	if n := s.inFlight.Load(); n != 0 {
		t.Errorf("in-flight count after the panics = %d, want 0", n)
	}
}

// Every response, a recovered panic's 500 included, carries the request id the middleware
// assigned, so that the client can quote it and the access log can be searched for it.
func TestPanicResponseKeepsRequestID(t *testing.T) {
	s := New(Options{Logger: zerolog.Nop()})
	base := serveWith(t, s, func(ctx *fasthttp.RequestCtx) { panic("boom") })
	req, _ := http.NewRequest("GET", base+"/boom", nil)
	req.Header.Set("X-Request-ID", "req-42")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Request-ID"); got != "req-42" {
		t.Errorf("X-Request-ID of the 500 = %q, want req-42", got)
	}
}

func TestInFlightLimitAnswers503(t *testing.T) {
	s := New(Options{Logger: zerolog.Nop(), MaxInFlight: 1})
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	base := serveWith(t, s, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/slow" {
			entered <- struct{}{}
			<-release
		}
		ctx.SetBodyString("done")
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // runs before the server's cleanup

	slow := make(chan rawResponse, 1)
	go func() {
		r, err := get(base + "/slow")
		if err != nil {
			r = rawResponse{body: err.Error()}
		}
		slow <- r
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request never reached its handler")
	}

	checkErrorBody(t, mustGet(t, base+"/fast"), http.StatusServiceUnavailable, "OVERLOADED")

	unblock()
	select {
	case r := <-slow:
		if r.status != http.StatusOK || r.body != "done" {
			t.Errorf("the request in flight got %d %q, want 200 done", r.status, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request did not finish")
	}
	// The slot is free again.
	if r := mustGet(t, base+"/fast"); r.status != http.StatusOK {
		t.Errorf("after the slow request: %d %s, want 200", r.status, r.body)
	}
}

// The status of every broker code is undermoon's (its code, where its docs differ), and
// every error body is {"error": CODE, "message": ...}.
func TestErrorStatuses(t *testing.T) {
	f := func(err error, status int, code string) {
		t.Helper()
		var ctx fasthttp.RequestCtx
		writeError(&ctx, err)
		if got := ctx.Response.StatusCode(); got != status {
			t.Errorf("%v: status %d, want %d", err, got, status)
		}
		if ct := string(ctx.Response.Header.ContentType()); ct != "application/json" {
			t.Errorf("%v: Content-Type %q", err, ct)
		}
		var body struct{ Error, Message string }
		if e := json.Unmarshal(ctx.Response.Body(), &body); e != nil || body.Error != code || body.Message == "" {
			t.Errorf("%v: body %s, want error %s with a message", err, ctx.Response.Body(), code)
		}
	}
	for _, c := range []struct {
		err    *meta.Error
		status int
	}{
		{meta.ErrInUse, 409}, {meta.ErrNoAvailableResource, 409}, {meta.ErrResourceNotBalance, 409},
		{meta.ErrAlreadyExisted, 409}, {meta.ErrClusterNotFound, 404}, {meta.ErrFreeNodeNotFound, 404},
		{meta.ErrFreeNodeFound, 409}, {meta.ErrProxyNotFound, 404}, {meta.ErrInvalidNodeNumber, 400},
		{meta.ErrNodeNumAlreadyEnough, 409}, {meta.ErrInvalidClusterName, 400}, {meta.ErrInvalidMigrationTask, 400},
		{meta.ErrInvalidProxyAddress, 400}, {meta.ErrMigrationTaskNotFound, 404}, {meta.ErrMigrationRunning, 409},
		{meta.ErrInvalidConfig, 400}, {meta.ErrSlotsAlreadyEven, 400}, {meta.ErrInvalidMetaVersion, 409},
		{meta.ErrEpochSmallerThanCurrent, 409}, {meta.ErrMissingProxyIndex, 400}, {meta.ErrProxyOutOfOrder, 409},
		{meta.ErrOneClusterExisted, 409}, {meta.ErrProxyNotSync, 500}, {meta.ErrNodeNumberChanging, 409},
		{meta.ErrPersistence, 500},
	} {
		f(c.err, c.status, c.err.Code)
	}
	f(fmt.Errorf("%w: disk full", meta.ErrPersistence), 500, "PERSISTENCE_IO_ERROR")
	f(actors.ErrTimeout, 503, "TIMEOUT")
	f(actors.ErrStopped, 503, "UNAVAILABLE")
	f(actors.ErrInternal, 500, "INTERNAL_ERROR")
	f(errors.New("something unexpected"), 500, "INTERNAL_ERROR")
	f(&meta.ConfigError{Key: "k", Value: "v", Message: meta.ConfigFieldNotFound}, 400, "INVALID_CONFIG")
}

func TestPprofIsServed(t *testing.T) {
	srv := New(Options{Logger: zerolog.Nop(), Pprof: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown()
	resp, err := http.Get("http://" + ln.Addr().String() + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("GET /debug/pprof/goroutine: %d %.100s", resp.StatusCode, body)
	}
}
