package balancer

import (
	"errors"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/persist"
)

// startStandby starts a balancer as an HA instance does (Options.Standby) on store.
func startStandby(t *testing.T, store persist.Backend, k Executor) *Balancer {
	t.Helper()
	b := startBalancer(t, store, k, testExec, true)
	t.Cleanup(func() { b.Stop() })
	return b
}

// A standby balancer (an HA follower's) executes nothing: it answers plan reads from the
// store and refuses Execute. When its instance becomes the leader it resumes the plans the
// previous leader left unfinished, as a restart does; when it stops leading, the plan
// executing here stops and reads come from the store again.
func TestStandbyResumesWhenLeading(t *testing.T) {
	store := openStore(t)
	k := &fakeKafka{st: testState(), block: true}
	old := startExec(t, store, k) // the previous leader
	token, err := old.Execute(samplePlan)
	if err != nil {
		t.Fatal(err)
	}
	waitPlan(t, old, token, func(s *PlanStatus) bool { return s.Phase == PhaseReassigning })
	waitStored(t, store, token, PhaseReassigning) // shown before written: see below
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}

	b := startStandby(t, store, k)
	if s, err := b.Plan(token); err != nil || s.Phase != PhaseReassigning {
		t.Fatalf("standby's read of the plan: %+v %v", s, err)
	}
	if list, err := b.Plans(); err != nil || len(list) != 1 || list[0].Token != token {
		t.Fatalf("standby's list: %v %v", list, err)
	}
	if _, err := b.Plan("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("standby, unknown token: %v", err)
	}
	if _, err := b.Execute(samplePlan); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Execute on a standby: %v", err)
	}
	k.finishReassignments()

	b.SetLeading(true)
	s := waitPlan(t, b, token, func(s *PlanStatus) bool { return s.Done })
	if s.Phase != PhaseExecuted || s.Restarts != 1 {
		t.Fatalf("resumed by the new leader: %+v", s)
	}
	// The registry shows a status before the plan actor has written it; stepping down
	// stops the actor, so wait for the final record first (a step-down before it leaves
	// the next leader to resume from the last record written).
	waitStored(t, store, token, PhaseExecuted)
	b.SetLeading(false)
	if s, err := b.Plan(token); err != nil || s.Phase != PhaseExecuted {
		t.Fatalf("read after stepping down: %+v %v", s, err)
	}
	if _, err := b.Execute(samplePlan); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Execute after stepping down: %v", err)
	}
}

// An instance that stops leading stops executing at once; the next leader resumes the plan.
func TestStandbyStopsWhenNotLeading(t *testing.T) {
	store := openStore(t)
	k := &fakeKafka{st: testState(), block: true}
	a := startStandby(t, store, k)
	a.SetLeading(true)
	token, err := a.Execute(samplePlan)
	if err != nil {
		t.Fatal(err)
	}
	waitPlan(t, a, token, func(s *PlanStatus) bool { return s.Phase == PhaseReassigning })
	a.SetLeading(false)
	if s, err := a.Plan(token); err != nil || s.Done {
		t.Fatalf("plan after its leader stepped down: %+v %v", s, err)
	}
	k.finishReassignments()
	b := startStandby(t, store, k)
	b.SetLeading(true)
	if s := waitPlan(t, b, token, func(s *PlanStatus) bool { return s.Done }); s.Phase != PhaseExecuted || s.Restarts != 1 {
		t.Fatalf("resumed by the next leader: %+v", s)
	}
}

// waitStored waits (bounded) until the stored record of the plan token is in phase.
func waitStored(t *testing.T, store persist.Backend, token string, phase Phase) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, _, err := loadPlans(store)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Status.Token == token && r.Status.Phase == phase {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("plan %s: no record in phase %s on disk", token, phase)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
