package balancer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
	"github.com/seed248d40c9/fulcrum/planner"
)

// Executing plans (POST /balancer): a registry actor (<name>/balancer/plans) owns the known
// plans and lets one execute at a time; each accepted plan is a plan actor
// (…/plans/plan-<token>) that runs the execution as a state machine against Kafka and keeps
// its progress in the store. See DESIGN.md, "Executing a plan".

// Executor changes Kafka for a plan; *kafkaexec.Admin is the real one. Every call must be
// bounded and safe to repeat.
type Executor interface {
	State(ctx context.Context, topics []string) (*kafkaexec.State, error)
	AlterDirs(ctx context.Context, broker int32, dirs map[kafkaexec.TP]string) (map[kafkaexec.TP]error, error)
	Reassign(ctx context.Context, targets map[kafkaexec.TP][]int32) (map[kafkaexec.TP]error, error)
	CancelReassign(ctx context.Context, tps []kafkaexec.TP) (map[kafkaexec.TP]error, error)
	ElectPreferred(ctx context.Context, tps []kafkaexec.TP) (map[kafkaexec.TP]error, error)
	// ReadThrottle reads what SetThrottle changes, SetThrottle sets the plan's throttle
	// over it, RestoreThrottle puts it back.
	ReadThrottle(ctx context.Context, brokers []int32, topics []string) (*kafkaexec.ThrottleConfigs, error)
	SetThrottle(ctx context.Context, t kafkaexec.Throttle, was *kafkaexec.ThrottleConfigs) error
	RestoreThrottle(ctx context.Context, was *kafkaexec.ThrottleConfigs, topics []string) error
}

// ExecOptions tune plan execution; zero values take the defaults.
type ExecOptions struct {
	// MovesPerBroker bounds the partition moves in flight into or out of one broker, and
	// the directory moves in flight on one broker, unless a plan sets its own; default 5.
	MovesPerBroker int
	// PollInterval is how often a plan reads Kafka while it waits; default 500ms.
	PollInterval time.Duration
	// Debounce is how many polls in a row must see the replicas in sync (and then the
	// preferred leaders leading) before the plan moves on; default 3.
	Debounce int
	// StallTimeout fails a plan that makes no progress (no partition placed, no byte moved,
	// no leader elected, no phase passed) for this long: a dead broker or a stuck move
	// never leaves a plan hanging. Default 2m.
	StallTimeout time.Duration
	// CallTimeout bounds each operation on Kafka (the Executor bounds each call too);
	// default 20s.
	CallTimeout time.Duration
	// KeepFinished is how long a finished plan stays listed (and in the store) after it
	// ended; default 168h (a week).
	KeepFinished time.Duration
	// MaxFinished bounds the finished plans kept; the oldest go first; default 100.
	MaxFinished int
	// Now is the clock; default time.Now. Tests inject their own.
	Now func() time.Time
}

func (o *ExecOptions) defaults() {
	if o.MovesPerBroker <= 0 {
		o.MovesPerBroker = 5
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 500 * time.Millisecond
	}
	if o.Debounce <= 0 {
		o.Debounce = 3
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 2 * time.Minute
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 20 * time.Second
	}
	if o.KeepFinished <= 0 {
		o.KeepFinished = 7 * 24 * time.Hour
	}
	if o.MaxFinished <= 0 {
		o.MaxFinished = 100
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Placement and PlanChange are the planner's types: a change of a GET /balancer report is
// a change of POST /balancer, so a report can be posted as it is. The first replica of
// After is the preferred leader, and leads once the plan is done. Before, when given, must
// match the current placement (only what it gives is compared: a directory left empty is
// not compared, and the replicas' sizes never are), or the plan is refused.
type (
	Placement  = planner.Placement
	PlanChange = planner.Change
)

// PlanSpec is a plan to execute.
type PlanSpec struct {
	Changes []PlanChange `json:"changes"`
	// Throttle, in bytes/s, limits the replication of the moving replicas (and the copies
	// between directories) while the plan runs; 0 means none. It is always removed at the
	// end, whether the plan succeeds, fails or is cancelled.
	Throttle int64 `json:"throttle,omitempty"`
	// Concurrency overrides ExecOptions.MovesPerBroker for this plan; 0 keeps it.
	Concurrency int `json:"concurrency,omitempty"`
	// AllowReplicationFactorChange lets a change give a partition more or fewer replicas
	// than it has; without it such a plan is refused (as kafka-reassign-partitions does).
	AllowReplicationFactorChange bool `json:"allowReplicationFactorChange,omitempty"`
}

// Validate checks what can be checked without Kafka. Errors are ErrInvalid.
func (s *PlanSpec) Validate() error {
	if len(s.Changes) == 0 {
		return errorf(ErrInvalid, "changes: at least one change is required")
	}
	if s.Throttle < 0 {
		return errorf(ErrInvalid, "throttle %d: must be > 0 bytes/s (omit it for none)", s.Throttle)
	}
	if s.Concurrency < 0 {
		return errorf(ErrInvalid, "concurrency %d: must be > 0 (omit it for the default)", s.Concurrency)
	}
	seen := map[kafkaexec.TP]bool{}
	for i, c := range s.Changes {
		tp := kafkaexec.TP{Topic: c.Topic, Partition: c.Partition}
		switch {
		case c.Topic == "":
			return errorf(ErrInvalid, "changes[%d]: topic is required", i)
		case c.Partition < 0:
			return errorf(ErrInvalid, "changes[%d]: partition %d must be ≥ 0", i, c.Partition)
		case seen[tp]:
			return errorf(ErrInvalid, "changes[%d]: %s is changed twice", i, tp)
		case len(c.After) == 0:
			return errorf(ErrInvalid, "changes[%d] (%s): after must list at least one replica", i, tp)
		}
		seen[tp] = true
		var before, after []int32
		for _, r := range c.Before {
			before = append(before, r.BrokerID)
		}
		for _, p := range c.After {
			after = append(after, p.BrokerID)
		}
		for name, brokers := range map[string][]int32{"before": before, "after": after} {
			for j, b := range brokers {
				if b < 0 {
					return errorf(ErrInvalid, "changes[%d] (%s): %s has broker id %d", i, tp, name, b)
				}
				if slices.Contains(brokers[:j], b) {
					return errorf(ErrInvalid, "changes[%d] (%s): %s lists broker %d twice", i, tp, name, b)
				}
			}
		}
	}
	return nil
}

// Phase is where a plan is in its execution.
type Phase string

// The phases, in order. A plan that fails goes through PhaseFailing (in-flight moves are
// cancelled) and one that is cancelled through PhaseCancelling; all of them remove the
// throttle (PhaseUnthrottling) before their final phase.
const (
	PhasePending      Phase = "pending"            // accepted and recorded
	PhaseThrottling   Phase = "throttling"         // setting the replication throttle
	PhaseReassigning  Phase = "reassigning"        // moving replicas between brokers, in batches
	PhaseMovingDirs   Phase = "moving-directories" // moving replicas between directories of a broker
	PhaseSyncing      Phase = "syncing"            // waiting for every replica to be in sync, not a future log
	PhaseElecting     Phase = "electing"           // electing the preferred leaders and waiting for them
	PhaseFailing      Phase = "failing"            // cancelling in-flight moves after an error
	PhaseCancelling   Phase = "cancelling"         // cancelling in-flight moves on request
	PhaseUnthrottling Phase = "unthrottling"       // removing the throttle
	PhaseExecuted     Phase = "executed"           // final: the layout is the plan's
	PhaseFailed       Phase = "failed"             // final: see Error
	PhaseCancelled    Phase = "cancelled"          // final
)

// Final reports whether the plan is over.
func (p Phase) Final() bool {
	return p == PhaseExecuted || p == PhaseFailed || p == PhaseCancelled
}

// PlanStatus is a plan's progress, as GET /balancer/{token} shows it.
type PlanStatus struct {
	Token string `json:"token"`
	// Done is true once the plan is over, successfully or not (the seed's "done").
	Done  bool   `json:"done"`
	Phase Phase  `json:"phase"`
	Error string `json:"error,omitempty"`
	// PartitionsDone counts the partitions whose replicas are where the plan puts them
	// (brokers, order, directories) and in sync.
	PartitionsTotal int `json:"partitionsTotal"`
	PartitionsDone  int `json:"partitionsDone"`
	// BytesTotal is what the plan copies: each new replica and each directory move counts
	// its partition's size when the plan was accepted. BytesMoved is read from the log
	// sizes on the destinations.
	BytesTotal int64 `json:"bytesTotal"`
	BytesMoved int64 `json:"bytesMoved"`
	// Throttle is the rate the plan sets (bytes/s); absent when it sets none, as for a
	// plan that copies nothing.
	Throttle   int64      `json:"throttle,omitempty"`
	StartTime  time.Time  `json:"startTime"`
	FinishTime *time.Time `json:"finishTime,omitempty"`
	// ETASeconds estimates the time left: the bytes still to copy at the rate achieved
	// over the last 20 s, never faster than the throttle allows (estimateETA); absent
	// while unknown and while the plan reverts.
	ETASeconds *float64 `json:"etaSeconds,omitempty"`
	// Restarts counts the times Fulcrum restarted while the plan ran.
	Restarts int `json:"restarts,omitempty"`
}

// Messages of the registry and the plan actors.
type (
	executePlan struct {
		spec  PlanSpec
		token string
	}
	planAccepted struct{ token string }
	getPlan      struct{ token string }
	listPlans    struct{}
	cancelPlan   struct{ token string }
	// planReply answers getPlan and cancelPlan.
	planReply struct {
		status *PlanStatus
		err    error
	}
	planList struct{ plans []*PlanStatus }
)

// askTimeout bounds the short asks (status, list).
const askTimeout = 5 * time.Second

// Execute validates the plan against Kafka, records it durably and starts it; it returns
// the plan's token. Errors: ErrInvalid (malformed, unknown topic, partition, broker or
// directory), ErrConflict (before does not match, a reassignment or directory move is in
// progress, another plan is executing), ErrUnavailable (Kafka did not answer, or execution
// is not configured), ErrInternal (the store failed).
func (b *Balancer) Execute(spec PlanSpec) (string, error) {
	if err := b.execReady(); err != nil {
		return "", err
	}
	if err := spec.Validate(); err != nil {
		return "", err
	}
	token, err := newToken()
	if err != nil {
		return "", withKind(ErrInternal, err)
	}
	v, err := b.ask(&executePlan{spec: spec, token: token}, 2*b.cfg.exec.CallTimeout+5*time.Second)
	if err != nil {
		return "", err
	}
	switch r := v.(type) {
	case *planAccepted:
		return r.token, nil
	case *planReply:
		return "", r.err
	}
	return "", errorf(ErrInternal, "unexpected reply %T", v)
}

// Plan returns a plan's progress; ErrNotFound if no plan has that token.
func (b *Balancer) Plan(token string) (*PlanStatus, error) {
	if err := b.execReady(); err != nil {
		return nil, err
	}
	if b.following.Load() {
		return b.storedPlan(token)
	}
	return b.askPlan(&getPlan{token: token}, askTimeout)
}

// Plans lists every known plan, oldest first.
func (b *Balancer) Plans() ([]*PlanStatus, error) {
	if err := b.execReady(); err != nil {
		return nil, err
	}
	if b.following.Load() {
		return b.storedPlans()
	}
	v, err := b.ask(&listPlans{}, askTimeout)
	if err != nil {
		return nil, err
	}
	r, ok := v.(*planList)
	if !ok {
		return nil, errorf(ErrInternal, "unexpected reply %T", v)
	}
	return r.plans, nil
}

// CancelWait bounds how long Cancel waits for a plan to end.
const CancelWait = 30 * time.Second

// Cancel cancels a running plan: reassignments in flight are cancelled (Kafka puts back
// their replicas), directory moves in flight are undone, the throttle is removed. It waits
// up to CancelWait for that and returns the final status; a status that is not Done means
// the cancellation is still going on. A plan already cancelled is returned as it is; one
// that ended otherwise is ErrConflict; an unknown token is ErrNotFound.
func (b *Balancer) Cancel(token string) (*PlanStatus, error) {
	if err := b.execReady(); err != nil {
		return nil, err
	}
	status, err := b.askPlan(&cancelPlan{token: token}, CancelWait)
	if errors.Is(err, ErrTimeout) {
		return b.Plan(token)
	}
	return status, err
}

// askPlan asks the registry about one plan; the answer is a *planReply.
func (b *Balancer) askPlan(msg any, timeout time.Duration) (*PlanStatus, error) {
	v, err := b.ask(msg, timeout)
	if err != nil {
		return nil, err
	}
	r, ok := v.(*planReply)
	if !ok {
		return nil, errorf(ErrInternal, "unexpected reply %T", v)
	}
	return r.status, r.err
}

func (b *Balancer) execReady() error {
	if b.stopped.Load() {
		return ErrStopped
	}
	if b.cfg.kafka == nil || b.cfg.store == nil {
		return errorf(ErrUnavailable, "plan execution is not configured")
	}
	return nil
}

func (b *Balancer) ask(msg any, timeout time.Duration) (any, error) {
	v, err := b.sys.Root.RequestFuture(b.plans, msg, timeout).Result()
	switch {
	case errors.Is(err, actor.ErrTimeout):
		return nil, errorf(ErrTimeout, "no answer within %s", timeout)
	case errors.Is(err, actor.ErrDeadLetter):
		return nil, ErrStopped
	case err != nil:
		return nil, withKind(ErrInternal, err)
	}
	return v, nil
}

// newToken returns a random UUID (version 4), as the seed's tokens look.
func newToken() (string, error) {
	var u [16]byte
	if _, err := randRead(u[:]); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}
