package actors

// The pool's side of HA on etcd (ha.go runs the election and the watch): installing a state
// read from the store, publishing a leader's commits, stepping down, and turning the
// watch's changes into the pool's delta.

import (
	"errors"
	"fmt"
	"maps"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/persist"
)

// installStored applies a state from the store that no transaction of this pool produced:
// a follower's watch, or a reload. Nothing is being written then (a follower writes
// nothing; a leader steps down before it reloads), but a write started before the step
// down may still be on its way: the state waits for it (finishWrite calls again).
func (a *ProxyPoolActor) installStored(ctx actor.Context, msg any) {
	if a.writing != nil {
		a.waiting = append(a.waiting, msg)
		return
	}
	switch m := msg.(type) {
	case *replaceState:
		d := replaceDelta(a.durable, m.St)
		d.applyTo(a.durable)
		a.tent = a.durable.clone()
		if m.Lead {
			a.refuse = nil
		} else {
			a.refuse = m.Refuse
		}
		a.published(ctx, d)
		a.cfg.haApplied(m.Rev)
		close(m.Done)
	case *applyStored:
		// Nothing is queued on a follower, so tent is durable: apply to both instead of
		// cloning the whole state per batch.
		m.D.applyTo(a.durable)
		m.D.applyTo(a.tent)
		a.published(ctx, m.D)
		a.cfg.haApplied(m.Rev)
	}
}

// published makes a stored change visible: views, listings, cluster actors.
func (a *ProxyPoolActor) published(ctx actor.Context, d *delta) {
	a.forgetProxyViews(d)
	clear(a.freeViews)
	a.snap = nil
	a.publish(ctx, &pending{d: d})
}

// stepDownNow refuses every change from now on with err, the queued ones included (they
// are not written).
func (a *ProxyPoolActor) stepDownNow(ctx actor.Context, err error) {
	a.refuse = err
	for _, p := range a.queued {
		p.reply = Result{Err: err}
		a.reply(ctx, p)
	}
	a.queued = nil
	if a.writing == nil {
		a.tent = a.durable.clone()
	}
}

// haCommitError is how a failed commit to etcd is answered, and the pool's refusal after.
func haCommitError(err error) error {
	if errors.Is(err, persist.ErrTooManyOps) {
		return fmt.Errorf("%w: %w", meta.ErrPersistence, err)
	}
	if errors.Is(err, persist.ErrFenced) || errors.Is(err, persist.ErrNotLeader) {
		return fmt.Errorf("%w: this instance's leadership ended before the change was committed; nothing of it was written, retry", ErrNoLeader)
	}
	if errors.Is(err, persist.ErrStale) {
		return fmt.Errorf("%w: an earlier change whose outcome was unknown was committed meanwhile, so this instance reloads the state; nothing of this change was written, retry", ErrNoLeader)
	}
	return fmt.Errorf("%w: the commit to etcd failed and its outcome is unknown (it may be applied): %v", ErrEtcdUnavailable, err)
}

// replaceDelta is the delta that turns cur into next: every record of next, and a deletion
// of every record of cur that next lacks.
func replaceDelta(cur, next *poolState) *delta {
	ordered, replicas := next.ordered, next.replicas
	return &delta{epoch: next.epoch, epochSet: true, ordered: &ordered, replicas: &replicas,
		proxies:  replaceMap(cur.proxies, next.proxies, nil),
		failed:   replaceMap(cur.failed, next.failed, false),
		failures: replaceMap(cur.failures, next.failures, nil),
		clusters: replaceMap(cur.clusters, next.clusters, nil),
	}
}

func replaceMap[V any](cur, next map[string]V, gone V) map[string]V {
	out := maps.Clone(next)
	if out == nil {
		out = map[string]V{}
	}
	for k := range cur {
		if _, ok := next[k]; !ok {
			out[k] = gone
		}
	}
	return out
}

// changesDelta decodes one batch another instance committed. Plans are the balancer's.
func changesDelta(changes []persist.Change) (*delta, error) {
	d := &delta{}
	for _, c := range changes {
		gone := c.Value == nil
		switch c.Bucket {
		case persist.Meta:
			switch {
			case c.Key == metaEpochKey && !gone:
				n, err := decodeEpoch(c.Value)
				if err != nil {
					return nil, err
				}
				d.epoch, d.epochSet = n, true
			case c.Key == metaOrderedKey && !gone:
				v := decodeOrdered(c.Value)
				d.ordered = &v
			case c.Key == metaReplicasKey:
				var r []string
				if !gone {
					if err := decodeRecord("replica addresses", c.Value, &r); err != nil {
						return nil, err
					}
				}
				d.replicas = &r
			}
		case persist.Proxies:
			p, err := changedRecord[meta.ProxyResource]("proxy "+c.Key, c.Value)
			if err != nil {
				return nil, err
			}
			d.proxies = setKey(d.proxies, c.Key, p)
		case persist.Failed:
			d.failed = setKey(d.failed, c.Key, !gone)
		case persist.Failures:
			var m map[string]int64
			if !gone {
				if err := decodeRecord("failures of "+c.Key, c.Value, &m); err != nil {
					return nil, err
				}
			}
			d.failures = setKey(d.failures, c.Key, m)
		case persist.Clusters:
			rec, err := changedRecord[meta.ClusterStore]("cluster "+c.Key, c.Value)
			if err != nil {
				return nil, err
			}
			d.clusters = setKey(d.clusters, c.Key, rec)
		}
	}
	return d, nil
}

// changedRecord decodes a changed record, nil when it was deleted (no value).
func changedRecord[T any](what string, v []byte) (*T, error) {
	if v == nil {
		return nil, nil
	}
	rec := new(T)
	if err := decodeRecord(what, v, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

func setKey[V any](m map[string]V, k string, v V) map[string]V {
	if m == nil {
		m = map[string]V{}
	}
	m[k] = v
	return m
}
