package resultsfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceBlock(t *testing.T) {
	const b, e = "<!-- x:begin -->", "<!-- x:end -->"
	doc := "# R\n\nmine\n"
	once := ReplaceBlock(doc, b, e, "gen 1\n")
	if once != "# R\n\nmine\n\n"+b+"\ngen 1\n"+e+"\n" {
		t.Errorf("append: %q", once)
	}
	twice := ReplaceBlock(once+"\nafter\n", b, e, "gen 2")
	if twice != "# R\n\nmine\n\n"+b+"\ngen 2\n"+e+"\n\nafter\n" {
		t.Errorf("replace: %q", twice)
	}
}

// The block is replaced in place, text around it kept; a file without it gets it appended.
func TestUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	for _, c := range []struct{ before, want string }{
		{"", "\n\n<!-- x:begin -->\nnew\n<!-- x:end -->\n"},
		{"# R\n", "# R\n\n<!-- x:begin -->\nnew\n<!-- x:end -->\n"},
		{"a\n<!-- x:begin -->\nold\nold\n<!-- x:end -->\nb\n", "a\n<!-- x:begin -->\nnew\n<!-- x:end -->\nb\n"},
	} {
		if err := os.WriteFile(path, []byte(c.before), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Update(path, "x", "new\n"); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != c.want {
			t.Errorf("from %q: got %q, want %q", c.before, got, c.want)
		}
	}
}
