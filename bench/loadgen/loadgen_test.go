package main

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHistogramExactSmallValues(t *testing.T) {
	h := NewHistogram()
	for v := 1; v <= 100; v++ {
		h.Record(time.Duration(v))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0, 1}, {1, 1}, {50, 50}, {90, 90}, {99, 99}, {100, 100}} {
		if got := h.Percentile(c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if h.Count() != 100 || h.Max() != 100 || h.Mean() != 50 { // mean 50.5 truncated
		t.Errorf("count %d max %v mean %v", h.Count(), h.Max(), h.Mean())
	}
}

func TestHistogramRelativeError(t *testing.T) {
	// A million latencies spread log-uniformly over 10 µs..1 s: every percentile must be
	// within the bucket precision (1/128) of the exact order statistic.
	rng := rand.New(rand.NewPCG(3, 4))
	vals := make([]int64, 1_000_000)
	h := NewHistogram()
	for i := range vals {
		vals[i] = int64(math.Pow(10, 4+5*rng.Float64()))
		h.Record(time.Duration(vals[i]))
	}
	slices.Sort(vals)
	for _, p := range []float64{10, 50, 90, 99, 99.9, 99.99} {
		exact := vals[int(math.Ceil(p/100*float64(len(vals))))-1]
		got := int64(h.Percentile(p))
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 1.0/128 {
			t.Errorf("p%v = %d, exact %d, relative error %.4f", p, got, exact, rel)
		}
	}
	if h.Percentile(100) != time.Duration(vals[len(vals)-1]) {
		t.Errorf("p100 %v != max %v", h.Percentile(100), vals[len(vals)-1])
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Every bucket's range is contiguous with the next, and values map into their bucket.
	for i := 1; i < nBuckets-1; i++ {
		lo := bucketHigh(i-1) + 1
		if bucketOf(lo) != i || bucketOf(bucketHigh(i)) != i {
			t.Fatalf("bucket %d: [%d, %d] maps to %d, %d", i, lo, bucketHigh(i), bucketOf(lo), bucketOf(bucketHigh(i)))
		}
	}
	if bucketOf(math.MaxInt64) != nBuckets-1 || bucketOf(-5) != 0 {
		t.Error("out-of-range values are not clamped")
	}
}

func TestHistogramMerge(t *testing.T) {
	a, b, all := NewHistogram(), NewHistogram(), NewHistogram()
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(b)
	a.Merge(NewHistogram())
	for _, p := range []float64{50, 99, 99.9} {
		if a.Percentile(p) != all.Percentile(p) {
			t.Errorf("merged p%v = %v, want %v", p, a.Percentile(p), all.Percentile(p))
		}
	}
	if a.Count() != 1000 || a.Max() != time.Millisecond {
		t.Errorf("merged count %d max %v", a.Count(), a.Max())
	}
	if c := a.Curve(); len(c) < 10 || c[len(c)-1].Percentile != 100 || c[len(c)-1].Ms != 1 {
		t.Errorf("curve %v", c)
	}
}

func testState(clusters, proxies int) State {
	st := State{API: "/api/v2"}
	for i := range clusters {
		st.Clusters = append(st.Clusters, SeedCluster(i))
	}
	for i := range proxies {
		addr, _, _ := SeedProxy(i, 50)
		st.Proxies = append(st.Proxies, addr)
	}
	return st
}

func TestCoordinatorRoundMix(t *testing.T) {
	round := coordinatorRound(testState(1000, 2200))
	count := map[int]int{}
	for _, r := range round {
		count[r.Op]++
		if r.Method != "GET" || !strings.HasPrefix(r.Path, "/api/v2/") {
			t.Fatalf("bad request %+v", r)
		}
	}
	// Pages of 100 including the final empty one; every cluster and proxy once; the failed
	// set twice (failure detection and meta sync).
	want := map[int]int{opNames: 11, opClusterMeta: 1000, opProxyAddresses: 23, opProxyMeta: 2200, opFailed: 2}
	for op, n := range want {
		if count[op] != n {
			t.Errorf("%s: %d requests per round, want %d", readOps[op], count[op], n)
		}
	}
	if round[len(round)-1].Path != "/api/v2/proxies/meta/10.0.49.1:6043" {
		t.Errorf("last request %s", round[len(round)-1].Path)
	}

	// Workers share one cursor: together they issue the round exactly.
	sc := CoordinatorScenario(testState(10, 20))
	w1, w2 := sc.NewWorker(0), sc.NewWorker(1)
	seen := map[string]int{}
	for i := 0; i < 2*len(coordinatorRound(testState(10, 20))); i++ {
		w := w1
		if i%3 == 0 {
			w = w2
		}
		seen[w.Next().Path]++
	}
	if seen["/api/v2/clusters/meta/c00003"] != 2 || seen["/api/v2/proxies/failed/addresses"] != 4 {
		t.Errorf("shared round not followed: %v", seen)
	}
}

func TestReadsRound(t *testing.T) {
	round := readsRound(testState(100, 220))
	n := map[int]int{}
	for _, r := range round {
		n[r.Op]++
	}
	if n[opClusterMeta] != 100 || n[opProxyMeta] != 220 || len(round) != 320 {
		t.Errorf("reads round %v", n)
	}
}

func TestCheckMeta(t *testing.T) {
	if checkMeta(opClusterMeta, []byte(`{"cluster":null}`)) == "" || checkMeta(opProxyMeta, []byte(`{"proxy":null}`)) == "" {
		t.Error("null answers not flagged")
	}
	if checkMeta(opClusterMeta, []byte(`{"cluster":{"name":"a"}}`)) != "" || checkMeta(opNames, []byte(`{}`)) != "" {
		t.Error("good answers flagged")
	}
}

func TestMutationsMix(t *testing.T) {
	st := testState(100, 200)
	sc := MutationsScenario(st, MutationMix{Report: 5, Config: 3, CreateDelete: 2}, "r1")
	w := sc.NewWorker(3)
	count := map[int]int{}
	created := ""
	const n = 20000
	reporters := map[string]bool{}
	for range n {
		r := w.Next()
		count[r.Op]++
		switch r.Op {
		case opReport:
			if reporters[r.Path] {
				t.Fatalf("repeated failure report %s: it would be a no-op, not a write", r.Path)
			}
			reporters[r.Path] = true
		case opConfig:
			if r.Method != "PATCH" || !bytes.Contains(r.Body, []byte("migration_scan_count")) {
				t.Fatalf("bad config patch %+v", r)
			}
		case opCreate:
			if created != "" {
				t.Fatalf("create while %s is still there", created)
			}
			created = strings.TrimPrefix(r.Path, "/api/v2/clusters/meta/")
			if len(created) > 31 {
				t.Fatalf("cluster name %q too long", created)
			}
		case opDelete:
			if r.Path != "/api/v2/clusters/meta/"+created {
				t.Fatalf("delete %s, created %s", r.Path, created)
			}
			created = ""
		}
		w.Done(r, 200, nil)
	}
	for op, weight := range map[int]float64{opReport: 0.5, opConfig: 0.3, opCreate: 0.1, opDelete: 0.1} {
		if got := float64(count[op]) / n; math.Abs(got-weight) > 0.02 {
			t.Errorf("%s: share %.3f, want %.2f", mutationOps[op], got, weight)
		}
	}
	// A failed create leaves nothing to delete; a pending cluster is deleted at clean-up.
	w2 := sc.NewWorker(4).(*mutationWorker)
	w2.mix = MutationMix{CreateDelete: 1}
	r := w2.Next()
	w2.Done(r, 409, nil)
	if r2 := w2.Next(); r2.Op != opCreate {
		t.Errorf("after a failed create: %+v", r2)
	} else if cl := w2.Cleanup(); len(cl) != 1 || cl[0].Method != "DELETE" {
		t.Errorf("clean-up %+v", cl)
	}
}

// TestDurableScenario: every request of the durable scenario is a failure report of one of
// the given proxies from a reporter no other request used (so a real write), and the reports
// reach every proxy.
func TestDurableScenario(t *testing.T) {
	proxies := testState(1, 50).Proxies
	sc := DurableScenario(State{API: "/api/v2", Proxies: proxies}, "r2")
	seen, hit := map[string]bool{}, map[string]bool{}
	for id := range 4 {
		w := sc.NewWorker(id)
		for range 2000 {
			r := w.Next()
			rest, ok := strings.CutPrefix(r.Path, "/api/v2/failures/")
			if r.Method != "POST" || !ok || r.Op != opReport {
				t.Fatalf("not a failure report: %+v", r)
			}
			if seen[r.Path] {
				t.Fatalf("repeated report %s: a no-op, not a write", r.Path)
			}
			seen[r.Path] = true
			addr, _, _ := strings.Cut(rest, "/")
			hit[addr] = true
			w.Done(r, 200, nil)
		}
	}
	for _, p := range proxies {
		if !hit[p] {
			t.Errorf("proxy %s never reported", p)
		}
	}
	if len(hit) != len(proxies) {
		t.Errorf("reports reached %d addresses, want the %d proxies", len(hit), len(proxies))
	}
}

func TestParseMutationMix(t *testing.T) {
	m, err := ParseMutationMix("report=1, config=0,create=4")
	if err != nil || m != (MutationMix{1, 0, 4}) {
		t.Errorf("got %+v %v", m, err)
	}
	for _, bad := range []string{"", "report=x", "foo=1", "report=0,config=0,create=0", "report=-1"} {
		if _, err := ParseMutationMix(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSeedLayout(t *testing.T) {
	hosts := map[string]int{}
	addrs := map[string]bool{}
	for i := range 2200 {
		addr, host, nodes := SeedProxy(i, 50)
		if !strings.HasPrefix(addr, host+":") || !strings.HasPrefix(nodes[0], host+":") || nodes[0] == nodes[1] {
			t.Fatalf("proxy %d: %s %s %v", i, addr, host, nodes)
		}
		if addrs[addr] {
			t.Fatalf("duplicate %s", addr)
		}
		addrs[addr] = true
		hosts[host]++
	}
	if len(hosts) != 50 || hosts["10.0.0.1"] != 44 {
		t.Errorf("hosts %d, per host %d", len(hosts), hosts["10.0.0.1"])
	}
	if _, host, _ := SeedProxy(300, 500); host != "10.1.44.1" {
		t.Errorf("host of proxy 300 of 500 hosts: %s", host)
	}
}

func TestReport(t *testing.T) {
	res := &Result{
		Scenario: "reads", Ops: []string{"cluster_meta", "proxy_meta", "unused"},
		Hists:   []*Histogram{NewHistogram(), NewHistogram(), NewHistogram()},
		Errs:    []map[string]int64{{}, {"404 PROXY_NOT_FOUND": 2, "transport: timeout": 1}, {}},
		Total:   NewHistogram(),
		Elapsed: 2 * time.Second,
		Cfg:     RunConfig{Concurrency: 64, Warmup: time.Second, Target: "http://x"},
		RSS:     RSSSample{Bytes: 64 << 20, Source: "metrics"},
	}
	for i := 1; i <= 1000; i++ {
		res.Hists[i%2].Record(time.Duration(i) * time.Microsecond)
	}
	res.Total.Merge(res.Hists[0])
	res.Total.Merge(res.Hists[1])
	rep := NewReport(res, time.Unix(0, 0))
	if rep.Requests != 1003 || rep.Errors != 3 || rep.Throughput != 500 || len(rep.Ops) != 2 {
		t.Fatalf("report %+v", rep)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) <= want/128 }
	if !near(rep.Latency.P50, 0.5) || !near(rep.Latency.P99, 0.99) || rep.Latency.Max != 1 {
		t.Errorf("latency %+v", rep.Latency)
	}
	var buf bytes.Buffer
	rep.WriteText(&buf)
	out := buf.String()
	for _, want := range []string{"throughput 500 req/s", "p99 0.991", "proxy_meta", "server RSS 64.0 MiB",
		"error 404 PROXY_NOT_FOUND", "×2"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	b, err := json.Marshal(rep)
	if err != nil || !bytes.Contains(b, []byte(`"p99_9_ms"`)) || !bytes.Contains(b, []byte(`"throughput_rps":500`)) {
		t.Errorf("json %s %v", b, err)
	}
	row := mdRow("reads", "Fulcrum", rep, readsTarget(rep))
	if !strings.Contains(row, "**not met**") || !strings.Contains(row, "| 500 |") {
		t.Errorf("row %s", row)
	}
}

func TestFormatting(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999.4: "999", 1000: "1,000", 51234.6: "51,235", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{0.01234: "0.012", 1.234: "1.23", 12.34: "12.3", 123.4: "123"} {
		if got := msStr(v); got != want {
			t.Errorf("msStr(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestParseMetricAndStatus(t *testing.T) {
	text := "# HELP process_resident_memory_bytes x\nprocess_resident_memory_bytes_other 1\nprocess_resident_memory_bytes 4.5056e+07\n"
	v, err := parseMetric(strings.NewReader(text), "process_resident_memory_bytes")
	if err != nil || v != 45056000 {
		t.Errorf("got %v %v", v, err)
	}
	if _, err := parseMetric(strings.NewReader("a 1\n"), "b"); err == nil {
		t.Error("missing metric found")
	}
	kb, err := statusField([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"), "VmRSS:")
	if err != nil || kb != 1024 {
		t.Errorf("VmRSS %d %v", kb, err)
	}
}

func TestReferenceServer(t *testing.T) {
	ref := NewReference("/api/v2")
	ref.clusters["c1"] = newRefView([]byte(`{"cluster":{"name":"c1"}}`))
	ref.proxies["10.0.0.1:6000"] = newRefView([]byte(`{"proxy":{"address":"10.0.0.1:6000"}}`))
	srv := httptest.NewServer(ref.Handler())
	defer srv.Close()
	for path, want := range map[string]string{
		"/api/v2/clusters/meta/c1":           `{"cluster":{"name":"c1"}}`,
		"/api/v2/clusters/meta/nope":         `{"cluster":null}`,
		"/api/v2/proxies/meta/10.0.0.1:6000": `{"proxy":{"address":"10.0.0.1:6000"}}`,
		"/api/v2/proxies/meta/10.9.9.9:6000": `{"proxy":null}`,
		"/healthz":                           `{"status":"ok"}`,
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || buf.String() != want {
			t.Errorf("%s: %d %s", path, resp.StatusCode, buf.String())
		}
	}
}

func TestRunAgainstReference(t *testing.T) {
	// End to end on loopback: the runner, the client and the report against the reference.
	st := testState(3, 4)
	ref := NewReference(st.API)
	for _, c := range st.Clusters[:2] { // the third cluster answers null: an error
		ref.clusters[c] = newRefView([]byte(`{"cluster":{}}`))
	}
	for _, p := range st.Proxies {
		ref.proxies[p] = newRefView([]byte(`{"proxy":{}}`))
	}
	srv := httptest.NewServer(ref.Handler())
	defer srv.Close()
	c, err := NewClient(srv.URL, 4, time.Second, V2)
	if err != nil {
		t.Fatal(err)
	}
	res := Run(t.Context(), c, ReadsScenario(st), RunConfig{Concurrency: 4, Duration: 200 * time.Millisecond})
	rep := NewReport(res, time.Now())
	if rep.Requests < 10 || rep.ErrorsBy["200 null cluster"] == 0 || rep.Ops[1].Errors != 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestReadsUnderWritesAgainstReference(t *testing.T) {
	// Writers report failures durably while the others read: both kinds succeed, and every
	// acknowledged report is in the reference's log.
	st := testState(2, 4)
	ref := NewReference(st.API)
	for _, c := range st.Clusters {
		ref.clusters[c] = newRefView([]byte(`{"cluster":{}}`))
	}
	for _, p := range st.Proxies {
		ref.proxies[p] = newRefView([]byte(`{"proxy":{}}`))
	}
	logPath := filepath.Join(t.TempDir(), "failures.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref.log = f
	srv := httptest.NewServer(ref.Handler())
	defer srv.Close()
	c, err := NewClient(srv.URL, 8, time.Second, V2)
	if err != nil {
		t.Fatal(err)
	}
	sc := ReadsUnderWritesScenario(st, st.Proxies, 2, "t1")
	res := Run(t.Context(), c, sc, RunConfig{Concurrency: 8, Duration: 300 * time.Millisecond})
	rep := NewReport(res, time.Now())
	ops := map[string]OpReport{}
	for _, o := range rep.Ops {
		ops[o.Name] = o
	}
	reports := ops["report_failure"]
	if rep.Errors != 0 || reports.Requests == 0 || ops["proxy_meta"].Requests == 0 || ops["cluster_meta"].Requests == 0 {
		t.Fatalf("report %+v", rep)
	}
	logged, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := int64(bytes.Count(logged, []byte("\n"))); n < reports.Requests {
		t.Errorf("%d reports acknowledged, %d in the log", reports.Requests, n)
	}
}

func TestErrorLabel(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   string
	}{
		{409, `{"error":"ALREADY_EXISTED"}`, "409 ALREADY_EXISTED"},
		{503, `{"code":503,"message":"4 plan searches are running; retry later"}`, "503 N plan searches are running; retry later"},
		{404, ``, "404"},
		{500, `not json`, "500"},
	} {
		if got := errorLabel(c.status, []byte(c.body), nil); got != c.want {
			t.Errorf("%d %s: %q, want %q", c.status, c.body, got, c.want)
		}
	}
}

func TestUnderLoadNote(t *testing.T) {
	busy := &Report{CPU: CPUShare{OtherCores: 0.9}}
	quiet := &Report{CPU: CPUShare{OtherCores: 0.1}}
	for _, tt := range []struct {
		name          string
		before, after string
		reports       []*Report
		marked        bool
	}{
		{"quiet", "0.20", "0.40", []*Report{quiet, nil}, false},
		{"busy before", "7.50", "0.40", []*Report{quiet}, true},
		{"busy after", "0.20", "1.00", []*Report{quiet}, true},
		{"neighbour during a scenario", "0.20", "0.40", []*Report{quiet, busy}, true},
		{"load average unknown", "unknown", "unknown", []*Report{quiet}, false},
	} {
		note := underLoadNote(tt.before, tt.after, 2, tt.reports)
		if marked := strings.Contains(note, "**Measured under load**"); marked != tt.marked {
			t.Errorf("%s: note %q, want marked %t", tt.name, note, tt.marked)
		}
	}
}
