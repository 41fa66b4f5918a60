// Package actors is Fulcrum's engine: the proxy-pool actor, one actor per Redis cluster,
// and the Engine that spawns them inside a new or an embedder's actor system. See DESIGN.md.
package actors

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/persist"
)

// Options configure an Engine. The zero value of each field is a sensible default, except
// DataDir (or Store), which is required.
type Options struct {
	// System is an existing actor system to run in; nil creates one that Stop shuts down.
	System *actor.ActorSystem
	// Logger receives the engine's logs; the zero value discards them.
	Logger zerolog.Logger
	// DataDir holds the store; ignored when Store is given.
	DataDir string
	// Store is an already open store; the engine does not close it. A *persist.EtcdStore
	// makes the engine one member of a highly available broker (ha.go): it follows the
	// state in etcd, campaigns, and takes changes only while it leads.
	Store persist.Backend
	// Instance is this instance's advertised API address, reported by HA (an EtcdStore's
	// ID is used with etcd).
	Instance string
	// Leadership, when set, is called with true once this instance leads (its state
	// loaded, changes taken) and with false when it stops leading; with etcd only. The
	// balancer's plan executor follows it.
	Leadership func(leading bool)
	// Name prefixes every actor the engine spawns, so several engines (or the embedder's
	// own actors) never collide. Default "fulcrum".
	Name string

	FailureTTL     time.Duration // default 60s
	FailureQuorum  int           // default 1
	MigrationLimit int           // 0 = unlimited
	OrderedProxy   bool
	AskTimeout     time.Duration // default 5s

	// FailurePruneInterval is how often expired failure reports are dropped from the store;
	// default the failure TTL, negative never. FailureQuorum is at most meta.MaxReporters.
	FailurePruneInterval time.Duration
	// StoreTimeout bounds how long the asker of a change that was accepted before its ask
	// timed out still waits for the commit's outcome (then OUTCOME_UNKNOWN); default 10s.
	StoreTimeout time.Duration

	// EpochPollInterval, EpochPollFailures and EpochPollMax bound how a scale-out waits for
	// its proxies to report the cluster's epoch (UMCTL GETEPOCH): defaults 1s, 30 failed
	// polls, 120 polls in all.
	EpochPollInterval time.Duration
	EpochPollFailures int
	EpochPollMax      int

	// ReplicaAddresses, when not nil, replaces the stored list of replica brokers at start.
	ReplicaAddresses []string
	// SyncMetaInterval is the replication period; 0 means 10s, negative disables replication.
	SyncMetaInterval time.Duration
	// ReplicationTimeout bounds one push to one replica; default 5s.
	ReplicationTimeout time.Duration
	// ReplicationToken, when it returns a token, is sent as a bearer token with each push
	// (replicas that require one); called per push, so a reloaded token file is used.
	ReplicationToken func() string

	// Registerer receives the engine's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Now is the clock for failure reports; default time.Now.
	Now func() time.Time
}

// engineConfig is what the actors read; it never changes after Start.
type engineConfig struct {
	log            zerolog.Logger
	failureTTL     time.Duration
	failureQuorum  int
	migrationLimit int
	pruneInterval  time.Duration // ≤ 0: expired failure reports are not pruned
	now            func() time.Time
	metrics        *Metrics
	epochWait      epochWait

	storeTimeout       time.Duration
	syncInterval       time.Duration // ≤ 0: no replication
	replicationTimeout time.Duration
	replicationToken   func() string // nil: none

	// HA on etcd (ha.go), nil with bbolt: haLost receives the pool's failed commits;
	// haRefuse is the pool's answer to changes until it is told to lead.
	haLost    chan error
	haRefuse  error
	haApplied func(rev int64) // the pool applied the store's state up to rev
}

// Engine runs the broker's actors and is the API the HTTP front end (or an embedding
// program) calls. Every method is one ask with a timeout and is safe for concurrent use.
type Engine struct {
	sys       *actor.ActorSystem
	ownSystem bool
	store     persist.Backend
	ownStore  bool
	pool      *actor.PID
	cfg       *engineConfig
	timeout   time.Duration
	stopped   atomic.Bool
	pids      sync.Map // cluster name → *actor.PID, addresses only: no state
	replies   *replyBoxes

	restoring atomic.Bool // a whole-state restore runs: one at a time

	instance string
	ha       *haNode // nil with bbolt
}

// Start loads the state from the store and spawns the actors.
func Start(o Options) (*Engine, error) {
	cfg := &engineConfig{log: o.Logger, failureTTL: o.FailureTTL, failureQuorum: o.FailureQuorum,
		migrationLimit: o.MigrationLimit, now: o.Now, metrics: newMetrics(o.Registerer)}
	if cfg.failureTTL <= 0 {
		cfg.failureTTL = 60 * time.Second
	}
	if cfg.failureQuorum <= 0 {
		cfg.failureQuorum = 1
	}
	if cfg.failureQuorum > meta.MaxReporters {
		return nil, fmt.Errorf("failure quorum %d: at most %d", cfg.failureQuorum, meta.MaxReporters)
	}
	cfg.pruneInterval = o.FailurePruneInterval
	if cfg.pruneInterval == 0 {
		cfg.pruneInterval = cfg.failureTTL
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	cfg.storeTimeout = cmp.Or(o.StoreTimeout, 10*time.Second)
	cfg.syncInterval, cfg.replicationTimeout, cfg.replicationToken = o.SyncMetaInterval, o.ReplicationTimeout, o.ReplicationToken
	if cfg.syncInterval == 0 {
		cfg.syncInterval = 10 * time.Second
	}
	if cfg.replicationTimeout <= 0 {
		cfg.replicationTimeout = 5 * time.Second
	}
	cfg.epochWait = epochWait{interval: o.EpochPollInterval, failedPolls: o.EpochPollFailures, maxPolls: o.EpochPollMax, timeout: time.Second}
	if cfg.epochWait.interval <= 0 {
		cfg.epochWait.interval = time.Second
	}
	if cfg.epochWait.failedPolls <= 0 {
		cfg.epochWait.failedPolls = 30
	}
	if cfg.epochWait.maxPolls <= 0 {
		cfg.epochWait.maxPolls = 120
	}
	if o.Name == "" {
		o.Name = "fulcrum"
	}
	e := &Engine{cfg: cfg, timeout: o.AskTimeout, store: o.Store}
	if e.timeout <= 0 {
		e.timeout = 5 * time.Second
	}
	if e.store == nil {
		s, err := persist.Open(o.DataDir)
		if err != nil {
			return nil, err
		}
		e.store, e.ownStore = s, true
	}
	e.instance = o.Instance
	var st *poolState
	var mismatch bool
	var err error
	if es, ok := e.store.(*persist.EtcdStore); ok {
		// A member of an HA broker starts as a follower of the state in etcd; it writes
		// nothing (the ordered-proxy flag included) before it leads.
		e.instance = es.ID()
		e.ha = newHANode(es, cfg.log, o.OrderedProxy, o.Leadership, cmp.Or(o.StoreTimeout, 10*time.Second)+e.timeout)
		cfg.haLost, cfg.haApplied = e.ha.lost, e.ha.setApplied
		cfg.haRefuse = fmt.Errorf("%w: this instance is a follower; send changes to the leader", ErrNoLeader)
		cfg.syncInterval = -1 // the other instances are the replicas
		var snap *persist.Snapshot
		var stored bool
		if snap, err = es.Load(); err == nil {
			st, stored, err = readState(snap, o.OrderedProxy)
			mismatch = stored && st.ordered != o.OrderedProxy
			e.ha.loaded = snap.Rev // the node follows from here: no second load
		}
	} else {
		st, mismatch, err = loadState(e.store, o.OrderedProxy)
	}
	if err != nil {
		e.closeStore()
		return nil, err
	}
	if mismatch {
		cfg.log.Error().Bool("stored", st.ordered).Bool("configured", o.OrderedProxy).
			Msg("ordered-proxy flag differs from the stored state; the stored flag is used")
	}
	e.sys = o.System
	if e.sys == nil {
		e.sys, e.ownSystem = NewActorSystem(cfg.log), true
	}
	e.replies = newReplyBoxes(e.sys, o.Name)
	props := actor.PropsFromProducer(func() actor.Actor { return newPoolActor(cfg, e.store, st) }, actor.WithDispatcher(inlineDispatcher))
	e.pool, err = e.sys.Root.SpawnNamed(props, o.Name+"/pool")
	if err != nil {
		e.closeStore()
		return nil, fmt.Errorf("spawn pool actor: %w", err)
	}
	// The pool spawns the cluster actors while starting; its first reply comes after that,
	// so no request can find a cluster missing that is on disk.
	if _, err := e.ask("ready", e.pool, &ready{}); err != nil {
		e.sys.Root.Stop(e.pool)
		e.closeStore()
		return nil, fmt.Errorf("pool actor did not start: %w", err)
	}
	// st is the pool's from here on: read it before the HA node changes it.
	cfg.log.Info().Int("clusters", len(st.clusters)).Int("proxies", len(st.proxies)).Uint64("epoch", st.epoch).
		Msg("broker state loaded")
	if e.ha != nil {
		e.ha.start(e.sys.Root, e.pool)
	}
	if o.ReplicaAddresses != nil && e.ha == nil {
		if r := e.SetReplicas(o.ReplicaAddresses); r.Err != nil {
			e.Stop()
			return nil, fmt.Errorf("replica addresses: %w", r.Err)
		}
	}
	return e, nil
}

// Stop stops the actors the engine spawned (the pool and, as its children, the cluster
// actors), then closes the store if the engine opened it. Call it after the HTTP server
// has drained.
func (e *Engine) Stop() error {
	if e.stopped.Swap(true) {
		return nil
	}
	if e.ha != nil {
		e.ha.stop()
	}
	if err := e.sys.Root.PoisonFuture(e.pool).Wait(); err != nil {
		e.cfg.log.Warn().Err(err).Msg("pool actor did not stop in time")
	}
	e.replies.close()
	if e.ownSystem {
		e.sys.Shutdown()
	}
	return e.closeStore()
}

func (e *Engine) closeStore() error {
	if e.ownStore {
		return e.store.Close()
	}
	return nil
}

// NewActorSystem is an actor system that logs through log, as the engine creates one when
// Options.System is nil; fulcrum serve creates it so that the broker and the balancer run
// in it side by side, each stopping only what it spawned.
func NewActorSystem(log zerolog.Logger) *actor.ActorSystem {
	logger := log.With().Str("component", "protoactor").Logger()
	return actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(zerolog.NewSlogHandler(logger))
		}),
		actor.WithDeadLetterRequestLogging(false))
}

func (e *Engine) clusterPID(name string) (pid *actor.PID, cached bool) {
	// A PID caches its process after the first send, so reusing it saves a registry lookup
	// per ask; protoactor looks it up again once that process is dead (cluster re-created).
	// Only PIDs that reached a cluster actor are kept (see askClusterWithin), so names asked
	// for but never created cannot grow the cache.
	if pid, ok := e.pids.Load(name); ok {
		return pid.(*actor.PID), true
	}
	return actor.NewPID(e.sys.Address(), e.pool.Id+"/"+clusterActorName(name)), false
}

// inlineDispatcher runs a broker actor's mailbox on the goroutine that finds it idle — for
// a read, the HTTP worker that asked — instead of starting a goroutine per activation. The
// mailbox still runs one message at a time, in arrival order; what changes is who runs it:
// the reply is ready before the asker waits for it, so an ask costs no goroutine
// start and no park/unpark (measured in DESIGN.md "Dispatch"). Safe because broker actors never block (rules of the road in DESIGN.md):
// fsyncs, RESP calls and replication pushes run on their own goroutines and report back by
// message. The price: a goroutine that finds the mailbox idle drains what others enqueue
// meanwhile before it returns; broker messages take microseconds, so that is short.
var inlineDispatcher = actor.NewSynchronizedDispatcher(300)

// ask sends msg and waits for the Result, at most the ask timeout.
func (e *Engine) ask(op string, pid *actor.PID, msg any) (Result, error) {
	return e.askWithin(op, pid, msg, e.timeout)
}

func (e *Engine) askWithin(op string, pid *actor.PID, msg any, timeout time.Duration) (Result, error) {
	if e.stopped.Load() {
		return Result{Err: ErrStopped}, nil
	}
	start := time.Now()
	var v any
	var err error
	if m, ok := msg.(ticketed); ok {
		v, err = e.askChangeWithin(pid, m, timeout)
	} else {
		v, err = e.replies.ask(pid, msg, timeout)
	}
	e.cfg.metrics.ask(op).Observe(time.Since(start).Seconds())
	if err != nil {
		return Result{}, err
	}
	res, ok := v.(Result)
	if !ok {
		return Result{Err: fmt.Errorf("%w: unexpected reply %T", ErrInternal, v)}, nil
	}
	return res, nil
}

func (e *Engine) askPool(op string, msg any) Result {
	res, err := e.ask(op, e.pool, msg)
	if err != nil {
		return Result{Err: askError(err)}
	}
	return res
}

// askCluster asks a cluster actor by name; a missing actor answers notFound.
func (e *Engine) askCluster(op, name string, msg any, notFound Result) Result {
	return e.askClusterWithin(op, name, msg, notFound, e.timeout)
}

func (e *Engine) askClusterWithin(op, name string, msg any, notFound Result, timeout time.Duration) Result {
	if !meta.ValidClusterName(name) {
		return notFound
	}
	pid, cached := e.clusterPID(name)
	res, err := e.askWithin(op, pid, msg, timeout)
	if errors.Is(err, actor.ErrDeadLetter) {
		e.pids.Delete(name)
		return notFound
	}
	if err == nil && !cached {
		e.pids.Store(name, pid)
	}
	if err != nil {
		return Result{Err: askError(err)}
	}
	return res
}

func askError(err error) error {
	if errors.Is(err, actor.ErrTimeout) {
		return ErrTimeout
	}
	return fmt.Errorf("%w: %v", ErrInternal, err)
}
