package proxy

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Request outcomes, the decision label of gatehouse_requests_total.
const (
	outcomeAllow = iota
	outcomeDeny
	outcomeUnauthenticated
	outcomeBadRequest
	outcomeNotFound
	outcomeError
	outcomeWouldDeny // shadow mode: denied by the policy, forwarded anyway
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"allow", "deny", "unauthenticated", "bad_request", "not_found", "error", "would_deny"}

// Metrics are the data plane's Prometheus metrics.
type Metrics struct {
	requests        *prometheus.CounterVec
	decisionSeconds prometheus.Observer
	upstreamSeconds prometheus.Observer
	upstreamErrors  prometheus.Counter
	// streamsOpen are the open long-lived connections by kind (resolved
	// once); streamsClosed counts those Gatehouse closed, by cause.
	streamsOpen   map[string]prometheus.Gauge
	streamsClosed *prometheus.CounterVec

	// counters caches one counter per outcome and permission; permissions
	// come from the policy, so it is bounded by the policy's size.
	counters [numOutcomes]sync.Map
}

// NewMetrics creates the metrics and registers them with reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_requests_total",
			Help: "Requests on the data plane by decision and by the permission that allowed them.",
		}, []string{"decision", "permission"}),
	}
	decision := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "gatehouse_decision_duration_seconds",
		Help:    "Time to authenticate and authorize a request.",
		Buckets: []float64{1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 5e-5, 1e-4, 1e-3, 1e-2},
	})
	upstream := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "gatehouse_upstream_duration_seconds",
		Help:    "Time to proxy an allowed request to the upstream, body included.",
		Buckets: prometheus.DefBuckets,
	})
	m.upstreamErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_upstream_errors_total",
		Help: "Requests the upstream could not answer (502).",
	})
	m.decisionSeconds, m.upstreamSeconds = decision, upstream
	open := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gatehouse_streams_open",
		Help: "Open long-lived connections on the data plane (WebSockets, streaming responses) that are decided again on every change, by kind.",
	}, []string{"kind"})
	m.streamsOpen = map[string]prometheus.Gauge{
		kindWebSocket: open.WithLabelValues(kindWebSocket),
		kindStream:    open.WithLabelValues(kindStream),
	}
	m.streamsClosed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_streams_closed_total",
		Help: "Long-lived connections Gatehouse closed, by cause (revoked, expired, capacity, shutdown).",
	}, []string{"cause"})
	for _, c := range []string{causeRevoked, causeExpired, causeCapacity, causeShutdown} {
		m.streamsClosed.WithLabelValues(c) // present at 0, for alerts
	}
	if reg != nil {
		reg.MustRegister(m.requests, decision, upstream, m.upstreamErrors, open, m.streamsClosed)
	}
	return m
}

func (m *Metrics) count(outcome int, permission string) {
	if c, ok := m.counters[outcome].Load(permission); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := m.requests.WithLabelValues(outcomeNames[outcome], permission)
	m.counters[outcome].Store(permission, c)
	c.Inc()
}
