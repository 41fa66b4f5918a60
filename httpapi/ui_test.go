package httpapi_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/seed248d40c9/fulcrum/httpapi/ui"
)

// TestDashboardAssets: the page and its modules are served with their types and a CSP; an
// unknown asset is the API's JSON 404; /ui sends browsers to /ui/.
func TestDashboardAssets(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/ui/", "text/html; charset=utf-8", `<script type="module" src="app.js">`},
		{"/ui/index.html", "text/html; charset=utf-8", "Fulcrum dashboard"},
		{"/ui/app.js", "text/javascript; charset=utf-8", "import"},
		{"/ui/fleet.js", "text/javascript; charset=utf-8", "/api/v3/metadata"},
		{"/ui/kafka.js", "text/javascript; charset=utf-8", "/balancer/layout"},
		{"/ui/style.css", "text/css; charset=utf-8", ":root"},
	} {
		r := s.do("GET", tc.path, "")
		if r.status != 200 || r.header.Get("Content-Type") != tc.contentType || !strings.Contains(string(r.body), tc.contains) {
			t.Errorf("GET %s: %d %q, body has %q: %v", tc.path, r.status, r.header.Get("Content-Type"), tc.contains, strings.Contains(string(r.body), tc.contains))
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
	}
	for _, path := range []string{"/ui/nope.js", "/ui/static/app.js", "/ui/../openapi.json.js"} {
		wantError(t, s.do("GET", path, ""), 404, "NOT_FOUND")
	}
	wantError(t, s.do("POST", "/ui/", ""), 405, "METHOD_NOT_ALLOWED")
	s.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if r := s.do("GET", "/ui", ""); r.status != 301 || r.header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d, Location %q", r.status, r.header.Get("Location"))
	}
}

// TestDashboardEveryAssetServed: each embedded file answers, so a module the page imports
// cannot be left out of the binary unnoticed.
func TestDashboardEveryAssetServed(t *testing.T) {
	s := startServer(t)
	names := ui.Names()
	if len(names) < 6 {
		t.Fatalf("embedded assets %v", names)
	}
	for _, n := range names {
		if r := s.do("GET", "/ui/"+n, ""); r.status != 200 || r.header.Get("Content-Type") == "" {
			t.Errorf("GET /ui/%s: %d %q", n, r.status, r.header.Get("Content-Type"))
		}
	}
}

// TestDashboardIsOpen: with a token file and a client outside the coordinator networks, the
// page still loads (a browser cannot send a header on navigation), while the API it reads
// does not answer without the token.
func TestDashboardIsOpen(t *testing.T) {
	s := startServer(t, withSecurity(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, nil))
	for _, path := range []string{"/ui/", "/ui/app.js"} {
		if r := s.as("", "GET", path, ""); r.status != 200 {
			t.Errorf("GET %s without a token: %d %s", path, r.status, r.body)
		}
	}
	wantError(t, s.as("", "GET", "/api/v3/metadata", ""), 401, "UNAUTHORIZED")
	wantError(t, s.as("", "GET", "/balancer/layout", ""), 401, "UNAUTHORIZED")
	if r := s.as(testToken, "GET", "/api/v3/metadata", ""); r.status != 200 {
		t.Errorf("GET /api/v3/metadata with the token: %d", r.status)
	}
}
