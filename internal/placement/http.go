package placement

import (
	"encoding/json"
	"net/http"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"
)

// HealthHandler serves GET /healthz: 200 while the node runs (leader or
// follower), 503 otherwise. With metadata, it also serves GET
// /placement/state, the replicated tables per namespace, like Dapr's
// --metadata-enabled.
func (s *Service) HealthHandler(metadata bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	if metadata {
		mux.HandleFunc("GET /placement/state", s.serveState)
	}
	return mux
}

// serveState writes the StatePlacementTables message as Dapr 1.18 does
// (plain JSON encoding of the proto struct).
func (s *Service) serveState(w http.ResponseWriter, _ *http.Request) {
	out := &v1pb.StatePlacementTables{Tables: make(map[string]*v1pb.StatePlacementTable)}
	for name, ns := range s.State() {
		table := &v1pb.StatePlacementTable{Version: ns.Version}
		for _, h := range ns.Hosts {
			table.Hosts = append(table.Hosts, &v1pb.Host{
				Name:      h.Name,
				Port:      h.Port,
				Entities:  h.Entities,
				Id:        h.AppID,
				Namespace: h.Namespace,
			})
		}
		out.Tables[name] = table
	}
	data, err := json.Marshal(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(data)
}

// MetricsHandler serves the Prometheus metrics.
func (s *Service) MetricsHandler() http.Handler { return s.gauges.handler() }
