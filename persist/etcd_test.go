package persist

// Over 500 lines on purpose: one file for the etcd backend's behaviour against the real
// 3-member etcd (fencing, all-or-nothing batches, watch order, member kills), sharing its
// setup; each test is one scenario.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
)

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m)) }

// openEtcd opens an instance of the store under prefix, closed when the test ends.
func openEtcd(t *testing.T, prefix, id string, ttl time.Duration) *EtcdStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenEtcd(ctx, EtcdConfig{Endpoints: etcdtest.Endpoints(t), Prefix: prefix, ID: id, LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func campaign(t *testing.T, s *EtcdStore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Campaign(ctx); err != nil {
		t.Fatal(err)
	}
}

func putBatch(kvs ...string) *Batch {
	var b Batch
	for i := 0; i+1 < len(kvs); i += 2 {
		b.Put(Clusters, kvs[i], []byte(kvs[i+1]))
	}
	return &b
}

// state renders every record under the store's prefix as "bucket/key=value" lines.
func state(t *testing.T, s *EtcdStore) string {
	t.Helper()
	var lines []string
	err := s.View(func(r Reader) error {
		for _, b := range buckets {
			r.ForEach(b, func(k string, v []byte) error {
				lines = append(lines, fmt.Sprintf("%s/%s=%s", b, k, v))
				return nil
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func TestEtcdCommitThenLoadFromAnotherInstance(t *testing.T) {
	prefix := etcdtest.Prefix("load")
	leader := openEtcd(t, prefix, "a", 0)
	campaign(t, leader)
	var b Batch
	b.Put(Meta, "global_epoch", []byte("1"))
	b.Put(Clusters, "c1", []byte(`{"name":"c1"}`))
	b.Put(Failed, "p1", nil)
	b.Put(Proxies, "gone", []byte("x"))
	b.Delete(Proxies, "gone")
	b.Put(Meta, "global_epoch", []byte("2")) // the same key twice in one batch: last wins
	if err := leader.Commit(&b); err != nil {
		t.Fatal(err)
	}
	other := openEtcd(t, prefix, "b", 0)
	want := "meta/global_epoch=2\nclusters/c1={\"name\":\"c1\"}\nfailed/p1="
	if got := state(t, other); got != want {
		t.Fatalf("state:\n%s\nwant:\n%s", got, want)
	}
	err := other.View(func(r Reader) error {
		if v := r.Get(Failed, "p1"); v == nil || len(v) != 0 {
			t.Errorf("Get(failed, p1) = %v, want an empty non-nil value", v)
		}
		if v := r.Get(Proxies, "gone"); v != nil {
			t.Errorf("Get(proxies, gone) = %q, want nil", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEtcdCommitByFollowerRefused(t *testing.T) {
	s := openEtcd(t, etcdtest.Prefix("follower"), "a", 0)
	if err := s.Commit(putBatch("c1", "x")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Commit before Campaign: %v, want ErrNotLeader", err)
	}
	if got := state(t, s); got != "" {
		t.Fatalf("state after a refused commit: %q", got)
	}
}

// A leader whose lease ended — revoked, or expired because its keep-alives stopped as when
// it is cut off from etcd — is refused by the fence, whether or not another instance has
// been elected since, and its batch changes nothing.
func TestEtcdDeposedLeaderFenced(t *testing.T) {
	cases := []struct {
		name       string
		end        func(t *testing.T, old *EtcdStore)
		newElected bool
	}{
		{"lease revoked, no new leader", revoke, false},
		{"lease revoked, new leader elected", revoke, true},
		{"lease expired, new leader elected", expire, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := etcdtest.Prefix("fence")
			old := openEtcd(t, prefix, "old", 2*time.Second)
			campaign(t, old)
			if err := old.Commit(putBatch("c1", "old-1")); err != nil {
				t.Fatal(err)
			}
			next := openEtcd(t, prefix, "next", 0)
			won := make(chan error, 1)
			if tc.newElected {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				go func() { won <- next.Campaign(ctx) }()
			}
			tc.end(t, old)
			if tc.newElected {
				if err := <-won; err != nil {
					t.Fatal(err)
				}
				if err := next.Commit(putBatch("c2", "next-1")); err != nil {
					t.Fatal(err)
				}
			}
			before := state(t, next)
			if !old.Leading() {
				t.Fatal("old leader already knows it is deposed: the fence is not what is tested")
			}
			err := old.Commit(putBatch("c1", "old-2", "c3", "old-2"))
			if !errors.Is(err, ErrFenced) {
				t.Fatalf("deposed leader's Commit: %v, want ErrFenced", err)
			}
			if got := state(t, next); got != before {
				t.Fatalf("state changed by a refused commit:\n%s\nwas:\n%s", got, before)
			}
			if old.Leading() {
				t.Error("Leading still true after a fenced commit")
			}
		})
	}
}

func revoke(t *testing.T, s *EtcdStore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.cli.Revoke(ctx, s.current().session.Lease()); err != nil {
		t.Fatal(err)
	}
}

// expire stops the keep-alives and waits (bounded) until etcd has dropped the lease.
func expire(t *testing.T, s *EtcdStore) {
	t.Helper()
	sess := s.current().session
	sess.Orphan()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		resp, err := s.cli.TimeToLive(ctx, sess.Lease())
		if err != nil {
			t.Fatal(err)
		}
		if resp.TTL == -1 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("lease did not expire")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// A batch that cannot be applied whole is not applied at all.
func TestEtcdCommitAllOrNothing(t *testing.T) {
	big := strings.Repeat("x", 3<<20) // over etcd's request size limit
	cases := []struct {
		name  string
		batch func() *Batch
	}{
		{"unknown bucket last", func() *Batch { b := putBatch("n1", "1", "n2", "2"); b.Put("nope", "k", nil); return b }},
		{"oversize value last", func() *Batch { return putBatch("n1", "1", "n2", "2", "n3", big) }},
		{"oversize value first", func() *Batch { return putBatch("n3", big, "n1", "1", "n2", "2") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openEtcd(t, etcdtest.Prefix("atomic"), "a", 0)
			campaign(t, s)
			var b Batch
			b.Put(Clusters, "keep", []byte("1"))
			b.Put(Clusters, "n2", []byte("before"))
			if err := s.Commit(&b); err != nil {
				t.Fatal(err)
			}
			before := state(t, s)
			if err := s.Commit(tc.batch()); err == nil {
				t.Fatal("Commit succeeded")
			}
			if got := state(t, s); got != before {
				t.Fatalf("state after a failed commit:\n%s\nwant:\n%s", got, before)
			}
		})
	}
}

// A follower that loaded the state and watches from its revision sees every later batch,
// in commit order, each whole at one revision.
func TestEtcdFollowerWatchInOrder(t *testing.T) {
	prefix := etcdtest.Prefix("watch")
	leader := openEtcd(t, prefix, "leader", 0)
	campaign(t, leader)
	if err := leader.Commit(putBatch("c0", "0")); err != nil {
		t.Fatal(err)
	}
	follower := openEtcd(t, prefix, "follower", 0)
	var from int64
	if snap, err := follower.Load(); err != nil {
		t.Fatal(err)
	} else {
		from = snap.Rev
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	updates := follower.Watch(ctx, from)

	const n = 20
	for i := 1; i <= n; i++ {
		var b Batch
		b.Put(Meta, "global_epoch", []byte(fmt.Sprint(i-1)))
		b.Put(Clusters, fmt.Sprintf("c%d", i), []byte(fmt.Sprint(i)))
		b.Delete(Clusters, fmt.Sprintf("c%d", i-1))
		b.Put(Meta, "global_epoch", []byte(fmt.Sprint(i)))
		if err := leader.Commit(&b); err != nil {
			t.Fatal(err)
		}
	}
	last := from
	for i := 1; i <= n; i++ {
		var c Committed
		select {
		case c = <-updates:
		case <-ctx.Done():
			t.Fatalf("batch %d not seen", i)
		}
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		if c.Rev <= last {
			t.Fatalf("batch %d at revision %d after %d", i, c.Rev, last)
		}
		last = c.Rev
		var got []string
		for _, ch := range c.Changes {
			if ch.Value == nil {
				got = append(got, fmt.Sprintf("-%s/%s", ch.Bucket, ch.Key))
			} else {
				got = append(got, fmt.Sprintf("%s/%s=%s", ch.Bucket, ch.Key, ch.Value))
			}
		}
		slices.Sort(got)
		want := []string{fmt.Sprintf("-clusters/c%d", i-1), fmt.Sprintf("clusters/c%d=%d", i, i), fmt.Sprintf("meta/global_epoch=%d", i)}
		if !slices.Equal(got, want) {
			t.Fatalf("batch %d: %v, want %v", i, got, want)
		}
	}
}

// Killing one etcd member of three — the raft leader, the worst case — leaves the store
// writable; the member restarted then serves every write.
func TestEtcdWritesSurviveMemberKill(t *testing.T) {
	members := etcdtest.Cluster(t)
	endpoints := etcdtest.Endpoints(t)
	s := openEtcd(t, etcdtest.Prefix("kill"), "a", 0)
	campaign(t, s)
	if err := s.Commit(putBatch("c0", "0")); err != nil {
		t.Fatal(err)
	}
	victim := etcdLeaderIndex(t, s.cli, endpoints)
	if err := members.StopMember(victim, true); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := members.StartMember(ctx, victim); err != nil {
				t.Errorf("restart member %d: %v", victim+1, err)
			}
		}
	})

	// The first write may meet the election of a new etcd leader; it is retried (bounded).
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.Commit(putBatch("c1", "1"))
		if err == nil {
			break
		}
		if errors.Is(err, ErrFenced) || time.Now().After(deadline) {
			t.Fatalf("no write after killing member %d: %v", victim+1, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 2; i <= 20; i++ {
		if err := s.Commit(putBatch(fmt.Sprintf("c%d", i), fmt.Sprint(i))); err != nil {
			t.Fatalf("write %d with a member down: %v", i, err)
		}
	}
	want := state(t, s)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := members.StartMember(ctx, victim); err != nil {
		t.Fatal(err)
	}
	restarted = true
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints[victim : victim+1], DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, s.dataPrefix(), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, kv := range resp.Kvs {
		b, k, _ := s.splitKey(string(kv.Key))
		got = append(got, fmt.Sprintf("%s/%s=%s", b, k, kv.Value))
	}
	if strings.Join(got, "\n") != want {
		t.Fatalf("restarted member serves:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

func etcdLeaderIndex(t *testing.T, cli *clientv3.Client, endpoints []string) int {
	t.Helper()
	for i, ep := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := cli.Status(ctx, ep)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if st.Leader == st.Header.MemberId {
			return i
		}
	}
	t.Fatal("no etcd member is the leader")
	return -1
}

// Resign hands the leadership over at once, and Leader names whoever holds it.
func TestEtcdResignHandsOver(t *testing.T) {
	prefix := etcdtest.Prefix("resign")
	a := openEtcd(t, prefix, "10.0.0.1:7799", 0)
	b := openEtcd(t, prefix, "10.0.0.2:7799", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if id, err := b.Leader(ctx); err != nil || id != "" {
		t.Fatalf("Leader before any campaign: %q, %v", id, err)
	}
	campaign(t, a)
	if id, err := b.Leader(ctx); err != nil || id != "10.0.0.1:7799" {
		t.Fatalf("Leader: %q, %v", id, err)
	}
	won := make(chan error, 1)
	go func() { won <- b.Campaign(ctx) }()
	if err := a.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-won; err != nil {
		t.Fatal(err)
	}
	if id, err := a.Leader(ctx); err != nil || id != "10.0.0.2:7799" {
		t.Fatalf("Leader after resign: %q, %v", id, err)
	}
	if err := a.Commit(putBatch("c1", "a")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Commit after Resign: %v, want ErrNotLeader", err)
	}
	if err := b.Commit(putBatch("c1", "b")); err != nil {
		t.Fatal(err)
	}
}

// A leader cut off from etcd loses its lease while a follower takes over; when the network
// heals, the old leader — which never learned it was deposed — has its batch refused, and
// every change the new leader acknowledged stands.
func TestEtcdPartitionedLeaderFenced(t *testing.T) {
	prefix := etcdtest.Prefix("partition")
	var proxies []*etcdtest.Proxy
	var via []string
	for _, ep := range etcdtest.Endpoints(t) {
		p := etcdtest.NewProxy(t, strings.TrimPrefix(ep, "http://"))
		proxies = append(proxies, p)
		via = append(via, p.URL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	old, err := OpenEtcd(ctx, EtcdConfig{Endpoints: via, Prefix: prefix, ID: "old", LeaseTTL: 2 * time.Second, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close() })
	campaign(t, old)
	if err := old.Commit(putBatch("c1", "old-1")); err != nil {
		t.Fatal(err)
	}

	for _, p := range proxies {
		p.Cut()
	}
	if err := old.Commit(putBatch("c1", "old-cut")); err == nil {
		t.Fatal("Commit through a cut network succeeded")
	}
	next := openEtcd(t, prefix, "next", 0)
	campaign(t, next) // returns once old's lease has expired
	select {
	case <-old.SessionDone():
	case <-ctx.Done():
		t.Fatal("a leader cut off from etcd past its lease TTL does not see its session end")
	}
	if err := next.Commit(putBatch("c2", "next-1")); err != nil {
		t.Fatal(err)
	}
	want := state(t, next)

	for _, p := range proxies {
		p.Heal()
	}
	if !old.Leading() {
		t.Fatal("old leader already knows it is deposed: the fence is not what is tested")
	}
	// The client may need a few tries to reconnect; every try must be refused or fail, until
	// etcd's refusal tells the old leader it is deposed: ErrFenced, or — when an earlier
	// attempt of the same Commit failed while the client reconnected, so that its outcome
	// is unknown to the store — an error that leaves the store no longer leading. Either
	// way nothing of it may land (the state is compared below).
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := old.Commit(putBatch("c1", "old-2", "c3", "old-2"))
		if errors.Is(err, ErrFenced) {
			break
		}
		if err == nil {
			t.Fatal("a partitioned, deposed leader's Commit succeeded")
		}
		if !old.Leading() {
			if errors.Is(err, ErrNotLeader) {
				t.Fatalf("old leader stopped leading before etcd refused its Commit: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old leader's Commit after heal: %v, want ErrFenced", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := state(t, next); got != want {
		t.Fatalf("state after the old leader's writes:\n%s\nwant:\n%s", got, want)
	}

	// Once the new leader steps down, the old instance campaigns on a new lease and writes.
	if err := next.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	campaign(t, old)
	if err := old.Commit(putBatch("c4", "old-3")); err != nil {
		t.Fatalf("Commit after winning again: %v", err)
	}
}

// A batch above the members' --max-txn-ops (etcdlocal: 4096) is refused whole with
// ErrTooManyOps, whether this client's MaxTxnOps catches it first or etcd does; the
// leadership stays.
func TestEtcdCommitAboveMaxTxnOps(t *testing.T) {
	cases := []struct {
		name      string
		maxTxnOps int
		records   int
	}{
		{"caught by the client", 100, 101},
		{"refused by etcd", 1 << 20, 4097},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := OpenEtcd(ctx, EtcdConfig{Endpoints: etcdtest.Endpoints(t), Prefix: etcdtest.Prefix("txnops"), ID: "a", MaxTxnOps: tc.maxTxnOps})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			campaign(t, s)
			var b Batch
			for i := range tc.records {
				b.Put(Clusters, fmt.Sprintf("c%05d", i), []byte("x"))
			}
			if err := s.Commit(&b); !errors.Is(err, ErrTooManyOps) {
				t.Fatalf("Commit of %d records: %v, want ErrTooManyOps", tc.records, err)
			}
			if got := state(t, s); got != "" {
				t.Fatalf("state after a refused batch: %d bytes", len(got))
			}
			if !s.Leading() {
				t.Fatal("leadership lost by a refused batch")
			}
			if err := s.Commit(putBatch("c1", "x")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// OpenEtcd keeps trying while etcd cannot be reached (a raft leader being elected, a
// network blip), until its context ends.
func TestEtcdOpenWaitsForEtcd(t *testing.T) {
	p := etcdtest.NewProxy(t, strings.TrimPrefix(etcdtest.Endpoints(t)[0], "http://"))
	p.Cut()
	healed := make(chan struct{})
	go func() {
		time.Sleep(1500 * time.Millisecond) // past the first grant's timeout
		p.Heal()
		close(healed)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenEtcd(ctx, EtcdConfig{Endpoints: []string{p.URL()}, Prefix: etcdtest.Prefix("open"), ID: "a", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() // through the cut network: bounded by the lease TTL
	select {
	case <-healed:
	default:
		t.Fatal("OpenEtcd returned before etcd could be reached")
	}
	short, cancelShort := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShort()
	p.Cut()
	if _, err := OpenEtcd(short, EtcdConfig{Endpoints: []string{p.URL()}, Prefix: etcdtest.Prefix("open"), ID: "b", Timeout: time.Second}); err == nil {
		t.Fatal("OpenEtcd succeeded through a cut network")
	}
}
