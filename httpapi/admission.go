package httpapi

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/seed248d40c9/fulcrum/actors"
)

// Memory admission. fasthttp would read a whole body (up to MaxRequestBodySize) before any
// handler, so the in-flight limit counted requests only once their bodies were in memory:
// 16 concurrent 39 MB bodies took 2 GB. The server streams bodies instead
// (StreamRequestBody), and the middleware reads one only after its bytes fit a budget of
// body bytes in flight, refusing it otherwise (503 OVERLOADED) before reading it.

// bodyBudget counts the bytes of the request bodies being read or handled.
type bodyBudget struct {
	limit int64
	used  atomic.Int64
}

func (b *bodyBudget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *bodyBudget) give(n int64) { b.used.Add(-n) }

// admitBody checks the size a request announces: 413 if it can never fit, 503 if it does
// not fit now. It returns the bytes to take from the budget (the announced length, or the
// maximum for a chunked body).
func (s *Server) admitBody(h *fasthttp.RequestHeader) (int64, error) {
	n := int64(h.ContentLength())
	if n > s.maxBody {
		return 0, &requestError{errPayloadTooLarge, fmt.Sprintf("request bodies are at most %d bytes", s.maxBody)}
	}
	if n < 0 {
		n = s.maxBody
	}
	if n > s.budget.limit-s.budget.used.Load() {
		return 0, errBodyBudget
	}
	return n, nil
}

var errBodyBudget = &requestError{actors.ErrOverloaded, "too many request body bytes in flight; retry later"}

// readBody reads the streamed body of an admitted request into memory, within the budget,
// and hands it to the handlers as the request's body. It returns the bytes taken from the
// budget, to give back when the handler is done.
func (s *Server) readBody(ctx *fasthttp.RequestCtx) (int64, error) {
	if !ctx.Request.IsBodyStream() {
		return 0, nil
	}
	cost, err := s.admitBody(&ctx.Request.Header)
	if err != nil {
		return 0, err
	}
	if !s.budget.take(cost) {
		return 0, errBodyBudget
	}
	body, err := readAll(ctx.RequestBodyStream(), ctx.Request.Header.ContentLength(), s.maxBody)
	if err != nil {
		s.budget.give(cost)
		return 0, err
	}
	// A chunked body was charged the maximum; keep only what it holds.
	s.budget.give(cost - int64(len(body)))
	ctx.Request.SetBodyRaw(body)
	return int64(len(body)), nil
}

// readAll reads a body of n bytes (n < 0: chunked, up to max).
func readAll(r io.Reader, n int, max int64) ([]byte, error) {
	if n >= 0 {
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, bodyReadError(err)
		}
		return body, nil
	}
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, bodyReadError(err)
	}
	if int64(len(body)) > max {
		return nil, &requestError{errPayloadTooLarge, fmt.Sprintf("request bodies are at most %d bytes", max)}
	}
	return body, nil
}

func bodyReadError(err error) error {
	if isTimeout(err) {
		return &requestError{errRequestTimeout, "request body not received in time"}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return badRequest("request body shorter than announced")
	}
	return badRequest("request body could not be read")
}

// expectContinue answers a request that waits for 100 Continue: it gets 413 or 503 instead
// when its body would be refused, so the client does not send it at all.
func (s *Server) expectContinue(ctx *fasthttp.RequestCtx) int {
	if _, err := s.admitBody(&ctx.Request.Header); err != nil {
		writeError(ctx, err)
		return ctx.Response.StatusCode()
	}
	return fasthttp.StatusContinue
}
