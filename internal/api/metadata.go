package api

import (
	"context"
	"sort"
	"sync"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/proto"

	"github.com/outrigger/outrigger/internal/api/apierr"
)

// MetadataInfo is the static part of the metadata API, fixed at startup.
type MetadataInfo struct {
	AppID           string
	RuntimeVersion  string
	EnabledFeatures []string
	Components      []*runtimev1.RegisteredComponents
	HTTPEndpoints   []string
	AppConnection   *runtimev1.AppConnectionProperties
	Resiliencies    []string
	// PlacementConfigured is true when actors have a placement address.
	PlacementConfigured bool
	// Subscriptions lists the active pub/sub subscriptions (they change
	// as streaming subscriptions come and go).
	Subscriptions func() []*runtimev1.PubsubSubscription
}

// Metadata serves GET/PUT /v1.0/metadata: static info plus the extended
// attributes clients set (the Dapr CLI stores its PIDs there).
type Metadata struct {
	info MetadataInfo

	mu       sync.RWMutex
	extended map[string]string
}

// NewMetadata builds the metadata store. daprRuntimeVersion is always set.
func NewMetadata(info MetadataInfo) *Metadata {
	return &Metadata{info: info, extended: map[string]string{"daprRuntimeVersion": info.RuntimeVersion}}
}

// SetResources replaces the reloadable parts of the metadata (after a hot
// reload): registered components, HTTP endpoints and resiliency names.
func (m *Metadata) SetResources(components []*runtimev1.RegisteredComponents, endpoints, resiliencies []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.info.Components = components
	m.info.HTTPEndpoints = endpoints
	m.info.Resiliencies = resiliencies
}

// GetMetadata returns the metadata response.
func (c *Core) GetMetadata(ctx context.Context, _ *runtimev1.GetMetadataRequest) (*runtimev1.GetMetadataResponse, error) {
	m := c.metadata
	m.mu.RLock()
	info := m.info // the reloadable fields change only under m.mu
	m.mu.RUnlock()
	res := &runtimev1.GetMetadataResponse{
		Id:                      m.info.AppID,
		RuntimeVersion:          m.info.RuntimeVersion,
		EnabledFeatures:         m.info.EnabledFeatures,
		RegisteredComponents:    info.Components,
		AppConnectionProperties: m.info.AppConnection,
		ActorRuntime:            &runtimev1.ActorRuntime{RuntimeStatus: runtimev1.ActorRuntime_DISABLED},
	}
	if m.info.PlacementConfigured {
		res.ActorRuntime.Placement = "placement: disconnected"
	}
	if ar, counts := c.actorRuntimeMetadata(); ar != nil {
		res.ActorRuntime = ar
		//lint:ignore SA1019 daprd still fills the deprecated "actors" alias.
		res.ActiveActorsCount = counts
	}
	if m.info.Subscriptions != nil {
		res.Subscriptions = m.info.Subscriptions()
	}
	for _, name := range info.HTTPEndpoints {
		res.HttpEndpoints = append(res.HttpEndpoints, &runtimev1.MetadataHTTPEndpoint{Name: name})
	}
	for _, name := range info.Resiliencies {
		res.Resiliencies = append(res.Resiliencies, &runtimev1.MetadataResiliency{Name: name})
	}
	m.mu.RLock()
	res.ExtendedMetadata = make(map[string]string, len(m.extended))
	for k, v := range m.extended {
		res.ExtendedMetadata[k] = v
	}
	m.mu.RUnlock()
	// Hand out copies so callers can't mutate the shared static parts.
	return proto.Clone(res).(*runtimev1.GetMetadataResponse), nil
}

// SetMetadata stores one extended attribute.
func (c *Core) SetMetadata(ctx context.Context, req *runtimev1.SetMetadataRequest) error {
	if req.GetKey() == "" {
		return apierr.BadRequest("metadata key is empty")
	}
	c.metadata.mu.Lock()
	c.metadata.extended[req.GetKey()] = req.GetValue()
	c.metadata.mu.Unlock()
	return nil
}

// SetExtended sets an extended attribute from inside the sidecar (e.g. the
// app's health).
func (m *Metadata) SetExtended(key, value string) {
	m.mu.Lock()
	m.extended[key] = value
	m.mu.Unlock()
}

// SortComponents orders registered components by name for stable output.
func SortComponents(cs []*runtimev1.RegisteredComponents) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].GetName() < cs[j].GetName() })
}
