// Package balancer runs the Kafka plan search as actors, inside the engine's actor system
// (or an embedder's): a supervisor actor, a pool of planner actors that each run one batch of
// candidates at a time and answer with their batch's best layout, and one short-lived search
// actor per request that reads the cluster, splits the limit into batches, hands them to the
// planners and keeps the global best. See DESIGN.md, "Balancer".
package balancer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/persist"
	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// Source reads the layout to plan on; *kafkaload.Loader is the real one. Errors wrapping
// kafkaload.ErrNotPlannable are reported as ErrConflict, any other as ErrUnavailable.
type Source interface {
	Load(ctx context.Context) (*kafkaload.Snapshot, error)
}

// SourceFunc adapts a function to Source (tests, embedders with their own snapshot).
type SourceFunc func(ctx context.Context) (*kafkaload.Snapshot, error)

// Load calls f.
func (f SourceFunc) Load(ctx context.Context) (*kafkaload.Snapshot, error) { return f(ctx) }

// Options configure a Balancer. Source is required; the rest have defaults.
type Options struct {
	Source Source
	Logger zerolog.Logger
	// Name prefixes the actors: <Name>/balancer, its planners and searches. Default
	// "fulcrum", the engine's default, so both live under one prefix.
	Name string
	// Planners is the size of the planner pool; default GOMAXPROCS. Scoring is CPU-bound,
	// so more planners than cores buy nothing.
	Planners int
	// MaxSearches bounds the searches running at once (ErrBusy beyond); default 4.
	MaxSearches int
	// LoadTimeout bounds reading the cluster; default kafkaload.DefaultTimeout.
	LoadTimeout time.Duration
	// Grace is how long past its own deadline a search may take to collect its batches and
	// render the plan before the asker gives up; default 5s.
	Grace time.Duration

	// Executor and Store enable executing plans (Execute, Plan, Plans, Cancel); without
	// both, those answer ErrUnavailable. Plans and their progress are kept in Store's
	// persist.Plans bucket, and unfinished ones are resumed by Start.
	Executor Executor
	Store    persist.Backend
	Exec     ExecOptions
	// Standby: several instances share Store (etcd) and only the leader executes plans;
	// the balancer starts as a standby and follows SetLeading (standby.go).
	Standby bool
	// Registerer receives the balancer's metrics (metrics.go); nil keeps them unregistered.
	Registerer prometheus.Registerer
}

// Request is one plan search. Propose validates it.
type Request struct {
	// Functions is the cluster cost to minimise; required.
	Functions planner.Functions
	// Limit is the number of candidates to evaluate; 0 lets the search scale its effort
	// with the cluster (planner.AutoEffort): it ends when it stalls.
	Limit int
	// Timeout ends the search early, after reading the cluster; > 0.
	Timeout time.Duration
	// Topics the plan may change; empty means every non-internal topic.
	Topics []string
	// Seed makes the search repeatable.
	Seed uint64
	// MaxMoveBytes and MaxMoves are budgets every candidate must respect; 0 means none.
	MaxMoveBytes int64
	MaxMoves     int
	// LeadershipOnly plans only changes of preferred leader: nothing is copied.
	LeadershipOnly bool
	// ExcludeBrokers are drained: every replica of the topics in scope leaves them.
	ExcludeBrokers []int32
	// TargetBrokers, when not empty, are the only brokers that receive replicas.
	TargetBrokers []int32
	// MaxDiskUsage is the share of a directory's volume no directory may end above; 0
	// means planner.DefaultMaxDiskUsage.
	MaxDiskUsage float64
	// MinGain makes the plan movement-aware (planner.Options.MinGain); 0 balances to the
	// byte.
	MinGain float64
}

// Report is a proposal in the shape of Astraea's GET /balancer (README "Balancer walk-through"):
// the planner's Plan, whose changes are what POST /balancer takes (PlanSpec), plus how the
// search ran.
type Report struct {
	planner.Plan
	// Limit is the number of candidates evaluated: the requested limit unless the timeout
	// ended the search first.
	Limit int `json:"limit"`
	// Function names the cost functions, with their weights when not 1.
	Function string `json:"function"`

	// Interrupted is set when the timeout ended the search before its limit.
	Interrupted bool `json:"-"`
}

// Balancer is the handle on the balancer's actors. Its methods are safe for concurrent use.
type Balancer struct {
	sys     *actor.ActorSystem
	pid     *actor.PID
	plans   *actor.PID // the plan registry
	cfg     *config
	stop    context.CancelFunc
	stopped atomic.Bool

	standby   bool        // started with Options.Standby
	following atomic.Bool // standby and not leading: plan reads come from the store
}

// config is what the actors read; it never changes after Start.
type config struct {
	log         zerolog.Logger
	source      Source
	planners    int
	maxSearches int
	loadTimeout time.Duration
	grace       time.Duration
	// base is cancelled by Stop: every read of Kafka and every batch derives from it, so
	// stopping never waits for a search to run out its timeout.
	base context.Context

	kafka   Executor
	store   persist.Backend
	exec    ExecOptions
	metrics *metrics
}

// Start spawns the balancer's actors in sys. Stop stops them; it does not touch anything
// else in sys.
func Start(sys *actor.ActorSystem, o Options) (*Balancer, error) {
	if sys == nil {
		return nil, errors.New("balancer: no actor system")
	}
	if o.Source == nil {
		return nil, errors.New("balancer: no source")
	}
	if o.Name == "" {
		o.Name = "fulcrum"
	}
	base, cancel := context.WithCancel(context.Background())
	cfg := &config{
		log: o.Logger, source: o.Source, planners: o.Planners,
		maxSearches: o.MaxSearches, loadTimeout: o.LoadTimeout, grace: o.Grace, base: base,
	}
	if cfg.planners <= 0 {
		cfg.planners = runtime.GOMAXPROCS(0)
	}
	if cfg.maxSearches <= 0 {
		cfg.maxSearches = 4
	}
	if cfg.loadTimeout <= 0 {
		cfg.loadTimeout = kafkaload.DefaultTimeout
	}
	if cfg.grace <= 0 {
		cfg.grace = 5 * time.Second
	}
	cfg.kafka, cfg.store, cfg.exec = o.Executor, o.Store, o.Exec
	cfg.metrics = newMetrics(o.Registerer)
	cfg.exec.defaults()
	var plans []*planRecord
	if cfg.kafka != nil && cfg.store != nil && !o.Standby {
		var bad []error
		var err error
		if plans, bad, err = loadPlans(cfg.store); err != nil {
			cancel()
			return nil, fmt.Errorf("load plans: %w", err)
		}
		for _, e := range bad {
			cfg.log.Error().Err(e).Msg("skipping a plan record")
		}
	}
	props := actor.PropsFromProducer(func() actor.Actor {
		return &supervisor{cfg: cfg, plans: plans, standby: o.Standby, searches: map[string]bool{}}
	})
	pid, err := sys.Root.SpawnNamed(props, o.Name+"/balancer")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("spawn balancer actor: %w", err)
	}
	// The supervisor spawns the registry as its child "plans" when it starts; once it has
	// answered a ping, the registry exists and asks to it cannot be dead letters.
	if _, err := sys.Root.RequestFuture(pid, &ping{}, 10*time.Second).Result(); err != nil {
		cancel()
		sys.Root.Stop(pid)
		return nil, fmt.Errorf("balancer actor did not start: %w", err)
	}
	regPID := actor.NewPID(sys.Address(), pid.Id+"/plans")
	b := &Balancer{sys: sys, pid: pid, plans: regPID, cfg: cfg, stop: cancel, standby: o.Standby}
	b.following.Store(o.Standby)
	return b, nil
}

// Propose searches for a cheaper layout and waits for the report, at most the time to read
// the cluster plus the request's timeout plus a grace period. Errors match one of the kinds
// in errors.go.
func (b *Balancer) Propose(req Request) (*Report, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	if b.stopped.Load() {
		return nil, ErrStopped
	}
	wait := b.cfg.loadTimeout + req.Timeout + b.cfg.grace
	start := time.Now()
	report, err := b.propose(req, wait)
	b.cfg.metrics.searched(start, err)
	return report, err
}

func (b *Balancer) propose(req Request, wait time.Duration) (*Report, error) {
	v, err := b.sys.Root.RequestFuture(b.pid, &propose{req: req}, wait).Result()
	switch {
	case errors.Is(err, actor.ErrTimeout):
		return nil, errorf(ErrTimeout, "no plan within %s", wait)
	case errors.Is(err, actor.ErrDeadLetter):
		return nil, ErrStopped
	case err != nil:
		return nil, withKind(ErrInternal, err)
	}
	r, ok := v.(*proposal)
	if !ok {
		return nil, errorf(ErrInternal, "unexpected reply %T", v)
	}
	return r.report, r.err
}

// Stop cancels the running searches and stops the balancer's actors (the supervisor, and
// with it the planners and searches). A pending Propose answers ErrStopped.
func (b *Balancer) Stop() error {
	if b.stopped.Swap(true) {
		return nil
	}
	b.stop()
	if err := b.sys.Root.PoisonFuture(b.pid).Wait(); err != nil {
		return fmt.Errorf("balancer actor did not stop: %w", err)
	}
	return nil
}

func (r *Request) validate() error {
	switch {
	case r.Limit < 0:
		return errorf(ErrInvalid, "invalid search limit %d: must be > 0 (or 0 for automatic)", r.Limit)
	case r.Timeout <= 0:
		return errorf(ErrInvalid, "invalid timeout %s: must be > 0", r.Timeout)
	case r.MaxMoveBytes < 0 || r.MaxMoves < 0:
		return errorf(ErrInvalid, "move budgets must be ≥ 0")
	case !(r.MaxDiskUsage >= 0 && r.MaxDiskUsage <= 1):
		return errorf(ErrInvalid, "invalid maxDiskUsage %v: must be > 0 and ≤ 1", r.MaxDiskUsage)
	case !(r.MinGain >= 0) || math.IsInf(r.MinGain, 1):
		return errorf(ErrInvalid, "invalid minGain %v: must be a finite number ≥ 0", r.MinGain)
	}
	if err := r.Functions.Validate(); err != nil {
		return withKind(ErrInvalid, err)
	}
	return nil
}

// FunctionName renders cost functions as the report's "function": names joined by commas,
// each with ":weight" unless the weight is 1 ("ReplicaSizeCost,ReplicaLeaderCost:2").
// ParseFunctions reads it back.
func FunctionName(fs planner.Functions) string {
	var b strings.Builder
	for i, wf := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(wf.Function.String())
		if wf.Weight != 1 {
			b.WriteByte(':')
			b.WriteString(strconv.FormatFloat(wf.Weight, 'g', -1, 64))
		}
	}
	return b.String()
}
