package persist

// A Commit's attempts (etcd.go, Commit): writes resume soon after the etcd raft leader is
// killed under them, and a batch that lands late never lands after a later one.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
)

// commitResult is one Commit of the writer: what it wrote and how it ended.
type commitResult struct {
	n          int
	sent, done time.Time
	err        error
}

// Killing the etcd raft leader while commits are in flight: the commit in flight and the
// next ones are answered once etcd has a new leader, well within the etcd timeout (5 s),
// none fails, and every acknowledged batch is stored, in order.
func TestEtcdCommitsResumeAfterRaftLeaderKill(t *testing.T) {
	members := etcdtest.Cluster(t)
	endpoints := etcdtest.Endpoints(t)
	s := openEtcd(t, etcdtest.Prefix("resume"), "a", 0)
	campaign(t, s)

	// One writer, as the pool's write goroutine: batch n writes its own record and the
	// shared record "last" (a whole record rewritten by every batch, like the epoch).
	var results []commitResult
	var acked atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			r := commitResult{n: n, sent: time.Now()}
			r.err = s.Commit(putBatch(fmt.Sprintf("c%05d", n), strconv.Itoa(n), "last", strconv.Itoa(n)))
			r.done = time.Now()
			results = append(results, r)
			if r.err == nil {
				acked.Store(int64(n))
			}
		}
	}()
	stopWriter := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the writer did not stop within 30 s")
		}
	}
	defer stopWriter()
	waitAcked := func(n int64, what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for acked.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d commits acknowledged within 30 s, want %d", what, acked.Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitAcked(20, "before the kill")

	victim := etcdLeaderIndex(t, s.cli, endpoints)
	killed := time.Now()
	if err := members.StopMember(victim, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := members.StartMember(ctx, victim); err != nil {
			t.Errorf("restart member %d: %v", victim+1, err)
		}
	})
	atKill := acked.Load()
	waitAcked(atKill+50, "after the kill")
	stopWriter()

	// The pause: from the kill to the first acknowledgement of a commit sent after it, and
	// the longest commit (the one in flight at the kill, or the first after it).
	var resumed, longest time.Duration
	inFlight := false
	for _, r := range results {
		if r.err != nil {
			t.Errorf("commit %d failed after %s: %v", r.n, r.done.Sub(r.sent).Round(time.Millisecond), r.err)
		}
		longest = max(longest, r.done.Sub(r.sent))
		if r.sent.Before(killed) && r.done.After(killed) {
			inFlight = true
		}
		if resumed == 0 && r.err == nil && r.sent.After(killed) {
			resumed = r.done.Sub(killed)
		}
	}
	t.Logf("etcd member %d (raft leader) killed with a commit in flight: %v; first commit sent after the kill acknowledged %s after it; longest commit %s; %d commits",
		victim+1, inFlight, resumed.Round(time.Millisecond), longest.Round(time.Millisecond), len(results))
	if longest >= 4*time.Second {
		t.Errorf("a commit took %s across the raft leader's kill, want < 4 s (the etcd timeout is 5 s)", longest.Round(time.Millisecond))
	}

	// Every acknowledged batch is stored, and the shared record holds the last one: a late
	// attempt of an earlier batch did not overwrite it.
	fresh := openEtcd(t, s.Prefix(), "reader", 0)
	snap, err := fresh.Load()
	if err != nil {
		t.Fatal(err)
	}
	last := results[len(results)-1].n
	for _, r := range results {
		got := snap.Get(Clusters, fmt.Sprintf("c%05d", r.n))
		if r.err == nil && string(got) != strconv.Itoa(r.n) {
			t.Errorf("acknowledged commit %d reads %q", r.n, got)
		}
	}
	if got := snap.Get(Clusters, fmt.Sprintf("c%05d", last+1)); got != nil {
		t.Errorf("a batch never sent is stored: %q", got)
	}
	if got := string(snap.Get(Clusters, "last")); got != strconv.Itoa(last) {
		t.Errorf("the record every batch rewrites reads %q, want the last batch's %d", got, last)
	}
}

// A batch of this instance that lands after the store moved on (an earlier Commit whose
// outcome was unknown, applied after all) refuses the next Commit whole (ErrStale) instead of
// being mixed with it; a new Campaign rereads the last commit and writing resumes.
func TestEtcdCommitRefusedAfterLateBatch(t *testing.T) {
	s := openEtcd(t, etcdtest.Prefix("stale"), "a", 0)
	campaign(t, s)
	if err := s.Commit(putBatch("c1", "1")); err != nil {
		t.Fatal(err)
	}
	// What a late attempt does: it moves <prefix>/commit, under this instance's fence.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.cli.Txn(ctx).Then(clientv3.OpPut(s.dataKey(Clusters, "c2"), "late"), clientv3.OpPut(s.commitKey(), "late")).Commit(); err != nil {
		t.Fatal(err)
	}
	before := state(t, s)
	err := s.Commit(putBatch("c2", "2", "c3", "3"))
	if !errors.Is(err, ErrStale) {
		t.Fatalf("Commit after a late batch: %v, want ErrStale", err)
	}
	if got := state(t, s); got != before {
		t.Fatalf("a refused Commit changed the state:\n%s\nwas:\n%s", got, before)
	}
	if !s.Leading() {
		t.Fatal("ErrStale ended the leadership: it must stand (only the fence ends it)")
	}
	campaign(t, s) // the instance still holds the election key: at once
	if err := s.Commit(putBatch("c2", "2", "c3", "3")); err != nil {
		t.Fatalf("Commit after campaigning again: %v", err)
	}
	if got, want := state(t, s), "clusters/c1=1\nclusters/c2=2\nclusters/c3=3"; got != want {
		t.Fatalf("state:\n%s\nwant:\n%s", got, want)
	}
}

// How a refused attempt is read (Commit's last step): its own token means an earlier attempt
// applied the batch; a lost election key is ErrFenced only if no earlier attempt's outcome is
// unknown; anything else wrote nothing (ErrStale). Nothing that may be written is reported as
// not written.
func TestEtcdRefusedAttempt(t *testing.T) {
	const key, rev, token = "/p/leader/1", int64(7), "a n 3"
	lost := errors.New("context deadline exceeded")
	kv := func(k string, create, mod int64, v string) []*mvccpb.KeyValue {
		return []*mvccpb.KeyValue{{Key: []byte(k), CreateRevision: create, ModRevision: mod, Value: []byte(v)}}
	}
	cases := []struct {
		name          string
		elected, last []*mvccpb.KeyValue
		unknown       error
		want          func(error) bool
		leading       bool
		committedRev  int64
	}{
		{"an earlier attempt landed", kv(key, rev, rev, "a"), kv("/p/commit", 20, 42, token), lost, isNil, true, 42},
		// Acknowledged: it was fenced when it landed. The next Commit finds the fence.
		{"it landed, then the leadership ended", nil, kv("/p/commit", 20, 42, token), lost, isNil, true, 42},
		{"fenced, first attempt", nil, kv("/p/commit", 20, 30, "b n 1"), nil, is(ErrFenced), false, 0},
		{"fenced after an unknown attempt", kv(key, 99, 99, "b"), kv("/p/commit", 20, 120, "b n 1"), lost, isUnknown, false, 0},
		{"a late batch moved the commit key", kv(key, rev, rev, "a"), kv("/p/commit", 20, 41, "a n 2"), nil, is(ErrStale), true, 0},
		{"a late batch, after an unknown attempt", kv(key, rev, rev, "a"), kv("/p/commit", 20, 41, "a n 2"), lost, is(ErrStale), true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &EtcdStore{leaderKey: key, leaderRev: rev, commitRev: 30}
			resp := &clientv3.TxnResponse{Responses: []*pb.ResponseOp{
				{Response: &pb.ResponseOp_ResponseRange{ResponseRange: &pb.RangeResponse{Kvs: tc.elected}}},
				{Response: &pb.ResponseOp_ResponseRange{ResponseRange: &pb.RangeResponse{Kvs: tc.last}}},
			}}
			err := s.refused(resp, key, rev, token, tc.unknown)
			if !tc.want(err) {
				t.Fatalf("refused: %v", err)
			}
			if s.Leading() != tc.leading {
				t.Errorf("Leading after: %v, want %v", s.Leading(), tc.leading)
			}
			if tc.committedRev != 0 && (s.commitRev != tc.committedRev || s.Revision() != tc.committedRev) {
				t.Errorf("after an earlier attempt landed: commitRev %d, Revision %d, want %d", s.commitRev, s.Revision(), tc.committedRev)
			}
			if tc.committedRev == 0 && s.commitRev != 30 {
				t.Errorf("commitRev moved to %d by a batch that was not committed", s.commitRev)
			}
		})
	}
}

func isNil(err error) bool { return err == nil }

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

// isUnknown: an error that claims neither success nor "nothing written".
func isUnknown(err error) bool {
	return err != nil && !errors.Is(err, ErrFenced) && !errors.Is(err, ErrStale) && !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrTooManyOps)
}
