package httpapi

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// ErrNoTokens is returned when a token file holds no token: starting (or reloading) with
// it would lock every client out, or — worse — be mistaken for "no authentication".
var ErrNoTokens = errors.New("the token file holds no token")

// Tokens is the set of bearer tokens read from --auth-token-file: one a line, blank lines
// and lines starting with # ignored. Reload rereads the file (SIGHUP), so tokens can be
// rotated without a restart.
type Tokens struct {
	path string
	set  atomic.Pointer[tokenSet]
}

// tokenSet keeps digests, not tokens, so that comparing takes the same time whatever the
// length or content of what a client sends; first is kept for the replication pushes.
type tokenSet struct {
	digests [][sha256.Size]byte
	first   string
}

// LoadTokens reads a token file.
func LoadTokens(path string) (*Tokens, error) {
	t := &Tokens{path: path}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload rereads the file; on error the tokens in use stay.
func (t *Tokens) Reload() error {
	b, err := os.ReadFile(t.path)
	if err != nil {
		return err
	}
	set := &tokenSet{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsAny(line, " \t") {
			return fmt.Errorf("%s: a token must not contain blanks", t.path)
		}
		if set.first == "" {
			set.first = line
		}
		set.digests = append(set.digests, sha256.Sum256([]byte(line)))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", t.path, err)
	}
	if len(set.digests) == 0 {
		return fmt.Errorf("%s: %w", t.path, ErrNoTokens)
	}
	t.set.Store(set)
	return nil
}

// Count is the number of tokens in use.
func (t *Tokens) Count() int { return len(t.set.Load().digests) }

// First is the file's first token: what this instance sends when it pushes its state to
// its replicas, which therefore share the token file (or hold that token in theirs).
func (t *Tokens) First() string { return t.set.Load().first }

// valid compares the presented token with every token in constant time: every digest is
// compared, and a digest comparison does not depend on where the bytes differ.
func (t *Tokens) valid(presented []byte) bool {
	d := sha256.Sum256(presented)
	ok := 0
	for _, want := range t.set.Load().digests {
		ok |= subtle.ConstantTimeCompare(d[:], want[:])
	}
	return ok == 1
}

// LoopbackNetworks is the default of --coordinator-networks.
var LoopbackNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// ParseNetworks reads a comma list of CIDR prefixes (a bare address is one host).
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix such as 10.0.0.0/8 or an address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, errors.New("no network given")
	}
	return out, nil
}

// access is what a request needs when authentication is on.
type access int

const (
	accessOpen        access = iota // anyone: /healthz, /openapi.json, /ha, the dashboard's assets
	accessCoordinator               // a token, or a client in --coordinator-networks
	accessToken                     // a token
)

// classify says what a request needs. Reads and the three changes an undermoon coordinator
// makes (it cannot send a token) are coordinator calls; every other change needs a token.
// It looks at the raw path, as the router does: classifying the decoded, normalized path
// instead would let /clusters/meta/%2e%2e%2f%2e%2e%2ffailures%2fa%2fb pass for a failure
// report while the router hands it to a cluster handler.
func classify(method, path []byte) access {
	get := bytes.Equal(method, []byte("GET")) || bytes.Equal(method, []byte("HEAD"))
	if get && (bytes.Equal(path, []byte("/healthz")) || bytes.Equal(path, []byte("/openapi.json")) ||
		bytes.Equal(path, []byte("/ha")) || bytes.Equal(path, []byte("/ui")) || bytes.HasPrefix(path, []byte("/ui/"))) {
		return accessOpen
	}
	if get {
		return accessCoordinator
	}
	rest, ok := brokerPath(path)
	if !ok {
		return accessToken
	}
	switch {
	case bytes.Equal(method, []byte("POST")) && bytes.HasPrefix(rest, []byte("/failures/")),
		bytes.Equal(method, []byte("POST")) && bytes.HasPrefix(rest, []byte("/proxies/failover/")),
		bytes.Equal(method, []byte("PUT")) && bytes.Equal(rest, []byte("/clusters/migrations")),
		// A read-only simulation, sent as a POST.
		bytes.Equal(method, []byte("POST")) && bytes.Equal(rest, []byte("/resources/failures/check")):
		return accessCoordinator
	}
	return accessToken
}

// brokerPath strips /api/v2 or /api/v3.
func brokerPath(path []byte) ([]byte, bool) {
	for _, p := range [][]byte{[]byte("/api/v2/"), []byte("/api/v3/")} {
		if bytes.HasPrefix(path, p) {
			return path[len(p)-1:], true
		}
	}
	return nil, false
}

var bearerPrefix = []byte("Bearer ")

// authorize answers 401 and returns false when the request may not go on.
func (s *Server) authorize(ctx *fasthttp.RequestCtx) bool {
	if s.tokens == nil {
		return true
	}
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if len(h) > 0 {
		// A token that is sent is checked even where none is needed: a wrong one is a
		// mistake (or a probe) worth answering.
		if len(h) > len(bearerPrefix) && bytes.EqualFold(h[:len(bearerPrefix)], bearerPrefix) && s.tokens.valid(bytes.TrimSpace(h[len(bearerPrefix):])) {
			return true
		}
		unauthorized(ctx, "invalid bearer token")
		return false
	}
	switch classify(ctx.Method(), ctx.Request.URI().PathOriginal()) {
	case accessOpen:
		return true
	case accessCoordinator:
		if s.fromCoordinatorNetwork(ctx) {
			return true
		}
		unauthorized(ctx, "a bearer token is required from outside the coordinator networks")
	default:
		unauthorized(ctx, "this request changes state: a bearer token is required (Authorization: Bearer <token>)")
	}
	return false
}

func (s *Server) fromCoordinatorNetwork(ctx *fasthttp.RequestCtx) bool {
	a, ok := netip.AddrFromSlice(ctx.RemoteIP())
	if !ok {
		return false
	}
	a = a.Unmap()
	for _, p := range s.coordinatorNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func unauthorized(ctx *fasthttp.RequestCtx, msg string) {
	writeError(ctx, &requestError{errUnauthorized, msg})
	ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="fulcrum"`)
}

// guard checks every request before its body is read and before routing: authentication,
// then the replica's refusal of direct writes. The middleware calls it, so refusals are
// logged and counted, and an unauthenticated client cannot make the server read (or budget)
// more of a body than fasthttp's prefetch of 8 KiB.
func (s *Server) guard(ctx *fasthttp.RequestCtx) bool {
	return s.authorize(ctx) && s.replicaAllows(ctx)
}
