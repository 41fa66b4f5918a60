// Package httpapi is Fulcrum's fasthttp front end: routing, middleware, and the handlers
// that turn each request into one ask of the engine and render the reply.
package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// Options configure a Server.
type Options struct {
	Engine *actors.Engine
	Logger zerolog.Logger
	// Gatherer serves /metrics; Registerer receives the HTTP metrics. Either may be nil.
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	// MaxBodyBytes bounds request bodies (413 beyond); default 64 MiB, room for a PUT /metadata
	// of about 70,000 clusters (0.9 MB per 1,000). undermoon allows 128 MiB. It is capped at
	// BodyBytesInFlight.
	MaxBodyBytes int
	// BodyBytesInFlight bounds the request body bytes read or handled at once; a request
	// whose body does not fit is refused (503 OVERLOADED) before it is read. Default 64 MiB.
	BodyBytesInFlight int
	// MaxInFlight bounds concurrent requests (503 beyond); default 4096.
	MaxInFlight int
	// Version is answered by GET /api/v2/version.
	Version string
	// Balancer serves GET /balancer; nil (no Kafka configured) answers 503.
	Balancer *balancer.Balancer

	// Security (auth.go): Tokens, when set, are required of every request but the open ones
	// and the coordinator's calls from CoordinatorNetworks (default loopback). Pprof serves
	// /debug/pprof. Replica refuses every broker change but the master's push (replica.go).
	Tokens              *Tokens
	CoordinatorNetworks []netip.Prefix
	Pprof               bool
	Replica             bool
}

// Server serves the broker API (and later the balancer API) on one port.
type Server struct {
	engine   *actors.Engine
	log      zerolog.Logger
	sampled  zerolog.Logger
	version  string
	maxIn    int64
	inFlight atomic.Int64
	maxBody  int64
	budget   bodyBudget
	idPrefix string
	idSeq    atomic.Uint64
	metrics  *httpMetrics
	srv      *fasthttp.Server

	tokens          *Tokens
	coordinatorNets []netip.Prefix
	replica         bool
	refusedWrites   prometheus.Counter
	coord           *fasthttp.Server // the coordinator listener's (coordinator.go)
	// HA (ha.go): changes a follower forwards to the leader.
	fwd        *fasthttp.Client
	fwdTimeout time.Duration
	instance   string
	ha         bool                // the engine is a member of an HA broker (etcd)
	routes     map[string][]string // method → paths, for TestOpenAPIMatchesRouter
}

// New builds the server and its routes.
func New(o Options) *Server {
	s := &Server{engine: o.Engine, log: o.Logger, version: o.Version, maxIn: int64(o.MaxInFlight)}
	if s.maxIn <= 0 {
		s.maxIn = 4096
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 20
	}
	if o.BodyBytesInFlight <= 0 {
		o.BodyBytesInFlight = 64 << 20
	}
	s.budget.limit = int64(o.BodyBytesInFlight)
	s.maxBody = min(int64(o.MaxBodyBytes), s.budget.limit)
	// Successful GETs are frequent (every coordinator polls every second): log a sample.
	s.sampled = o.Logger.Sample(&zerolog.BurstSampler{Burst: 20, Period: time.Second, NextSampler: &zerolog.BasicSampler{N: 1000}})
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	s.idPrefix = hex.EncodeToString(rnd[:]) + "-"
	s.metrics = newHTTPMetrics(o.Registerer)
	s.tokens, s.coordinatorNets, s.replica = o.Tokens, o.CoordinatorNetworks, o.Replica
	if s.coordinatorNets == nil {
		s.coordinatorNets = LoopbackNetworks
	}
	s.refusedWrites = newRefusedWrites(o.Registerer)
	s.fwd, s.fwdTimeout = newForwardClient(), DefaultForwardTimeout
	if o.Engine != nil {
		st := o.Engine.HA()
		s.instance, s.ha = st.Instance, st.Backend == "etcd"
	}

	r := router.New()
	r.SaveMatchedRoutePath = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.NotFound = func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/ui" && ctx.IsGet() { // the router cannot route it beside /ui/{filepath:*}
			redirectUI(ctx)
			return
		}
		if bytes.HasPrefix(ctx.Path(), []byte("/balancer/")) { // the balancer's own shape
			writeBalancerError(ctx, fasthttp.StatusNotFound, "no plan or endpoint "+string(ctx.Path()))
			return
		}
		writeError(ctx, &requestError{errNoEndpoint, "no endpoint " + string(ctx.Path())})
	}
	r.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, &requestError{errMethodNotAllowed, string(ctx.Method()) + " is not allowed on " + string(ctx.Path())})
	}
	r.GET("/openapi.json", serveOpenAPI)
	r.GET("/healthz", func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
	})
	r.GET("/ha", s.serveHA)
	if o.Gatherer != nil {
		r.GET("/metrics", fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})))
	}
	// Profiles of the live process, as VictoriaMetrics serves them: how RESULTS.md's numbers
	// were explained. Off by default: stack dumps and CPU profiles are not for every client.
	if o.Pprof {
		r.GET("/debug/pprof/{profile:*}", pprofhandler.PprofHandler)
	}
	s.brokerRoutes(r.Group("/api/v2"), false)
	s.brokerRoutes(r.Group("/api/v3"), true)
	balancerRoutes(r, o.Balancer)
	r.GET("/ui/{filepath:*}", serveUI) // the dashboard (ui.go)
	s.routes = r.List()

	s.srv = &fasthttp.Server{
		Handler:                       s.middleware(s.toLeader(r.Handler)),
		Name:                          "fulcrum",
		ReadTimeout:                   30 * time.Second,
		WriteTimeout:                  30 * time.Second,
		IdleTimeout:                   120 * time.Second,
		MaxRequestBodySize:            int(s.maxBody),
		NoDefaultServerHeader:         false,
		DisableHeaderNamesNormalizing: false,
		ErrorHandler:                  s.transportError,
		CloseOnShutdown:               true,
		Logger:                        fasthttpLogger{o.Logger},

		// Bodies are read by the middleware once they fit the budget (admission.go).
		StreamRequestBody: true,
		ExpectHandler:     s.expectContinue,
		// fasthttp's own errors would quote the raw request; error bodies never do.
		SecureErrorLogMessage: true,
	}
	s.coord = s.coordinatorServer(s.toLeader(r.Handler))
	return s
}

// Handler is the whole request pipeline, for in-memory tests and embedders.
func (s *Server) Handler() fasthttp.RequestHandler { return s.srv.Handler }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(crlfListener{ln}) }

// Shutdown stops accepting connections and waits for in-flight requests to finish.
func (s *Server) Shutdown() error {
	if err := s.coord.Shutdown(); err != nil {
		return err
	}
	return s.srv.Shutdown()
}

// transportError answers what fasthttp rejects before any handler runs. The message is
// fixed per kind: fasthttp's errors quote request bytes and socket addresses, which an
// error body never echoes (they go to the log).
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	re := &requestError{meta.ErrInvalidRequest, "malformed HTTP request"}
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		re = &requestError{errPayloadTooLarge, fmt.Sprintf("request bodies are at most %d bytes", s.srv.MaxRequestBodySize)}
	case isTimeout(err):
		re = &requestError{errRequestTimeout, "request not received in time"}
	}
	writeError(ctx, re)
	s.log.Warn().Err(err).Int("status", ctx.Response.StatusCode()).Msg("request rejected by the transport")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// middleware wraps every route: request id, in-flight limits (requests, body bytes), panic
// recovery, metrics and the access log. It runs on every request, so it does not allocate
// (but for a request's body): the request id is kept in a stack buffer and the log event is
// only built when the sampler keeps it.
func (s *Server) middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		var idBuf [64]byte
		id := ctx.Request.Header.PeekBytes(headerRequestID)
		if len(id) == 0 {
			id = strconv.AppendUint(append(idBuf[:0], s.idPrefix...), s.idSeq.Add(1), 10)
		} else {
			// A copy: the request's buffer may be reused by the handler. A client id longer
			// than the buffer is kept too (append moves it to the heap).
			id = append(idBuf[:0], id...)
		}
		if n := s.inFlight.Add(1); n > s.maxIn {
			writeError(ctx, &requestError{actors.ErrOverloaded, fmt.Sprintf("more than %d requests in flight", s.maxIn)})
		} else if !s.guard(ctx) {
			// Refused before its body is read (auth.go): the connection cannot carry another.
			ctx.SetConnectionClose()
		} else if cost, err := s.readBody(ctx); err != nil {
			writeError(ctx, err)
			// The body may be partly unread: the connection cannot carry another request.
			ctx.SetConnectionClose()
		} else {
			s.recovered(ctx, next)
			s.budget.give(cost)
		}
		s.inFlight.Add(-1)
		if c, ok := ctx.Conn().(*crlfConn); ok {
			c.nextRequest()
		}
		// After the handler: a recovered panic resets the response.
		ctx.Response.Header.SetCanonical(headerRequestID, id)

		route, _ := ctx.UserValue(router.MatchedRoutePathParam).(string)
		if route == "" {
			route = "unmatched"
		}
		status, dur := ctx.Response.StatusCode(), time.Since(start)
		s.metrics.observe(methodName(ctx.Method()), route, status, dur)

		var ev *zerolog.Event
		switch {
		case status >= 500:
			ev = s.log.Error()
		case status >= 400:
			ev = s.log.Warn()
		case ctx.IsGet():
			ev = s.sampled.Info()
		default:
			ev = s.log.Info()
		}
		if ev != nil {
			ev.Bytes("method", ctx.Method()).Bytes("path", ctx.Path()).Int("status", status).
				Dur("dur", dur).Bytes("request_id", id).Msg("request")
		}
	}
}

// headerRequestID is canonical (fasthttp's normalized spelling), so setting it skips the
// normalization; clients read headers case-insensitively.
var headerRequestID = []byte("X-Request-Id")

// recovered runs a handler and turns a panic into a 500; the process keeps serving.
func (s *Server) recovered(ctx *fasthttp.RequestCtx, h fasthttp.RequestHandler) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error().Interface("panic", r).Str("stack", string(debug.Stack())).Msg("handler panicked")
			ctx.Response.Reset()
			writeError(ctx, &requestError{actors.ErrInternal, "internal error"})
		}
	}()
	h(ctx)
}

// reply writes an engine Result: the error's status, or 200 with the body (empty allowed).
// A body is gzipped only when the client asked for it (the engine may have done it already,
// once, for the cached views).
func reply(ctx *fasthttp.RequestCtx, res actors.Result) {
	if res.Err != nil {
		writeError(ctx, res.Err)
		return
	}
	if res.Body == nil {
		return
	}
	ctx.SetContentType("application/json")
	body := res.Body
	if !res.Gzipped && len(body) >= actors.GzipMinBytes && acceptsGzip(ctx) {
		body, res.Gzipped = actors.Gzip(body), true
	}
	if res.Gzipped {
		ctx.Response.Header.Set("Content-Encoding", "gzip")
	}
	ctx.Response.Header.Set("Vary", "Accept-Encoding")
	// Engine bodies are immutable once replied (cached views are shared, never reused as
	// buffers), so the response can point at them instead of copying.
	ctx.Response.SetBodyRaw(body)
}

// acceptsGzip reports whether the request's Accept-Encoding lists gzip (with a non-zero q).
func acceptsGzip(ctx *fasthttp.RequestCtx) bool {
	ae := ctx.Request.Header.Peek("Accept-Encoding")
	if len(ae) == 0 {
		return false
	}
	for _, part := range bytes.Split(ae, []byte(",")) {
		name, params, _ := bytes.Cut(bytes.TrimSpace(part), []byte(";"))
		if !bytes.EqualFold(bytes.TrimSpace(name), []byte("gzip")) {
			continue
		}
		q := bytes.ReplaceAll(params, []byte(" "), nil)
		return !bytes.Equal(q, []byte("q=0")) && !bytes.Equal(q, []byte("q=0.0")) && !bytes.Equal(q, []byte("q=0.000"))
	}
	return false
}

// replyText writes a successful Result as text/plain, as undermoon does for version and epoch.
func replyText(ctx *fasthttp.RequestCtx, res actors.Result) {
	if res.Err != nil {
		writeError(ctx, res.Err)
		return
	}
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBody(res.Body)
}

// fasthttpLogger sends fasthttp's own messages (connection errors) to the injected logger.
type fasthttpLogger struct{ log zerolog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn().Str("component", "fasthttp").Msgf(format, args...)
}
