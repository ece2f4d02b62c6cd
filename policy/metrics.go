package policy

import "github.com/prometheus/client_golang/prometheus"

// revisionCollector exposes the revision in force as
// gatehouse_policy_info{revision="…"} 1, read from the engine at each
// scrape so that it can never disagree with /readyz.
type revisionCollector struct {
	eng  *Engine
	desc *prometheus.Desc
}

// NewRevisionCollector returns a collector of gatehouse_policy_info, whose
// revision label is the content hash of the policy files in force.
func NewRevisionCollector(eng *Engine) prometheus.Collector {
	return &revisionCollector{eng: eng, desc: prometheus.NewDesc(
		"gatehouse_policy_info",
		"The policy in force; revision is the content hash of its files, as on /readyz.",
		[]string{"revision"}, nil,
	)}
}

// Describe sends the metric's description.
func (c *revisionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect sends the metric with the revision in force.
func (c *revisionCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1, c.eng.Revision())
}
