// Package kafkatest gives integration tests a real local Kafka cluster (kafkacluster: one
// KRaft controller, brokers 1..6 spread round-robin over racks rack-a..c, two log dirs
// each) and helpers to lay out skewed topics with data in them. Tests read the cluster's
// shape (Layout, Racks) rather than assume it.
//
// make test starts one cluster for every test binary and passes its bootstrap list in
// FULCRUM_TEST_KAFKA_BOOTSTRAP (not FULCRUM_KAFKA_BOOTSTRAP, which the fulcrum processes that
// other tests start would read as their flag). Without it, a test binary whose TestMain calls
// Main starts one cluster on first use and stops it at the end; a test binary without it
// starts one per test. A cluster that cannot start fails the test: never a skip.
//
// Tests of several binaries share the cluster at once. A test that changes the cluster as a
// whole — moves replicas (a GET /balancer elsewhere would then see a reassignment in
// progress and answer 409) or stops a broker — calls Exclusive instead of Bootstrap: it
// then runs alone on the cluster, across every test binary (a file lock), and must leave
// it healthy (Healthy).
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
)

// EnvBootstrap names the variable make test sets to the shared cluster's bootstrap list.
const EnvBootstrap = "FULCRUM_TEST_KAFKA_BOOTSTRAP"

// EnvDir names the variable make test sets to the shared cluster's data dir, so that a test
// can stop and start its brokers (Cluster) and read its shape (Layout).
const EnvDir = "FULCRUM_TEST_KAFKA_DIR"

// TestBrokers and TestRacks are the shape of the cluster a test binary starts when make test
// has not: more brokers than racks, so that a layout can break rack awareness. make test
// starts the same (the Makefile's KAFKA_TEST_BROKERS and KAFKA_TEST_RACKS).
const (
	TestBrokers = 6
	TestRacks   = 3
)

// started maps the bootstrap list (joined by commas) of each cluster this process started
// to its layout.
var started sync.Map

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
// (about 10 s warm, more when the jars must be downloaded). The test shares the cluster with
// the other tests that call Bootstrap, and waits while a test that called Exclusive runs.
func Bootstrap(t testing.TB) []string {
	t.Helper()
	boot := bootstrap(t)
	lock(t, boot, false)
	return boot
}

// Exclusive is Bootstrap for a test that disturbs the cluster: it waits until no other test,
// in any test binary, uses the cluster, and keeps the others waiting until it ends. Call it
// before Bootstrap (calls to Bootstrap during the test then take no lock).
func Exclusive(t testing.TB) []string {
	t.Helper()
	boot := bootstrap(t)
	lock(t, boot, true)
	return boot
}

// Cluster returns a handle on the cluster, to stop and start brokers. Only a test that
// called Exclusive may use it, and it must bring every broker back (Healthy checks).
func Cluster(t testing.TB) *kafkacluster.Cluster {
	t.Helper()
	locks.Lock()
	excl := locks.exclusive
	locks.Unlock()
	if excl == 0 {
		t.Fatal("kafkatest.Cluster: call Exclusive first")
	}
	if dir := os.Getenv(EnvDir); dir != "" {
		c, err := kafkacluster.Open(kafkacluster.Config{Dir: dir, Log: os.Stderr})
		if err != nil {
			t.Fatalf("kafkatest: open the cluster in %s: %v", dir, err)
		}
		return c
	}
	if shared.cluster != nil {
		return shared.cluster
	}
	t.Fatalf("kafkatest.Cluster: no cluster handle (set %s, or call kafkatest.Main in TestMain)", EnvDir)
	return nil
}

// Healthy waits (at most 2 minutes) until every broker is in the cluster and no partition
// has an offline replica or a reassignment in flight.
func Healthy(t testing.TB, cl *kgo.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	seeds, _ := cl.OptValue(kgo.SeedBrokers).([]string)
	brokers := len(Layout(t, seeds).Brokers)
	var last error
	for {
		if last = healthy(ctx, adm, brokers); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kafkatest: cluster not healthy after 2m: %v", last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func healthy(ctx context.Context, adm *kadm.Client, brokers int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx)
	if err != nil {
		return err
	}
	if len(md.Brokers) != brokers {
		return fmt.Errorf("brokers %v in metadata, want %d", md.Brokers.NodeIDs(), brokers)
	}
	for _, td := range md.Topics.Sorted() {
		for _, p := range td.Partitions.Sorted() {
			if len(p.OfflineReplicas) > 0 || p.Leader < 0 {
				return fmt.Errorf("%s-%d: offline replicas %v, leader %d", p.Topic, p.Partition, p.OfflineReplicas, p.Leader)
			}
		}
	}
	if set := md.Topics.TopicsSet(); len(set) > 0 {
		r, err := adm.ListPartitionReassignments(ctx, set)
		if err != nil {
			return err
		}
		if len(r) > 0 {
			return fmt.Errorf("%d reassignments in flight", len(r))
		}
	}
	return nil
}

// locks counts the cluster locks this process holds: while it holds the exclusive one,
// Bootstrap takes none (the test runs alone anyway, and a shared lock would wait for it).
var locks struct {
	sync.Mutex
	exclusive, shared int
}

// lock takes the cluster's file lock, shared or exclusive, until the test ends. The lock
// file is named after the bootstrap list, so every binary of one make test uses the same.
func lock(t testing.TB, boot []string, exclusive bool) {
	t.Helper()
	locks.Lock()
	switch {
	case exclusive && locks.shared > 0:
		locks.Unlock()
		t.Fatal("kafkatest.Exclusive: call it before Bootstrap")
	case !exclusive && locks.exclusive > 0:
		locks.Unlock()
		return
	}
	locks.Unlock()
	h := fnv.New64a()
	h.Write([]byte(strings.Join(boot, ",")))
	path := filepath.Join(os.TempDir(), fmt.Sprintf("fulcrum-kafkatest-%x.lock", h.Sum64()))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("kafkatest: lock file: %v", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		t.Fatalf("kafkatest: lock %s: %v", path, err)
	}
	locks.Lock()
	if exclusive {
		locks.exclusive++
	} else {
		locks.shared++
	}
	locks.Unlock()
	t.Cleanup(func() {
		locks.Lock()
		if exclusive {
			locks.exclusive--
		} else {
			locks.shared--
		}
		locks.Unlock()
		f.Close() // releases the lock
	})
}

func bootstrap(t testing.TB) []string {
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
	c, _, err := kafkacluster.Up(ctx, kafkacluster.Config{Dir: dir, Log: os.Stderr, Brokers: TestBrokers, Racks: TestRacks})
	if err != nil {
		return nil, err
	}
	started.Store(strings.Join(c.Bootstrap(), ","), c.Layout())
	fmt.Fprintf(os.Stderr, "kafkatest: Kafka up in %s at %s\n", time.Since(start).Round(100*time.Millisecond), strings.Join(c.Bootstrap(), ","))
	return c, nil
}

// Layout returns the shape of the cluster whose bootstrap list is boot (from Bootstrap or
// Exclusive): its brokers' ids, racks and log dirs, as kafkalocal started them.
func Layout(t testing.TB, boot []string) kafkacluster.Layout {
	t.Helper()
	if l, ok := started.Load(strings.Join(boot, ",")); ok {
		return l.(kafkacluster.Layout)
	}
	dir := os.Getenv(EnvDir)
	if dir == "" {
		t.Fatalf("kafkatest.Layout: %v is not a cluster this process started, and %s is not set", boot, EnvDir)
	}
	c, err := kafkacluster.Open(kafkacluster.Config{Dir: dir})
	if err != nil {
		t.Fatalf("kafkatest: open the cluster in %s: %v", dir, err)
	}
	l := c.Layout()
	if got, want := strings.Join(l.Bootstrap(), ","), strings.Join(boot, ","); got != want {
		t.Fatalf("kafkatest.Layout: the cluster in %s is at %s, not %s", dir, got, want)
	}
	return l
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
