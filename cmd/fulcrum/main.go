// Command fulcrum is the Fulcrum control plane: undermoon's memory broker (/api/v2) and
// the Kafka partition balancer (/balancer), on one port.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed248d40c9/fulcrum/actors"
	"github.com/seed248d40c9/fulcrum/actors/balancer"
	"github.com/seed248d40c9/fulcrum/actors/balancer/kafkaexec"
	"github.com/seed248d40c9/fulcrum/actors/meta"
	"github.com/seed248d40c9/fulcrum/httpapi"
	"github.com/seed248d40c9/fulcrum/persist"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		if err := serve(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "fulcrum:", err)
			os.Exit(1)
		}
	case "version":
		fmt.Println(Version)
	case "export-meta", "import-meta":
		if err := metaFile(os.Args[1], os.Args[2:], os.Getenv, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "fulcrum:", err)
			os.Exit(1)
		}
	case "-h", "--help", "help":
		usage(os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "fulcrum: unknown command %q\n", os.Args[1])
		usage(os.Stderr)
		os.Exit(2)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: fulcrum <command> [flags]

commands:
  serve        run the service (fulcrum serve --help lists its flags)
  export-meta  --data-dir D > file: write the state as undermoon's meta file (mem-broker-0.2)
  import-meta  --data-dir D file: replace the state of a stopped Fulcrum with a meta file
               (mem-broker-0.2 or 0.1; "-" reads standard input)
               Both take --etcd-endpoints E [--etcd-prefix P] instead of --data-dir for the
               state in etcd (import-meta: with no instance running).
  version      print the version`)
}

type serveConfig struct {
	storeConfig
	listen, advertiseAddr, kafkaBootstrap string
	failureTTL, syncMetaInterval          time.Duration
	failureQuorum, migrationLimit         int
	orderedProxy                          bool
	balancer                              balancer.ExecOptions
	replicaAddresses                      string
	logLevel, logFormat                   string
	memoryLimit                           int64 // MiB, 0: none
	maxBodyBytes, bodyBytesInFlight       int

	// Security (security.go).
	authTokenFile, coordinatorListen string
	coordinatorNetworks              []netip.Prefix
	tlsCert, tlsKey                  string
	pprof, replica                   bool
}

// parseServe reads the flags; each flag falls back to FULCRUM_<NAME> from the environment.
func parseServe(args []string, getenv func(string) string) (*serveConfig, error) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:7799", "HTTP listen address (both API families)")
	fs.StringVar(&c.advertiseAddr, "advertise-addr", "", "host:port the other instances reach this one's API at, and its ID in the etcd election (default --listen)")
	storeFlags(fs, &c.storeConfig)
	fs.StringVar(&c.kafkaBootstrap, "kafka-bootstrap", "", "Kafka bootstrap servers, comma separated (empty: balancer answers 503)")
	fs.DurationVar(&c.failureTTL, "failure-ttl", 60*time.Second, "how long a proxy failure report counts")
	fs.IntVar(&c.failureQuorum, "failure-quorum", 1, "distinct reporters needed to list a proxy as failed")
	fs.IntVar(&c.migrationLimit, "migration-limit", 1, "migration tasks shown at once (0 = unlimited)")
	fs.BoolVar(&c.orderedProxy, "ordered-proxy", false, "ordered-proxy mode (Kubernetes StatefulSets)")
	fs.StringVar(&c.replicaAddresses, "replica-addresses", "", "replica brokers, comma separated")
	fs.DurationVar(&c.syncMetaInterval, "sync-meta-interval", 10*time.Second, "replication period (negative: off)")
	fs.DurationVar(&c.balancer.StallTimeout, "balancer-stall-timeout", 2*time.Minute, "a plan that makes no progress for this long fails (and reverts)")
	fs.DurationVar(&c.balancer.PollInterval, "balancer-poll-interval", 500*time.Millisecond, "how often an executing plan reads Kafka")
	fs.IntVar(&c.balancer.MovesPerBroker, "balancer-concurrency", 5, "partition moves in flight into or out of one broker, unless a plan sets its own")
	fs.DurationVar(&c.balancer.KeepFinished, "balancer-keep-finished", 7*24*time.Hour, "how long a finished plan stays listed and stored")
	fs.IntVar(&c.balancer.MaxFinished, "balancer-max-finished", 100, "finished plans kept at most (the oldest are pruned first)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json or console")
	fs.Int64Var(&c.memoryLimit, "memory-limit", 160, "soft memory limit for the Go runtime in MiB (0: none; GOMEMLIMIT wins)")
	fs.IntVar(&c.maxBodyBytes, "max-body-bytes", 64<<20, "largest request body in bytes (413 beyond; at most --body-bytes-in-flight)")
	fs.IntVar(&c.bodyBytesInFlight, "body-bytes-in-flight", 64<<20, "request body bytes read or handled at once (503 OVERLOADED beyond, before reading)")
	securityFlags(fs, c)
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if b := c.balancer; b.StallTimeout < time.Second || b.PollInterval < 10*time.Millisecond || b.PollInterval >= b.StallTimeout {
		return nil, errors.New("--balancer-stall-timeout must be at least 1s, and --balancer-poll-interval at least 10ms and shorter than it")
	}
	if b := c.balancer; b.MovesPerBroker < 1 || b.KeepFinished < time.Second || b.MaxFinished < 1 {
		return nil, errors.New("--balancer-concurrency and --balancer-max-finished must be ≥ 1, --balancer-keep-finished at least 1s")
	}
	if c.failureTTL < time.Second {
		return nil, errors.New("--failure-ttl must be at least 1s")
	}
	if c.failureQuorum < 1 || c.failureQuorum > meta.MaxReporters || c.migrationLimit < 0 {
		return nil, fmt.Errorf("--failure-quorum must be 1 to %d and --migration-limit ≥ 0", meta.MaxReporters)
	}
	if c.memoryLimit < 0 {
		return nil, errors.New("--memory-limit must not be negative")
	}
	if c.maxBodyBytes <= 0 || c.bodyBytesInFlight <= 0 {
		return nil, errors.New("--max-body-bytes and --body-bytes-in-flight must be positive")
	}
	if c.logFormat != "json" && c.logFormat != "console" {
		return nil, fmt.Errorf("--log-format must be json or console, not %q", c.logFormat)
	}
	if err := c.checkSecurity(); err != nil {
		return nil, err
	}
	if err := c.storeConfig.check(); err != nil {
		return nil, err
	}
	if c.advertiseAddr == "" {
		c.advertiseAddr = c.listen
	}
	if c.etcdEndpoints != "" {
		if err := checkAdvertise(c.advertiseAddr); err != nil {
			return nil, err
		}
		// The instances on etcd are each other's replicas; undermoon's replication is for
		// one master and its read-only copies.
		if c.replica || c.replicaList() != nil {
			return nil, errors.New("--replica and --replica-addresses do not apply with --etcd-endpoints")
		}
	}
	return c, nil
}

// parseFlags sets each flag from FULCRUM_<NAME> in the environment, then parses args:
// flags win.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "FULCRUM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	return fs.Parse(args)
}

func newLogger(c *serveConfig) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(c.logLevel)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("--log-level: %w", err)
	}
	var w io.Writer = os.Stderr
	if c.logFormat == "console" {
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

func serve(args []string) error {
	c, err := parseServe(args, os.Getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	procs := raiseProcs(os.Getenv) // see minProcs: an fsync must not stop every other goroutine
	// Cached views make the heap grow with every coordinator round; a soft limit makes the
	// collector run before the heap doubles, which keeps 10,000 clusters under 200 MB.
	if c.memoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(c.memoryLimit << 20)
	}
	sec, err := loadSecurity(c)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// main owns the store and the actor system and hands them to both products: the broker
	// engine and the balancer each stop only what they spawned.
	store, err := c.storeConfig.open(c.advertiseAddr)
	if err != nil {
		return err
	}
	sys := actors.NewActorSystem(log)
	closeStore := func() {
		sys.Shutdown()
		// With etcd, closing revokes the lease: another instance takes over at once.
		if err := store.Close(); err != nil {
			log.Error().Err(err).Msg("close store")
		}
	}
	// The balancer is optional: without Kafka, GET /balancer answers 503.
	var (
		kafka *kgo.Client
		bal   *balancer.Balancer
	)
	stopBalancer := func() {
		if bal != nil {
			if err := bal.Stop(); err != nil {
				log.Error().Err(err).Msg("stop balancer")
			}
		}
		if kafka != nil {
			kafka.Close()
		}
	}
	_, ha := store.(*persist.EtcdStore)
	if c.kafkaBootstrap != "" {
		if kafka, err = newKafkaClient(c.kafkaBootstrap); err != nil {
			closeStore()
			return fmt.Errorf("--kafka-bootstrap: %w", err)
		}
		adm := kadm.NewClient(kafka)
		// Plans executed (POST /balancer) live in the store, in their own bucket; unfinished
		// ones are resumed here, or, with etcd, by whichever instance leads.
		bal, err = balancer.Start(sys, balancer.Options{
			Source: kafkaload.New(adm, kafkaLoadTimeout),
			Logger: log.With().Str("component", "balancer").Logger(), LoadTimeout: kafkaLoadTimeout,
			Executor: kafkaexec.NewAdmin(adm, 0), Store: store, Exec: c.balancer, Registerer: reg,
			Standby: ha,
		})
		if err != nil {
			stopBalancer()
			closeStore()
			return err
		}
	}
	var leadership func(bool)
	if bal != nil {
		leadership = bal.SetLeading
	}
	engine, err := actors.Start(actors.Options{
		Logger: log, Store: store, System: sys, Instance: c.advertiseAddr, Leadership: leadership,
		FailureTTL: c.failureTTL, FailureQuorum: c.failureQuorum,
		MigrationLimit: c.migrationLimit, OrderedProxy: c.orderedProxy, Registerer: reg,
		ReplicaAddresses: c.replicaList(), SyncMetaInterval: c.syncMetaInterval,
		ReplicationToken: sec.replicationToken,
	})
	if err != nil {
		stopBalancer()
		closeStore()
		return err
	}
	srv := httpapi.New(httpapi.Options{Engine: engine, Logger: log, Gatherer: reg, Registerer: reg, Version: Version, Balancer: bal,
		MaxBodyBytes: c.maxBodyBytes, BodyBytesInFlight: c.bodyBytesInFlight,
		Tokens: sec.tokens, CoordinatorNetworks: c.coordinatorNetworks, Pprof: c.pprof, Replica: c.replica})
	ln, coordLn, err := sec.listen(log)
	if err != nil {
		stopBalancer()
		engine.Stop()
		closeStore()
		return err
	}
	c.storeConfig.logTo(log.Info().Str("listen", ln.Addr().String()), store).
		Str("kafka_bootstrap", c.kafkaBootstrap).Str("advertise_addr", c.advertiseAddr).
		Str("version", Version).Int("gomaxprocs", procs).Bool("tls", c.tlsCert != "").Bool("auth", sec.tokens != nil).
		Str("coordinator_networks", networksString(c.coordinatorNetworks)).Bool("replica", c.replica).Msg("fulcrum serving")

	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()
	if coordLn != nil {
		log.Info().Str("coordinator_listen", coordLn.Addr().String()).Msg("serving coordinator calls on plain HTTP")
		go func() { served <- srv.ServeCoordinator(coordLn) }()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
wait:
	for {
		select {
		case s := <-sig:
			if s == syscall.SIGHUP {
				sec.reload(log)
				continue
			}
			log.Info().Str("signal", s.String()).Msg("shutting down")
			break wait
		case err := <-served:
			if err != nil {
				log.Error().Err(err).Msg("listener failed")
			}
			break wait
		}
	}
	// Shutdown order: stop accepting and drain in-flight requests, stop the balancer and
	// close its Kafka client, stop the engine's actors, the actor system, close the store.
	// Every acknowledged change is already on disk.
	if err := srv.Shutdown(); err != nil {
		log.Error().Err(err).Msg("http shutdown")
	}
	stopBalancer()
	err = engine.Stop()
	closeStore()
	if err != nil {
		return fmt.Errorf("stop engine: %w", err)
	}
	log.Info().Msg("stopped")
	return nil
}

// kafkaLoadTimeout bounds one read of the Kafka cluster's layout for a plan.
const kafkaLoadTimeout = 10 * time.Second

// newKafkaClient makes the balancer's client. It connects lazily, so a Kafka that is down at
// start-up makes /balancer answer 503 until it is back, not the service fail. Every request
// is bounded: dialing, each request, and retries.
func newKafkaClient(bootstrap string) (*kgo.Client, error) {
	var seeds []string
	for s := range strings.SplitSeq(bootstrap, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, errors.New("no broker address")
	}
	return kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("fulcrum"),
		kgo.DialTimeout(5*time.Second),
		kgo.RequestTimeoutOverhead(5*time.Second),
		kgo.RetryTimeout(kafkaLoadTimeout),
	)
}
