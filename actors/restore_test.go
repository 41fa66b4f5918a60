package actors

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/persist"
)

func TestRestoreMetadata(t *testing.T) {
	src := startEngine(t, t.TempDir(), Options{})
	addProxies(t, src, 4, 2)
	ok(t, src.CreateCluster("a", 4))
	ok(t, src.CreateCluster("b", 8))
	ok(t, src.ReportFailure("127.0.0.4:7001", "coord"))
	doc := ok(t, src.Metadata())

	dst := startEngine(t, t.TempDir(), Options{})
	addProxies(t, dst, 2, 1)
	ok(t, dst.CreateCluster("gone", 4)) // replaced by the restore
	ok(t, dst.RestoreMetadata(doc))
	if got := ok(t, dst.Metadata()); string(got) != string(doc) {
		t.Fatalf("restored state differs\n got %s\nwant %s", got, doc)
	}
	// The cluster actors follow the restored state.
	for _, name := range []string{"a", "b"} {
		if string(ok(t, dst.ClusterMeta(name, Format{}))) != string(ok(t, src.ClusterMeta(name, Format{}))) {
			t.Fatalf("cluster %s is served differently after restore", name)
		}
	}
	checkStore(t, dst)
	// The same push again is accepted (equal epoch) and changes nothing.
	ok(t, dst.RestoreMetadata(doc))

	// A replica that moved on refuses an older state.
	ok(t, dst.SetEpoch(epoch(t, dst)+10))
	wantErr(t, dst.RestoreMetadata(doc), meta.ErrEpochSmallerThanCurrent)
}

func TestRestoreRefusesBadDocuments(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 2, 1)
	ok(t, e.CreateCluster("c", 4))
	before := ok(t, e.Metadata())
	good := string(before)
	f := func(doc string, want error) {
		t.Helper()
		wantErr(t, e.RestoreMetadata([]byte(doc)), want)
		if after := ok(t, e.Metadata()); string(after) != good {
			t.Fatal("a refused document changed the state")
		}
	}
	f(strings.Replace(good, "mem-broker-0.2", "mem-broker-0.1", 1), meta.ErrInvalidMetaVersion)
	f(`{"version":"mem-broker-0.2"}`, meta.ErrInvalidMetadata)
	f(`not json`, meta.ErrInvalidMetadata)
	f(strings.Replace(good, "[[8192,16383]]", "[[8000,16383]]", 1), meta.ErrInvalidMetadata) // slots twice
	f(strings.Replace(good, `"host":"127.0.0.2"`, `"host":"127.0.0.1"`, 1), meta.ErrInvalidMetadata)
	f(strings.Replace(good, `"cluster":"c"`, `"cluster":null`, 1), meta.ErrInvalidMetadata)
	ok(t, e.SetEpoch(100))
	wantErr(t, e.RestoreMetadata(before), meta.ErrEpochSmallerThanCurrent)
	// Version, then epoch, then invariants: a stale and broken push is stale.
	broken := strings.Replace(good, "[[8192,16383]]", "[[8000,16383]]", 1)
	wantErr(t, e.RestoreMetadata([]byte(broken)), meta.ErrEpochSmallerThanCurrent)
	wantErr(t, e.RestoreMetadata([]byte(strings.Replace(broken, "mem-broker-0.2", "mem-broker-0.3", 1))), meta.ErrInvalidMetaVersion)
	if epoch(t, e) != 100 || clusterView(t, e, "c").Epoch != 100 {
		t.Fatal("an older document changed the state")
	}
}

func TestReplicaConfigIsDurable(t *testing.T) {
	dir := t.TempDir()
	e, err := Start(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(ok(t, e.Config())); got != `{"replica_addresses":[]}` {
		t.Fatalf("initial config %s", got)
	}
	ok(t, e.SetReplicas([]string{"127.0.0.1:17799", "127.0.0.1:27799", "127.0.0.1:17799"}))
	wantErr(t, e.SetReplicas([]string{"nohost"}), meta.ErrInvalidRequest)
	e.Stop()
	e = startEngine(t, dir, Options{})
	if got := string(ok(t, e.Config())); got != `{"replica_addresses":["127.0.0.1:17799","127.0.0.1:27799"]}` {
		t.Fatalf("config after restart %s", got)
	}
}

func TestRecoverEpoch(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	behind := startFakeProxy(t, 50)
	ahead := startFakeProxy(t, 90)
	dead := startFakeProxy(t, 1000)
	dead.close()
	for i, p := range []*fakeProxy{behind, ahead, dead} {
		ok(t, e.AddProxy(p.addr(), [2]string{p.addr() + "0", p.addr() + "1"}, "h"+string(rune('a'+i)), nil))
	}
	ok(t, e.CreateCluster("c", 4))
	var got struct {
		FailedAddresses []string `json:"failed_addresses"`
	}
	json.Unmarshal(ok(t, e.RecoverEpoch()), &got)
	if len(got.FailedAddresses) != 1 || got.FailedAddresses[0] != dead.addr() {
		t.Fatalf("failed_addresses = %v, want [%s]", got.FailedAddresses, dead.addr())
	}
	if n := epoch(t, e); n != 92 {
		t.Fatalf("recovered epoch %d, want highest proxy epoch + 2 = 92", n)
	}
	if clusterView(t, e, "c").Epoch != 92 {
		t.Fatal("the cluster epoch did not move with the recovery")
	}
	// With proxies behind the broker, the epoch still moves forward by one.
	ahead.epoch.Store(1)
	json.Unmarshal(ok(t, e.RecoverEpoch()), &got)
	if n := epoch(t, e); n != 93 {
		t.Fatalf("second recovery gave %d, want 93", n)
	}
}

// exportMeta and importMeta run ExportMeta and ImportMeta on a bbolt store in dir, as
// fulcrum export-meta and import-meta do.
func exportMeta(t *testing.T, dir string) ([]byte, error) {
	t.Helper()
	s, err := persist.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return ExportMeta(s)
}

func importMeta(t *testing.T, dir string, doc []byte) error {
	t.Helper()
	s, err := persist.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return ImportMeta(s, doc)
}

func TestExportImportMeta(t *testing.T) {
	src := t.TempDir()
	e, err := Start(Options{DataDir: src})
	if err != nil {
		t.Fatal(err)
	}
	addProxies(t, e, 3, 1)
	ok(t, e.CreateCluster("c", 4))
	want := ok(t, e.Metadata())
	e.Stop()

	doc, err := exportMeta(t, src)
	if err != nil || string(doc) != string(want) {
		t.Fatalf("export-meta = %s, %v", doc, err)
	}
	dst := t.TempDir()
	if err := importMeta(t, dst, doc); err != nil {
		t.Fatal(err)
	}
	e = startEngine(t, dst, Options{})
	if got := ok(t, e.Metadata()); string(got) != string(want) {
		t.Fatalf("imported state differs\n got %s\nwant %s", got, want)
	}
	if clusterView(t, e, "c") == nil {
		t.Fatal("imported cluster is not served")
	}
	// An undermoon 0.3.0 file (mem-broker-0.1) is upgraded.
	old := `{"version":"mem-broker-0.1","global_epoch":7,"clusters":{},"all_proxies":{"10.0.0.9:6000":{"proxy_address":"10.0.0.9:6000","node_addresses":["10.0.0.9:7000","10.0.0.9:7001"],"host":"10.0.0.9","cluster":null}},"failed_proxies":[],"failures":{}}`
	fresh := t.TempDir()
	if err := importMeta(t, fresh, []byte(old)); err != nil {
		t.Fatal(err)
	}
	doc, _ = exportMeta(t, fresh)
	if !strings.Contains(string(doc), `"version":"mem-broker-0.2","global_epoch":7`) || !strings.Contains(string(doc), `"index":0`) {
		t.Fatalf("upgraded export %s", doc)
	}
	if err := importMeta(t, fresh, []byte(strings.Replace(old, `"global_epoch":7`, `"global_epoch":3`, 1))); !errors.Is(err, meta.ErrEpochSmallerThanCurrent) {
		t.Fatalf("importing an older file: %v", err)
	}
}

// TestOneRestoreAtATime: a restore while another runs is refused with OVERLOADED and
// changes nothing.
func TestOneRestoreAtATime(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 2, 1)
	doc := ok(t, e.Metadata())
	e.restoring.Store(true) // as if a restore were running
	wantErr(t, e.RestoreMetadata(doc), ErrOverloaded)
	e.restoring.Store(false)
	ok(t, e.RestoreMetadata(doc))
}

// TestSmallWritesDuringRestore: small changes sent while a big restore runs are all
// answered, and the one order of changes holds: each client's reports accepted before the
// restore are wiped by it, those after survive it (a suffix of each client's sequence), and
// the global epoch is the document's plus one per surviving report. The state survives a
// restart as answered.
func TestSmallWritesDuringRestore(t *testing.T) {
	src := startEngine(t, t.TempDir(), Options{})
	if err := seedClusters(src, 20, 40, 300); err != nil {
		t.Fatal(err)
	}
	ok(t, src.SetEpoch(1_000_000)) // above every epoch the small writes reach before it
	doc := ok(t, src.Metadata())
	docEpoch := epoch(t, src)

	dir := t.TempDir()
	e := startEngine(t, dir, Options{})
	addProxies(t, e, 2, 1)
	const clients = 4
	var stop atomic.Bool
	var wg sync.WaitGroup
	written := make([]int, clients) // each client's answered writes
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			after := 0
			for n := 0; after < 5; n++ { // some writes surely after the restore's answer
				if stop.Load() {
					after++
				}
				if r := e.ReportFailure(fmt.Sprintf("10.9.%d.%d:1", c, n), "w"); r.Err != nil {
					t.Errorf("client %d write %d: %v", c, n, r.Err)
					return
				}
				written[c] = n + 1
			}
		}()
	}
	ok(t, e.RestoreMetadata(doc))
	stop.Store(true)
	wg.Wait()
	if t.Failed() {
		return
	}

	check := func(e *Engine) {
		t.Helper()
		ms := metadata(t, e)
		survivors := 0
		for c := range clients {
			first := -1 // the first report of this client after the restore
			for n := range written[c] {
				_, kept := ms.Failures[fmt.Sprintf("10.9.%d.%d:1", c, n)]
				switch {
				case kept && first < 0:
					first = n
				case !kept && first >= 0:
					t.Fatalf("client %d: report %d kept, report %d wiped: the restore is not between the same two writes of one client", c, first, n)
				}
				if kept {
					survivors++
				}
			}
			if first < 0 {
				t.Fatalf("client %d: none of its %d reports, some sent after the restore's answer, was kept", c, written[c])
			}
		}
		t.Logf("%d reports before the restore (wiped by it), %d after", sum(written)-survivors, survivors)
		if got, want := ms.GlobalEpoch, docEpoch+uint64(survivors); got != want {
			t.Fatalf("global epoch %d, want the document's %d + %d reports after it", got, docEpoch, survivors)
		}
		if len(ms.Clusters) != 300 {
			t.Fatalf("%d clusters after the restore, want 300", len(ms.Clusters))
		}
		checkStore(t, e)
	}
	check(e)
	before := ok(t, e.Metadata())
	e.Stop()
	e = startEngine(t, dir, Options{})
	if after := ok(t, e.Metadata()); string(after) != string(before) {
		t.Fatal("the state after a restart differs from the one answered")
	}
	check(e)
}

// TestRestorePlanRebase: a restore is diffed against a snapshot off the pool; the pool
// reuses that verdict only for the clusters it still holds as in the snapshot.
func TestRestorePlanRebase(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 4, 2)
	ok(t, e.CreateCluster("changed", 4))
	ok(t, e.CreateCluster("same", 4))
	ms, err := meta.ParseStore(ok(t, e.Metadata()), false)
	if err != nil {
		t.Fatal(err)
	}
	ms.GlobalEpoch += 100 // ahead of the change below
	plan, err := planRestore(ms, snapshotOf(t, e))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.d.clusters) != 0 {
		t.Fatalf("the plan rewrites %v, equal to the snapshot", sortedKeys(plan.d.clusters))
	}
	ok(t, e.PatchClusterConfig("changed", map[string]string{"migration_scan_count": "7"}))
	tx := &poolTx{base: snapshotOf(t, e)}
	if _, err := tx.restorePlanned(plan); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(tx.d.clusters); !slices.Equal(got, []string{"changed"}) {
		t.Fatalf("the restore rewrites %v, want [changed] (changed since the plan)", got)
	}
	// Through the pool: the document wins, and the cluster actor serves it.
	ok(t, e.askPool("restore_metadata", &restoreMeta{Plan: plan}))
	if got := metadata(t, e).Clusters["changed"].Config; !reflect.DeepEqual(got, ms.Clusters["changed"].Config) {
		t.Fatalf("config after the restore %+v, want the document's %+v", got, ms.Clusters["changed"].Config)
	}
	if strings.Contains(string(ok(t, e.ClusterMeta("changed", Format{}))), `"migration_scan_count":"7"`) {
		t.Fatal("the cluster actor still serves the change the restore replaced")
	}
}

func snapshotOf(t *testing.T, e *Engine) *poolState {
	t.Helper()
	st, err := e.durableSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func sum(xs []int) (n int) {
	for _, x := range xs {
		n += x
	}
	return n
}

// TestRestoreStartsABatch: the changes queued before a restore are written in a batch of
// their own (they are not answered only after its long commit); those after it join it.
func TestRestoreStartsABatch(t *testing.T) {
	tests := []struct {
		queue string // s: a small change, R: a restore
		want  int    // changes in the next batch
	}{
		{"", 0},
		{"s", 1},
		{"sss", 3},
		{"R", 1},
		{"Rss", 3},
		{"ssR", 2},
		{"sRsR", 1},
		{"RsRs", 2},
	}
	for _, tt := range tests {
		a := &ProxyPoolActor{}
		for _, c := range tt.queue {
			a.queued = append(a.queued, &pending{d: &delta{}, bulk: c == 'R'})
		}
		if got := a.batchEnd(); got != tt.want {
			t.Errorf("queue %q: next batch of %d, want %d", tt.queue, got, tt.want)
		}
	}
}
