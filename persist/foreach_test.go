package persist

import (
	"errors"
	"strings"
	"testing"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
)

// records renders Backend.ForEach of one bucket as "key=value" lines, in the order read.
func records(t *testing.T, s Backend, b Bucket) string {
	t.Helper()
	var lines []string
	if err := s.ForEach(b, func(k string, v []byte) error {
		if v == nil {
			t.Errorf("%s/%s: nil value, want non-nil", b, k)
		}
		lines = append(lines, k+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// testForEach: Backend.ForEach returns only the bucket's records (failed and failures side
// by side among them), in key order whatever the write order, an empty value as empty, nothing for an empty bucket; fn's error stops the read
// and is returned; an unknown bucket is an error.
func testForEach(t *testing.T, s Backend) {
	var b Batch
	b.Put(Clusters, "c2", []byte("two"))
	b.Put(Clusters, "c10", []byte("ten"))
	b.Put(Clusters, "a/b", []byte("slash")) // a key with a slash: the key, whole
	b.Put(Clusters, "c1", []byte("one"))
	b.Put(Failed, "p1", nil)
	b.Put(Failures, "p1", []byte(`{"r":1}`))
	b.Put(Failures, "p0", []byte(`{"r":0}`))
	b.Put(Meta, "global_epoch", []byte("3"))
	b.Put(Proxies, "gone", []byte("x"))
	b.Delete(Proxies, "gone")
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bucket Bucket
		want   string
	}{
		{Clusters, "a/b=slash\nc1=one\nc10=ten\nc2=two"},
		{Failed, "p1="},
		{Failures, "p0={\"r\":0}\np1={\"r\":1}"},
		{Meta, "global_epoch=3"},
		{Proxies, ""}, // its only record deleted
		{Plans, ""},   // never written
	} {
		if got := records(t, s, c.bucket); got != c.want {
			t.Errorf("ForEach(%s):\n%s\nwant:\n%s", c.bucket, got, c.want)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := s.ForEach(Clusters, func(string, []byte) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("fn's error: ForEach = %v after %d calls, want %v after 1", err, n, stop)
	}
	if err := s.ForEach(Bucket("nosuch"), func(string, []byte) error { return nil }); err == nil {
		t.Error("ForEach of an unknown bucket: no error")
	}
}

func TestForEachBolt(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testForEach(t, s)
}

// On etcd ForEach reads from another instance what the leader committed, and nothing of
// another prefix (a prefix that starts with this one's included).
func TestForEachEtcd(t *testing.T) {
	prefix := etcdtest.Prefix("foreach")
	leader := openEtcd(t, prefix, "a", 0)
	campaign(t, leader)
	testForEach(t, leader)

	other := openEtcd(t, prefix+"x", "x", 0)
	campaign(t, other)
	if err := other.Commit(putBatch("elsewhere", "x")); err != nil {
		t.Fatal(err)
	}
	follower := openEtcd(t, prefix, "b", 0)
	before := follower.Revision()
	if got, want := records(t, follower, Clusters), "a/b=slash\nc1=one\nc10=ten\nc2=two"; got != want {
		t.Errorf("ForEach(clusters) on a follower:\n%s\nwant:\n%s", got, want)
	}
	if follower.Revision() <= before {
		t.Errorf("Revision after a read: %d, want above %d", follower.Revision(), before)
	}
	if got := records(t, follower, Plans); got != "" {
		t.Errorf("ForEach(plans) on a follower: %q, want nothing", got)
	}
	// A change committed by the leader is read at once (a linearizable read).
	var b Batch
	b.Put(Plans, "t1", []byte("plan"))
	if err := leader.Commit(&b); err != nil {
		t.Fatal(err)
	}
	if got := records(t, follower, Plans); got != "t1=plan" {
		t.Errorf("ForEach(plans) after a commit: %q, want %q", got, "t1=plan")
	}
}
