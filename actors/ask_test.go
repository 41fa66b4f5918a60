package actors

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Messages of the test actor: echo answers at once; hold keeps the sender; release answers
// the held sender late (and then its own sender, if it has one).
type (
	echoMsg    struct{ body string }
	holdMsg    struct{}
	twiceMsg   struct{ first, second string }
	releaseMsg struct{ body, echo string }
)

type askTestActor struct{ held *actor.PID }

func (a *askTestActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *echoMsg:
		ctx.Respond(Result{Body: []byte(m.body)})
	case *twiceMsg: // a bug: a second answer to one request
		ctx.Respond(Result{Body: []byte(m.first)})
		ctx.Respond(Result{Body: []byte(m.second)})
	case *holdMsg:
		a.held = ctx.Sender()
	case *releaseMsg:
		ctx.Send(a.held, Result{Body: []byte(m.body)})
		if ctx.Sender() != nil {
			ctx.Respond(Result{Body: []byte(m.echo)})
		}
	}
}

func newAskTest(t *testing.T) (*replyBoxes, *actor.PID) {
	t.Helper()
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &askTestActor{} }))
	return newReplyBoxes(sys, "test"), pid
}

func askBody(t *testing.T, r *replyBoxes, pid *actor.PID, msg any) string {
	t.Helper()
	v, err := r.ask(pid, msg, 5*time.Second)
	if err != nil {
		t.Fatalf("ask %T: %v", msg, err)
	}
	return string(v.(Result).Body)
}

func TestAskAnswersEachAskItsOwnReply(t *testing.T) {
	r, pid := newAskTest(t)
	for i := range 1000 {
		body := fmt.Sprint("echo-", i)
		if got := askBody(t, r, pid, &echoMsg{body}); got != body {
			t.Fatalf("ask %q answered %q", body, got)
		}
	}
	if n := r.seq.Load(); n > minFreeBoxes+1 {
		t.Errorf("1000 sequential asks registered %d reply boxes, want them reused (at most %d)", n, minFreeBoxes+1)
	}
}

// TestAskSecondReplyAnswersNoOtherAsk: an actor that wrongly answers a request twice
// answers only that ask, even when the box is reused.
func TestAskSecondReplyAnswersNoOtherAsk(t *testing.T) {
	r, pid := newAskTest(t)
	for i := range 200 {
		if got := askBody(t, r, pid, &twiceMsg{fmt.Sprint("first-", i), "second"}); got != fmt.Sprint("first-", i) {
			t.Fatalf("ask %d answered %q", i, got)
		}
		body := fmt.Sprint("echo-", i)
		if got := askBody(t, r, pid, &echoMsg{body}); got != body {
			t.Fatalf("ask %q answered %q", body, got)
		}
	}
}

// TestAskLateReplyAnswersNoOtherAsk: a reply that comes after its ask timed out is not
// taken as the answer of a later ask.
func TestAskLateReplyAnswersNoOtherAsk(t *testing.T) {
	r, pid := newAskTest(t)
	if _, err := r.ask(pid, &holdMsg{}, 20*time.Millisecond); !errors.Is(err, actor.ErrTimeout) {
		t.Fatalf("held ask: err = %v, want timeout", err)
	}
	// Were the timed-out box given back, it would now be at the head of a free list of
	// minFreeBoxes, and taken by the ask that releases the late reply while it waits.
	for i := range minFreeBoxes - 1 {
		body := fmt.Sprint("fill-", i)
		if got := askBody(t, r, pid, &echoMsg{body}); got != body {
			t.Fatalf("ask %q answered %q", body, got)
		}
	}
	if got := askBody(t, r, pid, &releaseMsg{"late", "fresh-0"}); got != "fresh-0" {
		t.Fatalf("ask %q answered %q", "fresh-0", got)
	}
	for _, body := range []string{"fresh-1", "fresh-2", "fresh-3"} {
		if got := askBody(t, r, pid, &echoMsg{body}); got != body {
			t.Fatalf("ask %q answered %q", body, got)
		}
	}
}

func TestAskMissingActorIsDeadLetter(t *testing.T) {
	r, _ := newAskTest(t)
	missing := actor.NewPID(r.sys.Address(), "no-such-actor")
	if _, err := r.ask(missing, &echoMsg{"x"}, 5*time.Second); !errors.Is(err, actor.ErrDeadLetter) {
		t.Fatalf("err = %v, want dead letter", err)
	}
}
