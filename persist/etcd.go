package persist

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// The etcd backend keeps the same records as the bbolt store, each under
// <prefix>/data/<bucket>/<key>, and elects the one instance that may write under
// <prefix>/leader (DESIGN.md, "HA on etcd").

var (
	_ Backend = (*Store)(nil)
	_ Backend = (*EtcdStore)(nil)
)

// Defaults of EtcdConfig.
const (
	DefaultEtcdPrefix  = "/fulcrum"
	DefaultLeaseTTL    = 5 * time.Second
	DefaultEtcdTimeout = 5 * time.Second
	// DefaultEtcdAttemptTimeout bounds one attempt of a Commit (see Commit): far above a
	// healthy commit (milliseconds) and below etcd's raft election (1 to 2 s after the
	// leader died, with etcd's default 1 s election timeout), so that a transaction lost
	// with a killed etcd leader is sent again within half a second of a new leader being
	// able to take it, instead of after the whole Timeout. A slow commit sent again costs
	// a second proposal, never a second application (see Commit).
	DefaultEtcdAttemptTimeout = 500 * time.Millisecond
	etcdDataDir               = "/data/"
	etcdElectionDirName       = "/leader"
	// etcdCommitKeyName is <prefix>/commit: every Commit writes its token there, so the
	// key's mod revision is the revision of the last committed batch (see Commit).
	etcdCommitKeyName = "/commit"
)

var (
	// ErrNotLeader is returned by a Commit on an instance that has not won the election.
	ErrNotLeader = errors.New("persist: not the etcd leader")
	// ErrTooManyOps is returned by a Commit of more records than one etcd transaction
	// takes (EtcdConfig.MaxTxnOps, which must not exceed the members' --max-txn-ops):
	// nothing of it was written. A batch is never split, since a split batch would not be
	// all or nothing; such a change (a restore of thousands of records) needs a larger
	// --max-txn-ops on the etcd members.
	ErrTooManyOps = errors.New("persist: batch exceeds etcd's operations per transaction")
	// ErrFenced is returned by a Commit refused by etcd because this instance's leadership
	// ended (its lease expired or was revoked, perhaps while it was cut off): nothing of the
	// batch was written, and the instance stays a follower until it campaigns again.
	ErrFenced = errors.New("persist: leadership lost, write refused")
	// ErrStale is returned by a Commit refused by etcd because a batch landed after the
	// last one this instance knows of: an earlier Commit whose outcome was unknown was
	// applied after all. Nothing of this batch was written; the caller must reload the
	// state and campaign again (which rereads the last commit) before it writes again.
	ErrStale = errors.New("persist: the stored state changed since this instance's last commit, write refused")
)

// EtcdConfig says where the state lives and how this instance takes part in the election.
type EtcdConfig struct {
	Endpoints []string
	Prefix    string        // default DefaultEtcdPrefix
	LeaseTTL  time.Duration // the leadership's lease, whole seconds; default DefaultLeaseTTL
	Timeout   time.Duration // bound of every etcd request; default DefaultEtcdTimeout
	// AttemptTimeout bounds one attempt of a Commit, which tries again within Timeout;
	// default DefaultEtcdAttemptTimeout, at most Timeout.
	AttemptTimeout time.Duration
	ID             string // this instance's value in the election (its API address)
	// MaxTxnOps is the most records one Commit may write: the etcd members' --max-txn-ops
	// (etcd's default is 128; etcdlocal runs with 4096). Default DefaultMaxTxnOps.
	MaxTxnOps int
}

// DefaultMaxTxnOps is EtcdConfig.MaxTxnOps's default: what etcdlocal's members allow.
const DefaultMaxTxnOps = 4096

// EtcdStore is the state in etcd, shared by every instance with the same endpoints and
// prefix. Any instance reads (View, Watch); only the elected leader writes (Commit).
type EtcdStore struct {
	cfg EtcdConfig
	cli *clientv3.Client

	mu   sync.Mutex
	sess *etcdSession // replaced by Campaign once its lease is lost
	// leaderKey and leaderRev are the election key this instance created and its create
	// revision, set when it won; every Commit is fenced on them.
	leaderKey string
	leaderRev int64
	// commitRev is the mod revision of <prefix>/commit that the next Commit requires: read
	// when this instance won (Campaign), then its own last commit's. Guarded by mu.
	commitRev int64

	commitMu sync.Mutex // one Commit at a time: each requires the previous one's commitRev
	nonce    string     // random, per store: with seq, a token unique to each Commit
	seq      uint64     // Commits made (under commitMu)

	rev atomic.Int64 // the latest revision this instance read or committed
}

// etcdSession is a lease kept alive in the background and this instance's candidacy on it.
type etcdSession struct {
	session  *concurrency.Session
	election *concurrency.Election
}

// OpenEtcd connects to etcd and opens this instance's session (a lease kept alive in the
// background), trying again until ctx ends while etcd cannot grant it. The instance is a
// follower until Campaign returns.
func OpenEtcd(ctx context.Context, cfg EtcdConfig) (*EtcdStore, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("persist: etcd: no endpoints")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultEtcdPrefix
	}
	cfg.Prefix = strings.TrimSuffix(cfg.Prefix, "/")
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultEtcdTimeout
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultEtcdAttemptTimeout
	}
	cfg.AttemptTimeout = min(cfg.AttemptTimeout, cfg.Timeout)
	if cfg.MaxTxnOps <= 0 {
		cfg.MaxTxnOps = DefaultMaxTxnOps
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.Timeout,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("persist: etcd: %w", err)
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	s := &EtcdStore{cfg: cfg, cli: cli, nonce: hex.EncodeToString(nonce[:])}
	// A lease grant is not retried by the client, and fails while etcd elects a raft
	// leader: try again until ctx ends.
	for {
		if s.sess, err = s.newSession(ctx); err == nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			cli.Close()
			return nil, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Prefix is the key prefix of the state (without a trailing slash).
func (s *EtcdStore) Prefix() string { return s.cfg.Prefix }

// ID is this instance's value in the election: its API address.
func (s *EtcdStore) ID() string { return s.cfg.ID }

// LeaseTTL is the lease of this instance's leadership: how long a leader that died keeps
// it before another instance can take over.
func (s *EtcdStore) LeaseTTL() time.Duration { return s.cfg.LeaseTTL }

func (s *EtcdStore) newSession(ctx context.Context) (*etcdSession, error) {
	// The session's own Grant is unbounded; grant here with a timeout and hand it the lease.
	gctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	ttl := int(max(1, s.cfg.LeaseTTL.Round(time.Second)/time.Second))
	lease, err := s.cli.Grant(gctx, int64(ttl))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("persist: etcd: lease: %w", err)
	}
	// The TTL bounds the session's Close (its revoke; past the TTL the lease has expired
	// anyway): without it Close waits up to a minute for an unreachable etcd.
	session, err := concurrency.NewSession(s.cli, concurrency.WithLease(lease.ID), concurrency.WithTTL(ttl))
	if err != nil {
		return nil, fmt.Errorf("persist: etcd: session: %w", err)
	}
	return &etcdSession{session, concurrency.NewElection(session, s.cfg.Prefix+etcdElectionDirName)}, nil
}

func (s *EtcdStore) current() *etcdSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess
}

// Close ends the session, which revokes its lease: a leader's leadership ends at once
// instead of after the TTL.
func (s *EtcdStore) Close() error {
	s.mu.Lock()
	s.leaderRev = 0
	sess := s.sess
	s.mu.Unlock()
	return errors.Join(sess.session.Close(), s.cli.Close())
}

// Campaign blocks until this instance is the leader or ctx ends. If the session's lease
// was lost (SessionDone), it first opens a new one: an instance that lost etcd campaigns
// again once etcd is back.
func (s *EtcdStore) Campaign(ctx context.Context) error {
	cur, err := s.renew(ctx)
	if err != nil {
		return fmt.Errorf("persist: etcd: campaign: %w", err)
	}
	if err := cur.election.Campaign(ctx, s.cfg.ID); err != nil {
		return fmt.Errorf("persist: etcd: campaign: %w", err)
	}
	// The last commit, read after winning and before the caller loads the state it will
	// change: Commit requires it unchanged, so a batch of this instance that landed late
	// (an earlier Commit whose outcome was unknown) refuses the next one (ErrStale) instead
	// of being overwritten half by it or overwriting it (see Commit).
	// Read with no Commit running (the balancer's may be), whose result it would miss.
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	gctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	resp, err := s.cli.Get(gctx, s.commitKey())
	cancel()
	if err != nil {
		return fmt.Errorf("persist: etcd: campaign: read the last commit: %w", err)
	}
	var last int64 // no commit yet: etcd compares an absent key's mod revision as 0
	if len(resp.Kvs) == 1 {
		last = resp.Kvs[0].ModRevision
	}
	s.mu.Lock()
	s.leaderKey, s.leaderRev, s.commitRev = cur.election.Key(), cur.election.Rev(), last
	s.mu.Unlock()
	return nil
}

// Renew opens a new session if the current one's lease was lost (SessionDone), as
// Campaign does first; after it, SessionDone is the new session's.
func (s *EtcdStore) Renew(ctx context.Context) error {
	_, err := s.renew(ctx)
	return err
}

func (s *EtcdStore) renew(ctx context.Context) (*etcdSession, error) {
	cur := s.current()
	select {
	case <-cur.session.Done():
	default:
		return cur, nil
	}
	fresh, err := s.newSession(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess != cur { // renewed meanwhile by another caller
		fresh.session.Close()
		return s.sess, nil
	}
	cur.session.Orphan() // its lease is gone already; stop its keep-alive loop
	s.sess, s.leaderRev = fresh, 0
	return fresh, nil
}

// Leading reports whether this instance won the election and no Commit has been fenced
// since. It can be true on a leader already deposed: only Commit's fence is authoritative.
func (s *EtcdStore) Leading() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leaderRev != 0
}

// SessionDone is closed when the current session's lease can no longer be kept alive (etcd
// unreachable past the TTL, or the lease revoked): its leadership is then over. A Campaign
// after that opens a new session, with a new SessionDone.
func (s *EtcdStore) SessionDone() <-chan struct{} { return s.current().session.Done() }

// Leader returns the current leader's ID ("" when there is none).
func (s *EtcdStore) Leader(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	resp, err := s.current().election.Leader(ctx)
	if errors.Is(err, concurrency.ErrElectionNoLeader) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("persist: etcd: leader: %w", err)
	}
	return string(resp.Kvs[0].Value), nil
}

// Resign gives the leadership up, so that another instance takes over at once.
func (s *EtcdStore) Resign(ctx context.Context) error {
	s.mu.Lock()
	s.leaderRev = 0
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	return s.current().election.Resign(ctx)
}

func (s *EtcdStore) dataPrefix() string { return s.cfg.Prefix + etcdDataDir }

func (s *EtcdStore) dataKey(b Bucket, key string) string {
	return s.dataPrefix() + string(b) + "/" + key
}

// Commit applies the batch as one etcd transaction that only succeeds while this instance
// still holds the election key it won (same create revision): a deposed or partitioned
// leader's batch is refused whole (ErrFenced). It returns once the transaction is committed
// by a quorum of etcd members, each of which fsynced it.
//
// An error other than ErrNotLeader, ErrFenced, ErrStale and ErrTooManyOps (etcd unreachable
// for the whole Timeout) leaves the outcome unknown: the batch may have been applied. The
// caller must not acknowledge it and must reload the state (and campaign, see ErrStale)
// before it writes again.
//
// Attempts. When the etcd raft leader dies, a transaction it had not committed yet is lost
// and its client waits for an answer that never comes; a new raft leader is elected within
// about a second. So each attempt is bounded by AttemptTimeout and requires an etcd leader
// (a member without one answers at once instead of holding the request), and a failed
// attempt is sent again — the same transaction, on whichever member the client's balancer
// picks next (a member whose connection failed is skipped) — until one is answered or
// Timeout has passed since the first. Sending the same transaction again is safe:
//
//   - The transaction also requires <prefix>/commit's mod revision to be the last commit's
//     (commitRev) and writes a token unique to this Commit there. So whatever attempt
//     lands first applies the batch; every later one, even one held in a member that
//     delivers it after a later Commit succeeded, finds the key changed and is refused
//     whole. The batch is applied at most once and never after a later batch.
//   - A refused attempt reads the election key and <prefix>/commit in the same
//     transaction. Our token there means an earlier attempt applied the batch (success:
//     it was fenced when it landed, and etcd answers only once a quorum has it). Otherwise
//     the election key gone or re-created means fenced: ErrFenced if no earlier attempt's
//     outcome is unknown, else outcome unknown (the next leader may have overwritten the
//     token). Otherwise <prefix>/commit moved without this Commit: ErrStale, nothing of it
//     written.
//   - Nothing else in the batch depends on what is stored: puts carry whole records and a
//     delete of an absent key is a no-op, and the batch's ops are the same in every
//     attempt (the last op per key). An applied batch leaves the same records however
//     many attempts were sent.
func (s *EtcdStore) Commit(b *Batch) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.mu.Lock()
	key, rev, after := s.leaderKey, s.leaderRev, s.commitRev
	s.mu.Unlock()
	if rev == 0 {
		return ErrNotLeader
	}
	ops, err := s.txnOps(b)
	if err != nil {
		return err
	}
	if len(ops)+1 > s.cfg.MaxTxnOps {
		return fmt.Errorf("%w: %d records and the commit key, at most %d (the etcd members' --max-txn-ops)", ErrTooManyOps, len(ops), s.cfg.MaxTxnOps)
	}
	s.seq++
	token := fmt.Sprintf("%s %s %d", s.cfg.ID, s.nonce, s.seq)
	ops = append(ops, clientv3.OpPut(s.commitKey(), token))
	conds := []clientv3.Cmp{
		clientv3.Compare(clientv3.CreateRevision(key), "=", rev),
		clientv3.Compare(clientv3.ModRevision(s.commitKey()), "=", after),
	}
	refused := []clientv3.Op{clientv3.OpGet(key), clientv3.OpGet(s.commitKey())}

	deadline := time.Now().Add(s.cfg.Timeout)
	var unknown error // the last failed attempt's error: it may have been applied
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("persist: etcd commit: %w", unknown)
		}
		sent := time.Now()
		ctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(context.Background()), min(left, s.cfg.AttemptTimeout))
		resp, err := s.cli.Txn(ctx).If(conds...).Then(ops...).Else(refused...).Commit()
		cancel()
		if errors.Is(err, rpctypes.ErrTooManyOps) {
			// etcd refuses such a transaction whatever the attempt: none was applied.
			return fmt.Errorf("%w: %d records: raise the etcd members' --max-txn-ops (and EtcdConfig.MaxTxnOps)", ErrTooManyOps, len(ops)-1)
		}
		if err != nil {
			unknown = err
			if s.cli.Ctx().Err() != nil { // the store is closed: no attempt can follow
				return fmt.Errorf("persist: etcd commit: %w", err)
			}
			// An attempt answered at once (no etcd leader yet, a member down) is sent
			// again after a pause, not in a tight loop.
			if pause := etcdRetryPause - time.Since(sent); pause > 0 {
				time.Sleep(min(pause, time.Until(deadline)))
			}
			continue
		}
		if resp.Succeeded {
			s.committed(resp.Header.Revision)
			return nil
		}
		return s.refused(resp, key, rev, token, unknown)
	}
}

// etcdRetryPause is the least time between two attempts of a Commit.
const etcdRetryPause = 50 * time.Millisecond

// committed records this instance's batch committed at revision rev.
func (s *EtcdStore) committed(rev int64) {
	s.mu.Lock()
	s.commitRev = rev
	s.mu.Unlock()
	s.seen(rev)
}

// refused tells why etcd refused a Commit's transaction, from the election key and
// <prefix>/commit it read instead (see Commit); unknown is the error of an earlier attempt
// of the same Commit, if one failed.
func (s *EtcdStore) refused(resp *clientv3.TxnResponse, key string, rev int64, token string, unknown error) error {
	var elected, last []*mvccpb.KeyValue
	if len(resp.Responses) == 2 {
		elected = resp.Responses[0].GetResponseRange().GetKvs()
		last = resp.Responses[1].GetResponseRange().GetKvs()
	}
	if len(last) == 1 && string(last[0].Value) == token {
		s.committed(last[0].ModRevision) // an earlier attempt landed
		return nil
	}
	if len(elected) != 1 || elected[0].CreateRevision != rev {
		s.mu.Lock()
		if s.leaderKey == key && s.leaderRev == rev {
			s.leaderRev = 0
		}
		s.mu.Unlock()
		if unknown != nil {
			return fmt.Errorf("persist: etcd commit: leadership lost after an attempt whose outcome is unknown: %w", unknown)
		}
		return ErrFenced
	}
	return ErrStale
}

func (s *EtcdStore) commitKey() string { return s.cfg.Prefix + etcdCommitKeyName }

// seen records a revision this instance read or committed.
func (s *EtcdStore) seen(rev int64) {
	for {
		cur := s.rev.Load()
		if rev <= cur || s.rev.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// Revision is the latest etcd revision this instance read (Load) or committed.
func (s *EtcdStore) Revision() int64 { return s.rev.Load() }

// txnOps turns the batch into etcd operations. etcd refuses a transaction that names a key
// twice, and a group commit often does (the global epoch), so only the last operation on
// each key is kept: applied in order, the earlier ones would be overwritten anyway.
func (s *EtcdStore) txnOps(b *Batch) ([]clientv3.Op, error) {
	last := make(map[string]int, len(b.ops))
	for i, o := range b.ops {
		if !slices.Contains(buckets, o.bucket) {
			return nil, fmt.Errorf("persist: unknown bucket %q", o.bucket)
		}
		last[s.dataKey(o.bucket, o.key)] = i
	}
	ops := make([]clientv3.Op, 0, len(last))
	for i, o := range b.ops {
		k := s.dataKey(o.bucket, o.key)
		if last[k] != i {
			continue
		}
		if o.value == nil {
			ops = append(ops, clientv3.OpDelete(k))
		} else {
			ops = append(ops, clientv3.OpPut(k, string(o.value)))
		}
	}
	return ops, nil
}

type etcdRecord struct {
	key   string
	value []byte
}

// Snapshot is the whole state at one etcd revision, read by View. It offers the same
// reads as Reader.
type Snapshot struct {
	// Rev is the revision the state was read at: a follower watches from Rev+1.
	Rev     int64
	buckets map[Bucket][]etcdRecord // each in key order
}

// Get returns the value of key, or nil.
func (r *Snapshot) Get(bucket Bucket, key string) []byte {
	recs := r.buckets[bucket]
	i, ok := slices.BinarySearchFunc(recs, key, func(e etcdRecord, k string) int { return strings.Compare(e.key, k) })
	if !ok {
		return nil
	}
	return recs[i].value
}

// ForEach calls fn for every record of the bucket in key order.
func (r *Snapshot) ForEach(bucket Bucket, fn func(key string, value []byte) error) error {
	for _, e := range r.buckets[bucket] {
		if err := fn(e.key, e.value); err != nil {
			return err
		}
	}
	return nil
}

// View reads the whole state in one linearizable read and runs fn on it.
func (s *EtcdStore) View(fn func(r Reader) error) error {
	snap, err := s.Load()
	if err != nil {
		return err
	}
	return fn(snap)
}

// ForEach reads one bucket in one linearizable range read of its keys only (View reads
// every bucket) and calls fn for each record in key order.
func (s *EtcdStore) ForEach(bucket Bucket, fn func(key string, value []byte) error) error {
	if !slices.Contains(buckets, bucket) {
		return fmt.Errorf("persist: unknown bucket %q", bucket)
	}
	// The slash ends the bucket's name: a bucket named like the start of another's name
	// would otherwise read that one's keys too.
	prefix := s.dataPrefix() + string(bucket) + "/"
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	cancel()
	if err != nil {
		return fmt.Errorf("persist: etcd read %s: %w", bucket, err)
	}
	s.seen(resp.Header.Revision)
	// etcd returns keys in byte order, which is the records' key order.
	for _, kv := range resp.Kvs {
		if err := fn(string(kv.Key[len(prefix):]), nonNil(kv.Value)); err != nil {
			return err
		}
	}
	return nil
}

// Load reads the whole state in one linearizable read; a follower watches from its Rev.
func (s *EtcdStore) Load() (*Snapshot, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.dataPrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("persist: etcd load: %w", err)
	}
	s.seen(resp.Header.Revision)
	snap := &Snapshot{Rev: resp.Header.Revision, buckets: make(map[Bucket][]etcdRecord)}
	for _, kv := range resp.Kvs {
		b, k, ok := s.splitKey(string(kv.Key))
		if !ok {
			continue
		}
		snap.buckets[b] = append(snap.buckets[b], etcdRecord{k, nonNil(kv.Value)})
	}
	// etcd returns keys in byte order of the full key, so each bucket is already sorted.
	return snap, nil
}

func (s *EtcdStore) splitKey(full string) (Bucket, string, bool) {
	rest, ok := strings.CutPrefix(full, s.dataPrefix())
	if !ok {
		return "", "", false
	}
	b, k, ok := strings.Cut(rest, "/")
	return Bucket(b), k, ok
}

// Change is one record's new value in a committed batch; Value nil means deleted.
type Change struct {
	Bucket Bucket
	Key    string
	Value  []byte
}

// Committed is one committed batch as a watch sees it: all its changes, at one revision.
type Committed struct {
	Rev     int64
	Changes []Change
	// Err ends the stream: the follower must reload (View) and watch again. It is
	// ErrCompacted-like when the revision it asked for is gone, or a lost connection.
	Err error
}

// Watch streams every batch committed after revision after (a Snapshot's Rev), in commit
// order, until ctx ends or an error (sent as the last Committed); then the channel closes.
// It requires an etcd leader, so a follower cut off with a minority of etcd members gets
// an error instead of a silent stall.
func (s *EtcdStore) Watch(ctx context.Context, after int64) <-chan Committed {
	out := make(chan Committed, 16)
	go func() {
		defer close(out)
		// On its goroutine: clientv3's Watch blocks until it has a stream, which it keeps
		// trying to open while etcd cannot be reached (until ctx ends).
		wch := s.cli.Watch(clientv3.WithRequireLeader(ctx), s.dataPrefix(), clientv3.WithPrefix(), clientv3.WithRev(after+1))
		send := func(c Committed) bool {
			select {
			case out <- c:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for resp := range wch {
			if err := resp.Err(); err != nil {
				send(Committed{Err: fmt.Errorf("persist: etcd watch: %w", err)})
				return
			}
			// One response may hold several transactions; one transaction's events are
			// never split across responses (no fragmenting asked).
			var cur Committed
			for _, ev := range resp.Events {
				b, k, ok := s.splitKey(string(ev.Kv.Key))
				if !ok {
					continue
				}
				if ev.Kv.ModRevision != cur.Rev && cur.Rev != 0 {
					if !send(cur) {
						return
					}
					cur = Committed{}
				}
				cur.Rev = ev.Kv.ModRevision
				c := Change{Bucket: b, Key: k}
				if ev.Type == clientv3.EventTypePut {
					c.Value = nonNil(ev.Kv.Value)
				}
				cur.Changes = append(cur.Changes, c)
			}
			if cur.Rev != 0 && !send(cur) {
				return
			}
		}
		if ctx.Err() == nil {
			send(Committed{Err: errors.New("persist: etcd watch: closed")})
		}
	}()
	return out
}

// nonNil keeps an empty value (the Failed bucket's) apart from an absent one: etcd decodes
// both as nil.
func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}
