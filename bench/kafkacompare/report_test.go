package main

import (
	"os"
	"path/filepath"
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

// The block is replaced in place, text around it kept; a file without it gets it appended.
func TestUpdateResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	for _, c := range []struct{ before, want string }{
		{"", "\n\n<!-- x:begin -->\nnew\n<!-- x:end -->\n"},
		{"# R\n", "# R\n\n<!-- x:begin -->\nnew\n<!-- x:end -->\n"},
		{"a\n<!-- x:begin -->\nold\nold\n<!-- x:end -->\nb\n", "a\n<!-- x:begin -->\nnew\n<!-- x:end -->\nb\n"},
	} {
		if err := os.WriteFile(path, []byte(c.before), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := updateResults(path, "x", "new\n"); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != c.want {
			t.Errorf("from %q: got %q, want %q", c.before, got, c.want)
		}
	}
}
