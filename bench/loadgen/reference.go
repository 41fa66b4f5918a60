package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sync"
	"time"
)

// Reference is the comparison server: plain net/http and one map behind a sync.RWMutex,
// serving the two hot reads (cluster meta, proxy meta) with the exact bytes Fulcrum
// answers. It is what a straightforward Go broker would look like (undermoon's mem_broker
// is the same design in Rust: one RW lock around the whole store), so the Fulcrum numbers
// can be read against it.
type Reference struct {
	mu       sync.RWMutex
	clusters map[string][]byte
	proxies  map[string][]byte
}

// LoadReference reads every cluster and proxy view of st from the server behind c.
func LoadReference(c *Client, st State) (*Reference, error) {
	ref := &Reference{clusters: map[string][]byte{}, proxies: map[string][]byte{}}
	get := func(path string) ([]byte, error) {
		status, body, err := c.Call("GET", apiPrefix+path, nil)
		if err != nil {
			return nil, err
		}
		if status != 200 {
			return nil, fmt.Errorf("GET %s: %s", path, errorLabel(status, body, nil))
		}
		return body, nil
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
	mux.HandleFunc("GET "+apiPrefix+"/clusters/names", list(names))
	mux.HandleFunc("GET "+apiPrefix+"/proxies/addresses", list(addrs))
	serve := func(m map[string][]byte, key string, null string) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			r.mu.RLock()
			b, ok := m[req.PathValue(key)]
			r.mu.RUnlock()
			if !ok {
				b = []byte(null)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
		}
	}
	mux.HandleFunc("GET "+apiPrefix+"/clusters/meta/{name}", serve(r.clusters, "name", `{"cluster":null}`))
	mux.HandleFunc("GET "+apiPrefix+"/proxies/meta/{address}", serve(r.proxies, "address", `{"proxy":null}`))
	mux.HandleFunc("GET /healthz", list([]byte(`{"status":"ok"}`)))
	// Profiles, as Fulcrum serves them, so both sides of the comparison can be explained.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	return mux
}

// Serve serves the reference on ln with the timeouts Fulcrum's server uses.
func (r *Reference) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler:      r.Handler(),
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  120 * time.Second,
	}
	return srv.Serve(ln)
}
