// Command kafkalocal starts and stops a real local Kafka cluster (KRaft: one
// controller, three brokers with two log dirs each) for Fulcrum's tests.
//
//	kafkalocal up           [--dir .kafka] [--version 4.4.0] [--cache DIR] [--timeout 120s]
//	kafkalocal down         [--dir .kafka]
//	kafkalocal stop-broker  [--dir .kafka] --id N [--kill]
//	kafkalocal start-broker [--dir .kafka] --id N [--timeout 120s]
//
// "up" prints the bootstrap list and writes it to <dir>/bootstrap. Jars are
// cached in --cache, $FULCRUM_KAFKA_CACHE or ~/.cache/fulcrum/kafka-<version>.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "kafkalocal: %v\n", err)
		os.Exit(1)
	}
}

func usage() error {
	return errors.New("usage: kafkalocal up|down|stop-broker|start-broker [--dir DIR] [--id N] [--kill] [--version V] [--cache DIR] [--timeout D]")
}

func run(args []string) error {
	if len(args) == 0 {
		return usage()
	}
	sub := args[0]
	fs := flag.NewFlagSet("kafkalocal "+sub, flag.ContinueOnError)
	dir := fs.String("dir", ".kafka", "data dir of the cluster")
	version := fs.String("version", envOr("FULCRUM_KAFKA_VERSION", kafkacluster.DefaultVersion), "Kafka version (env FULCRUM_KAFKA_VERSION)")
	cache := fs.String("cache", "", "jar cache dir (env FULCRUM_KAFKA_CACHE; default ~/.cache/fulcrum/kafka-<version>)")
	timeout := fs.Duration("timeout", kafkacluster.DefaultStartTimeout, "how long to wait for brokers to become ready")
	id := fs.Int("id", 0, "broker id (1..3) for stop-broker and start-broker")
	kill := fs.Bool("kill", false, "stop-broker: SIGKILL at once (a crash) instead of a controlled shutdown")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}

	// Ctrl-C during "up" cancels the wait, and Up then stops what it started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := kafkacluster.Config{
		Dir:          *dir,
		Version:      *version,
		CacheDir:     *cache,
		StartTimeout: *timeout,
		Log:          os.Stderr,
	}

	switch sub {
	case "up":
		start := time.Now()
		c, already, err := kafkacluster.Up(ctx, cfg)
		if err != nil {
			return err
		}
		if already {
			fmt.Fprintf(os.Stderr, "kafkalocal: already running in %s\n", *dir)
		} else {
			fmt.Fprintf(os.Stderr, "kafkalocal: 3 brokers ready in %s\n", time.Since(start).Round(100*time.Millisecond))
		}
		fmt.Println(strings.Join(c.Bootstrap(), ","))
		return nil
	case "down":
		c, err := kafkacluster.Open(cfg)
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Stat(*dir); serr == nil {
				return fmt.Errorf("%s has no cluster.json; not removing it", *dir)
			}
			fmt.Fprintf(os.Stderr, "kafkalocal: nothing to stop in %s\n", *dir)
			return nil
		}
		if err != nil {
			return err
		}
		return c.Down()
	case "stop-broker", "start-broker":
		if *id == 0 {
			return fmt.Errorf("%s needs --id N", sub)
		}
		c, err := kafkacluster.Open(cfg)
		if err != nil {
			return err
		}
		if sub == "stop-broker" {
			return c.StopBroker(int32(*id), *kill)
		}
		return c.StartBroker(ctx, int32(*id))
	default:
		return usage()
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
