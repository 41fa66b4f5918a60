package httpapi_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestHealthz(t *testing.T) {
	s := startServer(t)
	r := s.do("GET", "/healthz", "")
	if r.status != http.StatusOK || string(r.body) != `{"status":"ok"}` {
		t.Fatalf("GET /healthz: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
}

func TestMetricsExposeHTTPAndStoreMetrics(t *testing.T) {
	s := startServer(t)
	s.addProxy("10.0.0.1:6001", "", "10.0.0.1:7001", "10.0.0.1:7002") // one store commit
	s.api("GET", "/no/such/endpoint", "")

	r := s.do("GET", "/metrics", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want Prometheus text format", ct)
	}
	text := string(r.body)
	for _, want := range []string{
		`fulcrum_http_requests_total{method="POST",route="/api/v2/proxies/meta",status="200"} 1`,
		`fulcrum_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		"# TYPE fulcrum_store_commit_seconds histogram",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	m := regexp.MustCompile(`(?m)^fulcrum_store_commit_seconds_count (\d+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no fulcrum_store_commit_seconds_count in\n%s", text)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 {
		t.Errorf("fulcrum_store_commit_seconds_count = %d after a registration, want >= 1", n)
	}
}

func TestVersionIsPlainText(t *testing.T) {
	s := startServer(t)
	r := s.api("GET", "/version", "")
	if r.status != http.StatusOK || string(r.body) != "9.9.9-test" {
		t.Fatalf("GET /version: %d %q", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}
}

func TestUnknownPathIsJSON404(t *testing.T) {
	s := startServer(t)
	f := func(method, path string) {
		t.Helper()
		wantError(t, s.do(method, path, ""), http.StatusNotFound, "NOT_FOUND")
	}
	f("GET", "/api/v2/nope")
	f("GET", "/")
	f("GET", "/api/v4/clusters/names")   // only v2 and v3 are served
	f("GET", "/api/v2/clusters/names/")  // no redirect on a trailing slash
	f("GET", "/api/v2/proxies/meta/a/b") // too many segments
}

func TestWrongMethodIsJSON405(t *testing.T) {
	s := startServer(t)
	f := func(method, path, allow string) {
		t.Helper()
		r := s.do(method, path, "")
		wantError(t, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		// RFC 9110 §15.5.6: a 405 lists the allowed methods.
		if got := r.header.Get("Allow"); !strings.Contains(got, allow) {
			t.Errorf("%s %s: Allow %q, want it to contain %s", method, path, got, allow)
		}
	}
	f("DELETE", "/api/v2/epoch", "GET")
	f("POST", "/api/v2/clusters/names", "GET")
	f("GET", "/api/v2/proxies/failover/10.0.0.1:6001", "POST")
	f("GET", "/api/v2/resources/failures/check", "POST")
	f("PUT", "/api/v2/proxies/meta", "POST")
	f("POST", "/healthz", "GET")
}

func TestOversizeBodyIsJSON413(t *testing.T) {
	s := startServer(t, withMaxBody(256))
	big := `{"proxy_address":"10.0.0.1:6001","nodes":["10.0.0.1:7001","10.0.0.1:7002"],"host":"` +
		strings.Repeat("h", 1024) + `"}`
	r := s.api("POST", "/proxies/meta", big)
	body := wantError(t, r, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE")
	if msg, _ := body["message"].(string); msg == "" {
		t.Errorf("413 without a message: %s", r.body)
	}
	// Nothing was registered, and a body under the limit still works.
	if got := s.addresses("/proxies/addresses"); len(got) != 0 {
		t.Errorf("addresses after a rejected body: %v", got)
	}
	s.addProxy("10.0.0.1:6001", "", "10.0.0.1:7001", "10.0.0.1:7002")
}

func TestRequestIDIsEchoedOrGenerated(t *testing.T) {
	s := startServer(t)
	for _, id := range []string{"abc-123", strings.Repeat("trace-0123456789", 10)} { // short, and longer than the stack buffer
		req, _ := http.NewRequest("GET", s.base+"/healthz", nil)
		req.Header.Set("X-Request-ID", id)
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Request-ID"); got != id {
			t.Errorf("X-Request-ID %q, want the client's %q", got, id)
		}
	}
	a, b := s.do("GET", "/healthz", "").header.Get("X-Request-ID"), s.do("GET", "/healthz", "").header.Get("X-Request-ID")
	if a == "" || b == "" || a == b {
		t.Errorf("generated request ids %q and %q, want two distinct non-empty ids", a, b)
	}
}

// Once the engine is stopped (shutdown order: server drains, then engine stops) requests
// that still arrive get a JSON 503, not a hang or a misleading error.
func TestRequestsAfterEngineStopAre503(t *testing.T) {
	s := startServer(t)
	s.addProxy("10.0.0.1:6001", "", "10.0.0.1:7001", "10.0.0.1:7002")
	if err := s.eng.Stop(); err != nil {
		t.Fatal(err)
	}
	f := func(method, path, body string) {
		t.Helper()
		wantError(t, s.api(method, path, body), http.StatusServiceUnavailable, "UNAVAILABLE")
	}
	f("GET", "/epoch", "")
	f("GET", "/clusters/names", "")
	f("GET", "/proxies/meta/10.0.0.1:6001", "")
	f("POST", "/proxies/meta", `{"proxy_address":"10.0.0.2:6002","nodes":["10.0.0.2:7003","10.0.0.2:7004"]}`)
	f("GET", "/metadata", "")
	if r := s.do("GET", "/healthz", ""); r.status != http.StatusOK {
		t.Errorf("healthz after engine stop: %d", r.status)
	}
}
