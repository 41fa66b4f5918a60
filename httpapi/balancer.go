package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/planner"
)

// Defaults of GET /balancer (a search of 3 s at most, as Astraea's; Fulcrum's default
// functions) and Fulcrum's bound on its timeout (issue 5).
const (
	defaultBalancerTimeout = 3 * time.Second
	// maxBalancerTimeout keeps a synchronous GET from holding a connection for long; a plan
	// that needs more belongs to an asynchronous API.
	maxBalancerTimeout  = 5 * time.Minute
	defaultBalancerFunc = "ReplicaSizeCost,ReplicaLeaderCost"
)

// balancerParamNames are the query parameters GET /balancer knows, in the order the
// unknown-parameter error names them; balancerParams is the same set.
var (
	balancerParamNames = []string{"limit", "topics", "timeout", "function", "seed",
		"maxMoveBytes", "maxMoves", "excludeBrokers", "targetBrokers", "maxDiskUsage", "minGain"}
	balancerParams = func() map[string]bool {
		m := make(map[string]bool, len(balancerParamNames))
		for _, n := range balancerParamNames {
			m[n] = true
		}
		return m
	}()
)

// balancerRoutes serves the Kafka balancer. b is nil when no Kafka is configured: every
// request then answers 503. Errors use Astraea's shape, {"code": <status>, "message": "..."},
// not the broker's.
func balancerRoutes(r *router.Router, b *balancer.Balancer) {
	r.GET("/balancer", func(ctx *fasthttp.RequestCtx) {
		if b == nil {
			writeBalancerError(ctx, fasthttp.StatusServiceUnavailable, kafkaNotConfigured)
			return
		}
		req, err := parseBalancerQuery(ctx.QueryArgs())
		if err != nil {
			writeBalancerError(ctx, fasthttp.StatusBadRequest, err.Error())
			return
		}
		report, err := b.Propose(req)
		if err != nil {
			writeBalancerError(ctx, balancerStatus(err), err.Error())
			return
		}
		body, err := marshalJSON(report)
		if err != nil {
			writeBalancerError(ctx, fasthttp.StatusInternalServerError, err.Error())
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	})
	balancerExecRoutes(r, b)
}

// parseBalancerQuery turns the query into a request. Values are copied out of fasthttp's
// buffers (string conversions), so the request outlives ctx.
func parseBalancerQuery(args *fasthttp.Args) (balancer.Request, error) {
	// No limit: the search scales its effort with the cluster (planner.AutoEffort).
	req := balancer.Request{Timeout: defaultBalancerTimeout}
	var unknown []string
	for k := range args.All() {
		if !balancerParams[string(k)] {
			unknown = append(unknown, string(k))
		}
	}
	if len(unknown) > 0 {
		return req, fmt.Errorf("unknown query parameter %q (known: %s)", unknown[0], strings.Join(balancerParamNames, ", "))
	}
	var err error
	if v := args.Peek("limit"); v != nil {
		req.Limit, err = strconv.Atoi(string(v))
		if err != nil || req.Limit <= 0 {
			return req, fmt.Errorf("invalid limit %q: must be an integer > 0", v)
		}
	}
	if args.Has("topics") {
		for t := range strings.SplitSeq(string(args.Peek("topics")), ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				return req, fmt.Errorf("invalid topics %q: empty topic name", args.Peek("topics"))
			}
			req.Topics = append(req.Topics, t)
		}
	}
	if v := args.Peek("timeout"); v != nil {
		req.Timeout, err = parseTimeout(string(v))
		if err != nil {
			return req, err
		}
	}
	fn := defaultBalancerFunc
	if args.Has("function") {
		fn = string(args.Peek("function"))
	}
	req.Functions, err = planner.ParseFunctions(fn)
	if err != nil {
		return req, fmt.Errorf("invalid function %q: %v", fn, err)
	}
	if v := args.Peek("seed"); v != nil {
		req.Seed, err = strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return req, fmt.Errorf("invalid seed %q: must be an unsigned integer", v)
		}
	}
	// 0 bytes or 0 moves is a plan that copies nothing: preferred leaders only.
	if v := args.Peek("maxMoveBytes"); v != nil {
		req.MaxMoveBytes, err = parseBytes(string(v))
		if err != nil || req.MaxMoveBytes < 0 {
			return req, fmt.Errorf("invalid maxMoveBytes %q: must be a size ≥ 0 such as 0, 1048576, 500MB or 2GiB (omit it for no bound)", v)
		}
		req.LeadershipOnly = req.LeadershipOnly || req.MaxMoveBytes == 0
	}
	if v := args.Peek("maxMoves"); v != nil {
		req.MaxMoves, err = strconv.Atoi(string(v))
		if err != nil || req.MaxMoves < 0 {
			return req, fmt.Errorf("invalid maxMoves %q: must be an integer ≥ 0 (omit it for no bound)", v)
		}
		req.LeadershipOnly = req.LeadershipOnly || req.MaxMoves == 0
	}
	if req.ExcludeBrokers, err = parseBrokerIDs(args, "excludeBrokers"); err != nil {
		return req, err
	}
	if req.TargetBrokers, err = parseBrokerIDs(args, "targetBrokers"); err != nil {
		return req, err
	}
	req.MaxDiskUsage = planner.DefaultMaxDiskUsage
	if v := args.Peek("maxDiskUsage"); v != nil {
		req.MaxDiskUsage, err = strconv.ParseFloat(string(v), 64)
		if err != nil || !(req.MaxDiskUsage > 0 && req.MaxDiskUsage <= 1) {
			return req, fmt.Errorf("invalid maxDiskUsage %q: must be a share of the volume > 0 and ≤ 1, such as 0.8", v)
		}
	}
	req.MinGain = planner.DefaultMinGain
	if v := args.Peek("minGain"); v != nil {
		req.MinGain, err = strconv.ParseFloat(string(v), 64)
		if err != nil || !(req.MinGain >= 0) || math.IsInf(req.MinGain, 1) {
			return req, fmt.Errorf("invalid minGain %q: must be a number ≥ 0 (0 balances to the byte)", v)
		}
	}
	return req, nil
}

// parseBrokerIDs reads a comma list of broker ids; nil when the parameter is absent.
func parseBrokerIDs(args *fasthttp.Args, name string) ([]int32, error) {
	if !args.Has(name) {
		return nil, nil
	}
	v := string(args.Peek(name))
	var ids []int32
	for id := range strings.SplitSeq(v, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("invalid %s %q: must be a comma list of broker ids such as 1,2", name, v)
		}
		ids = append(ids, int32(n))
	}
	return ids, nil
}

// astraeaDuration is Astraea's DurationField syntax; a bare number means seconds.
var astraeaDuration = regexp.MustCompile(`^([0-9]+)(days|day|h|m|s|ms|us|ns|)$`)

// parseTimeout reads a duration in Astraea's syntax ("3", "3s", "500ms", "1day") or Go's
// ("1.5s", "1m30s"); it must be > 0 and at most maxBalancerTimeout.
func parseTimeout(v string) (time.Duration, error) {
	var d time.Duration
	if m := astraeaDuration.FindStringSubmatch(v); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		unit := map[string]time.Duration{"days": 24 * time.Hour, "day": 24 * time.Hour, "h": time.Hour, "m": time.Minute,
			"s": time.Second, "ms": time.Millisecond, "us": time.Microsecond, "ns": time.Nanosecond, "": time.Second}[m[2]]
		if err != nil || n > int64(maxBalancerTimeout/unit) {
			return 0, fmt.Errorf("invalid timeout %q: at most %s", v, maxBalancerTimeout)
		}
		d = time.Duration(n) * unit
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("invalid timeout %q: a duration such as 3s, 500ms or 3 (seconds)", v)
		}
	}
	if d <= 0 || d > maxBalancerTimeout {
		return 0, fmt.Errorf("invalid timeout %q: must be > 0 and at most %s", v, maxBalancerTimeout)
	}
	return d, nil
}

var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// parseBytes reads a byte count, optionally with a unit (500MB, 2GiB, 1.5GB), as Astraea's
// max.migrated.size does.
func parseBytes(v string) (int64, error) {
	i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := v, ""
	if i >= 0 {
		num, unit = v[:i], strings.ToLower(strings.TrimSpace(v[i:]))
	}
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	if unit == "" || unit == "b" {
		return strconv.ParseInt(num, 10, 64)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, err
	}
	n := f * mult
	if math.IsNaN(n) || n >= math.MaxInt64 {
		return 0, errors.New("out of range")
	}
	return int64(n), nil
}

type balancerErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// marshalJSON is json.Marshal without HTML escaping: messages say "> 0", not "\u003e 0".
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// writeBalancerError answers Astraea's error shape.
func writeBalancerError(ctx *fasthttp.RequestCtx, status int, msg string) {
	b, _ := marshalJSON(balancerErrorBody{Code: status, Message: msg})
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(b)
}
