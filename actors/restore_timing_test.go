package actors

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	bigDocOnce sync.Once
	bigDoc     []byte
	bigDocErr  error
)

// bigRestoreDoc is a GET /metadata document of 5,000 four-node clusters on 10,000 proxies
// (100 hosts), ~5.7 MB: the "fresh 5.7 MB restore". It is made once per test
// binary by an engine, through its API.
func bigRestoreDoc(tb testing.TB) []byte {
	bigDocOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fulcrum-bigdoc")
		if err != nil {
			bigDocErr = err
			return
		}
		defer os.RemoveAll(dir)
		e, err := Start(Options{DataDir: dir})
		if err != nil {
			bigDocErr = err
			return
		}
		defer e.Stop()
		bigDocErr = seedClusters(e, 100, 100, 5000)
		if bigDocErr == nil {
			r := e.Metadata()
			bigDoc, bigDocErr = r.Body, r.Err
		}
	})
	if bigDocErr != nil {
		tb.Fatal(bigDocErr)
	}
	return bigDoc
}

// seedClusters registers hosts × perHost proxies and creates n four-node clusters from 8
// concurrent clients.
func seedClusters(e *Engine, hosts, perHost, n int) error {
	for h := 0; h < hosts; h++ {
		for p := 0; p < perHost; p++ {
			addr := fmt.Sprintf("10.1.%d.%d:6000", h, p)
			if r := e.AddProxy(addr, [2]string{addr + "1", addr + "2"}, "", nil); r.Err != nil {
				return r.Err
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if r := e.CreateCluster(fmt.Sprintf("big%05d", i), 4); r.Err != nil {
					errs <- r.Err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// BenchmarkSmallWriteBehindRestore measures how long small durable writes (failure reports,
// 4 clients in a closed loop) and proxy reads wait while a fresh 5.7 MB restore (5,000
// clusters) runs: each op is one restore into a new engine, with the clients running from
// just before it starts until it is answered. Reported: the restore's own time, and the
// worst and median small write and the worst read that overlapped it.
func BenchmarkSmallWriteBehindRestore(b *testing.B) {
	doc := bigRestoreDoc(b)
	var writes, reads []time.Duration
	var restore time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := startEngine(b, b.TempDir(), Options{AskTimeout: 30 * time.Second})
		addProxies(b, e, 2, 1)
		b.StartTimer()
		var stop atomic.Bool
		var mu sync.Mutex
		var wg sync.WaitGroup
		for c := 0; c < 5; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				var mine []time.Duration
				for n := 0; !stop.Load(); n++ {
					start := time.Now()
					var r Result
					if c == 0 {
						r = e.ProxyMeta("127.0.0.1:7000", Format{})
					} else {
						r = e.ReportFailure(fmt.Sprintf("10.9.%d.%d:1", c, n), "bench")
					}
					if r.Err != nil {
						b.Error(r.Err)
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				if c == 0 {
					reads = append(reads, mine...)
				} else {
					writes = append(writes, mine...)
				}
				mu.Unlock()
			}(c)
		}
		start := time.Now()
		if r := e.RestoreMetadata(doc); r.Err != nil {
			b.Fatal(r.Err)
		}
		restore += time.Since(start)
		stop.Store(true)
		wg.Wait()
		b.StopTimer()
		e.Stop()
		b.StartTimer()
	}
	slices.Sort(writes)
	slices.Sort(reads)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(restore)/float64(b.N), "restore-ms")
	if len(writes) > 0 {
		b.ReportMetric(ms(writes[len(writes)-1]), "write-max-ms")
		b.ReportMetric(ms(writes[len(writes)/2]), "write-p50-ms")
		b.ReportMetric(float64(len(writes))/float64(b.N), "writes/op")
	}
	if len(reads) > 0 {
		b.ReportMetric(ms(reads[len(reads)-1]), "read-max-ms")
	}
}
