package actors

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// replyBox is a reusable reply address for asks: a process registered once in the actor
// system, whose PID the asker passes as the sender of its request, and a one-slot channel
// the owning actor's reply lands in. Each request is still a request/reply to the actor
// that owns the state; what it saves over protoactor's RequestFuture is the future's
// per-ask bookkeeping — a process-registry insert, a lookup for the reply and a removal,
// and a timer — 10–12 % of the server's CPU per durable write (bench/RESULTS.md).
type replyBox struct {
	pid   *actor.PID
	ch    chan any
	timer *time.Timer
	armed atomic.Bool // an ask is waiting on this box
}

// SendUserMessage is how a reply arrives. A box takes one reply per ask; anything else —
// a second reply (actors answer a request once: rules of the road in DESIGN.md), or one
// that reaches a box while no ask waits on it — is dropped rather than block the actor
// that sends it. A reply to an ask that timed out lands in its abandoned box, never in a
// reused one.
func (b *replyBox) SendUserMessage(_ *actor.PID, msg any) {
	if !b.armed.Load() {
		return
	}
	select {
	case b.ch <- msg:
	default:
	}
}

func (b *replyBox) SendSystemMessage(*actor.PID, any) {}
func (b *replyBox) Stop(*actor.PID)                   {}

// replyBoxes is the engine's free list of reply boxes. A box is taken for one ask and
// given back once its reply came; a box whose ask timed out is removed from the registry
// and never reused, so a late reply cannot answer someone else's ask.
type replyBoxes struct {
	sys    *actor.ActorSystem
	prefix string
	seq    atomic.Uint64
	free   chan *replyBox
}

// A box goes back to the end of the free list and is taken again only once minFreeBoxes
// others wait there, so it is reused only after many other asks (see get). maxFreeBoxes
// bounds the boxes kept, about the asks in flight at once; more are removed from the
// registry when given back.
const (
	minFreeBoxes = 32
	maxFreeBoxes = 1024
)

func newReplyBoxes(sys *actor.ActorSystem, prefix string) *replyBoxes {
	return &replyBoxes{sys: sys, prefix: prefix + "/ask-", free: make(chan *replyBox, maxFreeBoxes)}
}

// get takes a free box, or registers a new one, and arms it. The free list is FIFO and a
// box is taken only from a list of at least minFreeBoxes, so it is reused only after many
// other asks: a stray reply (see SendUserMessage) that slipped in after its ask had its
// answer is drained here, long after it could have come (an actor sends it while still
// handling the request, before it answers any later one).
func (r *replyBoxes) get() *replyBox {
	var b *replyBox
	if len(r.free) >= minFreeBoxes {
		select {
		case b = <-r.free:
			select {
			case <-b.ch:
			default:
			}
		default:
		}
	}
	if b == nil {
		b = &replyBox{ch: make(chan any, 1), timer: time.NewTimer(time.Hour)}
		b.timer.Stop()
		for {
			pid, ok := r.sys.ProcessRegistry.Add(b, r.prefix+fmt.Sprint(r.seq.Add(1)))
			if ok {
				b.pid = pid
				break
			}
		}
	}
	b.armed.Store(true)
	return b
}

func (r *replyBoxes) put(b *replyBox) {
	select {
	case r.free <- b:
	default:
		r.sys.ProcessRegistry.Remove(b.pid)
	}
}

// drop removes a box from the registry for good.
func (r *replyBoxes) drop(b *replyBox) { r.sys.ProcessRegistry.Remove(b.pid) }

// close removes every free box from the registry (an embedder's actor system outlives the
// engine).
func (r *replyBoxes) close() {
	for {
		select {
		case b := <-r.free:
			r.drop(b)
		default:
			return
		}
	}
}

// ask sends msg to pid with a box as its sender and waits for the reply, at most timeout.
// Broker actors usually run on this goroutine (DESIGN.md "Dispatch"), so for a read the
// reply is already in the box when the send returns, and no timer is armed.
func (r *replyBoxes) ask(pid *actor.PID, msg any, timeout time.Duration) (any, error) {
	b := r.get()
	r.sys.Root.RequestWithCustomSender(pid, msg, b.pid)
	var v any
	select {
	case v = <-b.ch:
	default:
		b.timer.Reset(timeout)
		select {
		case v = <-b.ch:
			b.timer.Stop()
		case <-b.timer.C:
			r.drop(b)
			return nil, actor.ErrTimeout
		}
	}
	b.armed.Store(false)
	r.put(b)
	if _, ok := v.(*actor.DeadLetterResponse); ok {
		return nil, actor.ErrDeadLetter
	}
	return v, nil
}
