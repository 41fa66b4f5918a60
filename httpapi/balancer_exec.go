package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/planner"
)

// Executing plans: POST /balancer, GET /balancer/plans, GET and DELETE /balancer/{token};
// GET /balancer/layout for the dashboard (issue 6; README "Executing a plan"). Errors are
// Astraea's {"code", "message"}.
func balancerExecRoutes(r *router.Router, b *balancer.Balancer) {
	r.POST("/balancer", func(ctx *fasthttp.RequestCtx) {
		if b == nil {
			writeBalancerError(ctx, fasthttp.StatusServiceUnavailable, kafkaNotConfigured)
			return
		}
		spec, err := parsePlanBody(ctx.PostBody())
		if err != nil {
			writeBalancerError(ctx, fasthttp.StatusBadRequest, err.Error())
			return
		}
		token, err := b.Execute(spec)
		if err != nil {
			writeBalancerError(ctx, balancerStatus(err), err.Error())
			return
		}
		writeBalancerJSON(ctx, fasthttp.StatusAccepted, map[string]string{"token": token})
	})
	r.GET("/balancer/plans", func(ctx *fasthttp.RequestCtx) {
		if b == nil {
			writeBalancerError(ctx, fasthttp.StatusServiceUnavailable, kafkaNotConfigured)
			return
		}
		plans, err := b.Plans()
		if err != nil {
			writeBalancerError(ctx, balancerStatus(err), err.Error())
			return
		}
		writeBalancerJSON(ctx, fasthttp.StatusOK, map[string]any{"plans": plans})
	})
	// The layout summed per broker and directory, for the dashboard (httpapi/ui).
	r.GET("/balancer/layout", func(ctx *fasthttp.RequestCtx) {
		if b == nil {
			writeBalancerError(ctx, fasthttp.StatusServiceUnavailable, kafkaNotConfigured)
			return
		}
		l, err := b.Layout()
		if err != nil {
			writeBalancerError(ctx, balancerStatus(err), err.Error())
			return
		}
		writeBalancerJSON(ctx, fasthttp.StatusOK, l)
	})
	r.GET(tokenPath, func(ctx *fasthttp.RequestCtx) {
		if b == nil {
			writeBalancerError(ctx, fasthttp.StatusServiceUnavailable, kafkaNotConfigured)
			return
		}
		s, err := b.Plan(ctx.UserValue("token").(string))
		if err != nil {
			writeBalancerError(ctx, balancerStatus(err), err.Error())
			return
		}
		writeBalancerJSON(ctx, fasthttp.StatusOK, s)
	})
	r.DELETE(tokenPath, func(ctx *fasthttp.RequestCtx) {
		if b == nil {
			writeBalancerError(ctx, fasthttp.StatusServiceUnavailable, kafkaNotConfigured)
			return
		}
		s, err := b.Cancel(ctx.UserValue("token").(string))
		if err != nil {
			writeBalancerError(ctx, balancerStatus(err), err.Error())
			return
		}
		// 200 once the plan is over; 202 while the cancellation is still going on.
		status := fasthttp.StatusOK
		if !s.Done {
			status = fasthttp.StatusAccepted
		}
		writeBalancerJSON(ctx, status, s)
	})
}

// tokenPath matches the plans' tokens (UUIDs) only, so that /balancer/plans is not also a
// token to DELETE (OPTIONS and 405 answers list the methods a path takes).
const tokenPath = "/balancer/{token:[0-9a-fA-F-]+}"

const kafkaNotConfigured = "Kafka is not configured: start fulcrum with --kafka-bootstrap (or FULCRUM_KAFKA_BOOTSTRAP)"

// The body of POST /balancer, with pointers to tell a missing field from a zero. It reads
// the changes of a GET /balancer report (planner.Change, which PlanSpec holds) and checks
// what the types cannot say; the sizes of "before" are not read. Unknown fields are ignored
// (as Astraea does), so a report (cost, migrations, …) can be posted as it is.
type planBody struct {
	Changes                      []changeBody    `json:"changes"`
	Throttle                     json.RawMessage `json:"throttle"`
	Concurrency                  *int            `json:"concurrency"`
	AllowReplicationFactorChange *bool           `json:"allowReplicationFactorChange"`
}

type changeBody struct {
	Topic     *string         `json:"topic"`
	Partition *int32          `json:"partition"`
	Before    []placementBody `json:"before"`
	After     []placementBody `json:"after"`
}

type placementBody struct {
	BrokerID  *int32  `json:"brokerId"`
	Directory *string `json:"directory"`
}

// parsePlanBody reads and checks the body. json.Unmarshal copies every string, so the spec
// does not point into fasthttp's buffers.
func parsePlanBody(body []byte) (balancer.PlanSpec, error) {
	var spec balancer.PlanSpec
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return spec, errors.New(`the body must be a JSON object: {"changes": [{"topic", "partition", "before"?, "after"}], "throttle"?}`)
	}
	var pb planBody
	if err := strictUnmarshal(body, &pb); err != nil {
		return spec, fmt.Errorf("invalid JSON body: %v", err)
	}
	if pb.Changes == nil {
		return spec, errors.New("changes is required")
	}
	for i, c := range pb.Changes {
		if c.Topic == nil {
			return spec, fmt.Errorf("changes[%d]: topic is required", i)
		}
		if c.Partition == nil {
			return spec, fmt.Errorf("changes[%d]: partition is required", i)
		}
		if c.After == nil {
			return spec, fmt.Errorf("changes[%d]: after is required", i)
		}
		ch := balancer.PlanChange{Topic: *c.Topic, Partition: *c.Partition}
		before, err := placements(c.Before, i, "before")
		if err != nil {
			return spec, err
		}
		for _, p := range before {
			ch.Before = append(ch.Before, planner.Replica{BrokerID: p.BrokerID, Directory: p.Directory})
		}
		if ch.After, err = placements(c.After, i, "after"); err != nil {
			return spec, err
		}
		spec.Changes = append(spec.Changes, ch)
	}
	if len(pb.Throttle) > 0 && string(pb.Throttle) != "null" {
		t, err := parseThrottle(pb.Throttle)
		if err != nil {
			return spec, err
		}
		spec.Throttle = t
	}
	if pb.Concurrency != nil {
		if *pb.Concurrency <= 0 {
			return spec, fmt.Errorf("concurrency %d: must be an integer > 0", *pb.Concurrency)
		}
		spec.Concurrency = *pb.Concurrency
	}
	if pb.AllowReplicationFactorChange != nil {
		spec.AllowReplicationFactorChange = *pb.AllowReplicationFactorChange
	}
	return spec, spec.Validate()
}

func placements(in []placementBody, i int, name string) ([]balancer.Placement, error) {
	var out []balancer.Placement
	for j, p := range in {
		if p.BrokerID == nil {
			return nil, fmt.Errorf("changes[%d].%s[%d]: brokerId is required", i, name, j)
		}
		pl := balancer.Placement{BrokerID: *p.BrokerID}
		if p.Directory != nil {
			if *p.Directory == "" {
				return nil, fmt.Errorf("changes[%d].%s[%d]: directory is empty (omit it to let Kafka choose)", i, name, j)
			}
			pl.Directory = *p.Directory
		}
		out = append(out, pl)
	}
	return out, nil
}

// parseThrottle reads bytes/s as a number (1048576) or a size string ("1MiB", "500KB").
func parseThrottle(raw json.RawMessage) (int64, error) {
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, fmt.Errorf("throttle %s: bytes/s, a number or a size such as \"10MiB\"", raw)
		}
		if n, err = parseBytes(s); err != nil {
			return 0, fmt.Errorf("throttle %q: bytes/s, a number or a size such as \"10MiB\"", s)
		}
	}
	if n <= 0 {
		return 0, fmt.Errorf("throttle %s: must be > 0 bytes/s (omit it for none)", raw)
	}
	return n, nil
}

func writeBalancerJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	body, err := marshalJSON(v)
	if err != nil {
		writeBalancerError(ctx, fasthttp.StatusInternalServerError, err.Error())
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(body)
}
