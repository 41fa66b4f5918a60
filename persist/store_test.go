package persist

import (
	"bytes"
	"fmt"
	"testing"
)

func TestCommitSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	b.Put(Clusters, "c1", []byte(`{"name":"c1"}`))
	b.Put(Failed, "p1", nil)
	b.Put(Proxies, "gone", []byte("x"))
	b.Delete(Proxies, "gone")
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(func(r Reader) error {
		if got := string(r.Get(Clusters, "c1")); got != `{"name":"c1"}` {
			t.Errorf("cluster record = %q", got)
		}
		if r.Get(Failed, "p1") == nil {
			t.Error("empty value was not stored")
		}
		if r.Get(Proxies, "gone") != nil {
			t.Error("deleted key still present")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(dir); err == nil {
		t.Fatal("a second Open of a locked store succeeded")
	}
}

// TestBulkCommit: a batch written as a bulk load (fuller pages) reads back whole after a
// reopen, and small changes after it, which split those pages, do too; an unknown bucket
// fails the whole batch.
func TestBulkCommit(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	for i := range 3000 {
		b.Put(Clusters, fmt.Sprintf("c%05d", i), bytes.Repeat([]byte{'c'}, 1000))
		b.Put(Proxies, fmt.Sprintf("p%05d", i), bytes.Repeat([]byte{'p'}, 150))
	}
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	var small Batch
	for i := 0; i < 3000; i += 7 {
		small.Put(Clusters, fmt.Sprintf("c%05d+", i), []byte("inserted"))
		small.Delete(Proxies, fmt.Sprintf("p%05d", i))
	}
	if err := s.Commit(&small); err != nil {
		t.Fatal(err)
	}
	var bad Batch
	bad.Put(Clusters, "never", []byte("x"))
	bad.Put(Bucket("nosuch"), "k", []byte("x"))
	if err := s.Commit(&bad); err == nil {
		t.Fatal("a batch with an unknown bucket was committed")
	}
	s.Close()
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := func(bk Bucket) (n int) {
		s.View(func(r Reader) error { return r.ForEach(bk, func(string, []byte) error { n++; return nil }) })
		return n
	}
	if got, want := count(Clusters), 3000+429; got != want {
		t.Errorf("%d cluster records, want %d", got, want)
	}
	if got, want := count(Proxies), 3000-429; got != want {
		t.Errorf("%d proxy records, want %d", got, want)
	}
	s.View(func(r Reader) error {
		if got := r.Get(Clusters, "c02999"); !bytes.Equal(got, bytes.Repeat([]byte{'c'}, 1000)) {
			t.Errorf("c02999 = %q", got)
		}
		if r.Get(Clusters, "never") != nil {
			t.Error("part of a failed batch was stored")
		}
		return nil
	})
}
