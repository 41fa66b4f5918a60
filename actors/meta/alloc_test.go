package meta

import (
	"errors"
	"fmt"
	"testing"
)

// testProxies is undermoon's add_testing_proxies: per host H (1-based) proxies 127.0.0.H:70PP
// with nodes 127.0.0.H:60(2P) and 60(2P+1).
func testProxies(hosts, perHost int) []*ProxyResource {
	var out []*ProxyResource
	for h := 1; h <= hosts; h++ {
		for p := 0; p < perHost; p++ {
			host := fmt.Sprintf("127.0.0.%d", h)
			out = append(out, &ProxyResource{ProxyAddress: fmt.Sprintf("%s:70%02d", host, p), Host: host,
				NodeAddresses: [2]string{fmt.Sprintf("%s:60%02d", host, 2*p), fmt.Sprintf("%s:60%02d", host, 2*p+1)}})
		}
	}
	return out
}

func without(free []*ProxyResource, used [][2]*ProxyResource) []*ProxyResource {
	taken := map[*ProxyResource]bool{}
	for _, pr := range used {
		taken[pr[0]], taken[pr[1]] = true, true
	}
	var out []*ProxyResource
	for _, p := range free {
		if !taken[p] {
			out = append(out, p)
		}
	}
	return out
}

func TestAllocationSpreadsHosts(t *testing.T) {
	free := testProxies(11, 3)
	pairs, err := AllocateChunks(free, Links{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]int{}
	for _, pr := range pairs {
		if pr[0].Host == pr[1].Host {
			t.Fatalf("chunk on one host: %s %s", pr[0].ProxyAddress, pr[1].ProxyAddress)
		}
		hosts[pr[0].Host]++
		hosts[pr[1].Host]++
	}
	if len(pairs) != 5 || len(hosts) != 10 {
		t.Fatalf("20-node cluster: %d chunks on %d hosts, want 5 chunks on 10 distinct hosts", len(pairs), len(hosts))
	}
	links := LinksOf(map[string]*ClusterStore{"a": {Chunks: NewChunks(pairs, nil)}})
	more, err := AllocateChunks(without(free, pairs), links, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range more {
		hosts[pr[0].Host]++
		hosts[pr[1].Host]++
	}
	if len(hosts) != 11 {
		t.Fatalf("after a 4-node cluster %d hosts used, want all 11", len(hosts))
	}
	for h, n := range hosts {
		if n < 1 || n > 2 {
			t.Errorf("host %s has %d used proxies, want 1 or 2", h, n)
		}
	}
}

func TestAllocationErrors(t *testing.T) {
	f := func(free []*ProxyResource, proxyNum int, want error) {
		t.Helper()
		if _, err := AllocateChunks(free, Links{}, proxyNum); !errors.Is(err, want) {
			t.Errorf("AllocateChunks(%d free, %d) = %v, want %v", len(free), proxyNum, err, want)
		}
	}
	f(testProxies(1, 6), 2, ErrNoAvailableResource) // one host can never form a chunk
	f(testProxies(2, 1), 4, ErrNoAvailableResource)
	f(nil, 2, ErrNoAvailableResource)
	// 5 on one host and 1 elsewhere: trimming leaves 1+1, enough for one chunk only.
	free := append(testProxies(1, 5), testProxies(2, 1)[0:0]...)
	free = append(free, &ProxyResource{ProxyAddress: "10.9.9.9:1", Host: "10.9.9.9"})
	f(free, 4, ErrNoAvailableResource)
	if pairs, err := AllocateChunks(free, Links{}, 2); err != nil || len(pairs) != 1 {
		t.Errorf("trimmed allocation = %v, %v", pairs, err)
	}
}

func TestAllocationNeverPairsOneHost(t *testing.T) {
	for hosts := 2; hosts <= 6; hosts++ {
		for per := 1; per <= 6; per++ {
			free := testProxies(hosts, per)
			links := Links{}
			for {
				pairs, err := AllocateChunks(free, links, 2)
				if err != nil {
					break
				}
				if pairs[0][0].Host == pairs[0][1].Host {
					t.Fatalf("%dx%d: chunk on one host", hosts, per)
				}
				links.Add(pairs[0][0].Host, pairs[0][1].Host, 1)
				free = without(free, pairs)
			}
			if len(free) > per {
				t.Errorf("%d hosts x %d: %d proxies left unallocated", hosts, per, len(free))
			}
		}
	}
}

func TestAllocateOrdered(t *testing.T) {
	free := testProxies(1, 4)
	for i, p := range free {
		p.Index = 3 - i
	}
	pairs, err := AllocateOrdered(free, 0, 4)
	if err != nil || pairs[0][0].Index != 0 || pairs[0][1].Index != 1 || pairs[1][1].Index != 3 {
		t.Fatalf("ordered allocation = %v, %v", pairs, err)
	}
	if _, err := AllocateOrdered(free, 2, 2); !errors.Is(err, ErrProxyOutOfOrder) {
		t.Errorf("non-consecutive start: %v", err)
	}
	if _, err := AllocateOrdered(free, 0, 6); !errors.Is(err, ErrNoAvailableResource) {
		t.Errorf("too few: %v", err)
	}
}

func TestChooseReplacement(t *testing.T) {
	free := testProxies(4, 1) // hosts .1 .. .4
	links := Links{}
	links.Add("127.0.0.9", "127.0.0.2", 3) // the failed host is already well linked to .2
	r, err := ChooseReplacement(free, links, "127.0.0.9", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Host != "127.0.0.3" {
		t.Errorf("replacement on %s, want the least linked host that is not the partner's (127.0.0.3)", r.Host)
	}
	if _, err := ChooseReplacement(free[:1], links, "127.0.0.9", "127.0.0.1"); !errors.Is(err, ErrNoAvailableResource) {
		t.Errorf("only the partner's host is free: %v", err)
	}
}
