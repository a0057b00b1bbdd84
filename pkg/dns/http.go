package dns

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /health ("OK" while the process runs, as CoreDNS's health
// plugin), /ready (200 once the source has synced and a first zone is built,
// 503 before, as CoreDNS's ready plugin) and /metrics (when the registry
// given to NewServer is also a Gatherer).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("OK"))
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("kubernetes"))
			return
		}
		_, _ = w.Write([]byte("OK"))
	})
	if s.gather != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{}))
	}
	return mux
}

// Ready reports whether the source has synced and a zone is being served.
func (s *Server) Ready() bool {
	return s.src.HasSynced() && s.state.Load().zone != nil
}
