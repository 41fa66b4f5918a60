package persist

import (
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
