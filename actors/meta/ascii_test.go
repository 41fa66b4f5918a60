package meta

import "testing"

// Addresses and reporter ids are printable ASCII, so that the OpenAPI document's lengths
// (characters) are the server's (bytes).
func TestPrintableASCIIOnly(t *testing.T) {
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"10.0.0.1:6000", true},
		{"redis-1.example.com:6000", true},
		{"h\u00e9st:6000", false},
		{"host:60\x0000", false},
		{"host:6000\x7f", false},
		{"ho st:6000", false},
	} {
		if _, err := ProxyHost(c.addr); (err == nil) != c.ok {
			t.Errorf("ProxyHost(%q) = %v, want ok %v", c.addr, err, c.ok)
		}
	}
	for _, c := range []struct {
		id string
		ok bool
	}{
		{"127.0.0.1:6699", true},
		{"coordinator-1", true},
		{"co\u00f6rd", false},
		{"coord\t1", false},
		{"coord%1", false},
		{"", false},
	} {
		if err := CheckReporter(c.id); (err == nil) != c.ok {
			t.Errorf("CheckReporter(%q) = %v, want ok %v", c.id, err, c.ok)
		}
	}
}
