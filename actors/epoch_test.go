package actors

import (
	"math"
	"strconv"
	"testing"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/persist"
)

// TestEpochCannotWrap: an epoch that leaves no room to grow is refused, so the next change
// never takes the global epoch (and the proxies' epochs) back to 0.
func TestEpochCannotWrap(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	addProxies(t, e, 2, 2)
	ok(t, e.CreateCluster("c", 4))
	before := epoch(t, e)
	for _, n := range []uint64{math.MaxUint64, math.MaxUint64 - 1, meta.MaxEpoch + 1} {
		wantErr(t, e.SetEpoch(n), meta.ErrEpochOutOfRange)
	}
	if epoch(t, e) != before {
		t.Fatal("a refused epoch changed the state")
	}
	ok(t, e.SetEpoch(meta.MaxEpoch))
	ok(t, e.AddProxy("127.0.0.9:7000", [2]string{"127.0.0.9:6000", "127.0.0.9:6001"}, "", nil))
	if got := epoch(t, e); got != meta.MaxEpoch+1 {
		t.Fatalf("epoch after a change at 2^63 is %d, want 2^63+1", got)
	}
	if v := proxyView(t, e, "127.0.0.9:7000"); v.Epoch != meta.MaxEpoch+1 {
		t.Fatalf("free proxy's epoch %d, want 2^63+1", v.Epoch)
	}
}

// TestEpochAdditionsAreChecked: a store whose epoch is at 2^64-1 (written before epochs were
// bounded) refuses every change that would bump it, and changes nothing.
func TestEpochAdditionsAreChecked(t *testing.T) {
	dir := t.TempDir()
	e := startEngine(t, dir, Options{})
	addProxies(t, e, 2, 2)
	ok(t, e.CreateCluster("c", 4))
	e.Stop()
	store, err := persist.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b persist.Batch
	b.Put(persist.Meta, metaEpochKey, []byte(strconv.FormatUint(math.MaxUint64, 10)))
	if err := store.Commit(&b); err != nil {
		t.Fatal(err)
	}
	store.Close()

	e = startEngine(t, dir, Options{})
	before := string(ok(t, e.Metadata()))
	wantErr(t, e.AddProxy("127.0.0.9:7000", [2]string{"127.0.0.9:6000", "127.0.0.9:6001"}, "", nil), meta.ErrEpochExhausted)
	wantErr(t, e.ReportFailure("127.0.0.1:7000", "coord"), meta.ErrEpochExhausted)
	wantErr(t, e.DeleteCluster("c"), meta.ErrEpochExhausted)
	wantErr(t, e.BalanceCluster("c"), meta.ErrEpochExhausted)
	wantErr(t, e.AddNodes("c", 4, Format{}), meta.ErrEpochExhausted)
	wantErr(t, e.Failover("127.0.0.1:7000", Format{}), meta.ErrEpochExhausted)
	if after := string(ok(t, e.Metadata())); after != before {
		t.Fatalf("a refused bump changed the state\nbefore %s\n after %s", before, after)
	}
}

// TestRecoverEpochNearTheBound: the largest epoch a proxy can report is still moved past.
func TestRecoverEpochNearTheBound(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	p := startFakeProxy(t, math.MaxInt64) // 2^63 - 1
	ok(t, e.AddProxy(p.addr(), [2]string{p.addr() + "0", p.addr() + "1"}, "ha", nil))
	ok(t, e.RecoverEpoch())
	if n := epoch(t, e); n != meta.MaxEpoch+1 {
		t.Fatalf("recovered epoch %d, want 2^63+1", n)
	}
	ok(t, e.RecoverEpoch())
	if n := epoch(t, e); n != meta.MaxEpoch+2 {
		t.Fatalf("second recovery gave %d, want 2^63+2", n)
	}
}
