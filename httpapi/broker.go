package httpapi

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// brokerRoutes is undermoon's memory broker API, which includes the broker HTTP API a
// coordinator uses: under /api/v2 with the v2 JSON shapes (coordinators up to 0.5), under
// /api/v3 with the v3 shapes (0.6). Only Proxy, Node and PeerProxy differ.
func (s *Server) brokerRoutes(g *router.Group, v3 bool) {
	e := s.engine
	format := func(ctx *fasthttp.RequestCtx) actors.Format {
		return actors.Format{V3: v3, Gzip: acceptsGzip(ctx)}
	}
	g.GET("/version", func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString(s.version)
	})
	g.GET("/metadata", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.Metadata()) })
	g.PUT("/metadata", func(ctx *fasthttp.RequestCtx) {
		body := bytes.TrimSpace(ctx.PostBody())
		if len(body) == 0 {
			writeError(ctx, badRequest("a JSON body is required"))
			return
		}
		if err := checkKeys(body, metaStoreType); err != nil {
			writeError(ctx, fmt.Errorf("%w: %v", meta.ErrInvalidMetadata, err))
			return
		}
		// The engine parses the document before asking; the body is not kept past this call.
		reply(ctx, e.RestoreMetadata(body))
	})
	g.GET("/config", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.Config()) })
	g.PUT("/config", func(ctx *fasthttp.RequestCtx) {
		var body struct {
			ReplicaAddresses *[]string `json:"replica_addresses"`
		}
		if err := decode(ctx, &body); err != nil {
			writeError(ctx, err)
			return
		}
		if body.ReplicaAddresses == nil {
			writeError(ctx, badRequest("replica_addresses is required"))
			return
		}
		reply(ctx, e.SetReplicas(*body.ReplicaAddresses))
	})
	g.GET("/epoch", func(ctx *fasthttp.RequestCtx) { replyText(ctx, e.Epoch()) })
	g.PUT("/epoch/recovery", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.RecoverEpoch()) })
	g.PUT("/epoch/{epoch}", func(ctx *fasthttp.RequestCtx) {
		n, err := strconv.ParseUint(param(ctx, "epoch"), 10, 64)
		if err != nil {
			writeError(ctx, badRequest("epoch must be a non-negative integer"))
			return
		}
		reply(ctx, e.SetEpoch(n))
	})

	g.GET("/clusters/names", paged(e.ClusterNames))
	g.GET("/clusters/meta/{name}", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.ClusterMeta(param(ctx, "name"), format(ctx))) })
	g.GET("/clusters/info/{name}", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.ClusterInfo(param(ctx, "name"))) })
	g.POST("/clusters/meta/{name}", func(ctx *fasthttp.RequestCtx) {
		var body struct {
			NodeNumber *int64 `json:"node_number"`
		}
		if err := decode(ctx, &body); err != nil {
			writeError(ctx, err)
			return
		}
		if body.NodeNumber == nil {
			writeError(ctx, badRequest("node_number is required"))
			return
		}
		reply(ctx, e.CreateCluster(param(ctx, "name"), *body.NodeNumber))
	})
	g.DELETE("/clusters/meta/{name}", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.DeleteCluster(param(ctx, "name"))) })
	g.PATCH("/clusters/config/{name}", func(ctx *fasthttp.RequestCtx) {
		var changes map[string]string
		if err := decode(ctx, &changes); err != nil {
			writeError(ctx, err)
			return
		}
		reply(ctx, e.PatchClusterConfig(param(ctx, "name"), changes))
	})
	g.PUT("/clusters/balance/{name}", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.BalanceCluster(param(ctx, "name"))) })

	nodeNumber := func(field string, do func(name string, n int64, f actors.Format) actors.Result) fasthttp.RequestHandler {
		return func(ctx *fasthttp.RequestCtx) {
			var body map[string]*int64
			if err := decode(ctx, &body); err != nil {
				writeError(ctx, err)
				return
			}
			if body[field] == nil {
				writeError(ctx, badRequest(field+" is required"))
				return
			}
			reply(ctx, do(param(ctx, "name"), *body[field], format(ctx)))
		}
	}
	g.PATCH("/clusters/nodes/{name}", nodeNumber("node_number", e.AddNodes))
	g.PUT("/clusters/nodes/{name}", nodeNumber("cluster_node_number", e.ReachNodes))
	g.DELETE("/clusters/free_nodes/{name}", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.DeleteFreeNodes(param(ctx, "name"))) })
	g.POST("/clusters/migrations/expand/{name}", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.Expand(param(ctx, "name"))) })
	g.POST("/clusters/migrations/shrink/{name}/{nodes}", pathNodes(e.Shrink))
	g.POST("/clusters/migrations/auto/{name}/{nodes}", pathNodes(e.AutoScale))
	g.PUT("/clusters/migrations", func(ctx *fasthttp.RequestCtx) {
		var body struct {
			ClusterName *string `json:"cluster_name"`
			SlotRange   *struct {
				RangeList meta.RangeList     `json:"range_list"`
				Tag       *meta.SlotRangeTag `json:"tag"`
			} `json:"slot_range"`
		}
		if err := decode(ctx, &body); err != nil {
			writeError(ctx, err)
			return
		}
		if body.ClusterName == nil || body.SlotRange == nil || body.SlotRange.Tag == nil || body.SlotRange.RangeList == nil {
			writeError(ctx, badRequest("cluster_name and slot_range with range_list and tag are required"))
			return
		}
		tag := body.SlotRange.Tag
		if tag.Kind == meta.TagNone || tag.Meta == nil {
			writeError(ctx, meta.ErrInvalidMigrationTask)
			return
		}
		reply(ctx, e.CommitMigration(*body.ClusterName, body.SlotRange.RangeList, tag.Meta.Epoch))
	})

	g.GET("/proxies/addresses", paged(e.ProxyAddresses))
	g.GET("/proxies/meta/{address}", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.ProxyMeta(param(ctx, "address"), format(ctx))) })
	g.POST("/proxies/meta", func(ctx *fasthttp.RequestCtx) {
		var body struct {
			ProxyAddress *string  `json:"proxy_address"`
			Nodes        []string `json:"nodes"`
			Host         *string  `json:"host"`
			Index        *int     `json:"index"`
		}
		if err := decode(ctx, &body); err != nil {
			writeError(ctx, err)
			return
		}
		if body.ProxyAddress == nil {
			writeError(ctx, badRequest("proxy_address is required"))
			return
		}
		if len(body.Nodes) != 2 || body.Nodes[0] == "" || body.Nodes[1] == "" {
			writeError(ctx, badRequest("nodes must be exactly two node addresses"))
			return
		}
		if body.Index != nil && *body.Index < 0 {
			writeError(ctx, badRequest("index must not be negative"))
			return
		}
		host := ""
		if body.Host != nil {
			host = *body.Host
		}
		reply(ctx, e.AddProxy(*body.ProxyAddress, [2]string{body.Nodes[0], body.Nodes[1]}, host, body.Index))
	})
	g.DELETE("/proxies/meta/{address}", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.DeleteProxy(param(ctx, "address"))) })
	g.POST("/proxies/failover/{address}", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.Failover(param(ctx, "address"), format(ctx))) })
	g.GET("/proxies/failed/addresses", paged(e.FailedProxies))

	g.POST("/failures/{address}/{reporter}", func(ctx *fasthttp.RequestCtx) {
		reply(ctx, e.ReportFailure(param(ctx, "address"), param(ctx, "reporter")))
	})
	g.GET("/failures", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.Failures()) })
	g.POST("/resources/failures/check", func(ctx *fasthttp.RequestCtx) { reply(ctx, e.CheckResources()) })
}

// pathNodes reads a node number from the path (shrink and auto-scale).
func pathNodes(do func(name string, n int64) actors.Result) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		n, err := strconv.ParseInt(param(ctx, "nodes"), 10, 64)
		if err != nil {
			writeError(ctx, badRequest("node number must be an integer"))
			return
		}
		reply(ctx, do(param(ctx, "name"), n))
	}
}

// param returns a path parameter; the router hands out copies, safe to keep.
func param(ctx *fasthttp.RequestCtx, name string) string {
	v, _ := ctx.UserValue(name).(string)
	return v
}

// paged parses offset and limit (both optional, non-negative) for the listing endpoints.
func paged(list func(offset, limit int) actors.Result) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		offset, err := queryInt(ctx, "offset", 0)
		if err != nil {
			writeError(ctx, err)
			return
		}
		limit, err := queryInt(ctx, "limit", -1)
		if err != nil {
			writeError(ctx, err)
			return
		}
		reply(ctx, list(offset, limit))
	}
}

func queryInt(ctx *fasthttp.RequestCtx, name string, def int) (int, error) {
	v := ctx.QueryArgs().Peek(name)
	if v == nil {
		return def, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 0 {
		return 0, badRequest(fmt.Sprintf("%s must be a non-negative integer", name))
	}
	return n, nil
}

// metaStoreType is the shape of a PUT /metadata body, for its strict key check.
var metaStoreType = reflect.TypeFor[meta.MetaStore]()
