package actors

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's own measurements; they are registered on the registerer the
// embedder gives, never on prometheus' global one.
type Metrics struct {
	commitSeconds prometheus.Histogram
	batchSize     prometheus.Histogram
	askSeconds    *prometheus.HistogramVec
	askByOp       sync.Map // op → prometheus.Observer, resolved once

	replicationPushes *prometheus.CounterVec
	pendingChanges    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fulcrum_store_commit_seconds", Help: "Time to write and fsync one batch of changes.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14)}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fulcrum_store_batch_changes", Help: "Changes written by one store commit (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		askSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fulcrum_actor_ask_seconds", Help: "Round trip of an ask to the engine's actors, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.00002, 2, 16)}, []string{"op"}),
	}
	m.replicationPushes = replicationCounter()
	m.pendingChanges = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fulcrum_pool_pending_changes", Help: "Accepted changes waiting for their batch to reach the disk."})
	if reg != nil {
		reg.MustRegister(m.commitSeconds, m.batchSize, m.askSeconds, m.replicationPushes, m.pendingChanges)
	}
	return m
}

// ask is the latency observer of one operation.
func (m *Metrics) ask(op string) prometheus.Observer {
	if o, ok := m.askByOp.Load(op); ok {
		return o.(prometheus.Observer)
	}
	o, _ := m.askByOp.LoadOrStore(op, m.askSeconds.WithLabelValues(op))
	return o.(prometheus.Observer)
}
