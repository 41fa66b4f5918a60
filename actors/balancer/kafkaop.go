package balancer

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
)

// kafkaOp is one change the reconciler asks for, as data: the plan actor runs it against
// the Executor (run) and hands the outcome back (reconciler.done). Its parts run in the
// order of the fields, each only when set.
type kafkaOp struct {
	// what names the change, in logs, errors and the Kafka errors metric.
	what string
	// phase is the phase that asked: an outcome that comes back in another phase (the
	// plan was cancelled or failed meanwhile) is stale.
	phase Phase

	// declare names the directories of replicas about to be created: a broker that does
	// not host the partition yet remembers the directory (answering
	// REPLICA_NOT_AVAILABLE) and creates the replica there when the reassignment reaches it.
	declare  map[int32]map[kafkaexec.TP]string
	cancel   []kafkaexec.TP                    // reassignments to cancel
	dirs     map[int32]map[kafkaexec.TP]string // replicas to move between directories
	reassign map[kafkaexec.TP][]int32
	elect    []kafkaexec.TP // preferred leader elections

	throttle throttleStep
	// For the throttle steps: the plan's throttle, the configs it replaces, its topics.
	th     kafkaexec.Throttle
	was    *kafkaexec.ThrottleConfigs
	topics []string
}

type throttleStep int

const (
	noThrottle      throttleStep = iota
	readThrottle                 // read the configs the throttle will change
	setThrottle                  // set the throttle over them
	restoreThrottle              // put them back
)

// run makes the change; the configs read by readThrottle are its result.
func (op *kafkaOp) run(c context.Context, k Executor) (*kafkaexec.ThrottleConfigs, error) {
	for _, b := range sortedBrokers(op.declare) {
		res, err := k.AlterDirs(c, b, op.declare[b])
		if err != nil {
			return nil, err
		}
		if err := partitionsErr(res, true); err != nil {
			return nil, fmt.Errorf("declare directories on broker %d: %w", b, err)
		}
	}
	if len(op.cancel) > 0 {
		if err := checked(k.CancelReassign(c, op.cancel)); err != nil {
			return nil, err
		}
	}
	for _, b := range sortedBrokers(op.dirs) {
		if err := checked(k.AlterDirs(c, b, op.dirs[b])); err != nil {
			return nil, fmt.Errorf("broker %d: %w", b, err)
		}
	}
	if len(op.reassign) > 0 {
		if err := checked(k.Reassign(c, op.reassign)); err != nil {
			return nil, err
		}
	}
	if len(op.elect) > 0 {
		if err := checked(k.ElectPreferred(c, op.elect)); err != nil {
			return nil, err
		}
	}
	switch op.throttle {
	case readThrottle:
		return k.ReadThrottle(c, op.th.Brokers, op.topics)
	case setThrottle:
		return nil, k.SetThrottle(c, op.th, op.was)
	case restoreThrottle:
		return nil, k.RestoreThrottle(c, op.was, op.topics)
	}
	return nil, nil
}

// checked is the outcome of a call with per-partition results as one error: the call's
// own, else the partitions' (partitionsErr).
func checked(res map[kafkaexec.TP]error, err error) error {
	if err != nil {
		return err
	}
	return partitionsErr(res, false)
}

// partitionsErr picks one error of a per-partition result, a lasting one first.
// REPLICA_NOT_AVAILABLE is the expected answer to declaring a directory, so it counts as
// success when declaring.
func partitionsErr(res map[kafkaexec.TP]error, declaring bool) error {
	var retriable error
	for tp, err := range res {
		if err == nil || (declaring && errors.Is(err, kerr.ReplicaNotAvailable)) {
			continue
		}
		err = fmt.Errorf("%s: %w", tp, err)
		if !kafkaexec.Retriable(err) {
			return err
		}
		retriable = err
	}
	return retriable
}
