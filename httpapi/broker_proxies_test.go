package httpapi_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// Proxy registration and deregistration, and the paged listings.

func TestAddProxy(t *testing.T) {
	s := startServer(t)
	f := func(body string, status int, code string) {
		t.Helper()
		wantError(t, s.api("POST", "/proxies/meta", body), status, code)
	}
	const bad, badAddr = http.StatusBadRequest, "INVALID_PROXY_ADDRESS"
	f(``, bad, "INVALID_REQUEST")
	f(`{`, bad, "INVALID_REQUEST")
	f(`[]`, bad, "INVALID_REQUEST")
	f(`{"nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, "INVALID_REQUEST")                      // no proxy_address
	f(`{"proxy_address":"10.0.0.1:6001"}`, bad, "INVALID_REQUEST")                                // no nodes
	f(`{"proxy_address":6001,"nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, "INVALID_REQUEST") // wrong type
	f(`{"proxy_address":"10.0.0.1:6001","nodes":"10.0.0.1:7001"}`, bad, "INVALID_REQUEST")
	f(`{"proxy_address":"10.0.0.1:6001","nodes":["10.0.0.1:7001"]}`, bad, "INVALID_REQUEST")
	f(`{"proxy_address":"10.0.0.1:6001","nodes":["a:1","b:1","c:1"]}`, bad, "INVALID_REQUEST")
	f(`{"proxy_address":"10.0.0.1:6001","nodes":["10.0.0.1:7001","10.0.0.1:7002"],"host":5}`, bad, "INVALID_REQUEST")
	f(`{"proxy_address":"10.0.0.1:6001","nodes":["10.0.0.1:7001","10.0.0.1:7002"],"index":"1"}`, bad, "INVALID_REQUEST")
	f(`{"proxy_address":"10.0.0.1","nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, badAddr) // no port
	f(`{"proxy_address":"10.0.0.1:6001:1","nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, badAddr)
	f(`{"proxy_address":"10.0.0.1:6001","proxy_address":"10.0.0.2:6001","nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, "INVALID_REQUEST") // duplicate key
	f(`{"Proxy_Address":"10.0.0.1:6001","nodes":["10.0.0.1:7001","10.0.0.1:7002"]}`, bad, "INVALID_REQUEST")                                 // wrong case
	if got := s.addresses("/proxies/addresses"); len(got) != 0 {
		t.Fatalf("refused registrations left proxies %v", got)
	}
	if e := s.epoch(); e != 0 {
		t.Fatalf("refused registrations moved the epoch to %d", e)
	}

	// host may be null; unknown fields are ignored (as undermoon).
	s.okEmpty("POST", "/proxies/meta", `{"proxy_address":"10.0.0.1:6001","nodes":["10.0.0.1:7001","10.0.0.1:7002"],"host":null,"extra":1}`)
	if e := s.epoch(); e != 1 {
		t.Errorf("epoch after a registration = %d, want 1", e)
	}
	// Re-registering is 409 and changes nothing: no epoch bump, nodes kept (as undermoon).
	f(`{"proxy_address":"10.0.0.1:6001","nodes":["9.9.9.9:1","9.9.9.9:2"]}`, http.StatusConflict, "ALREADY_EXISTED")
	if e := s.epoch(); e != 1 {
		t.Errorf("epoch after a duplicate registration = %d, want 1", e)
	}
	want := `{"proxy":{"address":"10.0.0.1:6001","epoch":1,"nodes":[],"free_nodes":["10.0.0.1:7001","10.0.0.1:7002"],"peers":[],"clusters_config":{}}}`
	if got := s.ok("GET", "/proxies/meta/10.0.0.1:6001", ""); string(got) != want {
		t.Errorf("free proxy view\n got %s\nwant %s", got, want)
	}
	if got := s.ok("GET", "/proxies/meta/10.0.0.9:6009", ""); string(got) != `{"proxy":null}` {
		t.Errorf("view of an unknown proxy = %s, want {\"proxy\":null}", got)
	}
}

// undermoon's registration: an explicit host wins over the address's; allocation spreads over hosts.
func TestAddProxyHostDecidesPlacement(t *testing.T) {
	s := startServer(t)
	// Four proxies on one host: no chunk can be formed.
	for i := 1; i <= 4; i++ {
		s.addProxy(fmt.Sprintf("10.0.0.%d:6001", i), "rack1", fmt.Sprintf("10.0.0.%d:7001", i), fmt.Sprintf("10.0.0.%d:7002", i))
	}
	wantError(t, s.api("POST", "/clusters/meta/c1", `{"node_number":4}`), http.StatusConflict, "NO_AVAILABLE_RESOURCE")
	// Fake distinct hosts on one machine work (docs/set_up_manually.md).
	s.addProxy("127.0.0.1:6001", "localhost1", "127.0.0.1:7001", "127.0.0.1:7002")
	s.addProxy("127.0.0.1:6002", "localhost2", "127.0.0.1:7003", "127.0.0.1:7004")
	s.okEmpty("POST", "/clusters/meta/c1", `{"node_number":8}`)
	var md struct {
		Clusters map[string]struct {
			Chunks []struct {
				Hosts [2]string `json:"hosts"`
			} `json:"chunks"`
		} `json:"clusters"`
	}
	s.getJSON("/metadata", &md)
	for i, ch := range md.Clusters["c1"].Chunks {
		if ch.Hosts[0] == ch.Hosts[1] {
			t.Errorf("chunk %d has both proxies on host %s", i, ch.Hosts[0])
		}
	}
	if n := len(md.Clusters["c1"].Chunks); n != 2 {
		t.Errorf("8-node cluster has %d chunks, want 2", n)
	}
}

func TestConcurrentRegistrationsEachBumpTheEpoch(t *testing.T) {
	s := startServer(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf(`{"proxy_address":"10.0.1.%d:6000","nodes":["10.0.1.%d:7000","10.0.1.%d:7001"]}`, i, i, i)
			resp, err := s.client.Post(s.base+"/api/v2/proxies/meta", "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("proxy %d: status %d", i, resp.StatusCode)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if e := s.epoch(); e != n {
		t.Errorf("epoch after %d registrations = %d", n, e)
	}
	if got := s.addresses("/proxies/addresses"); len(got) != n {
		t.Errorf("%d addresses, want %d", len(got), n)
	}
}

func TestDeleteProxy(t *testing.T) {
	s := exampleCluster(t)
	s.addProxy("10.0.0.3:6003", "", "10.0.0.3:7005", "10.0.0.3:7006")
	wantError(t, s.api("DELETE", "/proxies/meta/10.0.0.9:6009", ""), http.StatusNotFound, "PROXY_NOT_FOUND")
	wantError(t, s.api("DELETE", "/proxies/meta/10.0.0.1:6001", ""), http.StatusConflict, "IN_USE")

	before := s.epoch()
	s.okEmpty("DELETE", "/proxies/meta/10.0.0.3:6003", "")
	if e := s.epoch(); e != before+1 {
		t.Errorf("epoch after delete = %d, want %d", e, before+1)
	}
	if got := s.addresses("/proxies/addresses"); !reflect.DeepEqual(got, []string{"10.0.0.1:6001", "10.0.0.2:6002"}) {
		t.Errorf("addresses after delete: %v", got)
	}
	if got := s.ok("GET", "/proxies/meta/10.0.0.3:6003", ""); string(got) != `{"proxy":null}` {
		t.Errorf("view of a deleted proxy: %s", got)
	}
	wantError(t, s.api("DELETE", "/proxies/meta/10.0.0.3:6003", ""), http.StatusNotFound, "PROXY_NOT_FOUND")

	// Once its cluster is gone the proxy can be deleted.
	s.okEmpty("DELETE", "/clusters/meta/mycluster", "")
	s.okEmpty("DELETE", "/proxies/meta/10.0.0.1:6001", "")
}

func TestPagination(t *testing.T) {
	s := startServer(t)
	s.addHosts(3, 2) // 6 proxies on 3 hosts
	for _, name := range []string{"c2", "c1", "c3"} {
		s.okEmpty("POST", "/clusters/meta/"+name, `{"node_number":4}`)
	}
	list := func(path, field string) []string {
		t.Helper()
		var body map[string][]string
		s.getJSON(path, &body)
		v, ok := body[field]
		if !ok || v == nil {
			t.Fatalf("GET %s: no %q list in %v", path, field, body)
		}
		return v
	}
	f := func(path, field string, wantLen int) {
		t.Helper()
		all := list(path, field)
		if len(all) != wantLen {
			t.Fatalf("GET %s: %d entries, want %d: %v", path, len(all), wantLen, all)
		}
		seen := map[string]bool{}
		for _, v := range all {
			if seen[v] {
				t.Errorf("GET %s: %s listed twice", path, v)
			}
			seen[v] = true
		}
		page := func(q string, lo, hi int) {
			t.Helper()
			if hi > len(all) {
				hi = len(all)
			}
			if lo > hi {
				lo = hi
			}
			if got, want := list(path+q, field), all[lo:hi]; !reflect.DeepEqual(got, want) {
				t.Errorf("GET %s%s = %v, want %v", path, q, got, want)
			}
		}
		n := len(all)
		page("?offset=0", 0, n)
		page("?offset=1", 1, n)
		page("?limit=2", 0, 2)
		page("?offset=1&limit=1", 1, 2)
		page("?offset=2&limit=100", 2, n)
		page("?limit=0", 0, 0)
		page(fmt.Sprintf("?offset=%d", n), n, n) // past the end: an empty list, never an error
		page(fmt.Sprintf("?offset=%d&limit=5", n+10), n, n)
		// Paging with limit=2 until the first empty page (the coordinator's loop) sees all.
		var paged []string
		for off := 0; ; off += 2 {
			p := list(fmt.Sprintf("%s?offset=%d&limit=2", path, off), field)
			if len(p) == 0 {
				break
			}
			paged = append(paged, p...)
		}
		if !reflect.DeepEqual(paged, all) {
			t.Errorf("GET %s paged by 2 = %v, want %v", path, paged, all)
		}
		for _, q := range []string{"?offset=x", "?limit=y", "?offset=-1", "?limit=-1", "?offset=1.5", "?limit=1e3"} {
			wantError(t, s.api("GET", path+q, ""), http.StatusBadRequest, "INVALID_REQUEST")
		}
	}
	f("/clusters/names", "names", 3)
	f("/proxies/addresses", "addresses", 6)

	// Failed list, empty then with two proxies.
	if got := s.ok("GET", "/proxies/failed/addresses?offset=5", ""); string(got) != `{"addresses":[]}` {
		t.Errorf("empty failed list past the end: %s", got)
	}
	s.okEmpty("DELETE", "/clusters/meta/c1", "")
	s.okEmpty("DELETE", "/clusters/meta/c2", "")
	free := []string{}
	for _, addr := range list("/proxies/addresses", "addresses") {
		var body struct {
			Proxy struct {
				FreeNodes []string `json:"free_nodes"`
			}
		}
		s.getJSON("/proxies/meta/"+addr, &body)
		if len(body.Proxy.FreeNodes) == 2 && len(free) < 2 {
			free = append(free, addr)
		}
	}
	for _, addr := range free {
		s.ok("POST", "/proxies/failover/"+addr, "")
	}
	f("/proxies/failed/addresses", "addresses", 2)
}
