package httpapi

import (
	"bytes"
	"net"

	"github.com/valyala/fasthttp"
)

// The coordinator listener (--coordinator-listen) is plain HTTP for undermoon coordinators,
// which cannot speak TLS to their broker, beside an HTTPS --listen. It serves only the
// calls a coordinator makes (undermoon's Broker HTTP API), under /api/v2 and /api/v3, and /healthz:
// everything an operator or a replica does goes through the main listener.

// coordinatorCall reports whether a request is one a coordinator makes.
func coordinatorCall(method, path []byte) bool {
	if bytes.Equal(path, []byte("/healthz")) {
		return true
	}
	rest, ok := brokerPath(path)
	if !ok {
		return false
	}
	oneSegment := func(prefix string) bool {
		if !bytes.HasPrefix(rest, []byte(prefix)) {
			return false
		}
		tail := rest[len(prefix):]
		return len(tail) > 0 && bytes.IndexByte(tail, '/') < 0
	}
	switch string(method) {
	case "GET", "HEAD":
		switch string(rest) {
		case "/clusters/names", "/proxies/addresses", "/proxies/failed/addresses", "/failures":
			return true
		}
		return oneSegment("/clusters/meta/") || oneSegment("/proxies/meta/")
	case "POST":
		if oneSegment("/proxies/failover/") {
			return true
		}
		if r, ok := bytes.CutPrefix(rest, []byte("/failures/")); ok {
			addr, reporter, ok := bytes.Cut(r, []byte("/"))
			return ok && len(addr) > 0 && len(reporter) > 0 && bytes.IndexByte(reporter, '/') < 0
		}
	case "PUT":
		return bytes.Equal(rest, []byte("/clusters/migrations"))
	}
	return false
}

// coordinatorServer is the main listener's server behind a filter that answers 404 to
// everything but a coordinator's calls, before the middleware reads a body.
func (s *Server) coordinatorServer(routes fasthttp.RequestHandler) *fasthttp.Server {
	m := s.srv
	next := s.middleware(routes)
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if !coordinatorCall(ctx.Method(), ctx.Request.URI().PathOriginal()) { // the router's path
				writeError(ctx, &requestError{errNoEndpoint, "the coordinator listener serves only the calls of an undermoon coordinator"})
				ctx.SetConnectionClose() // a body may be left unread
				s.log.Warn().Bytes("method", ctx.Method()).Bytes("path", ctx.Path()).Msg("not a coordinator call: refused on the coordinator listener")
				return
			}
			next(ctx)
		},
		Name: m.Name, ReadTimeout: m.ReadTimeout, WriteTimeout: m.WriteTimeout, IdleTimeout: m.IdleTimeout,
		MaxRequestBodySize: m.MaxRequestBodySize, StreamRequestBody: m.StreamRequestBody, ExpectHandler: m.ExpectHandler,
		ErrorHandler: m.ErrorHandler, SecureErrorLogMessage: m.SecureErrorLogMessage, CloseOnShutdown: m.CloseOnShutdown,
		Logger: m.Logger,
	}
}

// ServeCoordinator serves the coordinator's calls on ln (plain HTTP) until Shutdown, with
// the main listener's bare-LF guard.
func (s *Server) ServeCoordinator(ln net.Listener) error {
	return s.coord.Serve(crlfListener{ln})
}
