// Command kafkacompare sets Fulcrum's balancer beside Kafka's own tool on a real local
// Kafka: it starts a 6-broker, 3-rack cluster (cmd/kafkalocal) and a fulcrum process, lays
// out three skewed layouts one after the other, asks GET /balancer and
// kafka-reassign-partitions --generate for each, scores both proposals with the planner's
// own cost and move accounting (planner.Evaluate) on one reading of the cluster, and writes
// the table into the kafka-compare block of bench/RESULTS.md. Nothing is executed: both
// tools only propose.
//
//	kafkacompare [-fulcrum bin/fulcrum] [-results bench/RESULTS.md] [-runs 5] [-seed 1] [-query ...] [-also 'minGain=0;...']
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed248d40c9/fulcrum/bench/resultsfile"
	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
)

// The cluster the layouts are written for.
const (
	brokers = 6
	racks   = 3
)

type flags struct {
	fulcrum, results, query, also string
	runs                          int
	seed                          uint64
}

func main() {
	var f flags
	fs := flag.NewFlagSet("kafkacompare", flag.ExitOnError)
	fs.StringVar(&f.fulcrum, "fulcrum", "bin/fulcrum", "the fulcrum binary to run")
	fs.StringVar(&f.results, "results", "bench/RESULTS.md", "results file whose kafka-compare block is rewritten; empty: print only")
	fs.IntVar(&f.runs, "runs", 5, "runs of kafka-reassign-partitions --generate per layout (it is random)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of Fulcrum's search")
	fs.StringVar(&f.query, "query", "", "more query parameters of GET /balancer (e.g. limit=50000)")
	fs.StringVar(&f.also, "also", "minGain=0", "semicolon list of other GET /balancer parameter sets to show beside the defaults")
	_ = fs.Parse(os.Args[1:])
	if f.runs < 1 {
		fmt.Fprintln(os.Stderr, "kafkacompare: -runs must be ≥ 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f); err != nil {
		fmt.Fprintf(os.Stderr, "kafkacompare: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags) (err error) {
	tmp, err := os.MkdirTemp("", "fulcrum-kafkacompare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	start := time.Now()
	kc, _, err := kafkacluster.Up(ctx, kafkacluster.Config{
		Dir: filepath.Join(tmp, "kafka"), Brokers: brokers, Racks: racks, Log: os.Stderr,
	})
	if err != nil {
		return fmt.Errorf("start Kafka: %w", err)
	}
	defer func() { err = errors.Join(err, kc.Down()) }()
	fmt.Fprintf(os.Stderr, "kafkacompare: Kafka up in %s\n", time.Since(start).Round(100*time.Millisecond))

	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(kc.Bootstrap()...), kgo.DialTimeout(5 * time.Second), kgo.RetryTimeout(30 * time.Second),
	}, kafkacluster.FillClientOpts()...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	fp, err := startFulcrum(f.fulcrum, kc.Bootstrap(), tmp)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, fp.stop()) }()

	env := &compareEnv{kc: kc, cl: cl, adm: adm, fulcrum: fp, flags: f, prefix: fmt.Sprintf("cmp%d", time.Now().Unix()%100000)}
	var results []layoutResult
	for _, l := range layouts() {
		fmt.Fprintf(os.Stderr, "kafkacompare: layout %s\n", l.name)
		r, err := env.compare(ctx, l)
		if err != nil {
			return fmt.Errorf("layout %s: %w", l.name, err)
		}
		results = append(results, r)
	}
	table := render(results, f, kc.Layout())
	fmt.Print(table)
	if f.results == "" {
		return nil
	}
	return resultsfile.Update(f.results, "kafka-compare", table)
}
