package metrics_test

import (
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pierftp/pier"
	"github.com/pierftp/pier/metrics"
)

// Serve a server's metrics at /metrics beside it, on loopback.
func ExampleMetrics_Instrument() {
	srv := &pier.Server{Addr: ":2121" /* Auth: your users */}

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		log.Fatal(err)
	}
	m.Instrument(srv) // before Serve

	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	go http.ListenAndServe("127.0.0.1:9121", nil)
	log.Fatal(srv.ListenAndServe())
}
