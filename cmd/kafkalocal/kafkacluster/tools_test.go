package kafkacluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkatest"
)

func TestParseGenerate(t *testing.T) {
	out := "Current partition replica assignment\n" +
		`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,4],"log_dirs":["/a","/b"]}]}` + "\n\n" +
		"Proposed partition reassignment configuration\n" +
		`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[4,2],"log_dirs":["any","any"]}]}` + "\n"
	cur, prop, err := kafkacluster.ParseGenerate([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(cur.Partitions) != 1 || !slices.Equal(cur.Partitions[0].Replicas, []int32{1, 4}) ||
		len(prop.Partitions) != 1 || !slices.Equal(prop.Partitions[0].Replicas, []int32{4, 2}) || prop.Partitions[0].Topic != "t" {
		t.Fatalf("current %+v proposed %+v", cur, prop)
	}
	for _, bad := range []string{
		"",
		"Current partition replica assignment\n{}\n",
		"Current partition replica assignment\n{\"version\":1}\n\nProposed partition reassignment configuration\n{not json}\n",
	} {
		if _, _, err := kafkacluster.ParseGenerate([]byte(bad)); err == nil {
			t.Errorf("%q: parsed", bad)
		}
	}
}

// TestRunToolGenerate runs Kafka's own kafka-reassign-partitions --generate against the test
// cluster for a topic whose replicas share racks: it knows every broker and its rack (our
// broker.rack reaches Kafka), so its proposal uses only the cluster's brokers and puts each
// partition's replicas on distinct racks.
func TestRunToolGenerate(t *testing.T) {
	boot := kafkatest.Bootstrap(t)
	layout := kafkatest.Layout(t, boot)
	racks := kafkatest.Racks(t, boot)
	cl := kafkatest.Client(t, boot)
	topic := kafkatest.Name("tool")
	kafkatest.CreateTopic(t, cl, topic, kafkatest.RackBreaking(t, layout, 6, 2))

	moves, err := json.Marshal(map[string]any{"version": 1, "topics": []map[string]string{{"topic": topic}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "topics.json")
	if err := os.WriteFile(file, moves, 0o644); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range layout.Brokers {
		ids = append(ids, fmt.Sprint(b.ID))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := layout.RunTool(ctx, os.Stderr, kafkacluster.ReassignPartitionsCommand,
		"--bootstrap-server", strings.Join(boot, ","), "--generate",
		"--topics-to-move-json-file", file, "--broker-list", strings.Join(ids, ","))
	if err != nil {
		t.Fatal(err)
	}
	cur, prop, err := kafkacluster.ParseGenerate(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur.Partitions) != 6 || len(prop.Partitions) != 6 {
		t.Fatalf("current %d partitions, proposed %d; want 6:\n%s", len(cur.Partitions), len(prop.Partitions), out)
	}
	for _, p := range cur.Partitions {
		if kafkatest.SharedRack(racks, p.Replicas) == "" {
			t.Fatalf("current %s-%d on %v: the topic was laid out with replicas sharing a rack", p.Topic, p.Partition, p.Replicas)
		}
	}
	for _, p := range prop.Partitions {
		if p.Topic != topic || len(p.Replicas) != 2 || kafkatest.SharedRack(racks, p.Replicas) != "" {
			t.Fatalf("proposed %+v: want 2 replicas on distinct racks", p)
		}
		for _, b := range p.Replicas {
			if _, ok := racks[b]; !ok {
				t.Fatalf("proposed %+v: broker %d is not in the cluster", p, b)
			}
		}
	}
}
