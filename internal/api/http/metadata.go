package http

import (
	"net/http"
	"strings"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
)

func (h *Handler) metadataRoutes(w http.ResponseWriter, r *http.Request, rt route) bool {
	switch {
	case len(rt.segs) == 1 && r.Method == http.MethodGet:
		h.getMetadata(w, r)
	case len(rt.segs) == 2 && r.Method == http.MethodPut:
		key, err := rt.param(1)
		if err != nil {
			badParam(w, err)
			return true
		}
		h.putMetadata(w, r, key)
	default:
		return false
	}
	return true
}

// The JSON shape of GET /v1.0/metadata, with Dapr's field names.
type metadataJSON struct {
	ID                      string             `json:"id"`
	RuntimeVersion          string             `json:"runtimeVersion,omitempty"`
	EnabledFeatures         []string           `json:"enabledFeatures,omitempty"`
	Actors                  []actorCountJSON   `json:"actors,omitempty"`
	Components              []componentJSON    `json:"components,omitempty"`
	Extended                map[string]string  `json:"extended,omitempty"`
	Subscriptions           []any              `json:"subscriptions,omitempty"`
	HTTPEndpoints           []nameJSON         `json:"httpEndpoints,omitempty"`
	AppConnectionProperties *appConnectionJSON `json:"appConnectionProperties,omitempty"`
	ActorRuntime            *actorRuntimeJSON  `json:"actorRuntime,omitempty"`
	Resiliencies            []nameJSON         `json:"resiliencies,omitempty"`
}

type subscriptionJSON struct {
	PubsubName      string            `json:"pubsubname"`
	Topic           string            `json:"topic"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	Rules           []ruleJSON        `json:"rules,omitempty"`
	DeadLetterTopic string            `json:"deadLetterTopic,omitempty"`
	Type            string            `json:"type"`
}

type ruleJSON struct {
	Match string `json:"match"`
	Path  string `json:"path"`
}

type actorCountJSON struct {
	Type  string `json:"type"`
	Count int32  `json:"count"`
}

type componentJSON struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Version      string   `json:"version"`
	Capabilities []string `json:"capabilities,omitempty"`
}

type nameJSON struct {
	Name string `json:"name"`
}

type appConnectionJSON struct {
	Port           int32          `json:"port,omitempty"`
	Protocol       string         `json:"protocol,omitempty"`
	ChannelAddress string         `json:"channelAddress,omitempty"`
	MaxConcurrency int32          `json:"maxConcurrency,omitempty"`
	Health         *appHealthJSON `json:"health,omitempty"`
}

type appHealthJSON struct {
	HealthCheckPath     string `json:"healthCheckPath,omitempty"`
	HealthProbeInterval string `json:"healthProbeInterval,omitempty"`
	HealthProbeTimeout  string `json:"healthProbeTimeout,omitempty"`
	HealthThreshold     int32  `json:"healthThreshold,omitempty"`
}

type actorRuntimeJSON struct {
	RuntimeStatus string           `json:"runtimeStatus"`
	ActiveActors  []actorCountJSON `json:"activeActors,omitempty"`
	HostReady     bool             `json:"hostReady"`
	Placement     string           `json:"placement,omitempty"`
}

func (h *Handler) getMetadata(w http.ResponseWriter, r *http.Request) {
	res, err := h.core.GetMetadata(r.Context(), &runtimev1.GetMetadataRequest{})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, metadataToJSON(res))
}

func metadataToJSON(res *runtimev1.GetMetadataResponse) metadataJSON {
	out := metadataJSON{ID: res.GetId(), RuntimeVersion: res.GetRuntimeVersion(), EnabledFeatures: res.GetEnabledFeatures(), Extended: res.GetExtendedMetadata()}
	for _, c := range res.GetRegisteredComponents() {
		out.Components = append(out.Components, componentJSON{Name: c.GetName(), Type: c.GetType(), Version: c.GetVersion(), Capabilities: c.GetCapabilities()})
	}
	//lint:ignore SA1019 daprd still serves the deprecated "actors" alias; clients read it.
	for _, a := range res.GetActiveActorsCount() {
		out.Actors = append(out.Actors, actorCountJSON{Type: a.GetType(), Count: a.GetCount()})
	}
	for _, sub := range res.GetSubscriptions() {
		sj := subscriptionJSON{PubsubName: sub.GetPubsubName(), Topic: sub.GetTopic(), Metadata: sub.GetMetadata(), DeadLetterTopic: sub.GetDeadLetterTopic(), Type: sub.GetType().String()}
		for _, r := range sub.GetRules().GetRules() {
			sj.Rules = append(sj.Rules, ruleJSON{Match: r.GetMatch(), Path: r.GetPath()})
		}
		out.Subscriptions = append(out.Subscriptions, sj)
	}
	for _, e := range res.GetHttpEndpoints() {
		out.HTTPEndpoints = append(out.HTTPEndpoints, nameJSON{Name: e.GetName()})
	}
	for _, e := range res.GetResiliencies() {
		out.Resiliencies = append(out.Resiliencies, nameJSON{Name: e.GetName()})
	}
	if ac := res.GetAppConnectionProperties(); ac != nil {
		out.AppConnectionProperties = &appConnectionJSON{Port: ac.GetPort(), Protocol: ac.GetProtocol(), ChannelAddress: ac.GetChannelAddress(), MaxConcurrency: ac.GetMaxConcurrency()}
		if hp := ac.GetHealth(); hp != nil {
			out.AppConnectionProperties.Health = &appHealthJSON{HealthCheckPath: hp.GetHealthCheckPath(), HealthProbeInterval: hp.GetHealthProbeInterval(), HealthProbeTimeout: hp.GetHealthProbeTimeout(), HealthThreshold: hp.GetHealthThreshold()}
		}
	}
	if ar := res.GetActorRuntime(); ar != nil {
		out.ActorRuntime = &actorRuntimeJSON{RuntimeStatus: ar.GetRuntimeStatus().String(), HostReady: ar.GetHostReady(), Placement: ar.GetPlacement()}
		for _, a := range ar.GetActiveActors() {
			out.ActorRuntime.ActiveActors = append(out.ActorRuntime.ActiveActors, actorCountJSON{Type: a.GetType(), Count: a.GetCount()})
		}
	}
	return out
}

func (h *Handler) putMetadata(w http.ResponseWriter, r *http.Request, key string) {
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := h.core.SetMetadata(r.Context(), &runtimev1.SetMetadataRequest{Key: key, Value: string(body)}); err != nil {
		writeError(w, err)
		return
	}
	writeNoContent(w)
}

func (h *Handler) healthRoutes(w http.ResponseWriter, r *http.Request, rt route) bool {
	if r.Method != http.MethodGet {
		return false
	}
	var err error
	switch len(rt.segs) {
	case 1:
		err = h.core.Healthz(r.URL.Query().Get("appid"))
	case 2:
		err = h.core.HealthzOutbound()
	default:
		return false
	}
	if err != nil {
		writeError(w, err)
		return true
	}
	writeNoContent(w)
	return true
}

// shutdown starts a graceful shutdown after answering; with
// dapr-force-shutdown: true the process exits at once (code 1), as daprd does.
func (h *Handler) shutdown(w http.ResponseWriter, r *http.Request) {
	force := strings.EqualFold(r.Header.Get("dapr-force-shutdown"), "true")
	writeNoContent(w)
	if force && h.exit != nil {
		h.log.Warn("forced shutdown requested through the API; exiting now")
		go func() {
			time.Sleep(100 * time.Millisecond)
			h.exit()
		}()
		return
	}
	h.core.Shutdown()
}
