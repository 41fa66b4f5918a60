package ports

import (
	"net"
	"strconv"
	"testing"
)

// Free returns n distinct ports, each free to bind once it returns.
func TestFree(t *testing.T) {
	got, err := Free(8)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 {
		t.Fatalf("%d ports, want 8", len(got))
	}
	seen := map[int]bool{}
	for _, p := range got {
		if p <= 0 || p > 65535 || seen[p] {
			t.Fatalf("ports %v: %d out of range or twice", got, p)
		}
		seen[p] = true
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d not free after Free: %v", p, err)
		}
		ln.Close()
	}
	if none, err := Free(0); err != nil || len(none) != 0 {
		t.Errorf("Free(0) = %v, %v; want none", none, err)
	}
}
