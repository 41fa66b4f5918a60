package httpapi_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkatest"
	"github.com/seed248d40c9/fulcrum/httpapi"
	"github.com/seed248d40c9/fulcrum/persist"
	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// One Kafka cluster for this test binary, started on first use (or make test's).
func TestMain(m *testing.M) { os.Exit(kafkatest.Main(m)) }

// startBalancerServer runs an engine, a balancer reading and changing Kafka through adm
// (none when adm is nil; exec tunes plan execution) and the HTTP server, and stops them in
// main's order: server, balancer, engine.
func startBalancerServer(t *testing.T, adm *kadm.Client, loadTimeout time.Duration, exec ...balancer.ExecOptions) *testServer {
	t.Helper()
	if adm == nil {
		return startBalancerServerWith(t, nil)
	}
	o := balancer.Options{
		Source: kafkaload.New(adm, loadTimeout), LoadTimeout: loadTimeout, Logger: zerolog.Nop(),
		Executor: kafkaexec.NewAdmin(adm, 0),
	}
	if len(exec) > 0 {
		o.Exec = exec[0]
	}
	return startBalancerServerWith(t, &o)
}

// startBalancerServerWith runs an engine, a balancer with o (none when o is nil; the
// engine's store is its store) and the HTTP server, and stops them in main's order.
func startBalancerServerWith(t *testing.T, o *balancer.Options) *testServer {
	t.Helper()
	return startBalancerServerMetrics(t, o, nil)
}

// startBalancerServerMetrics is startBalancerServerWith with, when reg is not nil, reg
// wired to the engine, the balancer and the server and served at /metrics, as fulcrum
// serve does.
func startBalancerServerMetrics(t *testing.T, o *balancer.Options, reg *prometheus.Registry) *testServer {
	t.Helper()
	// As fulcrum serve does: one store and one actor system, handed to both products.
	store, err := persist.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sys := actors.NewActorSystem(zerolog.Nop())
	eo := actors.Options{Store: store, System: sys, Logger: zerolog.Nop()}
	so := httpapi.Options{Logger: zerolog.Nop()}
	if reg != nil {
		eo.Registerer, so.Gatherer, so.Registerer = reg, reg, reg
	}
	eng, err := actors.Start(eo)
	if err != nil {
		t.Fatal(err)
	}
	var bal *balancer.Balancer
	if o != nil {
		o.Store = store
		if reg != nil {
			o.Registerer = reg
		}
		if os.Getenv("FULCRUM_TEST_LOG") != "" {
			o.Logger = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}).Level(zerolog.DebugLevel).With().Timestamp().Logger()
		}
		bal, err = balancer.Start(sys, *o)
		if err != nil {
			t.Fatal(err)
		}
	}
	so.Engine, so.Balancer = eng, bal
	srv := httpapi.New(so)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		if err := srv.Shutdown(); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		if bal != nil {
			if err := bal.Stop(); err != nil {
				t.Errorf("balancer stop: %v", err)
			}
		}
		if err := eng.Stop(); err != nil {
			t.Errorf("engine stop: %v", err)
		}
		sys.Shutdown()
		if err := store.Close(); err != nil {
			t.Errorf("store close: %v", err)
		}
	})
	return &testServer{t: t, base: "http://" + ln.Addr().String(), client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, eng: eng, reg: reg}
}

// balancerReport is GET /balancer's body, decoded strictly: an unknown field fails.
type balancerReport struct {
	Cost       float64                 `json:"cost"`
	NewCost    float64                 `json:"newCost"`
	Limit      int                     `json:"limit"`
	Function   string                  `json:"function"`
	Changes    []planner.Change        `json:"changes"`
	Migrations []planner.MigrationCost `json:"migrations"`

	MovedBytes      int64               `json:"movedBytes"`
	MovedPartitions int                 `json:"movedPartitions"`
	Constraints     planner.Constraints `json:"constraints"`
}

// roomOnDisk lifts maxDiskUsage to 1 unless the query sets it. The test Kafka's log dirs
// share this machine's disk, whose usage Kafka reports as (total − usable) / total; on a
// machine with little free space that is above the default 0.8, and every plan would copy
// nothing. The capacity constraint has tests of its own, which set the parameter.
func roomOnDisk(query string) string {
	if strings.Contains(query, "maxDiskUsage=") {
		return query
	}
	if query == "" {
		return "maxDiskUsage=1"
	}
	return query + "&maxDiskUsage=1"
}

func (s *testServer) balance(query string) balancerReport {
	s.t.Helper()
	r := s.do("GET", "/balancer?"+roomOnDisk(query), "")
	if r.status != http.StatusOK {
		s.t.Fatalf("GET /balancer?%s: %d %s", query, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.t.Fatalf("Content-Type %q", ct)
	}
	var rep balancerReport
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		s.t.Fatalf("decode %s: %v", r.body, err)
	}
	// Every key of the seed's shape is present (nothing decoded from an absent key).
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(r.body, &keys)
	for _, k := range []string{"cost", "newCost", "limit", "function", "changes", "migrations", "movedBytes", "movedPartitions", "constraints"} {
		if _, ok := keys[k]; !ok {
			s.t.Fatalf("response lacks %q: %s", k, r.body)
		}
	}
	return rep
}

// skewedTopics creates two topics with every replica on brokers 1 and 2 (leaders all on 1)
// and data in every partition, so the cluster is skewed in bytes and leaders.
func skewedTopics(t *testing.T, cl *kgo.Client) (string, string) {
	t.Helper()
	a, b := kafkatest.Name("skew-a"), kafkatest.Name("skew-b")
	kafkatest.CreateTopic(t, cl, a, [][]int32{{1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}})
	kafkatest.CreateTopic(t, cl, b, [][]int32{{1}, {1}, {1}, {1}})
	for p := range 6 {
		kafkatest.Fill(t, cl, a, int32(p), (p+1)*48<<10)
	}
	for p := range 4 {
		kafkatest.Fill(t, cl, b, int32(p), 256<<10)
	}
	sizesSettled(t, kadm.NewClient(cl), a, b)
	return a, b
}

// sizesSettled waits until Kafka reports the same replica sizes of topics twice in a row,
// 500 ms apart: right after the writes, followers and segments may still be catching up,
// and a plan compared with a later reading of the cluster would see another layout.
func sizesSettled(t *testing.T, adm *kadm.Client, topics ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	prev := ""
	for {
		dirs, err := adm.DescribeAllLogDirs(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, d := range dirs.Sorted() {
			for _, topic := range topics {
				for p, part := range d.Topics[topic] {
					lines = append(lines, fmt.Sprintf("%d %s %s-%d %d", d.Broker, d.Dir, topic, p, part.Size))
				}
			}
		}
		slices.Sort(lines)
		cur := strings.Join(lines, "\n")
		if cur != "" && cur == prev {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica sizes of %v still changing after 30 s:\n%s", topics, cur)
		}
		prev = cur
		time.Sleep(500 * time.Millisecond)
	}
}

// TestBalancerPlansRealKafka: a plan for two skewed topics on the real cluster lowers the
// cost; its "before" is Kafka's layout (replica order, directories, sizes from
// DescribeLogDirs); its "after" names live brokers and their directories; its migration
// costs balance; applying its changes gives newCost; the same seed gives the same plan.
func TestBalancerPlansRealKafka(t *testing.T) {
	cl := kafkatest.Client(t, kafkatest.Bootstrap(t))
	adm := kadm.NewClient(cl)
	a, b := skewedTopics(t, cl)
	s := startBalancerServer(t, adm, 0)

	q := "topics=" + url.QueryEscape(a+","+b) + "&seed=1"
	rep := s.balance(q)
	if !(rep.NewCost < rep.Cost) || len(rep.Changes) == 0 {
		t.Fatalf("cost %v → %v with %d changes: want a cheaper plan", rep.Cost, rep.NewCost, len(rep.Changes))
	}
	// No limit: the effort scales with the cluster, at least 10,000 candidates.
	if rep.Limit < 10000 || rep.Function != "ReplicaSizeCost,ReplicaLeaderCost" {
		t.Fatalf("limit %d function %q: want the defaults (automatic, ≥ 10000) and ReplicaSizeCost,ReplicaLeaderCost", rep.Limit, rep.Function)
	}

	ctx := t.Context()
	md, err := adm.Metadata(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range rep.Changes {
		if ch.Topic != a && ch.Topic != b {
			t.Fatalf("change to topic %s, only %s and %s may change", ch.Topic, a, b)
		}
		replicas := md.Topics[ch.Topic].Partitions[ch.Partition].Replicas
		if len(ch.Before) != len(replicas) || len(ch.After) != len(replicas) {
			t.Fatalf("%s-%d: before %v after %v, Kafka replicas %v", ch.Topic, ch.Partition, ch.Before, ch.After, replicas)
		}
		for i, r := range ch.Before {
			lp, ok := dirs[r.BrokerID].LookupPartition(ch.Topic, ch.Partition)
			if r.BrokerID != replicas[i] || !ok || r.Directory != lp.Dir || r.Size != lp.Size || r.Size <= 0 {
				t.Fatalf("%s-%d before[%d] = %+v; Kafka: broker %d, %s, %d bytes", ch.Topic, ch.Partition, i, r, replicas[i], lp.Dir, lp.Size)
			}
		}
		var brokers []int32
		for _, p := range ch.After {
			if _, ok := dirs[p.BrokerID][p.Directory]; !ok {
				t.Fatalf("%s-%d after: broker %d has no log dir %q", ch.Topic, ch.Partition, p.BrokerID, p.Directory)
			}
			if slices.Contains(brokers, p.BrokerID) {
				t.Fatalf("%s-%d after: broker %d twice", ch.Topic, ch.Partition, p.BrokerID)
			}
			brokers = append(brokers, p.BrokerID)
		}
	}
	if len(rep.Migrations) != 2 || rep.Migrations[0].Function != "size" || rep.Migrations[0].Unit != "byte" ||
		rep.Migrations[1].Function != "leader" {
		t.Fatalf("migrations %+v", rep.Migrations)
	}
	for _, m := range rep.Migrations {
		var sum int64
		for _, c := range m.Cost {
			sum += c.Cost
		}
		if sum != 0 || m.TotalCost < 0 {
			t.Fatalf("migration %s: per-broker costs sum to %d (want 0), total %d", m.Function, sum, m.TotalCost)
		}
	}

	// The changes turn Kafka's layout into one that costs newCost.
	snap, err := kafkaload.New(adm, 0).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after, err := snap.Cluster.Apply(rep.Changes)
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := planner.ParseFunctions(rep.Function)
	if got := after.Cost(fs); math.Abs(got-rep.NewCost) > 1e-9 {
		t.Fatalf("applying the changes costs %v, report says %v", got, rep.NewCost)
	}
	// Same seed, same layout: same plan. The test Kafka is shared, and another test binary
	// may change its layout between two plans (a topic created or filled, a plan executed;
	// the cost counts every topic's bytes), so the pair is asked for again until the layout
	// held still around it.
	loads := func() []planner.BrokerLoad {
		snap, err := kafkaload.New(adm, 0).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return snap.Cluster.Loads()
	}
	for try := 1; ; try++ {
		before := loads()
		first, again := s.balance(q), s.balance(q)
		if !equalJSON(t, loads(), before) {
			if try == 5 {
				t.Fatal("the shared Kafka's layout changed around each of 5 pairs of plans")
			}
			continue
		}
		if !equalJSON(t, again, first) {
			t.Fatal("same seed, same layout: different plan")
		}
		break
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestBalancerParameters: default topics leave internal ones alone, a named internal topic
// may move, limit is honoured exactly, a timeout cuts a huge limit short, and the budgets
// and the function are applied.
func TestBalancerParameters(t *testing.T) {
	cl := kafkatest.Client(t, kafkatest.Bootstrap(t))
	adm := kadm.NewClient(cl)
	a, _ := skewedTopics(t, cl)
	// Committing an offset creates __consumer_offsets.
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: a, Partition: 0, At: 1})
	if _, err := adm.CommitOffsets(t.Context(), kafkatest.Name("group"), offsets); err != nil {
		t.Fatal(err)
	}
	s := startBalancerServer(t, adm, 0)

	rep := s.balance("")
	for _, ch := range rep.Changes {
		if strings.HasPrefix(ch.Topic, "__") {
			t.Fatalf("internal topic %s changed by default", ch.Topic)
		}
	}
	if rep.NewCost >= rep.Cost {
		t.Fatalf("default request: %v → %v", rep.Cost, rep.NewCost)
	}
	// Asking for it by name is allowed (the plan may or may not move it).
	if r := s.balance("topics=__consumer_offsets&limit=500"); r.Limit != 500 {
		t.Fatalf("limit %d, want 500", r.Limit)
	}

	rep = s.balance("topics=" + a + "&limit=777&function=ReplicaLeaderCost:2&seed=3")
	if rep.Limit != 777 || rep.Function != "ReplicaLeaderCost:2" {
		t.Fatalf("limit %d function %q", rep.Limit, rep.Function)
	}
	// Leader cost only: broker 3 holds no replica of a, so it gets leaders by moves.
	if rep.NewCost >= rep.Cost || rep.Migrations[1].TotalCost == 0 {
		t.Fatalf("leader plan: cost %v → %v, %d leaders moved", rep.Cost, rep.NewCost, rep.Migrations[1].TotalCost)
	}

	rep = s.balance("topics=" + a + "&function=ReplicaSizeCost&maxMoves=1")
	moved := 0
	for _, ch := range rep.Changes {
		for _, p := range ch.After {
			if !slices.ContainsFunc(ch.Before, func(r planner.Replica) bool { return r.BrokerID == p.BrokerID && r.Directory == p.Directory }) {
				moved++
			}
		}
	}
	if moved != 1 {
		t.Fatalf("maxMoves=1: %d replicas moved", moved)
	}
	rep = s.balance("topics=" + a + "&function=ReplicaSizeCost&maxMoveBytes=1")
	if rep.Migrations[0].TotalCost != 0 || len(rep.Changes) != 0 || rep.NewCost != rep.Cost {
		t.Fatalf("maxMoveBytes=1: %d bytes moved, %d changes", rep.Migrations[0].TotalCost, len(rep.Changes))
	}

	// Leadership only: every change keeps its replicas (brokers and directories) and only
	// changes which one leads; nothing is copied.
	rep = s.balance("topics=" + a + "&maxMoveBytes=0")
	if len(rep.Changes) == 0 || rep.MovedBytes != 0 || rep.MovedPartitions != 0 {
		t.Fatalf("maxMoveBytes=0: %d changes, %d bytes, %d partitions moved", len(rep.Changes), rep.MovedBytes, rep.MovedPartitions)
	}
	for _, m := range rep.Migrations[0].Cost {
		if m.Cost != 0 {
			t.Fatalf("maxMoveBytes=0: size migration %+v", rep.Migrations[0])
		}
	}
	for _, ch := range rep.Changes {
		for _, p := range ch.After {
			if !slices.ContainsFunc(ch.Before, func(r planner.Replica) bool { return r.BrokerID == p.BrokerID && r.Directory == p.Directory }) {
				t.Fatalf("maxMoveBytes=0: %s-%d %+v -> %+v copies a replica", ch.Topic, ch.Partition, ch.Before, ch.After)
			}
		}
	}
	// Drain broker 1: no replica of a stays there, and the plan says it repaired that.
	rep = s.balance("topics=" + a + "&excludeBrokers=1&seed=2")
	changed := map[int32]bool{}
	for _, ch := range rep.Changes {
		changed[ch.Partition] = true
		for _, p := range ch.After {
			if p.BrokerID == 1 {
				t.Fatalf("excludeBrokers=1: %s-%d stays on broker 1: %+v", ch.Topic, ch.Partition, ch.After)
			}
		}
	}
	if len(changed) != 6 || rep.Constraints.Repaired[planner.ConstraintExcluded] != 6 || len(rep.Constraints.Unmet) > 0 {
		t.Fatalf("excludeBrokers=1: %d of 6 partitions changed, constraints %+v", len(changed), rep.Constraints)
	}
	// Fill broker 3 only: every replica that moves goes there; leaders may change anywhere.
	rep = s.balance("topics=" + a + "&targetBrokers=3&seed=2")
	if rep.MovedPartitions == 0 {
		t.Fatalf("targetBrokers=3: nothing moved to the empty broker 3: %+v", rep)
	}
	for _, ch := range rep.Changes {
		for _, p := range ch.After {
			if !slices.ContainsFunc(ch.Before, func(r planner.Replica) bool { return r.BrokerID == p.BrokerID && r.Directory == p.Directory }) && p.BrokerID != 3 {
				t.Fatalf("targetBrokers=3: %s-%d gets a replica on broker %d: %+v", ch.Topic, ch.Partition, p.BrokerID, ch.After)
			}
		}
	}
	// Kafka 4 reports every directory's capacity: a threshold no directory can meet stops
	// every copy, and the plan says which directories are above it.
	rep = s.balance("topics=" + a + "&maxDiskUsage=0.000001")
	if rep.MovedBytes != 0 || len(rep.Constraints.Notes) != 0 || len(rep.Constraints.Unmet) != 1 ||
		!strings.Contains(rep.Constraints.Unmet[0], "above maxDiskUsage") {
		t.Fatalf("maxDiskUsage=0.000001: moved %d bytes, constraints %+v", rep.MovedBytes, rep.Constraints)
	}

	start := time.Now()
	rep = s.balance("limit=2000000000&timeout=300ms")
	if d := time.Since(start); d > 5*time.Second || rep.Limit >= 2000000000 || rep.Limit <= 0 {
		t.Fatalf("timeout=300ms: took %s, evaluated %d", d, rep.Limit)
	}
}
