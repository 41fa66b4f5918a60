package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// haServer answers GET /ha with role and revision, and /healthz with 200.
func haServer(t *testing.T, role string, rev int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ha":
			fmt.Fprintf(w, `{"backend":"etcd","role":%q,"instance":"x","leader":"y","revision":%d}`, role, rev)
		case "/healthz":
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHasRole(t *testing.T) {
	for _, c := range []struct {
		serves, wants string
		ok            bool
	}{
		{"leader", "leader", true},
		{"follower", "follower", true},
		{"follower", "leader", false},
		{"unavailable", "follower", false},
	} {
		if got := hasRole(c.wants)(haServer(t, c.serves, 1)); got != c.ok {
			t.Errorf("hasRole(%q) of a %s: %v, want %v", c.wants, c.serves, got, c.ok)
		}
	}
}

func TestCaughtUp(t *testing.T) {
	for _, c := range []struct {
		leader, follower int64
		ok               bool
	}{
		{7, 7, true},
		{7, 9, true}, // the leader moved on meanwhile: its read came first
		{7, 6, false},
		{0, 0, false}, // a leader at revision 0 has committed nothing: not ready
	} {
		err := caughtUp(haServer(t, "leader", c.leader), haServer(t, "follower", c.follower), 200*time.Millisecond)
		if (err == nil) != c.ok {
			t.Errorf("leader at %d, follower at %d: %v", c.leader, c.follower, err)
		}
	}
}
