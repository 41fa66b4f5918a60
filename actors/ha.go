package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/persist"
)

// High availability on etcd (DESIGN.md, "HA on etcd"). With a *persist.EtcdStore the engine
// is one member of a broker made of every instance on the same endpoints and prefix. The
// haNode goroutine below runs the member's life: load the state and follow etcd's watch
// (follower), campaign meanwhile, and once elected load the state again and let the pool
// write (leader) until its leadership ends; then follow again. The pool writes as with
// bbolt, through the store's fenced Commit; a follower's pool refuses every change (the
// HTTP layer forwards changes to the leader before they reach it).

// Errors of an instance that cannot take a change.
var (
	// ErrNoLeader: this instance is not the leader and knows of no leader to forward to, or
	// lost its leadership while the change was on its way (nothing of it was written).
	ErrNoLeader = &meta.Error{Code: "NO_LEADER"}
	// ErrEtcdUnavailable: this instance cannot reach etcd (the message says why), or the
	// commit of the change failed with an unknown outcome.
	ErrEtcdUnavailable = &meta.Error{Code: "ETCD_UNAVAILABLE"}
)

// The roles of GET /ha.
const (
	RoleSingle      = "single"      // bbolt: one instance, which writes
	RoleLeader      = "leader"      // etcd: elected, state loaded, writing
	RoleFollower    = "follower"    // etcd: state loaded and followed, changes forwarded
	RoleUnavailable = "unavailable" // etcd: cannot load or follow the state
)

// HAStatus is GET /ha.
type HAStatus struct {
	Backend  string `json:"backend"` // "bbolt" or "etcd"
	Role     string `json:"role"`
	Instance string `json:"instance"` // this instance's advertised address
	Leader   string `json:"leader"`   // the leader's advertised address, "" when unknown
	Revision int64  `json:"revision"` // the etcd revision applied; 0 for bbolt
}

// HA is this instance's status.
func (e *Engine) HA() HAStatus {
	if e.ha == nil {
		return HAStatus{Backend: "bbolt", Role: RoleSingle, Instance: e.instance}
	}
	return e.ha.status()
}

// WriteTarget says where a change must go: here (local: bbolt, or this instance leads),
// or to the leader at addr; err (ErrNoLeader, ErrEtcdUnavailable, with the reason) when
// neither can take it now.
func (e *Engine) WriteTarget() (addr string, local bool, err error) {
	if e.ha == nil {
		return "", true, nil
	}
	return e.ha.writeTarget()
}

// Messages between the HA node and the pool.
type (
	// replaceState makes st the pool's state (a reload from etcd), then lets the pool write
	// (Lead) or refuse every change with Refuse.
	replaceState struct {
		St     *poolState
		Rev    int64 // the revision St was read at
		Lead   bool
		Refuse error
		Done   chan struct{} // closed once the pool holds St
	}
	// applyStored applies changes another instance committed at Rev (a follower's watch).
	applyStored struct {
		D   *delta
		Rev int64
	}
	// stepDown stops the pool writing: changes are refused with Err until the next reload.
	stepDown struct{ Err error }
)

// haNode runs this instance's membership: follow, campaign, lead. Its fields read by
// other goroutines are atomics.
type haNode struct {
	store   *persist.EtcdStore
	root    *actor.RootContext
	pool    *actor.PID
	log     zerolog.Logger
	ordered bool
	onLead  func(leading bool) // nil: none
	timeout time.Duration      // of a reload by the pool
	// loaded is the revision of the state the pool started with (read by the engine), which
	// the first turn of run follows instead of loading it again; 0 once used.
	loaded int64

	role   atomic.Pointer[string]
	why    atomic.Pointer[string] // why unavailable
	leader atomic.Pointer[string] // polled; "" unknown
	// rev is the revision the pool has applied (set by the pool, after the cluster actors
	// were sent their records: a read that follows sees it); applied is closed and replaced
	// at each change of rev, to wake WaitRevision.
	rev     atomic.Int64
	applied atomic.Pointer[chan struct{}]
	// lost is the pool's report that a commit failed (fenced, or an unknown outcome): it
	// stopped writing.
	lost chan error

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Retry and poll periods of the HA node.
const (
	haRetry      = 500 * time.Millisecond // after etcd could not be reached
	haLeaderPoll = 250 * time.Millisecond // how stale the known leader may be
)

func newHANode(store *persist.EtcdStore, log zerolog.Logger, ordered bool, onLead func(bool), timeout time.Duration) *haNode {
	h := &haNode{store: store, log: log.With().Str("component", "ha").Logger(), ordered: ordered, onLead: onLead,
		timeout: timeout, lost: make(chan error, 1)}
	h.setRole(RoleFollower)
	ch := make(chan struct{})
	h.applied.Store(&ch)
	h.leader.Store(new(string))
	h.why.Store(new(string))
	return h
}

func (h *haNode) setRole(r string) { h.role.Store(&r) }

func (h *haNode) unavailable(err error) {
	msg := err.Error()
	h.why.Store(&msg)
	if *h.role.Load() != RoleUnavailable {
		h.log.Warn().Err(err).Msg("etcd unavailable: changes are refused until it is back")
	}
	h.setRole(RoleUnavailable)
}

func (h *haNode) status() HAStatus {
	rev := h.rev.Load()
	role := *h.role.Load()
	if role == RoleLeader {
		rev = h.store.Revision() // its own commits
	}
	return HAStatus{Backend: "etcd", Role: role, Instance: h.store.ID(), Leader: *h.leader.Load(), Revision: rev}
}

// setApplied records the revision the pool applied; called by the pool.
func (h *haNode) setApplied(rev int64) {
	h.rev.Store(rev)
	ch := make(chan struct{})
	close(*h.applied.Swap(&ch))
}

// WaitRevision waits, at most timeout, until this instance serves the etcd revision rev
// (a change the leader committed at rev, forwarded from here: the client that gets its
// answer then reads its own write here). It reports whether it does.
func (e *Engine) WaitRevision(rev int64, timeout time.Duration) bool {
	if e.ha == nil {
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		ch := *e.ha.applied.Load()
		if e.ha.rev.Load() >= rev || *e.ha.role.Load() == RoleLeader {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			return false
		}
	}
}

func (h *haNode) writeTarget() (string, bool, error) {
	switch role := *h.role.Load(); role {
	case RoleLeader:
		return "", true, nil
	case RoleUnavailable:
		return "", false, fmt.Errorf("%w: %s", ErrEtcdUnavailable, *h.why.Load())
	}
	switch leader := *h.leader.Load(); leader {
	case "":
		return "", false, fmt.Errorf("%w: no leader is elected; retry in a few seconds", ErrNoLeader)
	case h.store.ID():
		return "", false, fmt.Errorf("%w: this instance is taking over; retry in a moment", ErrNoLeader)
	default:
		return leader, false, nil
	}
}

// start runs the node until stop.
func (h *haNode) start(root *actor.RootContext, pool *actor.PID) {
	h.root, h.pool = root, pool
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.wg.Add(2)
	go func() { defer h.wg.Done(); h.run(ctx) }()
	go func() { defer h.wg.Done(); h.pollLeader(ctx) }()
}

// stop ends the node's goroutines (the campaign with them); the store's Close, by its
// owner, revokes the lease so that another instance takes over at once.
func (h *haNode) stop() {
	h.cancel()
	h.wg.Wait()
}

func (h *haNode) pollLeader(ctx context.Context) {
	t := time.NewTicker(haLeaderPoll)
	defer t.Stop()
	for {
		leader, err := h.store.Leader(ctx)
		if err != nil {
			leader = ""
		}
		h.leader.Store(&leader)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// run is the member's life. Each turn of the loop starts as a follower: load the whole
// state and hand it to the pool (the first turn has the one the engine started the pool
// with), follow the watch from its revision, and campaign (the campaign outlives reloads).
// Once elected: load again — a linearizable read after winning sees every commit of the
// previous leader, whose later commits are fenced —, hand it to the pool with the right to
// write, and lead until the lease ends or a commit fails.
func (h *haNode) run(ctx context.Context) {
	var c *campaign // nil while none runs
	defer func() {
		if c != nil {
			c.cancel() // not waited for: see campaign
		}
	}()
	for ctx.Err() == nil {
		rev := h.loaded
		if rev != 0 {
			h.loaded = 0
			h.setApplied(rev)
		} else {
			var err error
			if rev, err = h.reload(false); err != nil {
				h.unavailable(err)
				sleep(ctx, haRetry)
				continue
			}
		}
		h.setRole(RoleFollower)
		if c == nil {
			if err := h.store.Renew(ctx); err != nil {
				h.unavailable(err)
				sleep(ctx, haRetry)
				continue
			}
			c = h.campaign(ctx)
		}
		switch out, err := h.follow(ctx, rev, c); out {
		case followReload:
		case followCampaignEnded: // etcd unreachable, or the session lost: another campaign
			c = nil
			if ctx.Err() == nil {
				h.unavailable(err)
				sleep(ctx, haRetry)
			}
		case followWon:
			c.cancel()
			c = nil
			h.lead(ctx)
		}
	}
}

// campaign is a Campaign running in the background. A cancelled one is never waited for:
// etcd's Election.Campaign resigns on cancellation with the client's own context, which
// blocks while etcd cannot be reached (until the store is closed). Its lease is gone or
// going anyway, so what it would still do is harmless.
type campaign struct {
	cancel context.CancelFunc
	done   chan error // its outcome, once
}

func (h *haNode) campaign(ctx context.Context) *campaign {
	cctx, cancel := context.WithCancel(ctx)
	c := &campaign{cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- h.store.Campaign(cctx) }()
	return c
}

type followOutcome int

const (
	followReload        followOutcome = iota // the watch ended: reload
	followCampaignEnded                      // the campaign failed, or was cancelled as void
	followWon                                // elected
)

// follow applies the watch from rev until the campaign ends or the watch fails.
func (h *haNode) follow(ctx context.Context, rev int64, c *campaign) (followOutcome, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := h.store.Watch(wctx, rev)
	session := h.store.SessionDone()
	for {
		select {
		case ev, ok := <-events:
			if !ok || ev.Err != nil {
				if ctx.Err() == nil {
					h.log.Warn().AnErr("watch", ev.Err).Msg("etcd watch ended; reloading the state")
				}
				return followReload, nil
			}
			d, err := changesDelta(ev.Changes)
			if err != nil { // a record this version cannot read: say so, and reload
				h.log.Error().Err(err).Int64("revision", ev.Rev).Msg("cannot apply a change from etcd; reloading")
				sleep(ctx, haRetry)
				return followReload, nil
			}
			h.root.Send(h.pool, &applyStored{D: d, Rev: ev.Rev})
		case err := <-c.done:
			if err != nil {
				return followCampaignEnded, err
			}
			return followWon, nil
		case <-session:
			// The lease is lost (etcd unreachable past its TTL): the campaign on it is
			// void; the next one opens a new session.
			c.cancel()
			return followCampaignEnded, errors.New("etcd session lost (etcd unreachable past the lease TTL)")
		case <-ctx.Done():
			return followReload, nil
		}
	}
}

// lead makes the pool write until the lease ends, a commit fails, or ctx ends.
func (h *haNode) lead(ctx context.Context) {
	select {
	case <-h.lost: // of a former leadership
	default:
	}
	if _, err := h.reload(true); err != nil {
		h.log.Warn().Err(err).Msg("elected, but the state could not be loaded; resigning")
		h.root.Send(h.pool, &stepDown{Err: fmt.Errorf("%w: %v", ErrEtcdUnavailable, err)})
		if err := h.store.Resign(ctx); err != nil {
			h.log.Warn().Err(err).Msg("resign")
		}
		h.unavailable(err)
		sleep(ctx, haRetry)
		return
	}
	h.setRole(RoleLeader)
	h.log.Info().Int64("revision", h.rev.Load()).Msg("leading: this instance takes the changes")
	if h.onLead != nil {
		h.onLead(true)
	}
	defer func() {
		if h.onLead != nil {
			h.onLead(false)
		}
	}()
	select {
	case <-h.store.SessionDone():
		err := fmt.Errorf("%w: the etcd lease of this instance's leadership ended (etcd unreachable?)", ErrEtcdUnavailable)
		h.root.Send(h.pool, &stepDown{Err: err})
		h.unavailable(err)
		h.log.Warn().Msg("leadership lost: etcd session ended")
	case err := <-h.lost:
		h.setRole(RoleFollower)
		h.log.Warn().Err(err).Msg("leadership lost: a commit failed; following again")
	case <-ctx.Done():
		h.root.Send(h.pool, &stepDown{Err: ErrStopped})
	}
}

// reload loads the whole state and hands it to the pool; it returns the revision read.
func (h *haNode) reload(lead bool) (int64, error) {
	snap, err := h.store.Load()
	if err != nil {
		return 0, err
	}
	st, flagStored, err := readState(snap, h.ordered)
	if err != nil {
		return 0, err
	}
	if lead && !flagStored {
		if err := commitOrdered(h.store, st.ordered); err != nil {
			return 0, err
		}
	}
	refuse := error(nil)
	if !lead {
		refuse = fmt.Errorf("%w: this instance is a follower; send changes to the leader", ErrNoLeader)
	}
	done := make(chan struct{})
	h.root.Send(h.pool, &replaceState{St: st, Rev: snap.Rev, Lead: lead, Refuse: refuse, Done: done})
	t := time.NewTimer(h.timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		// The pool is stuck (a bug) or the state is too big for the timeout: the pool
		// still takes it, as a follower's, or it leads once it does — neither is safe to
		// claim; try again.
		return 0, fmt.Errorf("the pool did not take the state within %s", h.timeout)
	}
	return snap.Rev, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
