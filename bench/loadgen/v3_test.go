package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// v3Broker is an in-process stand-in for undermoon 0.6's mem_broker as a client sees it:
// it answers only under /api/v3 (anything else is 404) and gzips every answer whether the
// client asked or not (warp's gzip filter). It keeps just enough state
// for seeding, discovery and the read and write scenarios.
type v3Broker struct {
	mu         sync.Mutex
	proxies    []string            // registration order
	free       []string            // proxies in no cluster
	clusters   map[string][]string // name → its two proxies
	names      []string
	reports    int
	paths      map[string]int // every path asked, "METHOD /path" without the query
	askedGzip  int            // requests that sent Accept-Encoding: gzip
	requests   int
	createGate chan struct{} // if set, each cluster creation waits for a value from it
}

func newV3Broker() *v3Broker {
	return &v3Broker{clusters: map[string][]string{}, paths: map[string]int{}}
}

func (b *v3Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.requests++
	b.paths[r.Method+" "+r.URL.Path]++
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		b.askedGzip++
	}
	b.mu.Unlock()
	status, body := b.answer(r)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(body)
	zw.Close()
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(zb.Bytes())
}

func (b *v3Broker) answer(r *http.Request) (int, []byte) {
	path, ok := strings.CutPrefix(r.URL.Path, "/api/v3/")
	if !ok {
		return 404, nil
	}
	if r.Method == "POST" && strings.HasPrefix(path, "clusters/meta/") && b.createGate != nil {
		io.Copy(io.Discard, r.Body) // so the server notices a client that hangs up
		select {
		case <-b.createGate:
		case <-r.Context().Done(): // the client gave up
			return 503, nil
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	page := func(field string, all []string) (int, []byte) {
		off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		lim, err := strconv.Atoi(r.URL.Query().Get("limit"))
		off = min(off, len(all))
		if err != nil || off+lim > len(all) {
			lim = len(all) - off
		}
		out, _ := json.Marshal(map[string][]string{field: all[off : off+lim]})
		return 200, out
	}
	switch {
	case r.Method == "POST" && path == "proxies/meta":
		var p struct {
			Addr string `json:"proxy_address"`
		}
		if json.NewDecoder(r.Body).Decode(&p) != nil || p.Addr == "" {
			return 400, []byte(`{"error":"INVALID_PROXY_ADDRESS"}`)
		}
		for _, q := range b.proxies {
			if q == p.Addr {
				return 409, []byte(`{"error":"ALREADY_EXISTED"}`)
			}
		}
		b.proxies, b.free = append(b.proxies, p.Addr), append(b.free, p.Addr)
		return 200, nil
	case r.Method == "POST" && strings.HasPrefix(path, "clusters/meta/"):
		name := strings.TrimPrefix(path, "clusters/meta/")
		if b.clusters[name] != nil {
			return 409, []byte(`{"error":"ALREADY_EXISTED"}`)
		}
		if len(b.free) < 2 {
			return 409, []byte(`{"error":"NO_AVAILABLE_RESOURCE"}`)
		}
		b.clusters[name], b.free = b.free[:2:2], b.free[2:]
		b.names = append(b.names, name)
		return 200, nil
	case r.Method == "GET" && path == "clusters/names":
		return page("names", b.names)
	case r.Method == "GET" && path == "proxies/addresses":
		return page("addresses", b.proxies)
	case r.Method == "GET" && path == "proxies/failed/addresses":
		return 200, []byte(`{"addresses":[]}`)
	case r.Method == "GET" && strings.HasPrefix(path, "clusters/meta/"):
		ps := b.clusters[strings.TrimPrefix(path, "clusters/meta/")]
		if ps == nil {
			return 200, []byte(`{"cluster":null}`)
		}
		return 200, fmt.Appendf(nil, `{"cluster":{"name":"x","epoch":3,"nodes":[{"proxy_address":%q},{"proxy_address":%q}]}}`, ps[0], ps[1])
	case r.Method == "GET" && strings.HasPrefix(path, "proxies/meta/"):
		addr := strings.TrimPrefix(path, "proxies/meta/")
		for _, q := range b.proxies {
			if q == addr {
				// The v3 shape: cluster_name, no free_nodes.
				return 200, fmt.Appendf(nil, `{"proxy":{"cluster_name":null,"address":%q,"epoch":2,"nodes":[],"peers":[],"cluster_config":null}}`, addr)
			}
		}
		return 200, []byte(`{"proxy":null}`)
	case r.Method == "POST" && strings.HasPrefix(path, "failures/"):
		b.reports++
		return 200, nil
	}
	return 404, nil
}

// notUnderV3 lists the paths asked outside /api/v3.
func (b *v3Broker) notUnderV3() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for p := range b.paths {
		if _, path, _ := strings.Cut(p, " "); !strings.HasPrefix(path, "/api/v3/") {
			out = append(out, p)
		}
	}
	return out
}

// TestV3GzipBroker: with -api v3 the harness seeds, discovers and drives the reads, the
// coordinator round and the durable writes against a broker that serves only /api/v3 and
// gzips every answer, with no error, reading the gzipped bodies (null checks, listings,
// cluster views) as a coordinator does.
func TestV3GzipBroker(t *testing.T) {
	for _, tt := range []struct {
		name string
		gzip bool
	}{
		{"asks for gzip", true},
		{"does not ask, gets gzip anyway", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newV3Broker()
			srv := httptest.NewServer(b)
			defer srv.Close()
			c, err := NewClient(srv.URL, 8, 5*time.Second, Dialect{API: "v3", Gzip: tt.gzip})
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			if _, err := Seed(c, SeedConfig{Proxies: 250, Hosts: 10, Clusters: 110, Concurrency: 8}, &log); err != nil {
				t.Fatalf("seed: %v\n%s", err, log.String())
			}
			st, err := Discover(c)
			if err != nil {
				t.Fatal(err)
			}
			if st.API != "/api/v3" || len(st.Clusters) != 110 || len(st.Proxies) != 250 {
				t.Fatalf("discovered %s, %d clusters, %d proxies; want /api/v3, 110, 250", st.API, len(st.Clusters), len(st.Proxies))
			}
			busy, err := ClusterProxies(c, st.Clusters)
			if err != nil || len(busy) != 220 {
				t.Fatalf("proxies in clusters: %d, %v; want 220", len(busy), err)
			}
			for _, sc := range []*Scenario{ReadsScenario(st), CoordinatorScenario(st), DurableScenario(st, "v3")} {
				rep := NewReport(Run(t.Context(), c, sc, RunConfig{Concurrency: 4, Duration: 150 * time.Millisecond}), time.Now())
				if rep.Requests == 0 || rep.Errors != 0 {
					t.Errorf("%s: %d requests, errors %v", sc.Name, rep.Requests, rep.ErrorsBy)
				}
			}
			if bad := b.notUnderV3(); len(bad) > 0 {
				t.Errorf("paths outside /api/v3: %v", bad)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.reports == 0 {
				t.Error("no failure report reached the broker")
			}
			if asked := b.askedGzip == b.requests; asked != tt.gzip || !tt.gzip && b.askedGzip != 0 {
				t.Errorf("%d of %d requests asked for gzip, -gzip=%t", b.askedGzip, b.requests, tt.gzip)
			}
		})
	}
}

// TestV2ClientAgainstV3Broker: the harness's default dialect fails against a v3-only broker
// with a clear error, not a JSON error on gzip bytes.
func TestV2ClientAgainstV3Broker(t *testing.T) {
	srv := httptest.NewServer(newV3Broker())
	defer srv.Close()
	c, err := NewClient(srv.URL, 2, 5*time.Second, V2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Seed(c, SeedConfig{Proxies: 2, Hosts: 2, Clusters: 1, Concurrency: 1}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "POST /api/v2/proxies/meta: 404") {
		t.Errorf("seeding a v3 broker over v2: %v", err)
	}
}

func TestScenarioPathsFollowTheAPI(t *testing.T) {
	for _, api := range []string{"/api/v2", "/api/v3"} {
		st := testState(20, 40)
		st.API = api
		var reqs []Request
		reqs = append(reqs, coordinatorRound(st)...)
		reqs = append(reqs, readsRound(st)...)
		for _, sc := range []*Scenario{MutationsScenario(st, DefaultMutationMix, "p"), DurableScenario(st, "p"),
			ReadsUnderWritesScenario(st, st.Proxies, 2, "p")} {
			for id := range 3 {
				w := sc.NewWorker(id)
				for range 200 {
					r := w.Next()
					reqs = append(reqs, r)
					w.Done(r, 200, nil)
				}
				reqs = append(reqs, w.Cleanup()...)
			}
		}
		for _, r := range reqs {
			if !strings.HasPrefix(r.Path, api+"/") {
				t.Fatalf("API %s: request %s %s", api, r.Method, r.Path)
			}
		}
	}
}

func TestNewClientRejectsUnknownAPI(t *testing.T) {
	for _, api := range []string{"", "v1", "v4", "/api/v2"} {
		if _, err := NewClient("http://127.0.0.1:1", 1, time.Second, Dialect{API: api}); err == nil {
			t.Errorf("API %q accepted", api)
		}
	}
}

// TestBadGzipIsAnError: an answer that says gzip and is not counts as an error of its own.
func TestBadGzipIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write([]byte(`{"cluster":{}}`))
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, 2, 5*time.Second, Dialect{API: "v3", Gzip: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Call("GET", "/api/v3/clusters/meta/a", nil); !errors.Is(err, ErrBadGzip) {
		t.Errorf("Call: %v, want ErrBadGzip", err)
	}
	st := testState(2, 2)
	st.API = "/api/v3"
	rep := NewReport(Run(t.Context(), c, ReadsScenario(st), RunConfig{Concurrency: 2, Duration: 100 * time.Millisecond}), time.Now())
	if rep.Requests == 0 || rep.ErrorsBy[ErrBadGzip.Error()] != rep.Requests {
		t.Errorf("%d requests, errors %v", rep.Requests, rep.ErrorsBy)
	}
}

// TestReferenceGzipsWhenAsked: the reference sends its gzipped copy of a view only to a
// client that asks, and both decode to the same bytes.
func TestReferenceGzipsWhenAsked(t *testing.T) {
	big := []byte(`{"proxy":{"address":"10.0.0.1:6000","nodes":[` + strings.Repeat(`{"address":"10.0.0.1:7000"},`, 20) + `{}]}}`)
	ref := NewReference("/api/v3")
	ref.proxies["10.0.0.1:6000"] = newRefView(big)
	srv := httptest.NewServer(ref.Handler())
	defer srv.Close()
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 5 * time.Second}
	for _, tt := range []struct {
		accept, wantEncoding string
	}{
		{"", ""},
		{"identity", ""},
		{"gzip", "gzip"},
		{"gzip, deflate", "gzip"},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v3/proxies/meta/10.0.0.1:6000", nil)
		if tt.accept != "" {
			req.Header.Set("Accept-Encoding", tt.accept)
		}
		resp, err := raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = resp.Body
		if enc := resp.Header.Get("Content-Encoding"); enc != tt.wantEncoding {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tt.accept, enc, tt.wantEncoding)
		} else if enc == "gzip" {
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		got, err := io.ReadAll(body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, big) {
			t.Errorf("Accept-Encoding %q: %v %s", tt.accept, err, got)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the seeding's progress goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSeedProgressOnSlowBroker: while a broker creates clusters slowly, seeding reports how
// far it got, and it finishes once the broker does.
func TestSeedProgressOnSlowBroker(t *testing.T) {
	b := newV3Broker()
	b.createGate = make(chan struct{})
	srv := httptest.NewServer(b)
	defer srv.Close()
	c, err := NewClient(srv.URL, 4, time.Second, Dialect{API: "v3", Gzip: true})
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	done := make(chan error, 1)
	go func() {
		// The seeding's own timeout, not the client's 1 s per request, bounds the requests
		// the broker holds.
		_, err := Seed(c, SeedConfig{Proxies: 20, Hosts: 4, Clusters: 6, Concurrency: 4, Timeout: time.Minute,
			progressEvery: 10 * time.Millisecond}, &log)
		done <- err
	}()
	// Let two clusters through, then hold the rest until progress shows them.
	waitFor := func(want string) {
		t.Helper()
		giveUp := time.After(30 * time.Second)
		for !strings.Contains(log.String(), want) {
			select {
			case <-giveUp:
				t.Fatalf("no %q in the seeding's output after 30 s:\n%s", want, log.String())
			case err := <-done:
				t.Fatalf("seeding ended (%v) before %q:\n%s", err, want, log.String())
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	for range 2 {
		b.createGate <- struct{}{}
	}
	waitFor("seed: clusters 2/6 (2 new)")
	close(b.createGate)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("seed: %v\n%s", err, log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("seeding did not end 30 s after the broker let every creation through")
	}
	if !strings.Contains(log.String(), "seed: 6 clusters of 4 nodes (6 new)") {
		t.Errorf("no final line:\n%s", log.String())
	}
}

// TestSeedTimeout: seeding a broker that never finishes a creation gives up at its timeout
// with ErrSeedTimeout, saying how far it got.
func TestSeedTimeout(t *testing.T) {
	b := newV3Broker()
	b.createGate = make(chan struct{}) // every creation hangs until the test ends
	srv := httptest.NewServer(b)
	defer srv.Close()
	defer close(b.createGate)
	c, err := NewClient(srv.URL, 4, time.Minute, Dialect{API: "v3", Gzip: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Seed(c, SeedConfig{Proxies: 20, Hosts: 4, Clusters: 6, Concurrency: 4, Timeout: 300 * time.Millisecond}, io.Discard)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrSeedTimeout) || !strings.Contains(err.Error(), "0 of 6 clusters present") {
			t.Errorf("seed: %v; want ErrSeedTimeout with 0 of 6 clusters present", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("seeding with a 300 ms timeout still running after 30 s")
	}
}
