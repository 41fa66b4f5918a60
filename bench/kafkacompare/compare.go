package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed248d40c9/fulcrum/cmd/kafkalocal/kafkacluster"
	"github.com/seed248d40c9/fulcrum/planner"
	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

type compareEnv struct {
	kc      *kafkacluster.Cluster
	cl      *kgo.Client
	adm     *kadm.Client
	fulcrum *fulcrumProc
	flags   flags
	prefix  string
}

// layoutResult is one layout's row group of the table.
type layoutResult struct {
	layout     layout
	partitions int
	function   string
	current    Score
	fulcrum    Score
	fulcrumDur time.Duration
	also       []variant // Fulcrum with other parameters
	kafka      []Score   // one per run of --generate
	kafkaDur   []time.Duration
}

// variant is Fulcrum's plan with other query parameters.
type variant struct {
	query string
	score Score
	dur   time.Duration
}

// compare lays out l, asks both tools, scores their proposals and removes l's topics.
func (e *compareEnv) compare(ctx context.Context, l layout) (layoutResult, error) {
	res := layoutResult{layout: l}
	names := l.topicNames(e.prefix)
	if err := e.create(ctx, l, names); err != nil {
		return res, err
	}
	if err := settled(ctx, e.adm, names); err != nil {
		return res, err
	}
	snap, err := kafkaload.New(e.adm, 0).Load(ctx)
	if err != nil {
		return res, err
	}
	res.partitions = len(snap.Cluster.Partitions())

	// Fulcrum first: its answer names the cost functions both are scored with.
	start := time.Now()
	plan, err := e.fulcrum.balance(ctx, names, e.flags.seed, e.flags.query)
	if err != nil {
		return res, err
	}
	res.fulcrumDur = time.Since(start)
	fs, err := planner.ParseFunctions(plan.Function)
	if err != nil {
		return res, fmt.Errorf("GET /balancer function %q: %w", plan.Function, err)
	}
	res.function = plan.Function
	if res.current, err = score(snap.Cluster, fs, snap.Racks, nil); err != nil {
		return res, err
	}
	if res.fulcrum, err = score(snap.Cluster, fs, snap.Racks, plan.Changes); err != nil {
		return res, fmt.Errorf("the plan of Fulcrum: %w", err)
	}
	for q := range strings.SplitSeq(e.flags.also, ";") {
		if q = strings.TrimSpace(q); q == "" {
			continue
		}
		if e.flags.query != "" {
			q = e.flags.query + "&" + q
		}
		start := time.Now()
		plan, err := e.fulcrum.balance(ctx, names, e.flags.seed, q)
		if err != nil {
			return res, err
		}
		v := variant{query: q, dur: time.Since(start)}
		if plan.Function != res.function {
			return res, fmt.Errorf("GET /balancer?%s answered with functions %q, not %q: the scores would not compare", q, plan.Function, res.function)
		}
		if v.score, err = score(snap.Cluster, fs, snap.Racks, plan.Changes); err != nil {
			return res, fmt.Errorf("the plan of Fulcrum with %s: %w", q, err)
		}
		res.also = append(res.also, v)
	}

	for range e.flags.runs {
		start := time.Now()
		proposed, err := e.generate(ctx, names)
		if err != nil {
			return res, err
		}
		res.kafkaDur = append(res.kafkaDur, time.Since(start))
		changes, err := kafkaChanges(snap.Cluster, proposed)
		if err != nil {
			return res, err
		}
		s, err := score(snap.Cluster, fs, snap.Racks, changes)
		if err != nil {
			return res, fmt.Errorf("the proposal of kafka-reassign-partitions: %w", err)
		}
		res.kafka = append(res.kafka, s)
	}
	return res, e.remove(ctx, names)
}

func (e *compareEnv) create(ctx context.Context, l layout, names []string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for i, t := range l.topics {
		if err := kafkacluster.CreateTopic(ctx, e.cl, names[i], t.assignment); err != nil {
			return err
		}
		for p, n := range t.bytes {
			if err := kafkacluster.Fill(ctx, e.cl, names[i], int32(p), n); err != nil {
				return err
			}
		}
	}
	return nil
}

// generate runs kafka-reassign-partitions --generate for topics over every broker, rack
// aware (the tool's default), and returns its proposal.
func (e *compareEnv) generate(ctx context.Context, topics []string) (kafkacluster.Reassignment, error) {
	var doc struct {
		Version int                 `json:"version"`
		Topics  []map[string]string `json:"topics"`
	}
	doc.Version = 1
	for _, t := range topics {
		doc.Topics = append(doc.Topics, map[string]string{"topic": t})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return kafkacluster.Reassignment{}, err
	}
	file := filepath.Join(e.kc.Layout().Dir, "topics-to-move.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return kafkacluster.Reassignment{}, err
	}
	var ids []string
	for _, b := range e.kc.Layout().Brokers {
		ids = append(ids, fmt.Sprint(b.ID))
	}
	out, err := e.kc.Layout().RunTool(ctx, os.Stderr, kafkacluster.ReassignPartitionsCommand,
		"--bootstrap-server", strings.Join(e.kc.Bootstrap(), ","), "--generate",
		"--topics-to-move-json-file", file, "--broker-list", strings.Join(ids, ","))
	if err != nil {
		return kafkacluster.Reassignment{}, err
	}
	_, proposed, err := kafkacluster.ParseGenerate(out)
	return proposed, err
}

// remove deletes the topics and waits until no broker reports a log of theirs, so the next
// layout is read alone.
func (e *compareEnv) remove(ctx context.Context, topics []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := e.adm.DeleteTopics(ctx, topics...); err != nil {
		return err
	}
	for {
		dirs, err := e.adm.DescribeAllLogDirs(ctx, nil)
		left := 0
		if err == nil {
			dirs.Each(func(d kadm.DescribedLogDir) {
				for _, t := range topics {
					left += len(d.Topics[t])
				}
			})
		}
		if err == nil && left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics %v not gone: %d logs left (%v)", topics, left, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// settled waits until Kafka reports the same replica sizes of topics twice in a row, 500 ms
// apart: right after the writes, followers may still be catching up, and both tools must
// see the layout the score is computed on.
func settled(ctx context.Context, adm *kadm.Client, topics []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	prev := ""
	for {
		dirs, err := adm.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			return err
		}
		var lines []string
		dirs.Each(func(d kadm.DescribedLogDir) {
			for _, t := range topics {
				for p, part := range d.Topics[t] {
					lines = append(lines, fmt.Sprintf("%d %s %s-%d %d", d.Broker, d.Dir, t, p, part.Size))
				}
			}
		})
		slices.Sort(lines)
		cur := strings.Join(lines, "\n")
		if cur != "" && cur == prev {
			return nil
		}
		prev = cur
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica sizes of %v still changing: %w", topics, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
