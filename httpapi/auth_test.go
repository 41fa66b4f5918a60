package httpapi

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         access
	}{
		{"GET", "/healthz", accessOpen},
		{"HEAD", "/healthz", accessOpen},
		{"GET", "/openapi.json", accessOpen},
		{"POST", "/healthz", accessToken},
		{"GET", "/metrics", accessCoordinator},
		{"GET", "/debug/pprof/heap", accessCoordinator},
		{"GET", "/api/v2/metadata", accessCoordinator},
		{"GET", "/api/v3/proxies/meta/10.0.0.1:6000", accessCoordinator},
		{"GET", "/balancer", accessCoordinator},
		{"POST", "/api/v2/failures/10.0.0.1:6000/coord1", accessCoordinator},
		{"POST", "/api/v3/failures/10.0.0.1:6000/coord1", accessCoordinator},
		{"POST", "/api/v2/proxies/failover/10.0.0.1:6000", accessCoordinator},
		{"PUT", "/api/v2/clusters/migrations", accessCoordinator},
		{"PUT", "/api/v3/clusters/migrations", accessCoordinator},
		{"POST", "/api/v2/resources/failures/check", accessCoordinator},
		{"PUT", "/api/v2/failures/10.0.0.1:6000/coord1", accessToken},
		{"DELETE", "/api/v2/proxies/failover/10.0.0.1:6000", accessToken},
		{"POST", "/api/v2/clusters/migrations", accessToken},
		{"PUT", "/api/v2/clusters/migrations/x", accessToken},
		{"PUT", "/api/v2/metadata", accessToken},
		{"PUT", "/api/v2/epoch/7", accessToken},
		{"PUT", "/api/v2/epoch/recovery", accessToken},
		{"PUT", "/api/v2/config", accessToken},
		{"POST", "/api/v2/proxies/meta", accessToken},
		{"DELETE", "/api/v2/proxies/meta/10.0.0.1:6000", accessToken},
		{"POST", "/api/v2/clusters/meta/c", accessToken},
		{"POST", "/api/v2/clusters/migrations/auto/c/8", accessToken},
		{"POST", "/balancer", accessToken},
		{"DELETE", "/balancer/5f0f5969-8cbc-4bbb-b18e-b24a05ac1e7e", accessToken},
		{"POST", "/api/v4/failures/a/b", accessToken},
		{"OPTIONS", "/api/v2/metadata", accessToken},
	} {
		if got := classify([]byte(c.method), []byte(c.path)); got != c.want {
			t.Errorf("classify(%s %s) = %d, want %d", c.method, c.path, got, c.want)
		}
	}
}

func TestCoordinatorCall(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/healthz", true},
		{"GET", "/api/v2/clusters/names", true},
		{"GET", "/api/v3/clusters/names", true},
		{"GET", "/api/v2/clusters/meta/mydb", true},
		{"GET", "/api/v2/proxies/addresses", true},
		{"GET", "/api/v2/proxies/meta/10.0.0.1:6000", true},
		{"GET", "/api/v2/proxies/failed/addresses", true},
		{"GET", "/api/v2/failures", true},
		{"POST", "/api/v2/failures/10.0.0.1:6000/coord1", true},
		{"POST", "/api/v2/proxies/failover/10.0.0.1:6000", true},
		{"PUT", "/api/v2/clusters/migrations", true},
		{"GET", "/api/v2/clusters/meta/", false},
		{"GET", "/api/v2/clusters/meta/a/b", false},
		{"GET", "/api/v2/clusters/info/mydb", false},
		{"GET", "/api/v2/metadata", false},
		{"GET", "/api/v2/epoch", false},
		{"GET", "/metrics", false},
		{"GET", "/balancer", false},
		{"PUT", "/api/v2/metadata", false},
		{"POST", "/api/v2/proxies/meta", false},
		{"POST", "/api/v2/failures/10.0.0.1:6000", false},
		{"POST", "/api/v2/failures/10.0.0.1:6000/", false},
		{"POST", "/api/v2/failures/10.0.0.1:6000/a/b", false},
		{"DELETE", "/api/v2/clusters/meta/mydb", false},
	} {
		if got := coordinatorCall([]byte(c.method), []byte(c.path)); got != c.want {
			t.Errorf("coordinatorCall(%s %s) = %v, want %v", c.method, c.path, got, c.want)
		}
	}
}

func TestParseNetworks(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // "" for an error
	}{
		{"127.0.0.0/8", "[127.0.0.0/8]"},
		{"127.0.0.0/8,::1/128", "[127.0.0.0/8 ::1/128]"},
		{" 10.1.2.3/8 , 192.168.0.7 ", "[10.0.0.0/8 192.168.0.7/32]"},
		{"fd00::/8", "[fd00::/8]"},
		{"", ""},
		{",", ""},
		{"10.0.0.0/33", ""},
		{"example.com", ""},
	} {
		got, err := ParseNetworks(c.in)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("ParseNetworks(%q) = %v, want an error", c.in, got)
		case c.want != "" && (err != nil || fmtPrefixes(got) != c.want):
			t.Errorf("ParseNetworks(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func fmtPrefixes(p []netip.Prefix) string {
	s := "["
	for i, x := range p {
		if i > 0 {
			s += " "
		}
		s += x.String()
	}
	return s + "]"
}

func TestTokensFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# operators\n\n  alpha  \nbeta\r\n")
	tok, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		token string
		want  bool
	}{
		{"alpha", true},
		{"beta", true},
		{"# operators", false},
		{"alph", false},
		{"alphaa", false},
		{"", false},
	} {
		if got := tok.valid([]byte(c.token)); got != c.want {
			t.Errorf("valid(%q) = %v, want %v", c.token, got, c.want)
		}
	}
	if tok.First() != "alpha" || tok.Count() != 2 {
		t.Errorf("First %q Count %d, want alpha 2", tok.First(), tok.Count())
	}

	// A reload replaces the tokens; a file without tokens is refused and the old ones stay.
	write("gamma\n")
	if err := tok.Reload(); err != nil || !tok.valid([]byte("gamma")) || tok.valid([]byte("alpha")) {
		t.Fatalf("after reload: %v, gamma %v, alpha %v", err, tok.valid([]byte("gamma")), tok.valid([]byte("alpha")))
	}
	write("# nothing here\n")
	if err := tok.Reload(); !errors.Is(err, ErrNoTokens) || !tok.valid([]byte("gamma")) {
		t.Fatalf("reload of an empty file: %v; gamma still valid: %v", err, tok.valid([]byte("gamma")))
	}
	write("two words\n")
	if err := tok.Reload(); err == nil {
		t.Fatal("a token with a blank was accepted")
	}
	if _, err := LoadTokens(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing token file was accepted")
	}
}
