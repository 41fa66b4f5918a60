// Package kafkatest gives integration tests a real local Kafka cluster (kafkacluster: one
// KRaft controller, brokers 1..3 on racks rack-a..c, two log dirs each) and helpers to lay
// out skewed topics with data in them.
//
// make test starts one cluster for every test binary and passes its bootstrap list in
// FULCRUM_TEST_KAFKA_BOOTSTRAP (not FULCRUM_KAFKA_BOOTSTRAP, which the fulcrum processes that
// other tests start would read as their flag). Without it, a test binary whose TestMain calls
// Main starts one cluster on first use and stops it at the end; a test binary without it
// starts one per test. A cluster that cannot start fails the test: never a skip.
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
)

// EnvBootstrap names the variable make test sets to the shared cluster's bootstrap list.
const EnvBootstrap = "FULCRUM_TEST_KAFKA_BOOTSTRAP"

var shared struct {
	inMain  bool
	once    sync.Once
	cluster *kafkacluster.Cluster
	boot    []string
	err     error
}

// Main runs the tests, then stops the cluster if one was started for this binary. Use it
// as: func TestMain(m *testing.M) { os.Exit(kafkatest.Main(m)) }.
func Main(m *testing.M) int {
	shared.inMain = true
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.Down(); err != nil {
			fmt.Fprintf(os.Stderr, "kafkatest: stopping Kafka: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Bootstrap returns the brokers' addresses of a running cluster, starting one if needed
// (about 10 s warm, more when the jars must be downloaded).
func Bootstrap(t testing.TB) []string {
	t.Helper()
	if v := os.Getenv(EnvBootstrap); v != "" {
		return strings.Split(strings.TrimSpace(v), ",")
	}
	if !shared.inMain {
		c, err := up()
		if err != nil {
			t.Fatalf("kafkatest: cannot start Kafka: %v", err)
		}
		t.Cleanup(func() {
			if err := c.Down(); err != nil {
				t.Errorf("kafkatest: stopping Kafka: %v", err)
			}
		})
		return c.Bootstrap()
	}
	shared.once.Do(func() {
		shared.cluster, shared.err = up()
		if shared.err == nil {
			shared.boot = shared.cluster.Bootstrap()
		}
	})
	if shared.err != nil {
		t.Fatalf("kafkatest: cannot start Kafka: %v", shared.err)
	}
	return shared.boot
}

func up() (*kafkacluster.Cluster, error) {
	dir, err := os.MkdirTemp("", "fulcrum-kafkatest-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	c, _, err := kafkacluster.Up(ctx, kafkacluster.Config{Dir: dir, Log: os.Stderr})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "kafkatest: Kafka up in %s at %s\n", time.Since(start).Round(100*time.Millisecond), strings.Join(c.Bootstrap(), ","))
	return c, nil
}

// Client returns a client of the cluster, closed when the test ends. Every call it makes is
// bounded.
func Client(t testing.TB, bootstrap []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := append([]kgo.Opt{
		kgo.SeedBrokers(bootstrap...),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(30 * time.Second),
	}, kafkacluster.FillClientOpts()...)
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Name returns a topic name unique to this run: tests of several packages share a cluster.
func Name(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// CreateTopic creates a topic whose partition i has the replicas assignment[i] (the first is
// the preferred leader) and waits until every partition has its leader and a full ISR.
func CreateTopic(t testing.TB, cl *kgo.Client, name string, assignment [][]int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafkacluster.CreateTopic(ctx, cl, name, assignment); err != nil {
		t.Fatal(err)
	}
}

// Fill writes at least n bytes to one partition, in random records of 16 KiB, and waits
// until every in-sync replica has them (acks=all), so DescribeLogDirs reports the size on
// every replica. cl must come from Client.
func Fill(t testing.TB, cl *kgo.Client, topic string, partition int32, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafkacluster.Fill(ctx, cl, topic, partition, n); err != nil {
		t.Fatal(err)
	}
}
