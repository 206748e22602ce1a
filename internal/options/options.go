// Package options holds the sidecar's settings: daprd's flags with their
// names and defaults, parsed and validated. No other package reads flags.
package options

import "time"

// Options are the validated sidecar settings.
type Options struct {
	AppID                     string
	AppPort                   int    // 0 = no app
	AppProtocol               string // http, https, grpc, grpcs, h2c
	AppChannelAddress         string
	AppMaxConcurrency         int // <=0 = unlimited
	HTTPPort                  int
	GRPCPort                  int
	InternalGRPCPort          int // 0 = pick the stable port
	InternalGRPCListenAddress string
	ListenAddresses           []string // API bind addresses; empty = all interfaces
	PublicPort                int      // 0 = off
	PublicListenAddress       string
	UnixDomainSocket          string
	MetricsPort               int
	MetricsListenAddress      string
	EnableMetrics             bool
	EnableProfiling           bool
	ProfilePort               int
	ResourcesPaths            []string
	ConfigFiles               []string
	Mode                      string // standalone or kubernetes
	LogLevel                  string
	LogAsJSON                 bool
	LogFile                   string
	EnableAPILogging          *bool // nil = not given (fall back to Configuration)
	MaxBodySize               int64 // bytes; <=0 = unlimited
	ReadBufferSize            int   // bytes
	GracefulShutdown          time.Duration
	BlockShutdownDuration     time.Duration // 0 = off
	AllowedOrigins            string
	EnableAppHealthCheck      bool
	AppHealthCheckPath        string
	AppHealthProbeInterval    time.Duration
	AppHealthProbeTimeout     time.Duration
	AppHealthThreshold        int
	PlacementHostAddresses    []string
	SchedulerHostAddresses    []string
	EnableMTLS                bool
	SentryAddress             string
	ControlPlaneAddress       string
	DisableInitEndpoints      []string
	AppBindingOptionsTimeout  time.Duration

	HotReloadReconcileInterval   time.Duration
	SchedulerJobStreams          uint
	ActorsDisseminateTimeout     time.Duration
	ControlPlaneTrustDomain      string
	ControlPlaneNamespace        string
	SentryRequestJWTAudiences    []string
	DisableBuiltinK8sSecretStore bool

	// From the environment (read by the options package only).
	APIToken    string // DAPR_API_TOKEN
	AppAPIToken string // APP_API_TOKEN
	Namespace   string // NAMESPACE
	HostIP      string // DAPR_HOST_IP; empty = resolve
	PodName     string // POD_NAME
	DisableH2C  bool   // DAPR_HTTP_DISABLE_H2C: no cleartext HTTP/2 on the API
	// FixedGOMAXPROCS: GOMAXPROCS is set in the environment, so the
	// sidecar leaves the runtime's processor count alone.
	FixedGOMAXPROCS bool
	// FixedGOGC: GOGC is set in the environment, so the sidecar leaves the
	// collector's pacing alone.
	FixedGOGC bool
}
