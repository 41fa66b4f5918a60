package actors

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

func TestFailureReportBounds(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	tests := []struct {
		name, addr, reporter string
		want                 error
	}{
		{"reporter of 70 KB", "10.0.0.1:6000", strings.Repeat("r", 70<<10), meta.ErrInvalidRequest},
		{"reporter of 257 bytes", "10.0.0.1:6000", strings.Repeat("r", meta.MaxReporterLen+1), meta.ErrInvalidRequest},
		{"empty reporter", "10.0.0.1:6000", "", meta.ErrInvalidRequest},
		{"address of 70 KB", strings.Repeat("a", 70<<10) + ":1", "coord", meta.ErrInvalidProxyAddress},
		{"address without port", "10.0.0.1", "coord", meta.ErrInvalidProxyAddress},
		{"address with two colons", "a:1:2", "coord", meta.ErrInvalidProxyAddress},
	}
	for _, tt := range tests {
		r := e.ReportFailure(tt.addr, tt.reporter)
		if !errors.Is(r.Err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, r.Err, tt.want)
		}
		if r.Err != nil && len(r.Err.Error()) > 200 {
			t.Errorf("%s: the error echoes the input (%d bytes)", tt.name, len(r.Err.Error()))
		}
	}
	if epoch(t, e) != 0 || len(metadata(t, e).Failures) != 0 {
		t.Fatal("refused reports changed the state")
	}
	ok(t, e.ReportFailure("10.0.0.1:6000", strings.Repeat("r", meta.MaxReporterLen)))
}

// TestReportersPerProxyAreBounded: junk reporters cannot grow a proxy's record (or the
// epoch) without bound; past the bound a report is refused, and other proxies still take
// reports.
func TestReportersPerProxyAreBounded(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{})
	for i := range meta.MaxReporters {
		ok(t, e.ReportFailure("10.0.0.1:6000", fmt.Sprintf("junk-%d", i)))
	}
	for i := range 50 {
		wantErr(t, e.ReportFailure("10.0.0.1:6000", fmt.Sprintf("more-%d", i)), meta.ErrTooManyReporters)
	}
	ok(t, e.ReportFailure("10.0.0.1:6000", "junk-0")) // a repeated live report is still a no-op
	if n := len(metadata(t, e).Failures["10.0.0.1:6000"]); n != meta.MaxReporters {
		t.Fatalf("%d reporters kept, want %d", n, meta.MaxReporters)
	}
	if n := epoch(t, e); n != meta.MaxReporters {
		t.Fatalf("epoch %d after the reports, want one bump per kept report (%d)", n, meta.MaxReporters)
	}
	ok(t, e.ReportFailure("10.0.0.2:6000", "more-0"))
}

// TestExpiredReportsArePruned: expired reports leave GET /metadata (the store) after the
// prune, without an epoch bump; live ones stay.
func TestExpiredReportsArePruned(t *testing.T) {
	clock := &fakeClock{}
	clock.now.Store(1_000_000)
	e := startEngine(t, t.TempDir(), Options{Now: clock.Now, FailureTTL: time.Minute, FailurePruneInterval: 10 * time.Millisecond})
	ok(t, e.ReportFailure("10.0.0.1:6000", "coord-a"))
	ok(t, e.ReportFailure("10.0.0.2:6000", "coord-a"))
	clock.advance(30 * time.Second)
	ok(t, e.ReportFailure("10.0.0.2:6000", "coord-b"))
	before := epoch(t, e)
	clock.advance(40 * time.Second) // the first two reports are 70 s old, the last 40 s
	deadline := time.Now().Add(5 * time.Second)
	for {
		f := metadata(t, e).Failures
		if f["10.0.0.1:6000"] == nil && len(f["10.0.0.2:6000"]) == 1 {
			if _, ok := f["10.0.0.2:6000"]["coord-b"]; !ok {
				t.Fatalf("the live report was pruned: %v", f)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired reports still stored after 5 s: %v", f)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if epoch(t, e) != before {
		t.Fatal("pruning moved the epoch")
	}
}
