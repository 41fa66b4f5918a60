package actors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/seed248d40c9/fulcrum/actors/meta"
)

// proxyEpochs asks each server proxy `UMCTL GETEPOCH` over RESP, in parallel, each with its
// own timeout, and returns what every proxy answered or why it did not.
func proxyEpochs(ctx context.Context, addrs []string, timeout time.Duration) (map[string]uint64, map[string]error) {
	var mu sync.Mutex
	epochs, errs := map[string]uint64{}, map[string]error{}
	var wg sync.WaitGroup
	for _, addr := range addrs {
		wg.Add(1)
		go func(addr string) {
			defer wg.Done()
			n, err := askProxyEpoch(ctx, addr, timeout)
			if err == nil && n < 0 {
				err = fmt.Errorf("negative epoch %d", n)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[addr] = err
				return
			}
			epochs[addr] = uint64(n)
		}(addr)
	}
	wg.Wait()
	return epochs, errs
}

// askProxyEpoch sends one UMCTL GETEPOCH. The connection is dialled here and handed to the
// client, so an unreachable proxy is an error value, not a line in go-redis' global log.
func askProxyEpoch(ctx context.Context, addr string, timeout time.Duration) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(cctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	var once sync.Once
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		ReadTimeout: timeout, WriteTimeout: timeout, PoolSize: 1,
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			var c net.Conn
			once.Do(func() { c = conn })
			if c == nil {
				return nil, errors.New("proxy connection already used")
			}
			return c, nil
		}})
	defer c.Close()
	return c.Do(cctx, "UMCTL", "GETEPOCH").Int64()
}

// epochWait is how a scale-out waits for the new proxies: polls every interval until every
// proxy reports at least the cluster's epoch. failedPolls polls that could not reach every
// proxy, or maxPolls polls in all, end it with PROXY_NOT_SYNC: every wait has a bound.
type epochWait struct {
	interval    time.Duration
	failedPolls int
	maxPolls    int
	timeout     time.Duration // per RESP call
}

func (w epochWait) run(ctx context.Context, addrs []string, epoch uint64) error {
	failed := 0
	for poll := 0; poll < w.maxPolls; poll++ {
		epochs, errs := proxyEpochs(ctx, addrs, w.timeout)
		if len(errs) > 0 {
			failed++
			if failed >= w.failedPolls {
				return fmt.Errorf("%w: %d proxies unreachable", meta.ErrProxyNotSync, len(errs))
			}
		} else {
			synced := true
			for _, e := range epochs {
				if e < epoch {
					synced = false
				}
			}
			if synced {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", meta.ErrProxyNotSync, ctx.Err())
		case <-time.After(w.interval):
		}
	}
	return fmt.Errorf("%w: proxies still behind epoch %d after %d polls", meta.ErrProxyNotSync, epoch, w.maxPolls)
}
