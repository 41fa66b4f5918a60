package httpapi_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/httpapi"
)

// BenchmarkHandler measures the server's own work per read — middleware, router, the ask,
// the actors, metrics — without the TCP round trip, which costs Fulcrum and any other
// server the same (bench/RESULTS.md): the part of a read the design decides. 100 clusters
// of 4 nodes on 200 proxies, read from parallel goroutines.
func BenchmarkHandler(b *testing.B) {
	dir, err := os.MkdirTemp("", "fulcrum-bench")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	eng, err := actors.Start(actors.Options{DataDir: dir, Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Stop()
	var proxies []string
	for i := 0; i < 200; i++ {
		addr := fmt.Sprintf("10.0.%d.%d:6000", i%20, i)
		if r := eng.AddProxy(addr, [2]string{addr + "1", addr + "2"}, "", nil); r.Err != nil {
			b.Fatal(r.Err)
		}
		proxies = append(proxies, addr)
	}
	var clusters []string
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("c%03d", i)
		if r := eng.CreateCluster(name, 4); r.Err != nil {
			b.Fatal(r.Err)
		}
		clusters = append(clusters, name)
	}
	h := httpapi.New(httpapi.Options{Engine: eng, Logger: zerolog.Nop(), Registerer: prometheus.NewRegistry()}).Handler()
	read := func(b *testing.B, paths []string) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var ctx fasthttp.RequestCtx
			for i := 0; pb.Next(); i++ {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.SetRequestURI(paths[i%len(paths)])
				h(&ctx)
				if ctx.Response.StatusCode() != 200 || len(ctx.Response.Body()) < 100 {
					b.Fatalf("%s: %d %s", paths[i%len(paths)], ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
		})
	}
	b.Run("proxy_meta", func(b *testing.B) { read(b, prefixed("/api/v2/proxies/meta/", proxies[:160])) })
	b.Run("cluster_meta", func(b *testing.B) { read(b, prefixed("/api/v2/clusters/meta/", clusters)) })
}

func prefixed(prefix string, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = prefix + k
	}
	return out
}
