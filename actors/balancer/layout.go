package balancer

import (
	"context"
	"errors"
	"time"

	"github.com/seed248d40c9/fulcrum/planner/kafkaload"
)

// Layout is what GET /balancer/layout shows: the cluster as the planner reads it, summed per
// broker and per log directory, so that a dashboard can draw it without the partitions.
type Layout struct {
	Brokers []BrokerLayout `json:"brokers"`
	Topics  []TopicLayout  `json:"topics"`
	ReadAt  time.Time      `json:"readAt"`
}

// BrokerLayout is one broker. Bytes count each partition at its planning size (its largest
// replica), as the cost functions and a plan's "migrations" do; Leaders are the partitions
// it leads now, PreferredLeaders those whose first replica it is (what a plan changes).
type BrokerLayout struct {
	ID               int32       `json:"id"`
	Rack             string      `json:"rack,omitempty"`
	Bytes            int64       `json:"bytes"`
	Replicas         int64       `json:"replicas"`
	Leaders          int64       `json:"leaders"`
	PreferredLeaders int64       `json:"preferredLeaders"`
	Dirs             []DirLayout `json:"dirs"`
}

// DirLayout is one log directory; TotalBytes and UsableBytes are its volume's, absent when
// Kafka does not report them (before 3.3).
type DirLayout struct {
	Directory   string `json:"directory"`
	Bytes       int64  `json:"bytes"`
	TotalBytes  int64  `json:"totalBytes,omitempty"`
	UsableBytes int64  `json:"usableBytes,omitempty"`
}

// TopicLayout is one topic; internal ones are never in a plan's default topics.
type TopicLayout struct {
	Name       string `json:"name"`
	Partitions int    `json:"partitions"`
	Internal   bool   `json:"internal,omitempty"`
}

// Layout reads the cluster (bounded by the load timeout) on the caller's goroutine: no actor
// is involved, as nothing is planned. Errors: ErrConflict when the layout cannot be read
// whole (a replica offline, a reassignment or directory move in progress), ErrUnavailable
// when Kafka does not answer, ErrStopped.
func (b *Balancer) Layout() (*Layout, error) {
	if b.stopped.Load() {
		return nil, ErrStopped
	}
	ctx, cancel := context.WithTimeout(b.cfg.base, b.cfg.loadTimeout)
	defer cancel()
	snap, err := b.cfg.source.Load(ctx)
	switch {
	case b.cfg.base.Err() != nil:
		return nil, ErrStopped
	case errors.Is(err, kafkaload.ErrNotPlannable):
		return nil, withKind(ErrConflict, err)
	case err != nil:
		return nil, withKind(ErrUnavailable, err)
	case snap == nil || snap.Cluster == nil:
		return nil, errorf(ErrInternal, "source returned no snapshot")
	}
	return layoutOf(snap), nil
}

func layoutOf(snap *kafkaload.Snapshot) *Layout {
	c := snap.Cluster
	leaders := map[int32]int64{}
	for _, parts := range snap.States {
		for _, st := range parts {
			if st.Leader >= 0 {
				leaders[st.Leader]++
			}
		}
	}
	l := &Layout{Brokers: []BrokerLayout{}, Topics: []TopicLayout{}, ReadAt: snap.ReadAt}
	brokers := c.Brokers()
	for i, load := range c.Loads() {
		br := brokers[i] // both sorted by id
		bl := BrokerLayout{ID: br.ID, Rack: br.Rack, Bytes: load.Bytes, Replicas: load.Replicas,
			Leaders: leaders[br.ID], PreferredLeaders: load.Leaders, Dirs: []DirLayout{}}
		for _, d := range load.Dirs {
			sp := br.Space[d.Directory]
			bl.Dirs = append(bl.Dirs, DirLayout{Directory: d.Directory, Bytes: d.Bytes, TotalBytes: sp.Total, UsableBytes: sp.Usable})
		}
		l.Brokers = append(l.Brokers, bl)
	}
	counts := map[string]int{}
	for _, p := range c.Partitions() {
		counts[p.Topic]++
	}
	for _, t := range c.Topics() {
		l.Topics = append(l.Topics, TopicLayout{Name: t, Partitions: counts[t], Internal: snap.Internal[t]})
	}
	return l
}
