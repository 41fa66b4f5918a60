package main

// Over 500 lines on purpose: the harness is one piece (processes, write stream, ledger,
// checks) used by every HA process test; the scenarios are in ha_*_test.go.

// The harness of the HA process tests (ha_*_test.go): several `fulcrum serve`
// processes over one etcd prefix, a stream of writes sent to all of them with a ledger of
// what each acknowledged, and the checks that every instance serves that ledger.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
)

// haLeaseTTL is the instances' --etcd-lease-ttl: the takeover after a kill -9 waits for the
// dead leader's lease to expire, so it bounds how soon writes resume.
const haLeaseTTL = "3s"

// haResumeBound is how soon after a kill writes must be acknowledged again (issue 12): a
// functional bound, the lease TTL plus an election and a load, not a performance figure.
const haResumeBound = 10 * time.Second

// haClient bounds each request of the write stream, so a writer stuck on an instance that
// lost its leader still sends again well within haResumeBound.
var haClient = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

// haStatus is the body of GET /ha.
type haStatus struct {
	Backend  string `json:"backend"`
	Role     string `json:"role"`
	Instance string `json:"instance"`
	Leader   string `json:"leader"`
	Revision int64  `json:"revision"`
}

// haNode is one instance: its address (also its --advertise-addr, hence its ID) and data
// dir stay the same across restarts.
type haNode struct {
	listen, dataDir string
	endpoints       []string // etcd endpoints it is given (cuttable proxies in the partition test)
	p               *process // the running process, nil while down
}

func (n *haNode) base() string { return "http://" + n.listen }

// haBroker is the instances of one broker: one etcd prefix.
type haBroker struct {
	t      *testing.T
	prefix string
	nodes  []*haNode
	extra  []string // more flags of every instance
}

// newHABroker prepares n instances over the shared test etcd under a prefix of their own.
func newHABroker(t *testing.T, name string, n int) *haBroker {
	t.Helper()
	b := &haBroker{t: t, prefix: etcdtest.Prefix(name)}
	endpoints := etcdtest.Endpoints(t)
	for range n {
		b.add(endpoints)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range b.nodes {
				if n.p != nil {
					t.Logf("log of %s (last lines):\n%s", n.listen, tail(n.p.log.String(), 40))
				}
			}
		}
	})
	return b
}

// add prepares one more instance (not started) that reaches etcd at endpoints.
func (b *haBroker) add(endpoints []string) *haNode {
	n := &haNode{listen: freeAddr(b.t), dataDir: b.t.TempDir(), endpoints: endpoints}
	b.nodes = append(b.nodes, n)
	return n
}

// start runs the instance and waits (bounded) until it answers /healthz.
func (b *haBroker) start(n *haNode) {
	b.t.Helper()
	n.p = startFulcrum(b.t, n.dataDir, n.listen, append(slices.Clone(b.extra),
		"--etcd-endpoints", strings.Join(n.endpoints, ","), "--etcd-prefix", b.prefix,
		"--advertise-addr", n.listen, "--etcd-lease-ttl", haLeaseTTL,
		// Reports must outlive the test: the ledger checks every acknowledged one.
		"--failure-ttl", "30m")...)
}

// kill -9s the instance.
func (b *haBroker) kill(n *haNode) {
	b.t.Helper()
	n.p.kill(syscall.SIGKILL, 5*time.Second)
	n.p = nil
}

func (b *haBroker) live() []*haNode {
	var l []*haNode
	for _, n := range b.nodes {
		if n.p != nil {
			l = append(l, n)
		}
	}
	return l
}

// haGet reads base+path with the stream's client.
func haGet(base, path string) (int, []byte, error) {
	return haDo(base, "GET", path, "")
}

func haDo(base, method, path, body string) (int, []byte, error) {
	return haDoToken(base, "", method, path, body)
}

// haDoToken is haDo with a bearer token (none if empty).
func haDoToken(base, token, method, path, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := haClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// status reads GET /ha of n.
func (n *haNode) status() (haStatus, error) {
	var s haStatus
	code, body, err := haGet(n.base(), "/ha")
	if err != nil {
		return s, err
	}
	if code != 200 {
		return s, fmt.Errorf("GET /ha: %d %s", code, body)
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("GET /ha: %v: %s", err, body)
	}
	return s, nil
}

// waitLeader waits (bounded) until one of nodes (every live instance if none are given)
// says it leads and all of them name it, and returns it.
func (b *haBroker) waitLeader(within time.Duration, nodes ...*haNode) *haNode {
	b.t.Helper()
	if nodes == nil {
		nodes = b.live()
	}
	deadline := time.Now().Add(within)
	for {
		leader, seen := agreedLeader(nodes)
		if leader != nil {
			return leader
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no leader named by every instance within %v: %s", within, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// agreedLeader returns the node that leads if every node names it, else nil and what
// each node said.
func agreedLeader(nodes []*haNode) (*haNode, string) {
	var leader *haNode
	var seen []string
	names := map[string]bool{}
	ok := true
	for _, n := range nodes {
		s, err := n.status()
		seen = append(seen, fmt.Sprintf("%s: %+v %v", n.listen, s, err))
		switch {
		case err != nil || s.Backend != "etcd" || s.Instance != n.listen:
			ok = false
		case s.Role == "leader":
			ok = ok && leader == nil
			leader = n
		case s.Role != "follower":
			ok = false
		}
		names[s.Leader] = true
	}
	if !ok || leader == nil || len(names) != 1 || !names[leader.listen] {
		return nil, strings.Join(seen, "; ")
	}
	return leader, ""
}

// converge waits (bounded) until every live instance serves the same /metadata, and
// returns it. (Not the same /ha revision: an instance may count etcd revisions of other
// prefixes it heard of, the revision is etcd's, not the broker's.)
func (b *haBroker) converge(within time.Duration) *meta.MetaStore {
	b.t.Helper()
	var body []byte
	var why string
	deadline := time.Now().Add(within)
	for {
		body, why = b.sameState()
		if why == "" {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("instances do not converge within %v: %s", within, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ms meta.MetaStore
	if err := json.Unmarshal(body, &ms); err != nil {
		b.t.Fatalf("GET /metadata: %v", err)
	}
	if err := meta.Validate(&ms); err != nil {
		b.t.Fatalf("invariant broken: %v", err)
	}
	return &ms
}

// sameState returns the common /metadata of the live instances, or why there is none.
func (b *haBroker) sameState() ([]byte, string) {
	var first []byte
	for i, n := range b.live() {
		code, body, err := haGet(n.base(), "/api/v2/metadata")
		if err != nil || code != 200 {
			return nil, fmt.Sprintf("%s: GET /metadata: %d %v", n.listen, code, err)
		}
		if i == 0 {
			first = body
		} else if !bytes.Equal(body, first) {
			return nil, fmt.Sprintf("%s and %s serve other metadata", b.live()[0].listen, n.listen)
		}
	}
	return first, ""
}

// same waits (bounded) until every live instance answers GET path with the same 200
// body, and returns it: a follower's reads lag the leader's writes by the watch delay.
func (b *haBroker) same(path string, within time.Duration) []byte {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var first []byte
		why := ""
		for i, n := range b.live() {
			code, body, err := haGet(n.base(), path)
			switch {
			case err != nil || code != 200:
				why = fmt.Sprintf("%s: GET %s: %d %s %v", n.listen, path, code, body, err)
			case i == 0:
				first = body
			case !bytes.Equal(body, first):
				why = fmt.Sprintf("GET %s: %s answers %s, %s answers %s", path, b.live()[0].listen, first, n.listen, body)
			}
			if why != "" {
				break
			}
		}
		if why == "" {
			return first
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("instances disagree for %v: %s", within, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// epochOf reads GET /api/v2/epoch of n.
func (b *haBroker) epochOf(n *haNode) uint64 {
	b.t.Helper()
	code, body, err := haGet(n.base(), "/api/v2/epoch")
	var e uint64
	if err == nil && code == 200 {
		_, err = fmt.Sscan(string(body), &e)
	}
	if err != nil || code != 200 {
		b.t.Fatalf("%s: GET /epoch: %d %s %v", n.listen, code, body, err)
	}
	return e
}

// epochs reads GET /api/v2/epoch of every live instance.
func (b *haBroker) epochs() map[string]string {
	b.t.Helper()
	m := map[string]string{}
	for _, n := range b.live() {
		code, body, err := haGet(n.base(), "/api/v2/epoch")
		if err != nil || code != 200 {
			b.t.Fatalf("%s: GET /epoch: %d %s %v", n.listen, code, body, err)
		}
		m[n.listen] = strings.TrimSpace(string(body))
	}
	return m
}

// ledger is what the instances acknowledged (a 200): all of it must be served afterwards.
// A write without an answer (a killed instance, a timeout) may or may not have happened,
// so only acknowledgements are recorded.
type ledger struct {
	mu       sync.Mutex
	proxies  []string
	clusters []string
	reports  []string // target|reporter
	maxEpoch uint64   // highest epoch set by an acknowledged PUT /epoch/<n>
	ackSent  map[string]time.Time
	answers  map[string]int // "<status> <error code>" → count, for the log
}

func newLedger() *ledger {
	return &ledger{ackSent: map[string]time.Time{}, answers: map[string]int{}}
}

// acked records an acknowledgement of a request sent to node at sent.
func (l *ledger) acked(node string, sent time.Time, record func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if record != nil {
		record()
	}
	if sent.After(l.ackSent[node]) {
		l.ackSent[node] = sent
	}
}

func (l *ledger) answer(code int, body []byte, err error) {
	key := fmt.Sprint(code)
	if err != nil {
		key = "no answer"
	} else if code != 200 {
		var e struct{ Error string }
		json.Unmarshal(body, &e)
		key += " " + e.Error
	}
	l.mu.Lock()
	l.answers[key]++
	l.mu.Unlock()
}

// allowedFailures are the answers a write may get while instances and etcd members die:
// the contract's refusals (nothing written, or the outcome unknown) and no answer at all.
var allowedFailures = map[string]bool{
	"no answer": true, "503 NO_LEADER": true, "503 ETCD_UNAVAILABLE": true, "504 OUTCOME_UNKNOWN": true,
	// The stream's own races: a PUT /epoch/<n> overtaken by a larger one, a cluster
	// that finds no free proxies on enough hosts.
	"409 EPOCH_SMALLER_THAN_CURRENT": true, "409 NO_AVAILABLE_RESOURCE": true, "409 RESOURCE_NOT_BALANCE": true,
}

// checkAnswers fails the test if a write got an answer outside allowedFailures (a 500,
// a 502 from a failed forward, a 400...).
func (l *ledger) checkAnswers(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, n := range l.answers {
		if k != "200" && !allowedFailures[k] {
			t.Errorf("%d writes answered %s", n, k)
		}
	}
}

// lastAck is the send time of the latest acknowledged request to node.
func (l *ledger) lastAck(node string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ackSent[node]
}

// check fails the test unless ms holds every acknowledged change.
func (l *ledger) check(t *testing.T, who string, ms *meta.MetaStore) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, addr := range l.proxies {
		if ms.AllProxies[addr] == nil {
			t.Fatalf("%s: acknowledged proxy %s lost", who, addr)
		}
	}
	for _, name := range l.clusters {
		if _, ok := ms.Clusters[name]; !ok {
			t.Fatalf("%s: acknowledged cluster %s lost", who, name)
		}
	}
	for _, r := range l.reports {
		target, reporter := splitReport(r)
		if _, ok := ms.Failures[target][reporter]; !ok {
			t.Fatalf("%s: acknowledged failure report %s lost", who, r)
		}
	}
	if ms.GlobalEpoch < l.maxEpoch {
		t.Fatalf("%s: global epoch %d below the acknowledged PUT /epoch/%d", who, ms.GlobalEpoch, l.maxEpoch)
	}
}

// waitServed waits (bounded) until n's actors serve every acknowledged proxy and cluster
// in their listings and an epoch at least the highest acknowledged one; /metadata alone
// could be read from etcd rather than from what the instance serves.
func (l *ledger) waitServed(t *testing.T, n *haNode, within time.Duration) {
	t.Helper()
	l.mu.Lock()
	proxies, clusters, epoch := slices.Clone(l.proxies), slices.Clone(l.clusters), l.maxEpoch
	l.mu.Unlock()
	why := ""
	deadline := time.Now().Add(within)
	for {
		why = missing(n, proxies, clusters, epoch)
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not serve every acknowledged write within %v: %s", n.listen, within, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// missing says what of the acknowledged writes n does not serve ("" if nothing).
func missing(n *haNode, proxies, clusters []string, epoch uint64) string {
	var addrs struct{ Addresses []string }
	var names struct{ Names []string }
	for _, r := range []struct {
		path string
		into any
	}{{"/api/v2/proxies/addresses", &addrs}, {"/api/v2/clusters/names", &names}} {
		code, body, err := haGet(n.base(), r.path)
		if err != nil || code != 200 {
			return fmt.Sprintf("GET %s: %d %s %v", r.path, code, body, err)
		}
		if err := json.Unmarshal(body, r.into); err != nil {
			return fmt.Sprintf("GET %s: %v", r.path, err)
		}
	}
	have := map[string]bool{}
	for _, a := range addrs.Addresses {
		have[a] = true
	}
	for _, a := range proxies {
		if !have[a] {
			return "proxy " + a
		}
	}
	for _, c := range names.Names {
		have[c] = true
	}
	for _, c := range clusters {
		if !have[c] {
			return "cluster " + c
		}
	}
	code, body, err := haGet(n.base(), "/api/v2/epoch")
	var e uint64
	if err != nil || code != 200 {
		return fmt.Sprintf("GET /epoch: %d %v", code, err)
	}
	if _, err := fmt.Sscan(string(body), &e); err != nil || e < epoch {
		return fmt.Sprintf("epoch %s below the acknowledged %d", body, epoch)
	}
	return ""
}

func (l *ledger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d proxies, %d clusters, %d reports, max epoch set %d; answers %v",
		len(l.proxies), len(l.clusters), len(l.reports), l.maxEpoch, l.answers)
}

// stream is the steady write load: writers send their requests round-robin to every
// instance of the broker, dead ones included (those get no answer).
type stream struct {
	b     *haBroker
	l     *ledger
	stop  chan struct{}
	wg    sync.WaitGroup
	epoch atomic.Uint64 // the next PUT /epoch/<n>: far above what the bumps reach
}

// writeStream starts writers that run until stop.
func (b *haBroker) writeStream(writers int, l *ledger) *stream {
	s := &stream{b: b, l: l, stop: make(chan struct{})}
	s.epoch.Store(1 << 40)
	bases := make([]string, len(b.nodes))
	for i, n := range b.nodes {
		bases[i] = n.base()
	}
	for w := range writers {
		s.wg.Add(1)
		go s.write(w, bases)
	}
	b.t.Cleanup(s.halt)
	return s
}

// halt stops the writers and waits for them; safe to call twice.
func (s *stream) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

// write sends one writer's requests: mostly new proxies and failure reports (small
// records), a few clusters and epoch changes (PUT /epoch rewrites every cluster record, so
// the clusters stay few and a transaction small).
func (s *stream) write(w int, bases []string) {
	defer s.wg.Done()
	clusters := 0
	for i := 0; ; i++ {
		select {
		case <-s.stop:
			return
		case <-time.After(15 * time.Millisecond):
		}
		base := bases[(w+i)%len(bases)]
		node := strings.TrimPrefix(base, "http://")
		sent := time.Now()
		kind := i % 8
		switch {
		case kind == 4 && clusters >= 8:
			kind = 0
		case kind == 7 && i%64 != 7:
			kind = 5
		}
		switch kind {
		case 0, 1, 2, 3:
			addr := fmt.Sprintf("10.%d.%d.%d:6000", 100+w, i/256%256, i%256)
			code, body, err := haDo(base, "POST", "/api/v2/proxies/meta", proxyBody(addr, fmt.Sprintf("host%d", (i+i/8)%8)))
			s.done(node, sent, code, body, err, func() { s.l.proxies = append(s.l.proxies, addr) })
		case 4:
			name := fmt.Sprintf("ha%dc%d", w, i)
			code, body, err := haDo(base, "POST", "/api/v2/clusters/meta/"+name, `{"node_number":4}`)
			s.done(node, sent, code, body, err, func() { s.l.clusters = append(s.l.clusters, name); clusters++ })
		case 5, 6:
			// Never a registered address: registering a proxy clears its reports.
			target, reporter := fmt.Sprintf("172.16.%d.%d:6000", w, i%16), fmt.Sprintf("coord%d-%d", w, i)
			code, body, err := haDo(base, "POST", "/api/v2/failures/"+target+"/"+reporter, "")
			s.done(node, sent, code, body, err, func() { s.l.reports = append(s.l.reports, target+"|"+reporter) })
		case 7:
			e := s.epoch.Add(1 << 20)
			code, body, err := haDo(base, "PUT", fmt.Sprintf("/api/v2/epoch/%d", e), "")
			s.done(node, sent, code, body, err, func() { s.l.maxEpoch = max(s.l.maxEpoch, e) })
		}
	}
}

func (s *stream) done(node string, sent time.Time, code int, body []byte, err error, record func()) {
	s.l.answer(code, body, err)
	if err == nil && code == 200 {
		s.l.acked(node, sent, record)
	}
}

// steady waits (bounded) until the stream has had every kind of write acknowledged.
func (s *stream) steady() {
	s.b.t.Helper()
	waitFor(s.b.t, 20*time.Second, "every kind of write acknowledged", func() bool {
		s.l.mu.Lock()
		defer s.l.mu.Unlock()
		return len(s.l.clusters) > 0 && len(s.l.reports) > 0 && s.l.maxEpoch > 0
	})
}

// waitResumed waits until each of nodes (every live instance if none are given) has
// acknowledged a write sent after since, and fails the test if that takes longer than
// bound. It returns how long it took.
func (s *stream) waitResumed(since time.Time, bound time.Duration, what string, nodes ...*haNode) time.Duration {
	s.b.t.Helper()
	if nodes == nil {
		nodes = s.b.live()
	}
	for {
		ok := true
		for _, n := range nodes {
			if !s.l.lastAck(n.listen).After(since) {
				ok = false
			}
		}
		took := time.Since(since)
		if ok {
			s.b.t.Logf("writes acknowledged again by %d instances %v after %s", len(nodes), took.Round(time.Millisecond), what)
			return took
		}
		if took > bound {
			s.b.t.Fatalf("writes not acknowledged again by every instance within %v of %s; %s", bound, what, s.l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// epochWatch polls GET /api/v2/epoch of every instance and records any that went down:
// epochs strictly increase across leaders, so no instance may ever show a lower one than
// it showed before — not across a takeover, nor across its own restart.
type epochWatch struct {
	mu     sync.Mutex
	last   map[string]uint64
	broken []string
	stop   chan struct{}
	done   chan struct{}
}

func watchEpochs(b *haBroker) *epochWatch {
	w := &epochWatch{last: map[string]uint64{}, stop: make(chan struct{}), done: make(chan struct{})}
	bases := make([]string, len(b.nodes))
	for i, n := range b.nodes {
		bases[i] = n.base()
	}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for _, base := range bases {
				code, body, err := haGet(base, "/api/v2/epoch")
				if err != nil || code != 200 {
					continue
				}
				var e uint64
				if _, err := fmt.Sscan(string(body), &e); err != nil {
					continue
				}
				w.mu.Lock()
				if prev := w.last[base]; e < prev {
					w.broken = append(w.broken, fmt.Sprintf("%s: epoch %d after %d", base, e, prev))
				}
				w.last[base] = e
				w.mu.Unlock()
			}
		}
	}()
	b.t.Cleanup(w.halt)
	return w
}

func (w *epochWatch) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// highest is the highest epoch any instance has shown so far.
func (w *epochWatch) highest() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var m uint64
	for _, e := range w.last {
		m = max(m, e)
	}
	return m
}

// check stops the watch and fails the test if an epoch went down.
func (w *epochWatch) check(t *testing.T) {
	t.Helper()
	w.halt()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.broken) > 0 {
		t.Fatalf("an instance showed a lower epoch than before: %v", w.broken)
	}
}

// etcdLeader returns the index (into endpoints) of the etcd member that leads raft.
func etcdLeader(t *testing.T, endpoints []string) int {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for i, ep := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := cli.Status(ctx, ep)
		cancel()
		if err != nil {
			t.Fatalf("etcd status of %s: %v", ep, err)
		}
		if st.Leader == st.Header.MemberId {
			return i
		}
	}
	t.Fatal("no etcd member leads")
	return -1
}

// leaderEpoch reads the epoch of the instance that leads now (as the live ones agree).
func (b *haBroker) leaderEpoch() uint64 {
	b.t.Helper()
	return b.epochOf(b.waitLeader(20 * time.Second))
}

// checkUnavailable fails the test unless a change sent to n, which says it is unavailable
// (cut off from etcd), answers 503 ETCD_UNAVAILABLE with a message saying why.
func checkUnavailable(t *testing.T, n *haNode) {
	t.Helper()
	code, body, err := haDo(n.base(), "POST", "/api/v2/proxies/meta", proxyBody("10.251.0.1:6000", "host0"))
	var e struct{ Error, Message string }
	json.Unmarshal(body, &e)
	if err != nil || code != 503 || e.Error != "ETCD_UNAVAILABLE" || e.Message == "" {
		t.Fatalf("a change sent to %s, cut off from etcd: %d %s %v; want 503 ETCD_UNAVAILABLE saying why", n.listen, code, body, err)
	}
}
