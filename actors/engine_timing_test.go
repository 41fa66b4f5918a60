package actors

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

var (
	loadedOnce   sync.Once
	loadedEngine *Engine
	loadedProxy  []string
	loadedNames  []string
)

// loaded is an engine with 2,200 proxies on 50 hosts and 1,000 four-node clusters, the
// read target's setup (README, Targets); it is built once per benchmark binary.
func loaded(b *testing.B) *Engine {
	loadedOnce.Do(func() {
		dir, err := tempDir()
		if err != nil {
			b.Fatal(err)
		}
		e, err := Start(Options{DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		for h := 0; h < 50; h++ {
			for p := 0; p < 44; p++ {
				addr := fmt.Sprintf("10.0.%d.%d:6000", h, p)
				if r := e.AddProxy(addr, [2]string{addr + "1", addr + "2"}, "", nil); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < 1000; i += 8 {
					if r := e.CreateCluster(fmt.Sprintf("c%04d", i), 4); r.Err != nil {
						errs <- r.Err
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		ms := metadata(b, e)
		for name, c := range ms.Clusters {
			loadedNames = append(loadedNames, name)
			loadedProxy = append(loadedProxy, c.Proxies()...)
		}
		loadedEngine = e
	})
	if loadedEngine == nil {
		b.Fatal("setup failed")
	}
	return loadedEngine
}

// benchReads asks read(i) from parallel clients, spreading over the loaded names.
func benchReads(b *testing.B, keys []string, read func(key string) Result) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if r := read(keys[i%len(keys)]); r.Err != nil || len(r.Body) < 100 {
				b.Fatal(r.Err)
			}
			i += 7
		}
	})
}

func BenchmarkProxyMeta(b *testing.B) {
	e := loaded(b)
	benchReads(b, loadedProxy, func(addr string) Result { return e.ProxyMeta(addr, Format{}) })
}

func BenchmarkClusterMeta(b *testing.B) {
	e := loaded(b)
	benchReads(b, loadedNames, func(name string) Result { return e.ClusterMeta(name, Format{}) })
}

// BenchmarkReportFailure measures durable mutations from concurrent clients: every reply
// waits for its fsync, and concurrent changes share commits.
func BenchmarkReportFailure(b *testing.B) {
	e := loaded(b)
	b.ReportAllocs()
	b.SetParallelism(32) // 64 clients on 2 cores
	var n sync.Mutex
	seq := 0
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n.Lock()
		seq++
		me := seq
		n.Unlock()
		i := 0
		for pb.Next() {
			if r := e.ReportFailure(fmt.Sprintf("172.16.%d.%d:1", me, i), "bench"); r.Err != nil {
				b.Fatal(r.Err)
			}
			i++
		}
	})
}

func tempDir() (string, error) { return os.MkdirTemp("", "fulcrum-bench") }
