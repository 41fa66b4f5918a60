package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Dialect is how a client talks to a broker: the API version of its paths and whether it
// asks for gzip. undermoon 0.5 serves /api/v2; 0.6 serves only /api/v3 and gzips its meta
// reads whether asked or not; Fulcrum serves both and gzips when asked, as coordinators do.
type Dialect struct {
	API  string // "v2" or "v3"
	Gzip bool   // send Accept-Encoding: gzip
}

// V2 is the dialect of the plain /api/v2 client.
var V2 = Dialect{API: "v2"}

// ErrBadGzip is a gzip-encoded answer that does not decode.
var ErrBadGzip = errors.New("bad gzip body")

// Client is a keep-alive HTTP client for one base URL. It holds at most conns
// connections, one per concurrent worker, so a run at -c 64 is 64 persistent connections
// (what wrk -c64 measures).
type Client struct {
	hc      *fasthttp.HostClient
	scheme  string
	host    string
	prefix  string // path of the base URL, e.g. "" or "/broker"
	api     string // "/api/v2" or "/api/v3"
	gzip    bool
	timeout time.Duration // per request
}

// NewClient parses base ("http://127.0.0.1:7799" or with a path prefix).
func NewClient(base string, conns int, timeout time.Duration, d Dialect) (*Client, error) {
	if d.API != "v2" && d.API != "v3" {
		return nil, fmt.Errorf("API version %q: want v2 or v3", d.API)
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("base URL %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: want http(s)://host:port", base)
	}
	addr := u.Host
	if u.Port() == "" {
		addr += map[string]string{"http": ":80", "https": ":443"}[u.Scheme]
	}
	// No read or write timeout on the HostClient: each request carries its own (the
	// client's, or the seeding deadline, which a slow broker needs to be far longer).
	hc := &fasthttp.HostClient{
		Addr:                addr,
		IsTLS:               u.Scheme == "https",
		MaxConns:            conns,
		MaxIdleConnDuration: time.Minute,
		// Queue for a free connection instead of failing: workers never exceed conns, but
		// seeding and cleanup helpers may. The request's timeout bounds the wait.
		MaxConnWaitTimeout: time.Hour,
		// Answers are read whole; bodies of /metadata at 10,000 clusters are tens of MB.
		MaxResponseBodySize: 1 << 30,
		Name:                "fulcrum-loadgen",
	}
	return &Client{hc: hc, scheme: u.Scheme, host: u.Host, prefix: strings.TrimSuffix(u.Path, "/"),
		api: "/api/" + d.API, gzip: d.Gzip, timeout: timeout}, nil
}

// URL is the absolute URL of a path relative to the base.
func (c *Client) URL(path string) string { return c.scheme + "://" + c.host + c.prefix + path }

// API is the path prefix of the broker API this client speaks, "/api/v2" or "/api/v3".
func (c *Client) API() string { return c.api }

// Do sends method path body and fills resp, within the client's per-request timeout. The
// returned error is a transport error; HTTP errors are in resp's status. The body may be
// gzip-encoded: read it with decodeBody.
func (c *Client) Do(req *fasthttp.Request, resp *fasthttp.Response, method, path string, body []byte) error {
	c.prepare(req, method, path, body)
	return c.hc.DoTimeout(req, resp, c.timeout)
}

func (c *Client) prepare(req *fasthttp.Request, method, path string, body []byte) {
	req.Reset()
	req.SetRequestURI(c.URL(path))
	req.Header.SetMethod(method)
	if c.gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body) // scenario bodies are never modified after creation
	}
}

// Call is Do for callers outside the hot loop: it returns status and a copy of the
// decoded body.
func (c *Client) Call(method, path string, body []byte) (int, []byte, error) {
	return c.CallDeadline(method, path, body, time.Now().Add(c.timeout))
}

// CallDeadline is Call with a deadline instead of the per-request timeout.
func (c *Client) CallDeadline(method, path string, body []byte, deadline time.Time) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	c.prepare(req, method, path, body)
	if err := c.hc.DoDeadline(req, resp, deadline); err != nil {
		return 0, nil, err
	}
	var buf bytes.Buffer
	b, err := decodeBody(resp, &buf)
	if err != nil {
		return resp.StatusCode(), nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp.StatusCode(), bytes.Clone(b), nil
}

// decodeBody is resp's body, gunzipped into buf if the answer is gzip-encoded (asked for
// or not: undermoon 0.6 gzips its meta reads unconditionally). The result is valid until
// buf or resp is reused.
func decodeBody(resp *fasthttp.Response, buf *bytes.Buffer) ([]byte, error) {
	if !bytes.EqualFold(bytes.TrimSpace(resp.Header.ContentEncoding()), []byte("gzip")) {
		return resp.Body(), nil
	}
	buf.Reset()
	if _, err := fasthttp.WriteGunzip(buf, resp.Body()); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadGzip, err)
	}
	return buf.Bytes(), nil
}

// errorLabel names a failed answer: the status and undermoon's error code when the body is
// {"error":"CODE",...}, or a transport error's text.
func errorLabel(status int, body []byte, err error) string {
	if err != nil {
		msg := err.Error()
		if len(msg) > 60 {
			msg = msg[:60]
		}
		return "transport: " + msg
	}
	// undermoon's {"error":"CODE"}, or Astraea's {"code":503,"message":"..."} (the balancer).
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil {
		switch {
		case e.Error != "":
			return fmt.Sprintf("%d %s", status, e.Error)
		case e.Message != "":
			// Numbers in messages ("4 plan searches are running") would split one cause
			// into many labels; keep the words.
			msg := strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return 'N'
				}
				return r
			}, e.Message)
			if len(msg) > 50 {
				msg = msg[:50]
			}
			return fmt.Sprintf("%d %s", status, msg)
		}
	}
	return fmt.Sprintf("%d", status)
}
