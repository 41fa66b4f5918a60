package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/seed248d40c9/fulcrum/actors"
)

// High availability on etcd (DESIGN.md, "HA on etcd"): every instance serves the whole
// API; reads are answered from its own state (a follower's follows etcd's watch), and a
// change is taken where the engine says (WriteTarget): here when this instance leads (or
// with bbolt), else proxied to the leader — same method, path, query, headers (the
// Authorization header included) and body — and the leader's answer relayed as it is.
// When no leader is known or it cannot be reached the change answers 503 NO_LEADER; an
// instance that lost etcd answers 503 ETCD_UNAVAILABLE. Either way nothing is changed here.

// headerForwarded marks a change a follower forwarded: the instance it reaches takes it or
// refuses it, never forwards it again (two instances each believing the other leads would
// otherwise bounce it until the timeout).
const headerForwarded = "X-Fulcrum-Forwarded-By"

// DefaultForwardTimeout bounds a forwarded change, the leader's work included: the longest
// changes (a restore, POST /balancer's validation against Kafka) take seconds.
const DefaultForwardTimeout = 50 * time.Second

func newForwardClient() *fasthttp.Client {
	return &fasthttp.Client{
		Name:                     "fulcrum-forward",
		NoDefaultUserAgentHeader: true,
		MaxConnsPerHost:          1024,
		MaxConnWaitTimeout:       5 * time.Second,
		ReadTimeout:              DefaultForwardTimeout,
		WriteTimeout:             10 * time.Second,
		MaxIdleConnDuration:      30 * time.Second,
		// A change that may have reached the leader is never sent twice.
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		DisablePathNormalizing:    true, // the router matches the raw path: keep it as sent
	}
}

// headerRevision is the etcd revision a leader's answer to a change reflects: the
// follower that forwarded it relays the answer once it serves that revision itself, so a
// client reads its own writes on the instance it wrote through.
const headerRevision = "X-Fulcrum-Revision"

// revisionWait bounds how long a follower holds a leader's answer for its watch to catch
// up (the watch delay is a few milliseconds); past it the answer goes out anyway.
const revisionWait = 2 * time.Second

// toLeader wraps the routes: a change this instance does not take goes to the leader.
// Without HA (bbolt) every change is taken here, and the routes are left as they are.
func (s *Server) toLeader(routes fasthttp.RequestHandler) fasthttp.RequestHandler {
	if !s.ha {
		return routes
	}
	return func(ctx *fasthttp.RequestCtx) {
		if !isChange(ctx.Method(), ctx.Request.URI().PathOriginal()) {
			routes(ctx)
			return
		}
		if s.routeChange(ctx) {
			return
		}
		routes(ctx)
		ctx.Response.Header.Set(headerRevision, strconv.FormatInt(s.engine.HA().Revision, 10))
	}
}

// serveHA is GET /ha: this instance's backend, role, address, the leader's, and the etcd
// revision it applied.
func (s *Server) serveHA(ctx *fasthttp.RequestCtx) {
	b, _ := json.Marshal(s.engine.HA())
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// isChange reports whether a request changes the shared state: every broker or balancer
// request but reads, POST /resources/failures/check (a simulation) and GET /balancer (a
// search, which reads Kafka and changes nothing).
func isChange(method, path []byte) bool {
	switch string(method) {
	case "GET", "HEAD", "OPTIONS":
		return false
	}
	if rest, ok := brokerPath(path); ok {
		return !bytes.Equal(rest, []byte("/resources/failures/check"))
	}
	return bytes.Equal(path, []byte("/balancer")) || bytes.HasPrefix(path, []byte("/balancer/"))
}

// routeChange takes a change where it belongs: it returns true when it answered the
// request (forwarded, or refused), false when this instance handles it.
func (s *Server) routeChange(ctx *fasthttp.RequestCtx) bool {
	addr, local, err := s.engine.WriteTarget()
	if local {
		return false
	}
	if err == nil && len(ctx.Request.Header.Peek(headerForwarded)) > 0 {
		err = fmt.Errorf("%w: forwarded here by %s, but this instance does not lead; retry", actors.ErrNoLeader,
			ctx.Request.Header.Peek(headerForwarded))
	}
	if err == nil {
		err = s.forward(ctx, addr)
	}
	if err != nil {
		s.haError(ctx, ctx.Request.URI().PathOriginal(), err)
	}
	return true
}

// haError answers a change this instance cannot take, in its path's error shape.
func (s *Server) haError(ctx *fasthttp.RequestCtx, path []byte, err error) {
	if _, ok := brokerPath(path); ok {
		writeError(ctx, err)
		return
	}
	writeBalancerError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
}

// forward proxies the request to the leader at addr and relays its answer; an error means
// the leader could not be reached (or did not answer in time) and nothing was relayed.
func (s *Server) forward(ctx *fasthttp.RequestCtx, addr string) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	ctx.Request.Header.CopyTo(&req.Header)
	req.Header.Del(fasthttp.HeaderConnection)
	req.Header.Del(fasthttp.HeaderTransferEncoding)
	req.Header.Set(headerForwarded, s.instance)
	req.Header.Set(fasthttp.HeaderXForwardedFor, ctx.RemoteIP().String())
	req.SetRequestURIBytes(ctx.Request.Header.RequestURI())
	req.URI().DisablePathNormalizing = true
	req.URI().SetScheme("http")
	req.URI().SetHost(addr)
	req.UseHostHeader = false
	req.SetBodyRaw(ctx.Request.Body())
	if err := s.fwd.DoTimeout(req, resp, s.fwdTimeout); err != nil {
		status := "did not answer"
		if errors.Is(err, fasthttp.ErrTimeout) {
			status = "did not answer in time; the change may be applied"
		}
		return fmt.Errorf("%w: the leader at %s %s: %v", actors.ErrNoLeader, addr, status, err)
	}
	ctx.SetStatusCode(resp.StatusCode())
	for k, v := range resp.Header.All() {
		switch http.CanonicalHeaderKey(string(k)) {
		case fasthttp.HeaderConnection, fasthttp.HeaderContentLength, fasthttp.HeaderTransferEncoding,
			fasthttp.HeaderDate, fasthttp.HeaderServer:
			continue
		}
		ctx.Response.Header.SetBytesKV(k, v)
	}
	ctx.Response.SetBody(resp.Body())
	if rev, err := strconv.ParseInt(string(resp.Header.Peek(headerRevision)), 10, 64); err == nil && rev > 0 {
		s.engine.WaitRevision(rev, revisionWait)
	}
	return nil
}
