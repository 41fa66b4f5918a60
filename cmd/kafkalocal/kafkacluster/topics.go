package kafkacluster

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Helpers to lay out topics by hand, for the balancer's tests and demos: a skewed layout is
// one Kafka would never choose by itself.

// CreateTopic creates a topic whose partition i has the replicas assignment[i] (the first is
// the preferred leader; every partition needs the same count) and waits until every partition
// has its leader and a full ISR, or ctx ends.
func CreateTopic(ctx context.Context, cl *kgo.Client, name string, assignment [][]int32) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 15000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, -1, -1
	for p, brokers := range assignment {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = int32(p), brokers
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
	}
	adm := kadm.NewClient(cl)
	for {
		md, err := adm.Metadata(ctx, name)
		if err == nil && topicReady(md.Topics[name], assignment) {
			// Metadata lists the replicas before every broker has created their logs; the
			// balancer refuses a layout with a replica without a log (409), so a GET /balancer
			// of any other test would fail while this topic is being created.
			set := make(kadm.TopicsSet)
			for p := range assignment {
				set.Add(name, int32(p))
			}
			var dirs kadm.DescribedAllLogDirs
			dirs, err = adm.DescribeAllLogDirs(ctx, set)
			if err == nil && logsReady(dirs, name, assignment) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s not ready: %w (last metadata error: %v)", name, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func topicReady(td kadm.TopicDetail, assignment [][]int32) bool {
	if td.Err != nil || len(td.Partitions) != len(assignment) {
		return false
	}
	for p, want := range assignment {
		pd, ok := td.Partitions[int32(p)]
		if !ok || pd.Err != nil || pd.Leader < 0 || len(pd.ISR) != len(want) || !slices.Equal(pd.Replicas, want) {
			return false
		}
	}
	return true
}

// logsReady reports whether every replica of the assignment has its log on its broker.
func logsReady(dirs kadm.DescribedAllLogDirs, topic string, assignment [][]int32) bool {
	for p, brokers := range assignment {
		for _, b := range brokers {
			found := false
			for _, d := range dirs[b] {
				if _, ok := d.Topics[topic][int32(p)]; ok {
					found = true
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

// Fill writes at least n bytes to one partition in random (incompressible) records of
// 16 KiB and returns when every in-sync replica has them, so DescribeLogDirs reports the size
// on every replica. The client must use kgo.ManualPartitioner, and should not compress.
func Fill(ctx context.Context, cl *kgo.Client, topic string, partition int32, n int) error {
	value := make([]byte, 16<<10)
	_, _ = rand.Read(value)
	var records []*kgo.Record
	for written := 0; written < n; written += len(value) {
		records = append(records, &kgo.Record{Topic: topic, Partition: partition, Value: value})
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("produce to %s-%d: %w", topic, partition, err)
	}
	return nil
}

// FillClientOpts are the producer options Fill needs.
func FillClientOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1 << 20),
		// Sizes on disk must be what was written.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	}
}
