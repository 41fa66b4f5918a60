package actors

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/seed248d40c9/fulcrum/actors/meta"
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

	doc, err := ExportMeta(src)
	if err != nil || string(doc) != string(want) {
		t.Fatalf("export-meta = %s, %v", doc, err)
	}
	dst := t.TempDir()
	if err := ImportMeta(dst, doc); err != nil {
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
	if err := ImportMeta(fresh, []byte(old)); err != nil {
		t.Fatal(err)
	}
	doc, _ = ExportMeta(fresh)
	if !strings.Contains(string(doc), `"version":"mem-broker-0.2","global_epoch":7`) || !strings.Contains(string(doc), `"index":0`) {
		t.Fatalf("upgraded export %s", doc)
	}
	if err := ImportMeta(fresh, []byte(strings.Replace(old, `"global_epoch":7`, `"global_epoch":3`, 1))); !errors.Is(err, meta.ErrEpochSmallerThanCurrent) {
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
