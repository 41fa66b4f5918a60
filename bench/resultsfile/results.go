// Package resultsfile writes benchmark reports into marked blocks of bench/RESULTS.md; it is
// shared by the bench commands (bench/loadgen, bench/kafkacompare).
package resultsfile

import (
	"os"
	"os/exec"
	"strings"
	"time"
)

// ReplaceBlock replaces the text between the lines begin and end (markers kept) with
// body, or appends the marked block when doc has no markers. Everything outside the block
// (sections written by hand) is kept as is.
func ReplaceBlock(doc, begin, end, body string) string {
	block := begin + "\n" + strings.TrimRight(body, "\n") + "\n" + end
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return strings.TrimRight(doc, "\n") + "\n\n" + block + "\n"
	}
	return doc[:i] + block + doc[j+len(end):]
}

// Update rewrites the block named name (between <!-- name:begin --> and
// <!-- name:end -->) of the results file at path, creating the file if need be.
func Update(path, name, body string) error {
	doc, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	out := ReplaceBlock(string(doc), "<!-- "+name+":begin -->", "<!-- "+name+":end -->", body)
	return os.WriteFile(path, []byte(out), 0o644)
}

// Now is when a report was made, as the results file dates them: "2006-01-02 15:04 UTC".
func Now() string { return time.Now().UTC().Format("2006-01-02 15:04 UTC") }

// Commit is the short commit of the working tree, with "+dirty" when it has changes.
func Commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "+dirty"
	}
	return c
}
