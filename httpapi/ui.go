package httpapi

import (
	"github.com/valyala/fasthttp"

	"github.com/seed248d40c9/fulcrum/httpapi/ui"
)

// uiCSP confines the dashboard to its own origin: no inline script, nothing fetched from
// elsewhere, not framed by another site.
const uiCSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"

// serveUI answers GET /ui/{filepath}: the embedded dashboard. Assets are open to anyone
// (auth.go): they hold no data; the page sends the token typed in it with its API calls.
func serveUI(ctx *fasthttp.RequestCtx) {
	name, _ := ctx.UserValue("filepath").(string)
	a, ok := ui.Lookup(name)
	if !ok {
		writeError(ctx, &requestError{errNoEndpoint, "no dashboard asset " + string(ctx.Path())})
		return
	}
	h := &ctx.Response.Header
	h.SetContentType(a.ContentType)
	// Revalidated on each load, so a new binary's page is never mixed with old modules.
	h.Set(fasthttp.HeaderCacheControl, "no-cache")
	h.Set("Content-Security-Policy", uiCSP)
	h.Set(fasthttp.HeaderXContentTypeOptions, "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	ctx.Response.SetBodyRaw(a.Body)
}

func redirectUI(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set(fasthttp.HeaderLocation, "/ui/")
	ctx.SetStatusCode(fasthttp.StatusMovedPermanently)
}
