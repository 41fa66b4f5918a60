package main

import (
	"testing"
	"time"
)

func TestParseServeBalancerFlags(t *testing.T) {
	none := func(string) string { return "" }
	c, err := parseServe(nil, none)
	if err != nil {
		t.Fatal(err)
	}
	if b := c.balancer; b.StallTimeout != 2*time.Minute || b.PollInterval != 500*time.Millisecond || b.MovesPerBroker != 5 ||
		b.KeepFinished != 7*24*time.Hour || b.MaxFinished != 100 {
		t.Fatalf("balancer defaults = %+v", b)
	}
	env := map[string]string{"FULCRUM_BALANCER_STALL_TIMEOUT": "5m", "FULCRUM_BALANCER_CONCURRENCY": "2", "FULCRUM_BALANCER_MAX_FINISHED": "7"}
	c, err = parseServe([]string{"--balancer-poll-interval", "1s", "--balancer-concurrency", "3", "--balancer-keep-finished", "24h"},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if b := c.balancer; b.StallTimeout != 5*time.Minute || b.PollInterval != time.Second || b.MovesPerBroker != 3 ||
		b.KeepFinished != 24*time.Hour || b.MaxFinished != 7 {
		t.Fatalf("balancer env then flags = %+v", b)
	}
}

func TestParseServeRejectsBalancerFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--balancer-stall-timeout", "0s"},
		{"--balancer-stall-timeout", "500ms"},
		{"--balancer-poll-interval", "0s"},
		{"--balancer-poll-interval", "3m"},
		{"--balancer-concurrency", "0"},
		{"--balancer-keep-finished", "-1h"},
		{"--balancer-max-finished", "0"},
		{"--balancer-concurrency", "many"},
	} {
		if _, err := parseServe(args, func(string) string { return "" }); err == nil {
			t.Errorf("parseServe(%v) accepted", args)
		}
	}
}
