package balancer

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// Messages. All are local: pointers, never copied, never serialised.
type (
	// propose asks the supervisor for a plan; it forwards it to a new search actor, which
	// answers the original asker with a *proposal.
	propose struct{ req Request }
	// proposal is the answer to propose.
	proposal struct {
		report *Report
		err    error
	}
	// loaded is the search actor's own read of the cluster, sent by the goroutine that read
	// it, so that the mailbox never blocks on Kafka.
	loaded struct {
		snap *kafkaload.Snapshot
		err  error
	}
	// scoreChunks asks a planner to score its share of a climb's round.
	scoreChunks struct {
		climb  *planner.Climb
		chunks []planner.Chunk
	}
	// chunksDone is a planner's answer: what each chunk found, or a recovered panic.
	chunksDone struct {
		results []planner.ChunkResult
		err     error
	}
	// expired tells a search that its planners are late.
	expired struct{}
	// ping is answered by the supervisor once it has started (and spawned the registry).
	ping struct{}
)

// supervisor owns the planner pool and the running searches. It does no work itself: it
// spawns a search per request and forwards the request to it, so a long search never holds
// up the next request.
type supervisor struct {
	cfg      *config
	plans    []*planRecord // loaded from the store, for the registry
	standby  bool          // the registry starts as a standby (standby.go)
	planners []*actor.PID
	searches map[string]bool // running search actors, by PID id
	seq      int             // names searches and rotates which planner gets batch 0
}

func (s *supervisor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		props := actor.PropsFromProducer(func() actor.Actor { return &plannerActor{cfg: s.cfg} })
		for i := range s.cfg.planners {
			pid, err := ctx.SpawnNamed(props, "planner-"+strconv.Itoa(i))
			if err != nil {
				// Names are unique under a fresh supervisor; a failure here is a bug.
				panic(fmt.Sprintf("spawn planner %d: %v", i, err))
			}
			s.planners = append(s.planners, pid)
		}
		if s.cfg.kafka != nil && s.cfg.store != nil {
			reg := &registry{cfg: s.cfg, loaded: s.plans, standby: s.standby}
			s.plans = nil
			if _, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return reg }), "plans"); err != nil {
				panic(fmt.Sprintf("spawn plan registry: %v", err))
			}
		}
	case *ping:
		ctx.Respond(&ping{})
	case *propose:
		if len(s.searches) >= s.cfg.maxSearches {
			ctx.Respond(&proposal{err: errorf(ErrBusy, "%d plan searches are running; retry later", len(s.searches))})
			return
		}
		s.seq++
		// Batch i of this search goes to planner (seq+i) mod n: concurrent searches start
		// on different planners instead of queueing behind each other on planner 0.
		n := len(s.planners)
		rotated := append(slices.Clone(s.planners[s.seq%n:]), s.planners[:s.seq%n]...)
		props := actor.PropsFromProducer(func() actor.Actor { return &searchActor{cfg: s.cfg, planners: rotated} })
		pid, err := ctx.SpawnNamed(props, "search-"+strconv.Itoa(s.seq))
		if err != nil {
			ctx.Respond(&proposal{err: withKind(ErrInternal, err)})
			return
		}
		s.searches[pid.Id] = true
		// Forward keeps the asker as sender: the search answers it directly.
		ctx.Forward(pid)
	case *actor.Terminated:
		delete(s.searches, m.Who.Id)
	}
}

// plannerActor scores its share of a round's chunks, one share at a time: CPU-bound work
// of ChunkSize candidates per chunk (about ten microseconds each) that only reads the climb.
// It answers every share, even one that panicked, so a search never waits for an answer that
// will not come.
type plannerActor struct {
	cfg  *config
	view planner.View // the actor's scratch, reused from chunk to chunk
}

func (p *plannerActor) Receive(ctx actor.Context) {
	m, ok := ctx.Message().(*scoreChunks)
	if !ok {
		return
	}
	done := &chunksDone{results: make([]planner.ChunkResult, 0, len(m.chunks))}
	func() {
		defer func() {
			if r := recover(); r != nil {
				p.cfg.log.Error().Interface("panic", r).Str("stack", string(debug.Stack())).Msg("planner panicked")
				done.err = errorf(ErrInternal, "planner failed: %v", r)
			}
		}()
		for _, ch := range m.chunks {
			done.results = append(done.results, m.climb.Score(ch, &p.view))
		}
	}()
	ctx.Respond(done)
}

// searchActor is one plan search, from reading the cluster to the report. It stops itself
// once it has answered.
type searchActor struct {
	cfg      *config
	planners []*actor.PID

	req      Request
	asker    *actor.PID
	answered bool
	started  time.Time
	loadedAt time.Time

	cancel   context.CancelFunc // ends the read of Kafka
	deadline context.Context    // the search's timeout, from the read on
	climb    *planner.Climb
	results  []planner.ChunkResult // of the round in flight
	pending  int
	guard    *time.Timer
}

func (a *searchActor) Receive(ctx actor.Context) {
	// Errors are values; a panic is a bug: answer it, log it, and stop rather than let the
	// default supervisor restart this actor without its asker.
	defer func() {
		if r := recover(); r != nil {
			a.cfg.log.Error().Interface("panic", r).Str("stack", string(debug.Stack())).Msg("plan search panicked")
			a.answer(ctx, nil, errorf(ErrInternal, "plan search failed: %v", r))
		}
	}()
	switch m := ctx.Message().(type) {
	case *propose:
		a.start(ctx, m)
	case *loaded:
		a.plan(ctx, m)
	case *chunksDone:
		a.collect(ctx, m)
	case *expired:
		a.answer(ctx, nil, errorf(ErrTimeout, "planners did not answer within %s of the search's timeout", a.cfg.grace))
	case *actor.Stopping:
		if a.cancel != nil {
			a.cancel()
		}
		if a.guard != nil {
			a.guard.Stop()
		}
		a.answer(ctx, nil, ErrStopped)
	}
}

// start reads the cluster on a goroutine; the result comes back as *loaded.
func (a *searchActor) start(ctx actor.Context, m *propose) {
	a.req, a.asker, a.started = m.req, ctx.Sender(), time.Now()
	loadCtx, cancel := context.WithTimeout(a.cfg.base, a.cfg.loadTimeout)
	a.cancel = cancel
	self, root, source := ctx.Self(), ctx.ActorSystem().Root, a.cfg.source
	go func() {
		snap, err := source.Load(loadCtx)
		root.Send(self, &loaded{snap: snap, err: err})
	}()
}

// plan prepares the search on the snapshot and hands its batches to the planners.
func (a *searchActor) plan(ctx actor.Context, m *loaded) {
	a.cancel()
	a.loadedAt = time.Now()
	if a.cfg.base.Err() != nil {
		a.answer(ctx, nil, ErrStopped) // the read was cut short by Stop
		return
	}
	if m.err != nil {
		kind := ErrUnavailable
		if errors.Is(m.err, kafkaload.ErrNotPlannable) {
			kind = ErrConflict
		}
		a.answer(ctx, nil, withKind(kind, m.err))
		return
	}
	if m.snap == nil || m.snap.Cluster == nil {
		a.answer(ctx, nil, errorf(ErrInternal, "source returned no snapshot"))
		return
	}
	c := m.snap.Cluster
	topics := a.req.Topics
	if len(topics) == 0 {
		topics = m.snap.DefaultTopics()
		if len(topics) == 0 {
			// Nothing may move (only internal topics exist): the current layout is the plan,
			// once the request is checked as a search would check it.
			if err := planner.CheckBrokers(c, a.req.ExcludeBrokers, a.req.TargetBrokers); err != nil {
				a.answer(ctx, nil, withKind(ErrInvalid, err))
				return
			}
			p, err := planner.Evaluate(c, a.req.Functions, nil)
			if err != nil {
				a.answer(ctx, nil, withKind(ErrInvalid, err))
				return
			}
			a.answer(ctx, a.report(p, 0, false), nil)
			return
		}
	} else {
		known := c.Topics()
		for _, t := range topics {
			if _, found := slices.BinarySearch(known, t); !found {
				a.answer(ctx, nil, errorf(ErrInvalid, "unknown topic %q", t))
				return
			}
		}
	}
	opts := planner.Options{
		Functions: a.req.Functions, Limit: a.req.Limit, Seed: a.req.Seed, Topics: topics,
		MaxMoveBytes: a.req.MaxMoveBytes, MaxMoves: a.req.MaxMoves,
		LeadershipOnly: a.req.LeadershipOnly, ExcludeBrokers: a.req.ExcludeBrokers, TargetBrokers: a.req.TargetBrokers,
		MaxDiskUsage: a.req.MaxDiskUsage, MinGain: a.req.MinGain,
	}
	if opts.Limit == 0 {
		opts.Limit, opts.StallAfter = planner.AutoEffort(c, topics)
	}
	s, err := planner.NewSearch(c, opts)
	if err != nil {
		a.answer(ctx, nil, withKind(ErrInvalid, err))
		return
	}
	deadline, cancel := context.WithTimeout(a.cfg.base, a.req.Timeout)
	a.cancel, a.deadline, a.climb = cancel, deadline, s.NewClimb()
	// Planners answer a chunk within microseconds; only a bug, or planners busy with many
	// other searches, can keep a round past this.
	self, root := ctx.Self(), ctx.ActorSystem().Root
	a.guard = time.AfterFunc(a.req.Timeout+a.cfg.grace, func() { root.Send(self, &expired{}) })
	a.nextRound(ctx)
}

// nextRound hands the chunks of the climb's next round to the planners, in one message per
// planner (chunk i to planner (seq + i) mod n: a message per chunk cost as much as the
// scoring), or answers when the climb is over or the timeout has passed.
func (a *searchActor) nextRound(ctx actor.Context) {
	if a.cfg.base.Err() != nil {
		a.answer(ctx, nil, ErrStopped) // cut short by Stop
		return
	}
	if a.deadline.Err() != nil {
		a.climb.Interrupt()
	}
	chunks := a.climb.Next()
	if chunks == nil {
		a.cancel()
		a.guard.Stop()
		best := a.climb.Result()
		a.answer(ctx, a.report(best.Plan(), best.Evaluated, best.Interrupted), nil)
		return
	}
	n := min(len(a.planners), len(chunks))
	shares := make([][]planner.Chunk, n)
	for i, ch := range chunks {
		shares[i%n] = append(shares[i%n], ch)
	}
	a.results, a.pending = a.results[:0], n
	for i, share := range shares {
		ctx.Request(a.planners[i], &scoreChunks{climb: a.climb, chunks: share})
	}
}

// collect gathers a round's chunks; when all are in, the climb commits the round (in chunk
// order, whatever the order of arrival) and the next round starts.
func (a *searchActor) collect(ctx actor.Context, m *chunksDone) {
	if a.answered || a.climb == nil {
		return
	}
	if m.err != nil {
		a.answer(ctx, nil, m.err)
		return
	}
	a.results = append(a.results, m.results...)
	if a.pending--; a.pending > 0 {
		return
	}
	a.climb.Commit(a.results)
	a.nextRound(ctx)
}

func (a *searchActor) report(p planner.Plan, evaluated int, interrupted bool) *Report {
	return &Report{Plan: p, Limit: evaluated, Function: FunctionName(a.req.Functions), Interrupted: interrupted}
}

// answer replies once and stops the actor.
func (a *searchActor) answer(ctx actor.Context, r *Report, err error) {
	if a.answered {
		return
	}
	a.answered = true
	if a.asker != nil {
		ctx.Send(a.asker, &proposal{report: r, err: err})
	}
	ev := a.cfg.log.Info()
	if err != nil {
		ev = a.cfg.log.Warn().Err(err)
	}
	if r != nil {
		ev = ev.Float64("cost", r.Cost).Float64("new_cost", r.NewCost).Int("evaluated", r.Limit).
			Int("changes", len(r.Changes)).Bool("interrupted", r.Interrupted)
	}
	if !a.loadedAt.IsZero() {
		ev = ev.Dur("load", a.loadedAt.Sub(a.started))
	}
	ev.Dur("dur", time.Since(a.started)).Int("limit", a.req.Limit).Str("function", FunctionName(a.req.Functions)).
		Msg("plan search")
	ctx.Stop(ctx.Self())
}
