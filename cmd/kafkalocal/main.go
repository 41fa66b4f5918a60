// Command kafkalocal starts and stops a real local Kafka cluster (KRaft: one
// controller, brokers with two log dirs each, spread round-robin over racks) for
// Fulcrum's tests.
//
//	kafkalocal up           [--dir .kafka] [--brokers 3] [--racks 3] [--version 4.4.0] [--cache DIR] [--timeout 120s]
//	kafkalocal down         [--dir .kafka]
//	kafkalocal stop-broker  [--dir .kafka] --id N [--kill]
//	kafkalocal start-broker [--dir .kafka] --id N [--timeout 120s]
//	kafkalocal topic        [--dir .kafka] --name T [--partitions 6] [--replicas 1,2] [--fill-kib 256]
//
// "up" prints the bootstrap list and writes it to <dir>/bootstrap. Jars are
// cached in --cache, $FULCRUM_KAFKA_CACHE or ~/.cache/fulcrum/kafka-<version>.
// --brokers N --racks R start brokers 1..N on racks rack-a, rack-b, ... in turn
// (broker i on rack (i-1) mod R); without them "up" starts 3 brokers on 3 racks, or
// reuses the cluster running in --dir whatever its shape.
//
// "topic" creates a topic laid out by hand (every partition on --replicas, the first the
// preferred leader) and writes --fill-kib KiB to each partition: a skewed layout for trying
// the balancer (GET /balancer) on the local cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "kafkalocal: %v\n", err)
		os.Exit(1)
	}
}

func usage() error {
	return errors.New("usage: kafkalocal up|down|stop-broker|start-broker|topic [--dir DIR] [--brokers N --racks R] [--id N] [--kill] [--version V] [--cache DIR] [--timeout D] [--name T --partitions N --replicas 1,2 --fill-kib K]")
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
	brokers := fs.Int("brokers", 0, fmt.Sprintf("up: number of brokers (default %d, or the running cluster's)", kafkacluster.DefaultBrokers))
	racks := fs.Int("racks", 0, fmt.Sprintf("up: number of racks the brokers are spread over (default %d, at most --brokers)", kafkacluster.DefaultRacks))
	id := fs.Int("id", 0, "broker id (1..N) for stop-broker and start-broker")
	kill := fs.Bool("kill", false, "stop-broker: SIGKILL at once (a crash) instead of a controlled shutdown")
	topic := fs.String("name", "", "topic: the topic to create")
	partitions := fs.Int("partitions", 6, "topic: number of partitions")
	replicas := fs.String("replicas", "1,2", "topic: the brokers of every partition, the preferred leader first")
	fillKiB := fs.Int("fill-kib", 256, "topic: KiB of random data written to each partition")
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
		Brokers:      *brokers,
		Racks:        *racks,
	}
	if *brokers < 0 || *racks < 0 {
		return errors.New("--brokers and --racks must be positive")
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
			l := c.Layout()
			fmt.Fprintf(os.Stderr, "kafkalocal: %d brokers on %d racks ready in %s\n", len(l.Brokers), l.Racks(), time.Since(start).Round(100*time.Millisecond))
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
	case "topic":
		c, err := kafkacluster.Open(cfg)
		if err != nil {
			return err
		}
		return createTopic(ctx, c, *topic, *partitions, *replicas, *fillKiB)
	default:
		return usage()
	}
}

func createTopic(ctx context.Context, c *kafkacluster.Cluster, name string, partitions int, replicas string, fillKiB int) error {
	if name == "" || partitions <= 0 || fillKiB < 0 {
		return errors.New("topic needs --name, --partitions > 0 and --fill-kib >= 0")
	}
	var brokers []int32
	for s := range strings.SplitSeq(replicas, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return fmt.Errorf("--replicas %q: %w", replicas, err)
		}
		brokers = append(brokers, int32(id))
	}
	assignment := make([][]int32, partitions)
	for i := range assignment {
		assignment[i] = brokers
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...), kgo.DialTimeout(5 * time.Second)},
		kafkacluster.FillClientOpts()...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := kafkacluster.CreateTopic(ctx, cl, name, assignment); err != nil {
		return err
	}
	for p := range partitions {
		if err := kafkacluster.Fill(ctx, cl, name, int32(p), fillKiB<<10); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "kafkalocal: topic %s: %d partitions on brokers %v, %d KiB each\n", name, partitions, brokers, fillKiB)
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
