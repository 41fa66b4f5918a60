package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Client is a keep-alive HTTP client for one base URL. It holds at most conns
// connections, one per concurrent worker, so a run at -c 64 is 64 persistent connections
// (what wrk -c64 measures).
type Client struct {
	hc     *fasthttp.HostClient
	scheme string
	host   string
	prefix string // path of the base URL, e.g. "" or "/broker"
}

// NewClient parses base ("http://127.0.0.1:7799" or with a path prefix).
func NewClient(base string, conns int, timeout time.Duration) (*Client, error) {
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
	hc := &fasthttp.HostClient{
		Addr:                addr,
		IsTLS:               u.Scheme == "https",
		MaxConns:            conns,
		ReadTimeout:         timeout,
		WriteTimeout:        timeout,
		MaxIdleConnDuration: time.Minute,
		// Queue for a free connection instead of failing: workers never exceed conns, but
		// seeding and cleanup helpers may.
		MaxConnWaitTimeout: timeout,
		// Answers are read whole; bodies of /metadata at 10,000 clusters are tens of MB.
		MaxResponseBodySize: 1 << 30,
		Name:                "fulcrum-loadgen",
	}
	return &Client{hc: hc, scheme: u.Scheme, host: u.Host, prefix: strings.TrimSuffix(u.Path, "/")}, nil
}

// URL is the absolute URL of a path relative to the base.
func (c *Client) URL(path string) string { return c.scheme + "://" + c.host + c.prefix + path }

// Do sends method path body and fills resp. The returned error is a transport error; HTTP
// errors are in resp's status.
func (c *Client) Do(req *fasthttp.Request, resp *fasthttp.Response, method, path string, body []byte) error {
	req.Reset()
	req.SetRequestURI(c.URL(path))
	req.Header.SetMethod(method)
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body) // scenario bodies are never modified after creation
	}
	return c.hc.Do(req, resp)
}

// Call is Do for callers outside the hot loop: it returns status and a copy of the body.
func (c *Client) Call(method, path string, body []byte) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	if err := c.Do(req, resp, method, path, body); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
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
