package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/persist"
)

// storeConfig says where the durable state lives: bbolt in dataDir, or etcd when
// etcdEndpoints is set (README, "High availability on etcd").
type storeConfig struct {
	dataDir       string
	etcdEndpoints string
	etcdPrefix    string
	etcdLeaseTTL  time.Duration
}

// storeFlags adds the flags of storeConfig; each also reads FULCRUM_<NAME>.
func storeFlags(fs *flag.FlagSet, c *storeConfig) {
	fs.StringVar(&c.dataDir, "data-dir", "./fulcrum-data", "directory of the durable store (bbolt; unused with --etcd-endpoints)")
	fs.StringVar(&c.etcdEndpoints, "etcd-endpoints", "", "etcd client URLs, comma separated: keep the state in etcd (several instances, one leader) instead of bbolt")
	fs.StringVar(&c.etcdPrefix, "etcd-prefix", persist.DefaultEtcdPrefix, "etcd key prefix of the state: instances with the same endpoints and prefix are one broker")
	fs.DurationVar(&c.etcdLeaseTTL, "etcd-lease-ttl", persist.DefaultLeaseTTL, "lease of the leadership: a dead leader is replaced after about this long (whole seconds)")
}

func (c *storeConfig) check() error {
	if c.etcdEndpoints == "" {
		return nil
	}
	if len(c.endpoints()) == 0 {
		return errors.New("--etcd-endpoints lists no endpoint")
	}
	if c.etcdLeaseTTL < time.Second {
		return errors.New("--etcd-lease-ttl must be at least 1s")
	}
	if !strings.HasPrefix(c.etcdPrefix, "/") || strings.TrimRight(c.etcdPrefix, "/") == "" {
		return fmt.Errorf("--etcd-prefix must start with / and name something, not %q", c.etcdPrefix)
	}
	return nil
}

func (c *storeConfig) endpoints() []string {
	var out []string
	for e := range strings.SplitSeq(c.etcdEndpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// open opens the configured store; id is this instance's advertised address (its value in
// the etcd election).
func (c *storeConfig) open(id string) (persist.Backend, error) {
	if c.etcdEndpoints == "" {
		return persist.Open(c.dataDir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := persist.OpenEtcd(ctx, persist.EtcdConfig{
		Endpoints: c.endpoints(), Prefix: c.etcdPrefix, LeaseTTL: c.etcdLeaseTTL, ID: id,
	})
	if err != nil {
		return nil, fmt.Errorf("--etcd-endpoints: %w", err)
	}
	return s, nil
}

// logTo adds the store actually used to a log line: backend bbolt and its data_dir, or
// backend etcd and its etcd_endpoints and etcd_prefix (as the store uses them).
func (c *storeConfig) logTo(e *zerolog.Event, store persist.Backend) *zerolog.Event {
	if s, ok := store.(*persist.EtcdStore); ok {
		return e.Str("backend", "etcd").Str("etcd_endpoints", strings.Join(c.endpoints(), ",")).Str("etcd_prefix", s.Prefix())
	}
	return e.Str("backend", "bbolt").Str("data_dir", c.dataDir)
}

// checkAdvertise refuses an advertised address the other instances could not dial.
func checkAdvertise(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return fmt.Errorf("--advertise-addr %q must be host:port with a port", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("--advertise-addr %q: other instances cannot reach an unspecified host; set --advertise-addr", addr)
	}
	return nil
}
