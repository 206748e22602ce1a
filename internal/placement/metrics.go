package placement

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// gauges are the service's Prometheus metrics, named like Dapr placement's
// so existing dashboards keep working. Each Service has its own registry.
type gauges struct {
	registry      *prometheus.Registry
	runtimes      *prometheus.GaugeVec
	actorRuntimes *prometheus.GaugeVec
	leader        prometheus.Gauge
	raftLeader    prometheus.Gauge
	rounds        prometheus.Histogram
}

func newGauges() *gauges {
	g := &gauges{
		registry: prometheus.NewRegistry(),
		runtimes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dapr_placement_runtimes_total",
			Help: "Sidecars connected to this placement node.",
		}, []string{"host_namespace"}),
		actorRuntimes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dapr_placement_actor_runtimes_total",
			Help: "Connected sidecars that host actors.",
		}, []string{"host_namespace"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dapr_placement_leader_status",
			Help: "Whether this node serves sidecars as the leader (1) or not (0).",
		}),
		raftLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dapr_placement_raft_leader_status",
			Help: "Whether this node is the Raft leader (1) or not (0).",
		}),
		rounds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "outrigger_placement_dissemination_seconds",
			Help:    "Duration of complete lock/update/unlock dissemination rounds.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	g.registry.MustRegister(g.runtimes, g.actorRuntimes, g.leader, g.raftLeader, g.rounds)
	return g
}

func (g *gauges) set(namespace string, runtimes, actorRuntimes int) {
	g.runtimes.WithLabelValues(namespace).Set(float64(runtimes))
	g.actorRuntimes.WithLabelValues(namespace).Set(float64(actorRuntimes))
}

func (g *gauges) roundDone(d time.Duration) { g.rounds.Observe(d.Seconds()) }

func (g *gauges) setLeader(raftLeader, serving bool) {
	g.raftLeader.Set(boolGauge(raftLeader))
	g.leader.Set(boolGauge(serving))
}

func (g *gauges) handler() http.Handler {
	return promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{})
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
