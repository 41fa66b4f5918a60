package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Reference is the comparison server: plain net/http and maps behind a sync.RWMutex,
// serving the two hot reads (cluster meta, proxy meta) with the exact bytes Fulcrum
// answers, and failure reports made durable the plain way. It is what a straightforward Go
// broker would look like (undermoon's mem_broker is the same design in Rust: one RW lock
// around the whole store), so the Fulcrum numbers can be read against it. Like Fulcrum, it
// keeps each view gzipped once and sends that copy to clients that ask for gzip.
type Reference struct {
	api      string // "/api/v2" or "/api/v3"
	mu       sync.RWMutex
	clusters map[string]refView
	proxies  map[string]refView
	failures map[string]map[string]int64 // proxy → reporter → unix time

	logMu sync.Mutex
	log   *os.File // the failure reports, appended and fsynced one by one
}

// refView is one view, plain and, if it is big enough to be worth it, gzipped.
type refView struct{ plain, gz []byte }

// newRefView compresses from the size Fulcrum does (actors.GzipMinBytes, 256 bytes).
func newRefView(plain []byte) refView {
	v := refView{plain: plain}
	if len(plain) >= 256 {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(plain)
		zw.Close()
		v.gz = b.Bytes()
	}
	return v
}

// NewReference is an empty reference serving under the API prefix api ("/api/v2").
func NewReference(api string) *Reference {
	return &Reference{api: api, clusters: map[string]refView{}, proxies: map[string]refView{}, failures: map[string]map[string]int64{}}
}

// LoadReference reads every cluster and proxy view of st from the server behind c.
func LoadReference(c *Client, st State) (*Reference, error) {
	ref := NewReference(c.API())
	get := func(path string) (refView, error) {
		status, body, err := c.Call("GET", c.API()+path, nil)
		if err != nil {
			return refView{}, err
		}
		if status != 200 {
			return refView{}, fmt.Errorf("GET %s: %s", path, errorLabel(status, body, nil))
		}
		return newRefView(body), nil
	}
	var mu sync.Mutex
	n := len(st.Clusters)
	err := parallel(n+len(st.Proxies), 16, func(i int) error {
		if i < n {
			b, err := get("/clusters/meta/" + st.Clusters[i])
			mu.Lock()
			ref.clusters[st.Clusters[i]] = b
			mu.Unlock()
			return err
		}
		p := st.Proxies[i-n]
		b, err := get("/proxies/meta/" + p)
		mu.Lock()
		ref.proxies[p] = b
		mu.Unlock()
		return err
	})
	return ref, err
}

// Handler routes the two reads, the two listings (unpaged: enough for `loadgen run` to
// discover the state, as against a broker without paging) and /healthz.
func (r *Reference) Handler() http.Handler {
	mux := http.NewServeMux()
	names, _ := json.Marshal(map[string][]string{"names": slices.Sorted(maps.Keys(r.clusters))})
	addrs, _ := json.Marshal(map[string][]string{"addresses": slices.Sorted(maps.Keys(r.proxies))})
	list := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
		}
	}
	mux.HandleFunc("GET "+r.api+"/clusters/names", list(names))
	mux.HandleFunc("GET "+r.api+"/proxies/addresses", list(addrs))
	serve := func(m map[string]refView, key string, null string) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			r.mu.RLock()
			v, ok := m[req.PathValue(key)]
			r.mu.RUnlock()
			if !ok {
				v.plain = []byte(null)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Vary", "Accept-Encoding")
			if v.gz != nil && strings.Contains(req.Header.Get("Accept-Encoding"), "gzip") {
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(v.gz)
				return
			}
			w.Write(v.plain)
		}
	}
	mux.HandleFunc("GET "+r.api+"/clusters/meta/{name}", serve(r.clusters, "name", `{"cluster":null}`))
	mux.HandleFunc("GET "+r.api+"/proxies/meta/{address}", serve(r.proxies, "address", `{"proxy":null}`))
	mux.HandleFunc("POST "+r.api+"/failures/{address}/{reporter}", r.reportFailure)
	mux.HandleFunc("GET /healthz", list([]byte(`{"status":"ok"}`)))
	// Profiles, as Fulcrum serves them, so both sides of the comparison can be explained.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	return mux
}

// reportFailure records a failure report durably before answering, the plain way: one
// append and one fsync per report, serialized by logMu, then applied to the map under the
// write lock. Readers never see a report that is not on disk and never wait for an fsync
// (holding mu across it would stall every read for the disk's latency); writes wait for
// each other's fsyncs, as nothing batches them.
func (r *Reference) reportFailure(w http.ResponseWriter, req *http.Request) {
	addr, reporter := req.PathValue("address"), req.PathValue("reporter")
	now := time.Now().Unix()
	r.logMu.Lock()
	defer r.logMu.Unlock()
	if r.log == nil {
		http.Error(w, `{"error":"no log file"}`, http.StatusServiceUnavailable)
		return
	}
	_, err := fmt.Fprintf(r.log, "%s %s %d\n", addr, reporter, now)
	if err == nil {
		err = r.log.Sync()
	}
	if err != nil {
		http.Error(w, `{"error":"persistence"}`, http.StatusInternalServerError)
		return
	}
	r.mu.Lock()
	if r.failures[addr] == nil {
		r.failures[addr] = map[string]int64{}
	}
	r.failures[addr][reporter] = now
	r.mu.Unlock()
}

// Serve serves the reference on ln with the timeouts Fulcrum's server uses; failure reports
// are appended to a file in dir.
func (r *Reference) Serve(ln net.Listener, dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "failures.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	r.logMu.Lock()
	r.log = f
	r.logMu.Unlock()
	srv := &http.Server{
		Handler:      r.Handler(),
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  120 * time.Second,
	}
	return srv.Serve(ln)
}
