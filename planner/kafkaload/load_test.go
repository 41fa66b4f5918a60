package kafkaload_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkatest"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

func TestMain(m *testing.M) { os.Exit(kafkatest.Main(m)) }

// TestLoadRealKafka reads a topic laid out by hand on the real local cluster and checks
// every field against what Kafka says through other calls.
func TestLoadRealKafka(t *testing.T) {
	boot := kafkatest.Bootstrap(t)
	cl := kafkatest.Client(t, boot)
	adm := kadm.NewClient(cl)
	topic := kafkatest.Name("load")
	assignment := [][]int32{{1, 2}, {2, 3}, {3, 1}, {1, 3}}
	kafkatest.CreateTopic(t, cl, topic, assignment)
	for p := range assignment {
		kafkatest.Fill(t, cl, topic, int32(p), (p+1)*64<<10)
	}
	// Committing a group's offset creates __consumer_offsets, an internal topic.
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CommitOffsets(ctx, kafkatest.Name("group"), offsets); err != nil {
		t.Fatal(err)
	}

	snap, err := kafkaload.New(adm, 0).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	layout := kafkatest.Layout(t, boot)
	brokers := snap.Cluster.Brokers()
	if len(brokers) != len(layout.Brokers) {
		t.Fatalf("%d brokers, want %d", len(brokers), len(layout.Brokers))
	}
	for i, b := range brokers {
		if b.ID != int32(i+1) || len(b.Dirs) != 2 {
			t.Fatalf("broker %+v: want id %d with 2 log dirs", b, i+1)
		}
		for _, d := range b.Dirs {
			described, ok := dirs[b.ID][d]
			if !ok {
				t.Fatalf("broker %d dir %s not described by Kafka", b.ID, d)
			}
			// Kafka 4 reports the volume of every directory: the disk usage constraint
			// has what it needs.
			if sp := b.Space[d]; sp.Total != described.TotalBytes || sp.Total <= 0 || sp.Usable <= 0 || sp.Usable > sp.Total {
				t.Fatalf("broker %d dir %s space %+v, Kafka says total %d usable %d", b.ID, d, sp, described.TotalBytes, described.UsableBytes)
			}
		}
		if b.Rack != snap.Racks[b.ID] {
			t.Fatalf("broker %d rack %q, metadata says %q", b.ID, b.Rack, snap.Racks[b.ID])
		}
	}
	if want := kafkatest.LayoutRacks(layout); !maps.Equal(snap.Racks, want) {
		t.Fatalf("racks %v, want %v", snap.Racks, want)
	}
	if !snap.Internal["__consumer_offsets"] || snap.Internal[topic] {
		t.Fatalf("internal topics %v", snap.Internal)
	}
	if slices.Contains(snap.DefaultTopics(), "__consumer_offsets") || !slices.Contains(snap.DefaultTopics(), topic) {
		t.Fatalf("default topics %v", snap.DefaultTopics())
	}
	seen := 0
	for _, p := range snap.Cluster.Partitions() {
		if p.Topic != topic {
			continue
		}
		seen++
		want := assignment[p.Partition]
		var got []int32
		for _, r := range p.Replicas {
			got = append(got, r.BrokerID)
			lp, ok := dirs[r.BrokerID].LookupPartition(topic, p.Partition)
			if !ok || lp.Dir != r.Directory || lp.Size != r.Size {
				t.Fatalf("%s-%d on broker %d: loaded %s/%d, Kafka says %s/%d", topic, p.Partition, r.BrokerID, r.Directory, r.Size, lp.Dir, lp.Size)
			}
			if r.Size < int64(p.Partition+1)*64<<10 {
				t.Fatalf("%s-%d on broker %d: size %d, wrote %d", topic, p.Partition, r.BrokerID, r.Size, (p.Partition+1)*64<<10)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s-%d replicas %v, want %v (preferred leader first)", topic, p.Partition, got, want)
		}
		st := snap.States[topic][p.Partition]
		if st.Leader != want[0] || len(st.ISR) != len(want) {
			t.Fatalf("%s-%d state %+v, want leader %d and full ISR", topic, p.Partition, st, want[0])
		}
	}
	if seen != len(assignment) {
		t.Fatalf("%d partitions of %s loaded, want %d", seen, topic, len(assignment))
	}
}

// TestLoadUnreachable: a Kafka that does not answer is ErrUnavailable within the timeout.
func TestLoadUnreachable(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.DialTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	start := time.Now()
	_, err = kafkaload.New(kadm.NewClient(cl), time.Second).Load(context.Background())
	if !errors.Is(err, kafkaload.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s with a 1s timeout", d)
	}
}

// TestLoadRightAfterCreate: a topic created a moment before, whose logs the brokers have
// not all created yet, does not make the reading fail: Load waits for its logs. (Another
// client's new topic used to turn a GET /balancer about other topics into a 409.) Readings
// from the creation on must all succeed, until one lists the whole topic.
func TestLoadRightAfterCreate(t *testing.T) {
	boot := kafkatest.Bootstrap(t)
	adm := kadm.NewClient(kafkatest.Client(t, boot))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for range 3 {
		topic := kafkatest.Name("fresh")
		resp, err := adm.CreateTopic(ctx, 12, 3, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatal(err)
		}
		for {
			snap, err := kafkaload.New(adm, 0).Load(ctx)
			if err != nil {
				t.Fatalf("load after creating %s: %v", topic, err)
			}
			if got := len(snap.States[topic]); got == 12 {
				break
			} else if got != 0 {
				t.Fatalf("%s: %d partitions loaded, want 12", topic, got)
			}
			if ctx.Err() != nil {
				t.Fatalf("no reading listed %s", topic)
			}
		}
	}
}
