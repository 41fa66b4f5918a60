// Package plantest makes synthetic, skewed Kafka layouts for the planner's tests and
// benchmarks and for load generators. Everything is deterministic for a given Config.
package plantest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/seed248d40c9/fulcrum/planner"
)

// Config describes a synthetic cluster.
type Config struct {
	Brokers           int // broker ids are 1..Brokers
	DirsPerBroker     int // directories are /data/0 .. /data/N-1 on each broker
	Topics            int // topics are topic-000, topic-001, ...
	Partitions        int // in total, spread round-robin over the topics
	ReplicationFactor int
	// Skew concentrates replicas on low broker ids and low directories: broker i is chosen
	// with weight exp(−Skew·i/(Brokers−1)). 0 gives a uniform placement.
	Skew float64
	// EmptyBrokers are added last and hold nothing, as after a scale-out.
	EmptyBrokers int
	// MeanPartitionBytes is the mean partition size; sizes are log-normal (σ = 1) times a
	// per-topic factor, so a few partitions are much larger than the rest.
	MeanPartitionBytes int64
	Seed               uint64
	// Racks, when > 0, puts broker i on rack "rack-" + 'a'+(i−1) mod Racks (round-robin,
	// as kafkalocal does). The placement ignores racks, so replicas may share one.
	Racks int
}

// Benchmark is the planner target (README, Targets): 12 brokers (2 of them new and empty), 3
// directories each, 5,000 partitions with replication factor 3, skewed.
func Benchmark() Config {
	return Config{
		Brokers: 12, DirsPerBroker: 3, Topics: 50, Partitions: 5000, ReplicationFactor: 3,
		Skew: 1.5, EmptyBrokers: 2, MeanPartitionBytes: 1 << 30, Seed: 1,
	}
}

// Large is the cluster at scale: 100 brokers (10 of them new and empty), 4
// directories each, 33,000 partitions with replication factor 3 (about 100,000 replicas),
// skewed.
func Large() Config {
	return Config{
		Brokers: 100, DirsPerBroker: 4, Topics: 330, Partitions: 33000, ReplicationFactor: 3,
		Skew: 1.5, EmptyBrokers: 10, MeanPartitionBytes: 1 << 30, Seed: 1,
	}
}

// Generate returns the brokers and partitions of a synthetic cluster.
func Generate(cfg Config) ([]planner.Broker, []planner.Partition, error) {
	placed := cfg.Brokers - cfg.EmptyBrokers
	switch {
	case cfg.Brokers <= 0 || cfg.DirsPerBroker <= 0 || cfg.Topics <= 0 || cfg.Partitions < 0:
		return nil, nil, errors.New("brokers, dirs per broker and topics must be > 0")
	case cfg.EmptyBrokers < 0 || cfg.ReplicationFactor <= 0 || cfg.ReplicationFactor > placed:
		return nil, nil, fmt.Errorf("replication factor %d does not fit on %d non-empty brokers", cfg.ReplicationFactor, placed)
	case cfg.Skew < 0 || cfg.MeanPartitionBytes < 0 || cfg.Racks < 0:
		return nil, nil, errors.New("skew and partition size must be ≥ 0")
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x706c616e74657374))

	brokers := make([]planner.Broker, cfg.Brokers)
	for i := range brokers {
		brokers[i].ID = int32(i + 1)
		if cfg.Racks > 0 {
			brokers[i].Rack = RackName(i % cfg.Racks)
		}
		for d := range cfg.DirsPerBroker {
			brokers[i].Dirs = append(brokers[i].Dirs, fmt.Sprintf("/data/%d", d))
		}
	}
	brokerWeight := skewedWeights(placed, cfg.Skew)
	dirWeight := skewedWeights(cfg.DirsPerBroker, cfg.Skew)

	topicFactor := make([]float64, cfg.Topics)
	for t := range topicFactor {
		topicFactor[t] = math.Exp(rng.NormFloat64())
	}
	// exp(N(0,1)) has mean e^½ and the topic factor too: divide both out to hit the mean.
	scale := float64(cfg.MeanPartitionBytes) / math.E

	partitions := make([]planner.Partition, cfg.Partitions)
	for i := range partitions {
		t := i % cfg.Topics
		size := int64(scale * topicFactor[t] * math.Exp(rng.NormFloat64()))
		p := planner.Partition{Topic: fmt.Sprintf("topic-%03d", t), Partition: int32(i / cfg.Topics)}
		for _, b := range pickDistinct(rng, brokerWeight, cfg.ReplicationFactor) {
			dir := pickDistinct(rng, dirWeight, 1)[0]
			p.Replicas = append(p.Replicas, planner.Replica{
				BrokerID: brokers[b].ID, Directory: brokers[b].Dirs[dir], Size: size,
			})
		}
		partitions[i] = p
	}
	return brokers, partitions, nil
}

// Cluster builds the planner's cluster of a synthetic layout.
func Cluster(cfg Config) (*planner.Cluster, error) {
	brokers, partitions, err := Generate(cfg)
	if err != nil {
		return nil, err
	}
	return planner.NewCluster(brokers, partitions)
}

// RackName is the name of the i-th rack: rack-a, rack-b, … rack-z, rack-26, …
func RackName(i int) string {
	if i < 26 {
		return "rack-" + string(rune('a'+i))
	}
	return fmt.Sprintf("rack-%d", i)
}

func skewedWeights(n int, skew float64) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
		if n > 1 {
			w[i] = math.Exp(-skew * float64(i) / float64(n-1))
		}
	}
	return w
}

// pickDistinct draws k distinct indexes with probability proportional to weight.
func pickDistinct(rng *rand.Rand, weight []float64, k int) []int {
	taken := make([]bool, len(weight))
	out := make([]int, 0, k)
	for range k {
		var total float64
		for i, w := range weight {
			if !taken[i] {
				total += w
			}
		}
		x := rng.Float64() * total
		pick := -1
		for i, w := range weight {
			if taken[i] {
				continue
			}
			pick = i
			if x < w {
				break
			}
			x -= w
		}
		taken[pick] = true
		out = append(out, pick)
	}
	return out
}
