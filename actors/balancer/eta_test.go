package balancer

import (
	"math"
	"testing"
	"time"
)

func TestEstimateETA(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(sec float64, moved int64) progressSample {
		return progressSample{at: t0.Add(time.Duration(sec * float64(time.Second))), moved: moved}
	}
	const MiB = 1 << 20
	// A throttled copy: the first MiB unthrottled in a second, then 256 KiB/s.
	throttled := []progressSample{at(0, 0), at(1, MiB), at(2, MiB+256<<10), at(3, MiB+512<<10)}
	for _, c := range []struct {
		name    string
		samples []progressSample
		left    int64
		limit   float64
		want    float64 // -1: unknown
	}{
		{"throttle caps the burst", throttled, 3 * MiB, 256 << 10, 12},
		{"no throttle: achieved rate", throttled, 3 * MiB, 0, 3 * MiB / (float64(MiB+512<<10) / 3)},
		{"slower than the throttle", []progressSample{at(0, 0), at(4, 256<<10)}, MiB, 1 << 20, 16},
		{"two receivers", throttled, 3 * MiB, 2 * 256 << 10, 3 * MiB / (float64(MiB+512<<10) / 3)},
		{"nothing left", throttled, 0, 256 << 10, 0},
		{"one reading", throttled[:1], MiB, 0, -1},
		{"under a second", []progressSample{at(0, 0), at(0.5, 100)}, MiB, 0, -1},
		{"nothing moved", []progressSample{at(0, 100), at(5, 100)}, MiB, 0, -1},
	} {
		got := estimateETA(c.samples, c.left, c.limit)
		switch {
		case c.want < 0 && got != nil:
			t.Errorf("%s: %v, want unknown", c.name, *got)
		case c.want >= 0 && (got == nil || math.Abs(*got-c.want) > 1e-9):
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestAddSampleKeepsWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var s []progressSample
	for i := range 60 {
		s = addSample(s, progressSample{at: t0.Add(time.Duration(i) * time.Second), moved: int64(i)})
	}
	// The oldest kept is the newest that is at least a window old.
	if first, last := s[0], s[len(s)-1]; last.at.Sub(first.at) != etaWindow {
		t.Fatalf("window %s over %d samples", last.at.Sub(first.at), len(s))
	}
}
