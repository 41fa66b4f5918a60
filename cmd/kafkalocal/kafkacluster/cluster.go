// Package kafkacluster runs a real local Kafka cluster for tests: one KRaft
// controller (node 3000) and N brokers (nodes 1..N, 3 by default) spread
// round-robin over R racks (rack-a, rack-b, ...; 3 by default), each broker
// with two log dirs, all on 127.0.0.1 with ports picked at start. The jars
// come from Maven Central through mvn and are cached outside the data dir.
//
// Data dir layout:
//
//	cluster.json              layout (ports, ids, lib dir); read by later commands
//	bootstrap                 "127.0.0.1:p1,127.0.0.1:p2,..."
//	log4j2.properties
//	controller.pid, broker-N.pid
//	controller/{server.properties,kafka.log,format.log,metadata/}
//	broker-N/{server.properties,kafka.log,format.log,logs-a/,logs-b/}
package kafkacluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed248d40c9/fulcrum/cmd/internal/ports"
)

// DefaultVersion is the newest Kafka whose broker jars Maven Central serves
// to this project.
const DefaultVersion = "4.4.0"

const (
	DefaultStartTimeout = 120 * time.Second
	runningCheckTimeout = 15 * time.Second
	stateFile           = "cluster.json"
	bootstrapFile       = "bootstrap"
)

// Config says where the cluster lives. Zero values take defaults.
type Config struct {
	Dir          string        // data dir; required
	Version      string        // Kafka version; DefaultVersion
	CacheDir     string        // jar cache; DefaultCacheDir(Version)
	StartTimeout time.Duration // wait for brokers; DefaultStartTimeout
	Log          io.Writer     // progress and failure details; io.Discard
	// Brokers and Racks shape a new cluster (DefaultBrokers, DefaultRacks when zero). Up
	// reuses a running cluster of any shape when they are zero, and refuses one of
	// another shape when they are set.
	Brokers, Racks int
}

func (c *Config) defaults() error {
	if c.Dir == "" {
		return errors.New("kafkacluster: Dir is required")
	}
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return err
	}
	c.Dir = abs
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir(c.Version)
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return nil
}

// fits says whether a running cluster laid out as l can serve cfg: any shape when cfg
// asks for none, else the one asked for.
func (c *Config) fits(l Layout) error {
	brokers, racks := c.shape()
	if (c.Brokers != 0 && len(l.Brokers) != brokers) || (c.Racks != 0 && l.Racks() != racks) {
		return fmt.Errorf("%s runs %d brokers on %d racks, not %d on %d; stop it first (kafkalocal down)",
			c.Dir, len(l.Brokers), l.Racks(), brokers, racks)
	}
	return nil
}

// shape is the number of brokers and racks of a new cluster.
func (c *Config) shape() (brokers, racks int) {
	brokers, racks = c.Brokers, c.Racks
	if brokers == 0 {
		brokers = DefaultBrokers
	}
	if racks == 0 {
		racks = min(DefaultRacks, brokers)
	}
	return brokers, racks
}

// Cluster is a handle on a local cluster's data dir and the JVMs it records.
type Cluster struct {
	cfg    Config
	layout Layout
	procs  procs
}

// Layout returns the ids, ports, racks and dirs of the cluster.
func (c *Cluster) Layout() Layout { return c.layout }

// Bootstrap returns the brokers' host:port addresses.
func (c *Cluster) Bootstrap() []string { return c.layout.Bootstrap() }

// Up starts a fresh cluster in cfg.Dir, or returns the running one if every
// recorded JVM is alive and all brokers answer. A dir holding a dead or
// partial cluster is stopped and wiped first. On failure, whatever was
// started is stopped and the logs are kept in the dir.
func Up(ctx context.Context, cfg Config) (c *Cluster, alreadyRunning bool, err error) {
	if err := cfg.defaults(); err != nil {
		return nil, false, err
	}
	brokers, racks := cfg.shape()
	if err := checkShape(brokers, racks); err != nil {
		return nil, false, err
	}
	if old, err := Open(cfg); err == nil {
		if old.running(ctx) {
			if err := cfg.fits(old.layout); err != nil {
				return nil, false, err
			}
			return old, true, nil
		}
		fmt.Fprintf(cfg.Log, "kafkalocal: %s holds a stopped or broken cluster; wiping it\n", cfg.Dir)
		if err := old.Down(); err != nil {
			return nil, false, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	} else if entries, _ := os.ReadDir(cfg.Dir); len(entries) > 0 {
		return nil, false, fmt.Errorf("%s is not empty and has no %s; refusing to use it", cfg.Dir, stateFile)
	}

	lib, err := EnsureJars(ctx, cfg.CacheDir, cfg.Version, cfg.Log)
	if err != nil {
		return nil, false, err
	}
	id, err := NewClusterID()
	if err != nil {
		return nil, false, err
	}
	free, err := ports.Free(1 + brokers)
	if err != nil {
		return nil, false, err
	}
	layout, err := NewLayout(cfg.Dir, cfg.Version, lib, id, free, racks)
	if err != nil {
		return nil, false, err
	}
	c = &Cluster{cfg: cfg, layout: layout}
	if err := c.writeFiles(); err != nil {
		return nil, false, err
	}
	start := time.Now()
	if err := c.formatAll(ctx); err != nil {
		return nil, false, err
	}
	fmt.Fprintf(cfg.Log, "kafkalocal: formatted storage in %s; starting Kafka %s (controller %d, brokers 1..%d on %d racks) in %s\n",
		time.Since(start).Round(100*time.Millisecond), cfg.Version, ControllerID, brokers, racks, cfg.Dir)
	for _, n := range layout.Nodes() {
		if _, err := c.procs.start(layout, n); err != nil {
			c.fail(nil)
			return nil, false, err
		}
	}
	if err := c.waitReady(ctx, brokerIDs(layout.Brokers), cfg.StartTimeout); err != nil {
		c.fail(err)
		return nil, false, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Dir, bootstrapFile),
		[]byte(strings.Join(c.Bootstrap(), ",")+"\n"), 0o644); err != nil {
		c.fail(err)
		return nil, false, err
	}
	return c, false, nil
}

// Open loads the cluster recorded in cfg.Dir without starting anything. The
// error wraps os.ErrNotExist if the dir holds no cluster.
func Open(cfg Config) (*Cluster, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(cfg.Dir, stateFile))
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg}
	if err := json.Unmarshal(b, &c.layout); err != nil {
		return nil, fmt.Errorf("%s: %w", stateFile, err)
	}
	return c, nil
}

// Down stops every recorded JVM, brokers before the controller so their
// controlled shutdown can reach it, and removes the data dir.
func (c *Cluster) Down() error {
	if err := c.stopAll(); err != nil {
		return err
	}
	return os.RemoveAll(c.cfg.Dir)
}

// StopBroker stops one broker and leaves its data in place. With kill it
// sends SIGKILL at once, as a crash would, instead of a controlled shutdown.
func (c *Cluster) StopBroker(id int32, kill bool) error {
	n, ok := c.layout.Broker(id)
	if !ok {
		return fmt.Errorf("no broker %d (brokers are 1..%d)", id, len(c.layout.Brokers))
	}
	pid := readPID(c.layout.PIDPath(n))
	if kill {
		return c.procs.kill(c.layout, n, pid)
	}
	return c.procs.stop(c.layout, n, pid)
}

// StartBroker restarts a stopped broker on its old port and data and waits
// until it is registered and answers again.
func (c *Cluster) StartBroker(ctx context.Context, id int32) error {
	n, ok := c.layout.Broker(id)
	if !ok {
		return fmt.Errorf("no broker %d (brokers are 1..%d)", id, len(c.layout.Brokers))
	}
	if c.procs.alive(c.layout, n, readPID(c.layout.PIDPath(n))) {
		fmt.Fprintf(c.cfg.Log, "kafkalocal: broker %d is already running\n", id)
		return nil
	}
	if _, err := c.procs.start(c.layout, n); err != nil {
		return err
	}
	var want []int32
	for _, b := range c.layout.Brokers {
		if c.procs.alive(c.layout, b, readPID(c.layout.PIDPath(b))) {
			want = append(want, b.ID)
		}
	}
	if err := c.waitReady(ctx, want, c.cfg.StartTimeout); err != nil {
		fmt.Fprintf(c.cfg.Log, "--- tail of %s ---\n%s\n", c.layout.LogPath(n), tailFile(c.layout.LogPath(n), 40))
		return err
	}
	return nil
}

func (c *Cluster) stopAll() error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, n := range c.layout.Brokers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.procs.stop(c.layout, n, readPID(c.layout.PIDPath(n))); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	n := c.layout.Controller
	errs = append(errs, c.procs.stop(c.layout, n, readPID(c.layout.PIDPath(n))))
	return errors.Join(errs...)
}

// fail prints the logs that explain a failed start and stops every JVM; the
// data dir stays for inspection and is wiped by the next Up.
func (c *Cluster) fail(cause error) {
	if cause != nil {
		fmt.Fprintf(c.cfg.Log, "kafkalocal: start failed: %v\n", cause)
	}
	var dead, all []Node
	for _, n := range c.layout.Nodes() {
		all = append(all, n)
		if !c.procs.alive(c.layout, n, readPID(c.layout.PIDPath(n))) {
			dead = append(dead, n)
		}
	}
	// The JVMs that died hold the cause; if none did, show everyone.
	show := dead
	if len(show) == 0 {
		show = all
	}
	for _, n := range show {
		fmt.Fprintf(c.cfg.Log, "--- tail of %s ---\n%s\n", c.layout.LogPath(n), tailFile(c.layout.LogPath(n), 40))
	}
	if err := c.stopAll(); err != nil {
		fmt.Fprintf(c.cfg.Log, "kafkalocal: stopping after failure: %v\n", err)
	}
}

func (c *Cluster) writeFiles() error {
	l := c.layout
	for _, n := range l.Nodes() {
		for _, d := range append([]string{l.NodeDir(n)}, n.LogDirs...) {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(l.PropertiesPath(n), []byte(l.Properties(n)), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(l.Log4jPath(), []byte(Log4j2Properties), 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(l.Dir, stateFile), append(b, '\n'), 0o644)
}

// formatAll formats the four nodes in parallel: each is a separate JVM start
// of a second or two, which dominates a warm start otherwise.
func (c *Cluster) formatAll(ctx context.Context) error {
	nodes := c.layout.Nodes()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = format(ctx, c.layout, n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// running reports whether every recorded JVM is alive and all brokers answer.
func (c *Cluster) running(ctx context.Context) bool {
	for _, n := range c.layout.Nodes() {
		if !c.procs.alive(c.layout, n, readPID(c.layout.PIDPath(n))) {
			return false
		}
	}
	// Retried for a while: a busy machine must not make Up wipe a live cluster.
	return c.waitReady(ctx, brokerIDs(c.layout.Brokers), runningCheckTimeout) == nil
}

// waitReady polls until the brokers in want are registered, unfenced (only
// those appear in metadata) and each answers ApiVersions itself. It gives up
// early if a JVM exits.
func (c *Cluster) waitReady(parent context.Context, want []int32, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	var last error
	for {
		for _, n := range c.layout.Nodes() {
			if n.Role == "broker" && !slices.Contains(want, n.ID) {
				continue
			}
			if !c.procs.alive(c.layout, n, readPID(c.layout.PIDPath(n))) {
				return fmt.Errorf("%s exited during start-up; see %s", n.Name, c.layout.LogPath(n))
			}
		}
		if last = c.probe(ctx, want); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("interrupted while waiting for brokers %v: %w", want, parent.Err())
			}
			return fmt.Errorf("brokers %v not ready after %s: %w", want, timeout, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// probe checks readiness once. It uses a fresh client each time: a client
// that first saw a partial cluster keeps that view for its metadata min age
// (5 s), which would hide brokers that came up since.
func (c *Cluster) probe(ctx context.Context, want []int32) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.Bootstrap()...),
		kgo.DialTimeout(time.Second),
		kgo.MetadataMinAge(100*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return err
	}
	have := brokers.NodeIDs()
	for _, id := range want {
		if !slices.Contains(have, id) {
			return fmt.Errorf("metadata lists brokers %v, want %v", have, want)
		}
	}
	versions, err := adm.ApiVersions(ctx)
	if err != nil {
		return err
	}
	for _, id := range want {
		v, ok := versions[id]
		if !ok {
			return fmt.Errorf("broker %d did not answer ApiVersions", id)
		}
		if v.Err != nil {
			return fmt.Errorf("broker %d: %w", id, v.Err)
		}
	}
	return nil
}

func brokerIDs(nodes []Node) []int32 {
	var ids []int32
	for _, n := range nodes {
		ids = append(ids, n.ID)
	}
	return ids
}
