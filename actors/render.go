package actors

import (
	"bytes"
	"compress/gzip"
	"encoding/json"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// Format says how a view is rendered: undermoon's v2 or v3 shapes, and whether the client
// takes gzip (only then is a body compressed).
type Format struct {
	V3   bool
	Gzip bool
}

var allFormats = [...]Format{{}, {Gzip: true}, {V3: true}, {V3: true, Gzip: true}}

var (
	nullProxyBody   = []byte(`{"proxy":null}`)
	nullClusterBody = []byte(`{"cluster":null}`)
)

func jsonResult(v any) Result {
	b, err := json.Marshal(v)
	if err != nil {
		return Result{Err: err}
	}
	return Result{Body: b}
}

func proxyBody(v *meta.ProxyView, f Format) []byte {
	if f.V3 {
		return wrapped("proxy", v.V3())
	}
	return wrapped("proxy", v)
}

func clusterBody(v *meta.ClusterView, f Format) []byte {
	if f.V3 {
		return wrapped("cluster", v.V3())
	}
	return wrapped("cluster", v)
}

// wrapped is the JSON object {key: v}.
func wrapped(key string, v any) []byte {
	b, _ := json.Marshal(map[string]any{key: v})
	return b
}

func nodesResult(nodes []meta.NodeView, f Format) Result {
	if f.V3 {
		return jsonResult(meta.NodesV3(nodes))
	}
	return jsonResult(nodes)
}

// GzipMinBytes is the size from which a body is worth compressing.
const GzipMinBytes = 256

// finish compresses a rendered body when the format asks for it and it is large enough.
func finish(body []byte, f Format) Result {
	if !f.Gzip || len(body) < GzipMinBytes {
		return Result{Body: body}
	}
	return Result{Body: Gzip(body), Gzipped: true}
}

// Gzip compresses b at the default level.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}
