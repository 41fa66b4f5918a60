package balancer

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
	"github.com/seed248d40c9/fulcrum/persist"
)

// The balancer's records on disk, its whole schema: bucket persist.Plans, key the plan's
// token, value a planRecord as JSON. The plan actor writes its own record (at most one
// write in flight, planactor.go flush); the registry loads them at start (Start →
// loadPlans) and deletes the pruned ones. No other bucket is the balancer's, and no other
// code writes this one.

// planRecord is what the store keeps of a plan (persist.Plans, by token): enough to answer
// for it and to resume it after a restart. The tasks and the throttle are fixed when the
// plan is accepted; the status changes as it runs.
type planRecord struct {
	Status   PlanStatus          `json:"status"`
	Spec     PlanSpec            `json:"spec"`
	Tasks    []task              `json:"tasks"`
	Throttle *kafkaexec.Throttle `json:"throttle,omitempty"`
	// Saved holds the throttle configs as they were before the plan set its throttle, and
	// is on disk before the throttle is set: the plan puts them back at the end. Nil while
	// the plan has set nothing.
	Saved *kafkaexec.ThrottleConfigs `json:"savedThrottle,omitempty"`
	// Outcome is the final phase a plan that is failing, cancelling or unthrottling ends in.
	Outcome Phase `json:"outcome,omitempty"`
}

// encode is the record as stored.
func (rec *planRecord) encode() []byte {
	body, err := json.Marshal(rec)
	if err != nil { // a bug: every field marshals
		panic(fmt.Sprintf("marshal plan record: %v", err))
	}
	return body
}

// writePlan stores one encoded record.
func writePlan(store persist.Backend, token string, body []byte) error {
	var b persist.Batch
	b.Put(persist.Plans, token, body)
	return store.Commit(&b)
}

// deletePlans removes the records of the given plans.
func deletePlans(store persist.Backend, tokens []string) error {
	var b persist.Batch
	for _, t := range tokens {
		b.Delete(persist.Plans, t)
	}
	return store.Commit(&b)
}

// loadPlans reads every plan record, oldest first. A record that does not parse is
// skipped (and logged by the caller): it cannot be resumed or shown.
func loadPlans(store persist.Backend) ([]*planRecord, []error, error) {
	var recs []*planRecord
	var bad []error
	// Only the plans bucket is read: on etcd, View would read the whole broker state.
	err := store.ForEach(persist.Plans, func(k string, v []byte) error {
		var rec planRecord
		if err := json.Unmarshal(v, &rec); err != nil || rec.Status.Token != k {
			bad = append(bad, fmt.Errorf("plan record %q: %v", k, err))
			return nil
		}
		recs = append(recs, &rec)
		return nil
	})
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Status.StartTime.Before(recs[j].Status.StartTime) })
	return recs, bad, err
}
