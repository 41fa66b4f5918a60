package main

import (
	"testing"
	"time"
)

func TestParseServeDefaults(t *testing.T) {
	c, err := parseServe(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:7799" || c.dataDir != "./fulcrum-data" || c.failureTTL != time.Minute ||
		c.failureQuorum != 1 || c.migrationLimit != 1 || c.orderedProxy || c.logFormat != "json" {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestParseServeEnvAndFlags(t *testing.T) {
	env := map[string]string{"FULCRUM_LISTEN": "127.0.0.1:9000", "FULCRUM_FAILURE_QUORUM": "2", "FULCRUM_ORDERED_PROXY": "true",
		"FULCRUM_MIGRATION_LIMIT": "0"}
	c, err := parseServe([]string{"--failure-quorum", "3"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:9000" || c.failureQuorum != 3 || !c.orderedProxy || c.migrationLimit != 0 {
		t.Fatalf("env then flags = %+v", c)
	}
}

func TestParseServeRejects(t *testing.T) {
	f := func(args []string, env map[string]string) {
		t.Helper()
		if _, err := parseServe(args, func(k string) string { return env[k] }); err == nil {
			t.Errorf("parseServe(%v, %v) accepted", args, env)
		}
	}
	f([]string{"--failure-quorum", "0"}, nil)
	f([]string{"--failure-quorum", "65"}, nil) // more than the reporters kept per proxy
	f([]string{"--log-format", "xml"}, nil)
	f([]string{"--failure-ttl", "10ms"}, nil)
	f([]string{"extra"}, nil)
	f(nil, map[string]string{"FULCRUM_FAILURE_TTL": "soon"})
}
