package httpapi

import (
	_ "embed"

	"github.com/valyala/fasthttp"
)

// openAPI is the API contract, OpenAPI 3.1, kept beside the handlers it describes:
// TestOpenAPIMatchesRouter keeps its paths and the router's in step, and make test runs
// schemathesis against a live Fulcrum with it.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(openAPI)
}
