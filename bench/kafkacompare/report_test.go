package main

import (
	"testing"
)

func TestPick(t *testing.T) {
	for _, c := range []struct {
		costs        []float64
		best, median int
	}{
		{[]float64{0.5}, 0, 0},
		{[]float64{0.3, 0.1, 0.2}, 1, 2},
		{[]float64{0.4, 0.1, 0.3, 0.2, 0.5}, 1, 2},
		{[]float64{0.2, 0.2, 0.1, 0.3}, 2, 1},
	} {
		scores := make([]Score, len(c.costs))
		for i, x := range c.costs {
			scores[i].Cost = x
		}
		if best, median := pick(scores); best != c.best || median != c.median {
			t.Errorf("%v: best %d median %d, want %d %d", c.costs, best, median, c.best, c.median)
		}
	}
}
