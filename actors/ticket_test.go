package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// blockPool makes the pool run a transaction that waits for release, so that the messages
// after it wait in the mailbox. It returns once the pool is inside it.
func blockPool(t *testing.T, e *Engine, cluster string) (release func()) {
	t.Helper()
	inside, ch := make(chan struct{}), make(chan struct{})
	go e.sys.Root.Send(e.pool, &commitCluster{Name: cluster, Build: func(_ *poolTx, cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
		close(inside)
		<-ch
		return cur, Result{}, nil
	}})
	select {
	case <-inside:
	case <-time.After(5 * time.Second):
		t.Fatal("the pool did not start the blocking transaction")
	}
	return func() { close(ch) }
}

// TestTimedOutChangeIsNeverApplied: a change still in the mailbox when its ask times out is
// answered TIMEOUT and is not applied when the pool gets to it.
func TestTimedOutChangeIsNeverApplied(t *testing.T) {
	e := startEngine(t, t.TempDir(), Options{AskTimeout: 100 * time.Millisecond})
	addProxies(t, e, 2, 1)
	ok(t, e.CreateCluster("c", 4))
	before := epoch(t, e)
	release := blockPool(t, e, "c")
	tests := []struct {
		name string
		do   func() Result
	}{
		{"add proxy", func() Result {
			return e.AddProxy("127.0.0.9:7000", [2]string{"127.0.0.9:6000", "127.0.0.9:6001"}, "", nil)
		}},
		{"report", func() Result { return e.ReportFailure("127.0.0.1:7000", "coord") }},
		{"set epoch", func() Result { return e.SetEpoch(1000) }},
		{"cluster change", func() Result { return e.BalanceCluster("c") }},
		{"restore", func() Result { return e.RestoreMetadata(ok(t, e.Metadata())) }},
	}
	for _, tt := range tests {
		if r := tt.do(); !errors.Is(r.Err, ErrTimeout) {
			t.Errorf("%s: %v, want TIMEOUT", tt.name, r.Err)
		}
	}
	release()
	e.timeout = 5 * time.Second
	if n := epoch(t, e); n != before { // asked behind the abandoned changes: they are done
		t.Fatalf("epoch %d after abandoned changes, want %d: a TIMEOUT answer was applied", n, before)
	}
	ms := metadata(t, e)
	if ms.AllProxies["127.0.0.9:7000"] != nil || len(ms.Failures) != 0 {
		t.Fatal("a change answered TIMEOUT was applied")
	}
}

// TestAcceptedChangeGetsItsOutcome: a change accepted before its ask timed out is answered
// with its true outcome once committed, or OUTCOME_UNKNOWN past the store's timeout, never a
// plain TIMEOUT.
func TestAcceptedChangeGetsItsOutcome(t *testing.T) {
	tests := []struct {
		name         string
		storeTimeout time.Duration
		want         error
	}{
		{"commit within the store's timeout", 10 * time.Second, nil},
		{"commit past the store's timeout", 50 * time.Millisecond, ErrOutcomeUnknown},
	}
	for _, tt := range tests {
		e := startEngine(t, t.TempDir(), Options{AskTimeout: time.Second, StoreTimeout: tt.storeTimeout})
		addProxies(t, e, 2, 1)
		ok(t, e.CreateCluster("c", 4))
		before := epoch(t, e)
		// The pool's mailbox runs on whichever goroutine finds it idle (inline dispatcher):
		// keep it busy on another goroutine, so that the slow change below is run there
		// and its asker waits on its future as any asker behind another change does.
		releasePool := blockPool(t, e, "c")
		inside, release := make(chan struct{}), make(chan struct{})
		slow := func(tx *poolTx, cur *meta.ClusterStore) (*meta.ClusterStore, Result, error) {
			close(inside)
			<-release
			return tx.balanceCluster(cur)
		}
		done := make(chan Result, 1)
		go func() { done <- e.changeCluster("slow", "c", &commitCluster{Name: "c", Build: slow}) }()
		time.Sleep(300 * time.Millisecond) // the change is queued behind the blocking one
		releasePool()
		<-inside                            // accepted: its transaction runs
		time.Sleep(1300 * time.Millisecond) // past the ask timeout, and the short store timeout
		close(release)
		var r Result
		select {
		case r = <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: no answer", tt.name)
		}
		if !errors.Is(r.Err, tt.want) || (tt.want == nil) != (r.Err == nil) {
			t.Errorf("%s: %v, want %v", tt.name, r.Err, tt.want)
		}
		e.timeout = 5 * time.Second
		// An unknown outcome may still be in the store's hands: wait (bounded) for it.
		for deadline := time.Now().Add(5 * time.Second); epoch(t, e) != before+1; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: epoch %d, want %d: the accepted change must be applied", tt.name, epoch(t, e), before+1)
			}
		}
	}
}
