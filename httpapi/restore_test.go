package httpapi_test

import (
	"regexp"
	"strings"
	"testing"
)

func TestPutMetadata(t *testing.T) {
	src := startServer(t)
	exampleStore(src)
	doc := string(src.ok("GET", "/metadata", ""))

	dst := startServer(t)
	dst.okEmpty("PUT", "/metadata", doc)
	if got := string(dst.ok("GET", "/metadata", "")); got != doc {
		t.Fatalf("restored metadata\n got %s\nwant %s", got, doc)
	}
	if got, want := string(dst.ok("GET", "/proxies/meta/10.0.0.1:6001", "")), string(src.ok("GET", "/proxies/meta/10.0.0.1:6001", "")); got != want {
		t.Fatalf("restored proxy view differs\n got %s\nwant %s", got, want)
	}
	f := func(body string, status int, code string) {
		t.Helper()
		wantError(t, dst.api("PUT", "/metadata", body), status, code)
		if got := string(dst.ok("GET", "/metadata", "")); got != doc {
			t.Fatal("a refused PUT /metadata changed the state")
		}
	}
	f(strings.Replace(doc, "mem-broker-0.2", "mem-broker-0.1", 1), 409, "INVALID_META_VERSION")
	f(`{"version":"mem-broker-0.2"}`, 400, "INVALID_METADATA")
	f(`{"version":`, 400, "INVALID_METADATA")
	f("", 400, "INVALID_REQUEST")
	f(strings.Replace(doc, `"global_epoch":`, `"global_epoch":99999,"global_epoch":`, 1), 400, "INVALID_METADATA") // duplicate key
	f(strings.Replace(doc, `"all_proxies":`, `"All_Proxies":`, 1), 400, "INVALID_METADATA")                        // wrong case
	f(strings.Replace(doc, `[[0,8191]]`, `[[0,8000]]`, 1), 400, "INVALID_METADATA")
	epochField := regexp.MustCompile(`"global_epoch":\d+`)
	f(epochField.ReplaceAllString(doc, `"global_epoch":18446744073709551615`), 400, "EPOCH_OUT_OF_RANGE")
	f(epochField.ReplaceAllString(doc, `"global_epoch":9223372036854775809`), 400, "EPOCH_OUT_OF_RANGE")
	dst.okEmpty("PUT", "/epoch/50", "")
	doc = string(dst.ok("GET", "/metadata", ""))
	wantError(t, dst.api("PUT", "/metadata", epochField.ReplaceAllString(doc, `"global_epoch":3`)), 409, "EPOCH_SMALLER_THAN_CURRENT")
	// undermoon's order: version, then epoch, then the document. Stale and broken is stale.
	broken := strings.Replace(epochField.ReplaceAllString(doc, `"global_epoch":3`), `[[0,8191]]`, `[[0,8000]]`, 1)
	wantError(t, dst.api("PUT", "/metadata", broken), 409, "EPOCH_SMALLER_THAN_CURRENT")
	wantError(t, dst.api("PUT", "/metadata", strings.Replace(broken, "mem-broker-0.2", "mem-broker-0.1", 1)), 409, "INVALID_META_VERSION")
}

// TestEpochBounds: PUT /epoch refuses an epoch that leaves no room to grow, so the next
// change cannot wrap the global epoch to 0.
func TestEpochBounds(t *testing.T) {
	s := startServer(t)
	s.addHosts(2, 1)
	before := s.epoch()
	for _, n := range []string{"18446744073709551615", "9223372036854775809"} {
		wantError(t, s.api("PUT", "/epoch/"+n, ""), 400, "EPOCH_OUT_OF_RANGE")
	}
	wantError(t, s.api("PUT", "/epoch/18446744073709551616", ""), 400, "INVALID_REQUEST")
	if s.epoch() != before {
		t.Fatal("a refused PUT /epoch changed the epoch")
	}
	s.okEmpty("PUT", "/epoch/9223372036854775808", "")
	s.okEmpty("POST", "/clusters/meta/c", `{"node_number":4}`)
	if got := s.epoch(); got != 1<<63+1 {
		t.Fatalf("epoch after a change at 2^63 = %d, want 2^63+1", got)
	}
}

func TestBrokerConfig(t *testing.T) {
	s := startServer(t)
	if got := string(s.ok("GET", "/config", "")); got != `{"replica_addresses":[]}` {
		t.Fatalf("GET /config = %s", got)
	}
	s.okEmpty("PUT", "/config", `{"replica_addresses":["127.0.0.1:27799","127.0.0.1:17799"]}`)
	if got := string(s.ok("GET", "/config", "")); got != `{"replica_addresses":["127.0.0.1:17799","127.0.0.1:27799"]}` {
		t.Fatalf("GET /config = %s", got)
	}
	wantError(t, s.api("PUT", "/config", `{"replica_addresses":"a:1"}`), 400, "INVALID_REQUEST")
	wantError(t, s.api("PUT", "/config", `{}`), 400, "INVALID_REQUEST")
	wantError(t, s.api("PUT", "/config", `{"replica_addresses":["nope"]}`), 400, "INVALID_REQUEST")
	s.okEmpty("PUT", "/config", `{"replica_addresses":[]}`)
}

func TestEpochRecoveryRoute(t *testing.T) {
	s := startServer(t)
	s.addProxy("127.0.0.1:1", "", "127.0.0.1:2", "127.0.0.1:3") // nothing listens there
	before := s.epoch()
	if got := string(s.ok("PUT", "/epoch/recovery", "")); got != `{"failed_addresses":["127.0.0.1:1"]}` {
		t.Fatalf("PUT /epoch/recovery = %s", got)
	}
	if want := max(0+2, before+1); s.epoch() != want { // max(highest proxy epoch (none answered) + 2, global + 1)
		t.Fatalf("epoch after recovery %d, want %d", s.epoch(), want)
	}
	s.okEmpty("PUT", "/epoch/40", "") // the numeric route still works beside /epoch/recovery
	if s.epoch() != 40 {
		t.Fatal("PUT /epoch/40 did not apply")
	}
}
