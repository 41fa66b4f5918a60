package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
)

// Request is one HTTP call a scenario wants made. Path is relative to the base URL
// (e.g. "/api/v2/clusters/meta/c0001").
type Request struct {
	Op     int // index into Scenario.Ops
	Method string
	Path   string
	Body   []byte
}

// Worker produces the requests of one client connection, one at a time, and learns how
// each ended (so stateful mixes such as create-then-delete can follow up).
type Worker interface {
	Next() Request
	Done(r Request, status int, body []byte)
	// Cleanup lists requests to make after the timed part, untimed (e.g. delete the
	// clusters this worker created), so repeated runs do not leak state.
	Cleanup() []Request
}

// Scenario is a named request mix.
type Scenario struct {
	Name string
	Ops  []string // operation labels, reported separately
	// NewWorker is called once per client; workers must not share mutable state except
	// through atomics.
	NewWorker func(id int) Worker
	// Check says whether a 200 answer is a real success for op (e.g. a meta read that
	// answers {"cluster":null} is not): an empty string means yes, else the error label.
	Check func(op int, body []byte) string
}

// State is what the load generator knows of the server: the API prefix it speaks and the
// names and addresses it reads.
type State struct {
	API      string // "/api/v2" or "/api/v3" (Client.API)
	Clusters []string
	Proxies  []string
}

// pageSize is what an undermoon coordinator asks for (paged by 100, stop at the
// first empty page).
const pageSize = 100

// Coordinator op labels.
const (
	opNames = iota
	opClusterMeta
	opProxyAddresses
	opProxyMeta
	opFailed
)

// coordinatorRound is one pass of an undermoon coordinator's loops (undermoon's src/coordinator/service.rs) over the
// given state: failure detection reads the failed set and pages the proxy addresses; meta
// sync pages the cluster names, reads every cluster, reads the failed set again to filter
// free proxies, then reads every proxy. Pages include the final empty one.
func coordinatorRound(st State) []Request {
	var r []Request
	r = append(r, Request{Op: opFailed, Method: "GET", Path: st.API + "/proxies/failed/addresses"})
	for off := 0; off <= len(st.Proxies); off += pageSize {
		r = append(r, Request{Op: opProxyAddresses, Method: "GET", Path: fmt.Sprintf("%s/proxies/addresses?offset=%d&limit=%d", st.API, off, pageSize)})
	}
	for off := 0; off <= len(st.Clusters); off += pageSize {
		r = append(r, Request{Op: opNames, Method: "GET", Path: fmt.Sprintf("%s/clusters/names?offset=%d&limit=%d", st.API, off, pageSize)})
	}
	for _, c := range st.Clusters {
		r = append(r, Request{Op: opClusterMeta, Method: "GET", Path: st.API + "/clusters/meta/" + c})
	}
	r = append(r, Request{Op: opFailed, Method: "GET", Path: st.API + "/proxies/failed/addresses"})
	for _, p := range st.Proxies {
		r = append(r, Request{Op: opProxyMeta, Method: "GET", Path: st.API + "/proxies/meta/" + p})
	}
	return r
}

// readsRound is the two hot reads of the read target (README, Targets), every cluster and every
// proxy once, shuffled with a fixed seed so consecutive requests hit different actors.
func readsRound(st State) []Request {
	var r []Request
	for _, c := range st.Clusters {
		r = append(r, Request{Op: opClusterMeta, Method: "GET", Path: st.API + "/clusters/meta/" + c})
	}
	for _, p := range st.Proxies {
		r = append(r, Request{Op: opProxyMeta, Method: "GET", Path: st.API + "/proxies/meta/" + p})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(r), func(i, j int) { r[i], r[j] = r[j], r[i] })
	return r
}

var readOps = []string{"cluster_names", "cluster_meta", "proxy_addresses", "proxy_meta", "failed_addresses"}

// checkMeta flags meta reads answered with null: the state changed under the run or the
// seeded names were wrong, and either way the request measured nothing useful.
func checkMeta(op int, body []byte) string {
	switch op {
	case opClusterMeta:
		if bytes.HasPrefix(body, []byte(`{"cluster":null`)) {
			return "200 null cluster"
		}
	case opProxyMeta:
		if bytes.HasPrefix(body, []byte(`{"proxy":null`)) {
			return "200 null proxy"
		}
	}
	return ""
}

// roundWorker walks a shared round of requests in order; all workers share one cursor, so
// the whole client issues exactly the round's mix.
type roundWorker struct {
	round  []Request
	cursor *atomic.Uint64
}

func (w *roundWorker) Next() Request {
	i := w.cursor.Add(1) - 1
	return w.round[i%uint64(len(w.round))]
}
func (w *roundWorker) Done(Request, int, []byte) {}
func (w *roundWorker) Cleanup() []Request        { return nil }

func roundScenario(name string, round []Request) *Scenario {
	var cursor atomic.Uint64
	return &Scenario{
		Name:      name,
		Ops:       readOps,
		NewWorker: func(int) Worker { return &roundWorker{round: round, cursor: &cursor} },
		Check:     checkMeta,
	}
}

// CoordinatorScenario is the read mix of an undermoon coordinator.
func CoordinatorScenario(st State) *Scenario {
	return roundScenario("coordinator", coordinatorRound(st))
}

// ReadsScenario is the read target (README, Targets): proxy meta and cluster meta only.
func ReadsScenario(st State) *Scenario { return roundScenario("reads", readsRound(st)) }

// opMixedReport labels the failure reports of the reads+writes scenario, after the reads.
var opMixedReport = len(readOps)

// ReadsUnderWritesScenario is the reads scenario while failure reports — the durable write
// a coordinator fleet makes most — keep arriving: writers of the clients report failures of
// the proxies in busy (proxies in clusters), one after another, every report a new
// reporter and so a real write; the others walk the reads round. It is how a broker runs
// (coordinators poll while failures are reported), and it tells apart designs whose reads
// wait for writes from those whose reads do not.
func ReadsUnderWritesScenario(st State, busy []string, writers int, run string) *Scenario {
	var cursor atomic.Uint64
	round := readsRound(st)
	return &Scenario{
		Name: "reads+writes",
		Ops:  append(append([]string{}, readOps...), "report_failure"),
		NewWorker: func(id int) Worker {
			if id < writers && len(busy) > 0 {
				return &reportWorker{id: id, api: st.API, run: run, proxies: busy, rng: rand.New(rand.NewPCG(uint64(id), 11))}
			}
			return &roundWorker{round: round, cursor: &cursor}
		},
		Check: checkMeta,
	}
}

// reportWorker posts failure reports of random proxies, each from a new reporter.
type reportWorker struct {
	id, seq int
	api     string
	run     string
	proxies []string
	rng     *rand.Rand
}

func (w *reportWorker) Next() Request {
	w.seq++
	return reportRequest(w.api, opMixedReport, w.proxies[w.rng.IntN(len(w.proxies))], w.run, w.id, w.seq)
}

// reportRequest is a failure report of proxy from a reporter no run, worker or step shared,
// so the broker records it as a new report: a real write.
func reportRequest(api string, op int, proxy, run string, worker, seq int) Request {
	return Request{Op: op, Method: "POST", Path: fmt.Sprintf("%s/failures/%s/lg%s-%d-%d", api, proxy, run, worker, seq)}
}
func (w *reportWorker) Done(Request, int, []byte) {}
func (w *reportWorker) Cleanup() []Request        { return nil }

// Mutation op labels.
const (
	opReport = iota
	opConfig
	opCreate
	opDelete
)

var mutationOps = []string{"report_failure", "patch_config", "create_cluster", "delete_cluster"}

// MutationMix weighs the durable writes: failure reports, config patches, and cluster
// create/delete pairs (a worker deletes the cluster it created before creating another).
type MutationMix struct{ Report, Config, CreateDelete int }

// DefaultMutationMix leans on failure reports, the write a coordinator fleet makes most.
var DefaultMutationMix = MutationMix{Report: 5, Config: 3, CreateDelete: 2}

// ParseMutationMix reads "report=5,config=3,create=2".
func ParseMutationMix(s string) (MutationMix, error) {
	var m MutationMix
	for _, part := range bytes.Split([]byte(s), []byte(",")) {
		k, v, ok := bytes.Cut(bytes.TrimSpace(part), []byte("="))
		n, err := strconv.Atoi(string(v))
		if !ok || err != nil || n < 0 {
			return m, fmt.Errorf("mix %q: want name=weight,... with non-negative integers", s)
		}
		switch string(k) {
		case "report":
			m.Report = n
		case "config":
			m.Config = n
		case "create":
			m.CreateDelete = n
		default:
			return m, fmt.Errorf("mix %q: unknown operation %q (report, config, create)", s, k)
		}
	}
	if m.Report+m.Config+m.CreateDelete == 0 {
		return m, fmt.Errorf("mix %q: all weights are zero", s)
	}
	return m, nil
}

type mutationWorker struct {
	id      int
	run     string
	mix     MutationMix
	st      State
	rng     *rand.Rand
	seq     int
	pending string // a cluster this worker created and has not deleted yet
}

// MutationsScenario drives durable writes. run makes names unique per run (reporter ids
// and cluster names), so every failure report is a first report, hence a real write.
// st.Proxies should hold proxies that are in clusters: a live failure report takes a free
// proxy out of allocation, and reports spread over free proxies would soon make every
// cluster creation fail with NO_AVAILABLE_RESOURCE.
func MutationsScenario(st State, mix MutationMix, run string) *Scenario {
	return &Scenario{
		Name: "mutations",
		Ops:  mutationOps,
		NewWorker: func(id int) Worker {
			return &mutationWorker{id: id, run: run, mix: mix, st: st, rng: rand.New(rand.NewPCG(uint64(id), 7))}
		},
	}
}

func (w *mutationWorker) Next() Request {
	w.seq++
	total := w.mix.Report + w.mix.Config + w.mix.CreateDelete
	n := w.rng.IntN(total)
	switch {
	case n < w.mix.Report && len(w.st.Proxies) > 0:
		return reportRequest(w.st.API, opReport, w.st.Proxies[w.rng.IntN(len(w.st.Proxies))], w.run, w.id, w.seq)
	case n < w.mix.Report+w.mix.Config && len(w.st.Clusters) > 0:
		c := w.st.Clusters[w.rng.IntN(len(w.st.Clusters))]
		// A fresh scan count each time, so the patch is a change and not a no-op.
		body := fmt.Sprintf(`{"migration_scan_count":"%d"}`, 1+(w.id*7919+w.seq)%4096)
		return Request{Op: opConfig, Method: "PATCH", Path: w.st.API + "/clusters/config/" + c, Body: []byte(body)}
	}
	if w.pending != "" {
		return Request{Op: opDelete, Method: "DELETE", Path: w.st.API + "/clusters/meta/" + w.pending}
	}
	w.pending = fmt.Sprintf("lg%s-%d-%d", w.run, w.id, w.seq)
	return Request{Op: opCreate, Method: "POST", Path: w.st.API + "/clusters/meta/" + w.pending, Body: []byte(`{"node_number":4}`)}
}

func (w *mutationWorker) Done(r Request, status int, _ []byte) {
	switch r.Op {
	case opCreate:
		if status != 200 {
			w.pending = "" // nothing to delete
		}
	case opDelete:
		// Deleted, or gone anyway (404): either way the next create/delete op creates.
		if status == 200 || status == 404 {
			w.pending = ""
		}
	}
}

func (w *mutationWorker) Cleanup() []Request {
	if w.pending == "" {
		return nil
	}
	return []Request{{Op: opDelete, Method: "DELETE", Path: w.st.API + "/clusters/meta/" + w.pending}}
}

// DurableScenario is failure reports spread over every proxy of st, each from a new
// reporter, so every request is a durable change (a new report bumps the global epoch).
// Against a server with a short --failure-ttl (1s in make bench), a proxy's record holds
// only the last second's reports, a handful like a fleet of a few coordinators makes,
// instead of the thousands a minute of reports leaves with the default 60 s: the record
// is rewritten by every report, so its size, not the write path, would set the cost.
func DurableScenario(st State, run string) *Scenario {
	sc := MutationsScenario(State{API: st.API, Proxies: st.Proxies}, MutationMix{Report: 1}, run)
	sc.Name = "durable"
	return sc
}

// BalancerScenario asks GET /balancer (a plan search over the configured Kafka cluster)
// with the given query string.
func BalancerScenario(query string) *Scenario {
	path := "/balancer"
	if query != "" {
		path += "?" + query
	}
	return &Scenario{
		Name: "balancer",
		Ops:  []string{"balancer_get"},
		NewWorker: func(int) Worker {
			return &roundWorker{round: []Request{{Method: "GET", Path: path}}, cursor: new(atomic.Uint64)}
		},
	}
}
