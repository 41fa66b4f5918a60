package actors

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// A ticket makes the answer to a change trustworthy. Without it, an asker whose ask timed
// out answered TIMEOUT while its message was still in the pool's mailbox, and the change was
// applied (and made durable) seconds later. With it, the asker and the actor that starts the
// change race on one atomic: either the asker gives up first, and the change will never be
// applied (a plain TIMEOUT means "not applied"), or the change was accepted first, and the
// asker waits for its true outcome, bounded by the store's timeout, past which it answers
// OUTCOME_UNKNOWN.
type ticket struct {
	state atomic.Int32 // ticketWaiting, then ticketAccepted or ticketAbandoned
	done  chan struct{}
	res   Result // set before done is closed
}

const (
	ticketWaiting int32 = iota
	ticketAccepted
	ticketAbandoned
)

func newTicket() *ticket { return &ticket{done: make(chan struct{})} }

// accept is called by the actor about to start the change; false: the asker gave up, so
// the change must not be applied.
func (t *ticket) accept() bool { return t.state.CompareAndSwap(ticketWaiting, ticketAccepted) }

// abandon is called by the asker whose ask timed out; false: the change was accepted.
func (t *ticket) abandon() bool { return t.state.CompareAndSwap(ticketWaiting, ticketAbandoned) }

// finish records the outcome sent to the asker; called once, by the actor that answers.
func (t *ticket) finish(res Result) {
	t.res = res
	close(t.done)
}

// asked is embedded in every message that asks for a change, so that the engine can hand
// it a ticket and the actors can find it.
type asked struct{ t *ticket }

func (a *asked) setTicket(t *ticket) { a.t = t }
func (a *asked) ticket() *ticket     { return a.t }

type ticketed interface {
	setTicket(*ticket)
	ticket() *ticket
}

// ticketOf is the ticket a message carries, or nil.
func ticketOf(msg any) *ticket {
	if m, ok := msg.(ticketed); ok {
		return m.ticket()
	}
	return nil
}

// accepted tells an actor whether it may start the change msg asks for. When it may not,
// the asker has already answered TIMEOUT and stopped listening: nothing is sent back.
func accepted(msg any) bool {
	t := ticketOf(msg)
	return t == nil || t.accept()
}

// askChangeWithin asks for a change under a ticket: a timeout before the change is accepted
// is a plain TIMEOUT (not applied); after, the asker waits up to the store's timeout more.
func (e *Engine) askChangeWithin(pid *actor.PID, msg ticketed, timeout time.Duration) (any, error) {
	t := newTicket()
	msg.setTicket(t)
	v, err := e.replies.ask(pid, msg, timeout)
	if err == nil || !errors.Is(err, actor.ErrTimeout) || t.abandon() {
		return v, err
	}
	wait := time.NewTimer(e.cfg.storeTimeout)
	defer wait.Stop()
	select {
	case <-t.done:
		return t.res, nil
	case <-wait.C:
		return Result{Err: ErrOutcomeUnknown}, nil
	}
}
