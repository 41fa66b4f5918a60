package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/cmd/etcdlocal/etcdtest"
	"github.com/seed248d40c9/fulcrum/persist"
)

func TestParseServeEtcd(t *testing.T) {
	cases := []struct {
		name           string
		args           []string
		env            map[string]string
		endpoints      []string
		prefix, advert string
		ttl            time.Duration
	}{
		{"bbolt by default", nil, nil, nil, "/fulcrum", "127.0.0.1:7799", 5 * time.Second},
		{"flags", []string{"--etcd-endpoints", "http://a:2379, http://b:2379", "--etcd-prefix", "/x", "--advertise-addr", "10.0.0.1:7799", "--etcd-lease-ttl", "3s"}, nil, []string{"http://a:2379", "http://b:2379"}, "/x", "10.0.0.1:7799", 3 * time.Second},
		{"env", nil, map[string]string{"FULCRUM_ETCD_ENDPOINTS": "http://a:2379", "FULCRUM_ETCD_PREFIX": "/y", "FULCRUM_ADVERTISE_ADDR": "h:1"}, []string{"http://a:2379"}, "/y", "h:1", 5 * time.Second},
		{"flags win over env", []string{"--etcd-prefix", "/flag", "--advertise-addr", "f:2"}, map[string]string{"FULCRUM_ETCD_ENDPOINTS": "http://a:2379", "FULCRUM_ETCD_PREFIX": "/env", "FULCRUM_ADVERTISE_ADDR": "e:1"}, []string{"http://a:2379"}, "/flag", "f:2", 5 * time.Second},
		{"advertise defaults to listen", []string{"--listen", "127.0.0.1:7001", "--etcd-endpoints", "http://a:2379"}, nil, []string{"http://a:2379"}, "/fulcrum", "127.0.0.1:7001", 5 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseServe(tc.args, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if got := c.endpoints(); len(got) != len(tc.endpoints) || (len(got) > 0 && (got[0] != tc.endpoints[0] || got[len(got)-1] != tc.endpoints[len(got)-1])) {
				t.Errorf("endpoints %q, want %q", got, tc.endpoints)
			}
			if c.etcdPrefix != tc.prefix || c.advertiseAddr != tc.advert || c.etcdLeaseTTL != tc.ttl {
				t.Errorf("prefix %q advertise %q ttl %s, want %q %q %s", c.etcdPrefix, c.advertiseAddr, c.etcdLeaseTTL, tc.prefix, tc.advert, tc.ttl)
			}
		})
	}
}

func TestParseServeEtcdRejects(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"no endpoint in the list", []string{"--etcd-endpoints", " , "}},
		{"lease below a second", []string{"--etcd-endpoints", "http://a:2379", "--etcd-lease-ttl", "500ms"}},
		{"relative prefix", []string{"--etcd-endpoints", "http://a:2379", "--etcd-prefix", "fulcrum"}},
		{"root prefix", []string{"--etcd-endpoints", "http://a:2379", "--etcd-prefix", "/"}},
		{"advertise without port", []string{"--etcd-endpoints", "http://a:2379", "--advertise-addr", "host"}},
		{"advertise on port 0", []string{"--etcd-endpoints", "http://a:2379", "--listen", "127.0.0.1:0"}},
		{"advertise unspecified host", []string{"--etcd-endpoints", "http://a:2379", "--listen", "0.0.0.0:7799"}},
		{"replica on etcd", []string{"--etcd-endpoints", "http://a:2379", "--replica"}},
		{"replica addresses on etcd", []string{"--etcd-endpoints", "http://a:2379", "--replica-addresses", "h:1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseServe(tc.args, func(string) string { return "" }); err == nil {
				t.Errorf("parseServe(%q) accepted", tc.args)
			}
		})
	}
}

// The "fulcrum serving" line names the store actually used: bbolt and its data dir, or
// etcd and its endpoints and prefix (as the store uses it), never the other's fields.
func TestStoreLogFields(t *testing.T) {
	line := func(c *storeConfig) map[string]any {
		t.Helper()
		store, err := c.open("127.0.0.1:7799")
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		var buf bytes.Buffer
		log := zerolog.New(&buf)
		c.logTo(log.Info(), store).Msg("fulcrum serving")
		var got map[string]any
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("%v: %s", err, buf.Bytes())
		}
		return got
	}
	dir := t.TempDir()
	got := line(&storeConfig{dataDir: dir, etcdPrefix: persist.DefaultEtcdPrefix, etcdLeaseTTL: persist.DefaultLeaseTTL})
	if got["backend"] != "bbolt" || got["data_dir"] != dir || got["etcd_endpoints"] != nil || got["etcd_prefix"] != nil {
		t.Errorf("bbolt: %v", got)
	}

	endpoints := etcdtest.Endpoints(t)
	prefix := etcdtest.Prefix("serving-log")
	got = line(&storeConfig{dataDir: dir, etcdEndpoints: " " + strings.Join(endpoints, " , ") + ",",
		etcdPrefix: prefix + "/", etcdLeaseTTL: time.Second})
	if got["backend"] != "etcd" || got["etcd_endpoints"] != strings.Join(endpoints, ",") || got["etcd_prefix"] != prefix || got["data_dir"] != nil {
		t.Errorf("etcd: %v, want endpoints %q and prefix %q", got, strings.Join(endpoints, ","), prefix)
	}
}
