package dns

import (
	"strconv"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics carry CoreDNS's names and labels (plugin/metrics/vars.go), so
// dashboards and alerts written for CoreDNS keep working. view is always ""
// (podnet has no views).
type metrics struct {
	requests     *prometheus.CounterVec
	responses    *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	requestSize  *prometheus.HistogramVec
	responseSize *prometheus.HistogramVec
	panics       prometheus.Counter
	zoneBuilds   prometheus.Counter
	zoneBuildDur prometheus.Histogram
	cacheHits    *prometheus.CounterVec
	cacheMisses  *prometheus.CounterVec
	cacheSize    *prometheus.GaugeVec
	// programming is CoreDNS's DNS programming latency: from the change the
	// store saw to the zone that answers it.
	programming *prometheus.HistogramVec
}

// sizeBuckets are CoreDNS's, in bytes.
var sizeBuckets = []float64{0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "coredns", Subsystem: "dns", Name: "requests_total",
			Help: "Counter of DNS requests made per zone, protocol and family.",
		}, []string{"server", "zone", "view", "proto", "family", "type"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "coredns", Subsystem: "dns", Name: "responses_total",
			Help: "Counter of response status codes.",
		}, []string{"server", "zone", "view", "rcode", "plugin"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "coredns", Subsystem: "dns", Name: "request_duration_seconds",
			Help:    "Histogram of the time (in seconds) each request took per zone.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16),
		}, []string{"server", "zone", "view", "type"}),
		requestSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "coredns", Subsystem: "dns", Name: "request_size_bytes",
			Help: "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.", Buckets: sizeBuckets,
		}, []string{"server", "zone", "view", "proto"}),
		responseSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "coredns", Subsystem: "dns", Name: "response_size_bytes",
			Help: "Size of the returned response in bytes.", Buckets: sizeBuckets,
		}, []string{"server", "zone", "view", "proto"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "coredns", Name: "panics_total", Help: "A metrics that counts the number of panics.",
		}),
		zoneBuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "podnet", Subsystem: "dns", Name: "zone_builds_total",
			Help: "Zone snapshots compiled from cluster state.",
		}),
		zoneBuildDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "podnet", Subsystem: "dns", Name: "zone_build_duration_seconds",
			Help:    "Time to list cluster state and compile one zone snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "coredns", Subsystem: "cache", Name: "hits_total",
			Help: "The count of cache hits.",
		}, []string{"server", "type", "zones", "view"}),
		cacheMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "coredns", Subsystem: "cache", Name: "misses_total",
			Help: "The count of cache misses.",
		}, []string{"server", "zones", "view"}),
		cacheSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "coredns", Subsystem: "cache", Name: "entries",
			Help: "The number of elements in the cache.",
		}, []string{"server", "type", "zones", "view"}),
		programming: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "coredns", Subsystem: "kubernetes", Name: "dns_programming_duration_seconds",
			Help:    "Histogram of the time (in seconds) it took to program a dns instance.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 20),
		}, []string{"service_kind"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.responses, m.duration, m.requestSize,
		m.responseSize, m.panics, m.zoneBuilds, m.zoneBuildDur, m.cacheHits, m.cacheMisses, m.cacheSize, m.programming} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// typeLabel keeps the type label's cardinality bounded as CoreDNS does:
// common types by name, everything else "other".
func typeLabel(t uint16) string {
	switch t {
	case mdns.TypeA, mdns.TypeAAAA, mdns.TypeMX, mdns.TypeSOA, mdns.TypeCNAME, mdns.TypePTR,
		mdns.TypeTXT, mdns.TypeNS, mdns.TypeSRV, mdns.TypeDS, mdns.TypeDNSKEY, mdns.TypeRRSIG,
		mdns.TypeNSEC, mdns.TypeNSEC3, mdns.TypeHTTPS, mdns.TypeIXFR, mdns.TypeAXFR, mdns.TypeANY:
		return mdns.TypeToString[t]
	}
	return "other"
}

func rcodeLabel(rc int) string {
	if s, ok := mdns.RcodeToString[rc]; ok {
		return s
	}
	return strconv.Itoa(rc)
}

// The cache's zones label is "." : podnet has one cache per server.
func (m *metrics) cacheHit(server string, reply *mdns.Msg) {
	kind := "success"
	if len(reply.Answer) == 0 {
		kind = "denial"
	}
	m.cacheHits.WithLabelValues(server, kind, ".", "").Inc()
}

func (m *metrics) cacheMiss(server string) {
	m.cacheMisses.WithLabelValues(server, ".", "").Inc()
}

func (m *metrics) cacheEntries(server string, success, denial int) {
	m.cacheSize.WithLabelValues(server, "success", ".", "").Set(float64(success))
	m.cacheSize.WithLabelValues(server, "denial", ".", "").Set(float64(denial))
}
