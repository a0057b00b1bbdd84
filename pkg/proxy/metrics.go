package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics uses kube-proxy's names (subsystem "kubeproxy", label ip_family) so
// dashboards and alerts written for kube-proxy keep working.
type metrics struct {
	syncDuration        prometheus.Observer
	fullSyncDuration    prometheus.Observer
	partialSyncDuration prometheus.Observer
	lastSync            prometheus.Gauge
	syncFailures        prometheus.Counter
	programming         prometheus.Observer
}

// syncBuckets are kube-proxy's: 1 ms doubling to about 16 s.
var syncBuckets = prometheus.ExponentialBuckets(0.001, 2, 15)

// programmingBuckets start lower than kube-proxy's (which starts at 250 ms)
// because a lab programs a change in milliseconds, then follow its coarse
// tail for slow syncs.
var programmingBuckets = []float64{0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}

func newMetrics(reg prometheus.Registerer) *metrics {
	labels := prometheus.Labels{"ip_family": "IPv4"}
	hist := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{
			Subsystem: "kubeproxy", Name: name, Help: help, Buckets: buckets, ConstLabels: labels,
		})
	}
	sync := hist("sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds", syncBuckets)
	full := hist("sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs", syncBuckets)
	partial := hist("sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs", syncBuckets)
	prog := hist("network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds", programmingBuckets)
	last := prometheus.NewGauge(prometheus.GaugeOpts{
		Subsystem: "kubeproxy", Name: "sync_proxy_rules_last_timestamp_seconds",
		Help: "The last time proxy rules were successfully synced", ConstLabels: labels,
	})
	failures := prometheus.NewCounter(prometheus.CounterOpts{
		Subsystem: "kubeproxy", Name: "sync_proxy_rules_nftables_sync_failures_total",
		Help: "Cumulative proxy nftables sync failures", ConstLabels: labels,
	})
	if reg != nil {
		reg.MustRegister(sync, full, partial, prog, last, failures)
	}
	return &metrics{sync, full, partial, last, failures, prog}
}
