package balancer

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the balancer's Prometheus metrics, registered on the registerer the embedder
// gives (Options.Registerer), never on prometheus' global one.
type metrics struct {
	plans         *prometheus.GaugeVec
	bytesMoved    prometheus.Counter
	searchSeconds prometheus.Histogram
	kafkaErrors   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		plans: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fulcrum_balancer_plans", Help: "Executed plans known (running and kept), by phase."}, []string{"phase"}),
		bytesMoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fulcrum_balancer_bytes_moved_total", Help: "Bytes copied by executing plans (log sizes on the destinations)."}),
		searchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fulcrum_balancer_search_seconds", Help: "Time to answer a plan search (GET /balancer), Kafka read included.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		kafkaErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_balancer_kafka_errors_total", Help: "Failed Kafka calls of the balancer, by operation."}, []string{"op"}),
	}
	// Shown at 0 from the start, so a dashboard finds them before the first error.
	m.kafkaErrors.WithLabelValues("load")
	m.kafkaErrors.WithLabelValues("read")
	if reg != nil {
		reg.MustRegister(m.plans, m.bytesMoved, m.searchSeconds, m.kafkaErrors)
	}
	return m
}

// searched records a search's duration, and a failed read of Kafka.
func (m *metrics) searched(start time.Time, err error) {
	m.searchSeconds.Observe(time.Since(start).Seconds())
	if err != nil && errors.Is(err, ErrUnavailable) {
		m.kafkaErrors.WithLabelValues("load").Inc()
	}
}
