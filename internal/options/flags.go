package options

import (
	"time"

	"github.com/spf13/pflag"
)

// notHonoured lists flags that are accepted (so the Dapr CLI and scripts
// written for daprd keep working) but that the runtime does not act on yet.
// Their help text says so. Remove a name here once the runtime honours it.
var notHonoured = map[string]bool{
	"enable-mtls":                      true,
	"sentry-address":                   true,
	"control-plane-address":            true,
	"control-plane-trust-domain":       true,
	"control-plane-namespace":          true,
	"sentry-request-jwt-audiences":     true,
	"disable-builtin-k8s-secret-store": true,
	"hot-reload-reconcile-interval":    true,
	"scheduler-job-streams":            true,
	// Arrive with their building blocks: jobs and reminders (scheduler),
	// input bindings and subscriptions (init endpoints).
	"scheduler-host-address":      true,
	"disable-init-endpoints":      true,
	"app-binding-options-timeout": true,
}

const notHonouredNote = " (accepted for compatibility; not yet honoured)"

// Values holds the raw flag values as registered on a FlagSet. Call Options
// after parsing to validate and convert them.
type Values struct {
	fs *pflag.FlagSet

	appID                 string
	httpPort              string
	grpcPort              string
	internalGRPCPort      string
	internalGRPCListen    string
	listenAddresses       string
	publicPort            string
	publicListenAddress   string
	appPort               string
	appProtocol           string
	appChannelAddress     string
	appMaxConcurrency     int
	appSSL                bool
	unixDomainSocket      string
	profilePort           string
	enableProfiling       bool
	resourcesPaths        []string
	componentsPath        string
	configs               []string
	mode                  string
	hotReloadInterval     time.Duration
	disableInitEndpoints  []string
	bindingOptionsTimeout time.Duration

	maxBodySize        string
	maxRequestSizeMB   int
	readBufferSize     string
	readBufferSizeKB   int
	gracefulShutdown   int
	blockShutdownAfter time.Duration

	enableHealthCheck   bool
	healthCheckPath     string
	healthProbeInterval int
	healthProbeTimeout  int
	healthThreshold     int

	placementAddress      string
	schedulerAddresses    []string
	schedulerJobStreams   uint
	disseminateTimeout    time.Duration
	actorsService         string
	remindersService      string
	controlPlaneAddress   string
	sentryAddress         string
	enableMTLS            bool
	trustDomain           string
	controlPlaneNS        string
	jwtAudiences          []string
	disableK8sSecretStore bool
	allowedOrigins        string

	logLevel         string
	logAsJSON        bool
	logFile          string
	enableAPILogging bool
	metricsPort      string
	metricsListen    string
	enableMetrics    bool
	version          bool
	buildInfo        bool
	wait             bool
}

// Register adds every flag daprd 1.18 accepts to fs, with daprd's names,
// types and defaults, and returns the Values they parse into.
func Register(fs *pflag.FlagSet) *Values {
	v := &Values{fs: fs}
	v.registerPorts(fs)
	v.registerResources(fs)
	v.registerLimits(fs)
	v.registerHealth(fs)
	v.registerControlPlane(fs)
	v.registerLogging(fs)

	for _, name := range []string{"actors-service", "reminders-service"} {
		_ = fs.MarkHidden(name) // the flags exist; this cannot fail
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if notHonoured[f.Name] {
			f.Usage += notHonouredNote
		}
	})
	return v
}

func (v *Values) registerPorts(fs *pflag.FlagSet) {
	fs.StringVar(&v.appID, "app-id", "", "A unique ID for the application; used for service discovery, state encapsulation and the pub/sub consumer ID")
	fs.StringVar(&v.httpPort, "dapr-http-port", "3500", "HTTP port for the Dapr API to listen on")
	fs.StringVar(&v.grpcPort, "dapr-grpc-port", "50001", "gRPC port for the Dapr API to listen on")
	fs.StringVar(&v.internalGRPCPort, "dapr-internal-grpc-port", "", "gRPC port for the Dapr internal API (sidecar to sidecar); empty or 0 picks a stable port")
	fs.StringVar(&v.internalGRPCListen, "dapr-internal-grpc-listen-address", "", "Address the internal gRPC server listens on; empty = all interfaces")
	fs.StringVar(&v.listenAddresses, "dapr-listen-addresses", "", "Comma-separated addresses the HTTP and gRPC API servers bind to; empty = all interfaces")
	fs.StringVar(&v.publicPort, "dapr-public-port", "", "Public HTTP port serving only health and metadata endpoints; empty = off")
	fs.StringVar(&v.publicListenAddress, "dapr-public-listen-address", "", "Address the public HTTP server listens on")
	fs.StringVar(&v.appPort, "app-port", "", "Port the application listens on; empty or 0 = no app channel")
	fs.StringVar(&v.appProtocol, "app-protocol", "http", "Protocol used to talk to the app: http, https, grpc, grpcs or h2c")
	fs.StringVar(&v.appChannelAddress, "app-channel-address", "127.0.0.1", "Network address the application listens on")
	fs.IntVar(&v.appMaxConcurrency, "app-max-concurrency", -1, "Maximum concurrent requests sent to the app; -1 = unlimited")
	fs.BoolVar(&v.appSSL, "app-ssl", false, "Deprecated: use --app-protocol https or grpcs. Upgrades http to https and grpc to grpcs")
	fs.StringVar(&v.unixDomainSocket, "unix-domain-socket", "", "Directory for the API servers' Unix domain sockets instead of TCP")
	fs.StringVar(&v.profilePort, "profile-port", "7777", "Port for the pprof server (with --enable-profiling)")
	fs.BoolVar(&v.enableProfiling, "enable-profiling", false, "Serve Go pprof profiles on --profile-port")
	fs.StringVar(&v.metricsPort, "metrics-port", "9090", "Port for the Prometheus metrics exporter")
	fs.StringVar(&v.metricsListen, "metrics-listen-address", "0.0.0.0", "Address the metrics exporter listens on")
	fs.BoolVar(&v.enableMetrics, "enable-metrics", true, "Enable the Prometheus metrics exporter")
}

func (v *Values) registerResources(fs *pflag.FlagSet) {
	fs.StringSliceVar(&v.resourcesPaths, "resources-path", nil, "Directory to load resources (components, subscriptions, resiliency…) from; repeatable or comma-separated")
	fs.StringVar(&v.componentsPath, "components-path", "", "Deprecated: use --resources-path. Used only when --resources-path is not given")
	fs.StringSliceVar(&v.configs, "config", nil, "Path to a Configuration YAML file; repeatable, later files override earlier ones")
	fs.StringVar(&v.mode, "mode", "standalone", "Runtime mode: standalone or kubernetes")
	fs.DurationVar(&v.hotReloadInterval, "hot-reload-reconcile-interval", 0, "Period of the hot-reload reconcile loop; 0 = 60s")
	fs.StringSliceVar(&v.disableInitEndpoints, "disable-init-endpoints", nil, "Startup calls to the app to skip: config, subscribe")
	fs.DurationVar(&v.bindingOptionsTimeout, "app-binding-options-timeout", 3*time.Second, "Timeout of the input binding discovery probe; non-positive = 3s")
}

func (v *Values) registerLimits(fs *pflag.FlagSet) {
	fs.StringVar(&v.maxBodySize, "max-body-size", "4Mi", "Maximum request body size (quantity such as 4Mi, 16M or plain bytes); <=0 = no limit")
	fs.IntVar(&v.maxRequestSizeMB, "dapr-http-max-request-size", 4, "Deprecated: use --max-body-size. Maximum request body size in MB")
	fs.StringVar(&v.readBufferSize, "read-buffer-size", "4Ki", "Maximum size of HTTP headers (quantity such as 4Ki or plain bytes)")
	fs.IntVar(&v.readBufferSizeKB, "dapr-http-read-buffer-size", 4, "Deprecated: use --read-buffer-size. HTTP read buffer size in KB")
	fs.IntVar(&v.gracefulShutdown, "dapr-graceful-shutdown-seconds", 5, "Graceful shutdown period in seconds; negative = 5")
	fs.DurationVar(&v.blockShutdownAfter, "dapr-block-shutdown-duration", 0, "After a termination signal, keep serving until the app is unhealthy or this elapses; 0 = off")
}

func (v *Values) registerHealth(fs *pflag.FlagSet) {
	fs.BoolVar(&v.enableHealthCheck, "enable-app-health-check", false, "Probe the app's health")
	fs.StringVar(&v.healthCheckPath, "app-health-check-path", "/healthz", "Path of the HTTP health probe")
	fs.IntVar(&v.healthProbeInterval, "app-health-probe-interval", 5, "Health probe interval in seconds; <=0 = 5")
	fs.IntVar(&v.healthProbeTimeout, "app-health-probe-timeout", 500, "Health probe timeout in milliseconds; <=0 = 500; must not exceed the interval")
	fs.IntVar(&v.healthThreshold, "app-health-threshold", 3, "Consecutive failed probes before the app is unhealthy; <1 = 3")
}

func (v *Values) registerControlPlane(fs *pflag.FlagSet) {
	fs.StringVar(&v.placementAddress, "placement-host-address", "", "Comma-separated placement service addresses; empty = no placement")
	fs.StringSliceVar(&v.schedulerAddresses, "scheduler-host-address", nil, "Scheduler service addresses; repeatable or comma-separated (default from $DAPR_SCHEDULER_HOST_ADDRESS_DNS_A)")
	fs.UintVar(&v.schedulerJobStreams, "scheduler-job-streams", 3, "Number of concurrent job trigger streams to the scheduler")
	fs.DurationVar(&v.disseminateTimeout, "actors-disseminate-timeout", 30*time.Second, "Timeout of a placement dissemination round; must be > 0")
	fs.StringVar(&v.actorsService, "actors-service", "", "Deprecated; no effect")
	fs.StringVar(&v.remindersService, "reminders-service", "", "Deprecated; no effect")
	fs.StringVar(&v.controlPlaneAddress, "control-plane-address", "", "Address of the control plane operator (Kubernetes mode)")
	fs.StringVar(&v.sentryAddress, "sentry-address", "", "Address of the Sentry certificate authority")
	fs.BoolVar(&v.enableMTLS, "enable-mtls", false, "Enable mTLS between sidecars")
	fs.StringVar(&v.trustDomain, "control-plane-trust-domain", "localhost", "Trust domain of the control plane (default from $DAPR_CONTROLPLANE_TRUST_DOMAIN)")
	fs.StringVar(&v.controlPlaneNS, "control-plane-namespace", "default", "Namespace of the control plane (default from $DAPR_CONTROLPLANE_NAMESPACE)")
	fs.StringSliceVar(&v.jwtAudiences, "sentry-request-jwt-audiences", nil, "JWT audiences requested from Sentry; default = trust domain")
	fs.BoolVar(&v.disableK8sSecretStore, "disable-builtin-k8s-secret-store", false, "Do not add the built-in kubernetes secret store in Kubernetes mode")
	fs.StringVar(&v.allowedOrigins, "allowed-origins", "", "CORS: empty = off, * = any origin, else comma-separated allowed origins")
}

func (v *Values) registerLogging(fs *pflag.FlagSet) {
	fs.StringVar(&v.logLevel, "log-level", "info", "Log level: debug, info, warn, error or fatal")
	fs.BoolVar(&v.logAsJSON, "log-as-json", false, "Write log lines as JSON")
	fs.StringVar(&v.logFile, "log-file", "", "Write logs to this file instead of stdout")
	fs.BoolVar(&v.enableAPILogging, "enable-api-logging", false, "Log every API call; when not given, Configuration spec.logging.apiLogging.enabled decides")
	fs.BoolVar(&v.version, "version", false, "Print the runtime version and exit")
	fs.BoolVar(&v.buildInfo, "build-info", false, "Print build information and exit")
	fs.BoolVar(&v.wait, "wait", false, "Wait until the sidecar on --dapr-http-port reports outbound health (up to 60s), then exit")
}

// ShowVersion reports whether --version was given.
func (v *Values) ShowVersion() bool { return v.version }

// ShowBuildInfo reports whether --build-info was given.
func (v *Values) ShowBuildInfo() bool { return v.buildInfo }

// WaitMode reports whether --wait was given.
func (v *Values) WaitMode() bool { return v.wait }

// HTTPPort validates and returns --dapr-http-port alone; --wait needs only it.
func (v *Values) HTTPPort() (int, error) {
	return parsePort("dapr-http-port", v.httpPort, false)
}

// RegisterFor adds daprd's flags to another command line (outrigger run
// mirrors `dapr run`): shorthands maps a flag name to its one-letter alias,
// and flags for which skip returns true are left out. Defaults stay
// identical to daprd's because the flags are the same.
func RegisterFor(fs *pflag.FlagSet, shorthands map[string]string, skip func(name string) bool) *Values {
	all := pflag.NewFlagSet(fs.Name(), pflag.ContinueOnError)
	v := Register(all)
	v.fs = fs
	all.VisitAll(func(f *pflag.Flag) {
		if skip != nil && skip(f.Name) {
			return
		}
		f.Shorthand = shorthands[f.Name]
		fs.AddFlag(f)
	})
	return v
}
