package balancer

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// With the state in etcd (Options.Standby), several instances share the plan records and
// only the leader executes plans. A standby balancer proposes plans (GET /balancer reads
// Kafka, changes nothing) and answers plan reads from the store; Execute and Cancel go to
// the leader (the HTTP layer forwards them). SetLeading(true), when this instance becomes
// the leader, loads the records and resumes the unfinished plans with the same logic as a
// start; SetLeading(false) stops the plan executing here — its record writes would be
// refused by etcd's fence anyway — and goes back to standby.

// Messages of the registry for leadership changes.
type (
	leadPlans   struct{ plans []*planRecord }
	followPlans struct{}
)

// planLoadTries bounds the reads of the plan records when this instance becomes leader.
const planLoadTries = 3

// SetLeading tells a standby balancer whether this instance leads; a balancer started
// without Standby ignores it.
func (b *Balancer) SetLeading(leading bool) {
	if !b.standby || b.execReady() != nil {
		return
	}
	if !leading {
		b.following.Store(true)
		b.sys.Root.Send(b.plans, &followPlans{})
		return
	}
	var plans []*planRecord
	for try := 1; ; try++ {
		recs, bad, err := loadPlans(b.cfg.store)
		if err == nil {
			for _, e := range bad {
				b.cfg.log.Error().Err(e).Msg("skipping a plan record")
			}
			plans = recs
			break
		}
		b.cfg.log.Error().Err(err).Int("try", try).Msg("leading, but the plan records could not be read")
		if try == planLoadTries {
			return // stay standby: the next leadership tries again
		}
		time.Sleep(time.Second)
	}
	// The registry takes the records before any ask sent after this returns.
	b.sys.Root.Send(b.plans, &leadPlans{plans: plans})
	b.following.Store(false)
}

// storedPlans are the plan records a standby answers reads from, oldest first.
func (b *Balancer) storedPlans() ([]*PlanStatus, error) {
	recs, _, err := loadPlans(b.cfg.store)
	if err != nil {
		return nil, withKind(ErrUnavailable, err)
	}
	out := make([]*PlanStatus, len(recs))
	for i, r := range recs {
		s := r.Status
		out[i] = &s
	}
	return out, nil
}

func (b *Balancer) storedPlan(token string) (*PlanStatus, error) {
	all, err := b.storedPlans()
	if err != nil {
		return nil, err
	}
	for _, s := range all {
		if s.Token == token {
			return s, nil
		}
	}
	return nil, errorf(ErrNotFound, "no plan %q", token)
}

// lead makes the registry the executor: the records loaded, unfinished plans resumed.
func (r *registry) lead(ctx actor.Context, plans []*planRecord) {
	r.standby = false
	for _, rec := range plans {
		s := rec.Status
		r.add(&s)
		if !s.Phase.Final() {
			r.queue = append(r.queue, rec)
		}
	}
	r.prune(ctx)
	r.resumeNext(ctx)
}

// follow stops executing and forgets the plans: a standby's reads come from the store.
func (r *registry) follow(ctx actor.Context) {
	r.standby = true
	if r.pid != nil {
		ctx.Stop(r.pid)
	}
	r.running, r.pid, r.queue = "", nil, nil
	for _, t := range append([]string(nil), r.order...) {
		r.remove(t)
	}
}
