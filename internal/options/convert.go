package options

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// Options validates the parsed flag values, applies daprd's fallbacks and
// reads the environment variables daprd reads (through env, so tests can
// inject them; nil means an empty environment). Errors name the flag and the
// offending value.
func (v *Values) Options(env func(string) string) (Options, error) {
	if env == nil {
		env = func(string) string { return "" }
	}
	var o Options
	steps := []func(*Options, func(string) string) error{
		v.convertPorts, v.convertApp, v.convertResources, v.convertLimits,
		v.convertHealth, v.convertControlPlane, v.convertLogging, convertEnv,
	}
	for _, step := range steps {
		if err := step(&o, env); err != nil {
			return Options{}, err
		}
	}
	return o, nil
}

func (v *Values) changed(name string) bool {
	return v.fs != nil && v.fs.Changed(name)
}

func flagError(name string, value any, reason string) error {
	return fmt.Errorf("invalid --%s %q: %s", name, fmt.Sprint(value), reason)
}

func (v *Values) convertPorts(o *Options, _ func(string) string) error {
	ports := []struct {
		name       string
		raw        string
		allowEmpty bool
		dst        *int
	}{
		{"dapr-http-port", v.httpPort, false, &o.HTTPPort},
		{"dapr-grpc-port", v.grpcPort, false, &o.GRPCPort},
		{"dapr-internal-grpc-port", v.internalGRPCPort, true, &o.InternalGRPCPort},
		{"dapr-public-port", v.publicPort, true, &o.PublicPort},
		{"metrics-port", v.metricsPort, false, &o.MetricsPort},
		{"profile-port", v.profilePort, false, &o.ProfilePort},
	}
	for _, p := range ports {
		n, err := parsePort(p.name, p.raw, p.allowEmpty)
		if err != nil {
			return err
		}
		*p.dst = n
	}
	o.InternalGRPCListenAddress = strings.TrimSpace(v.internalGRPCListen)
	o.ListenAddresses = splitCSV(v.listenAddresses)
	o.PublicListenAddress = strings.TrimSpace(v.publicListenAddress)
	o.UnixDomainSocket = v.unixDomainSocket
	o.EnableProfiling = v.enableProfiling
	o.MetricsListenAddress = v.metricsListen
	o.EnableMetrics = v.enableMetrics
	return nil
}

// parsePort parses a port flag. Empty is 0 only for flags whose default is
// empty (0 = off or "pick one").
func parsePort(name, raw string, allowEmpty bool) (int, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		if allowEmpty {
			return 0, nil
		}
		return 0, flagError(name, raw, "a port number is required")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, flagError(name, raw, "not an integer port")
	}
	if n < 0 || n > 65535 {
		return 0, flagError(name, raw, "port must be between 0 and 65535")
	}
	return n, nil
}

var appProtocols = []string{"http", "https", "grpc", "grpcs", "h2c"}

func (v *Values) convertApp(o *Options, _ func(string) string) error {
	o.Mode = v.mode
	if o.Mode != "standalone" && o.Mode != "kubernetes" {
		return flagError("mode", v.mode, "must be standalone or kubernetes")
	}
	o.AppID = v.appID
	if o.Mode == "standalone" && o.AppID == "" {
		return errors.New("--app-id is required in standalone mode")
	}
	if strings.Contains(o.AppID, ".") {
		return flagError("app-id", v.appID, "must not contain dots")
	}

	port, err := parseAppPort(v.appPort)
	if err != nil {
		return err
	}
	o.AppPort = port
	if port > 0 && port == o.HTTPPort {
		return flagError("app-port", v.appPort, "must differ from --dapr-http-port")
	}
	if port > 0 && port == o.GRPCPort {
		return flagError("app-port", v.appPort, "must differ from --dapr-grpc-port")
	}

	proto, err := appProtocol(v.appProtocol, v.appSSL)
	if err != nil {
		return err
	}
	o.AppProtocol = proto
	o.AppChannelAddress = v.appChannelAddress
	o.AppMaxConcurrency = v.appMaxConcurrency
	return nil
}

// parseAppPort treats empty, 0 and negative as "no app": the Dapr CLI passes
// --app-port 0 (older versions -1) when the user gave none.
func parseAppPort(raw string) (int, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, flagError("app-port", raw, "not an integer port")
	}
	if n > 65535 {
		return 0, flagError("app-port", raw, "port must be at most 65535")
	}
	return max(n, 0), nil
}

func appProtocol(raw string, ssl bool) (string, error) {
	p := strings.ToLower(strings.TrimSpace(raw))
	if p == "" {
		p = "http"
	}
	valid := false
	for _, want := range appProtocols {
		valid = valid || p == want
	}
	if !valid {
		return "", flagError("app-protocol", raw, "must be one of "+strings.Join(appProtocols, ", "))
	}
	// --app-ssl predates the TLS protocol names; it upgrades the plain ones.
	if ssl {
		switch p {
		case "http":
			p = "https"
		case "grpc":
			p = "grpcs"
		}
	}
	return p, nil
}

func (v *Values) convertResources(o *Options, _ func(string) string) error {
	o.ResourcesPaths = nonEmpty(v.resourcesPaths)
	if len(o.ResourcesPaths) == 0 && strings.TrimSpace(v.componentsPath) != "" {
		o.ResourcesPaths = []string{strings.TrimSpace(v.componentsPath)}
	}

	o.ConfigFiles = nonEmpty(v.configs)
	if o.Mode == "standalone" {
		for _, path := range o.ConfigFiles {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return flagError("config", path, "file not found")
			} else if err != nil {
				return fmt.Errorf("--config %q: %w", path, err)
			}
		}
	}

	for _, e := range nonEmpty(v.disableInitEndpoints) {
		e = strings.ToLower(e)
		if e != "config" && e != "subscribe" {
			return flagError("disable-init-endpoints", e, "allowed values are config and subscribe")
		}
		o.DisableInitEndpoints = append(o.DisableInitEndpoints, e)
	}

	o.HotReloadReconcileInterval = positiveOr(v.hotReloadInterval, 60*time.Second)
	o.AppBindingOptionsTimeout = positiveOr(v.bindingOptionsTimeout, 3*time.Second)
	return nil
}

func (v *Values) convertLimits(o *Options, _ func(string) string) error {
	body, err := v.quantity("max-body-size", v.maxBodySize, "dapr-http-max-request-size", v.maxRequestSizeMB, 1<<20)
	if err != nil {
		return err
	}
	o.MaxBodySize = body

	buf, err := v.quantity("read-buffer-size", v.readBufferSize, "dapr-http-read-buffer-size", v.readBufferSizeKB, 1<<10)
	if err != nil {
		return err
	}
	if buf > int64(maxInt) {
		return flagError("read-buffer-size", v.readBufferSize, "too large")
	}
	o.ReadBufferSize = int(buf)

	secs := v.gracefulShutdown
	if secs < 0 {
		secs = 5
	}
	o.GracefulShutdown = time.Duration(secs) * time.Second
	o.BlockShutdownDuration = max(v.blockShutdownAfter, 0)
	return nil
}

const maxInt = int(^uint(0) >> 1)

// quantity returns the size given by the quantity flag, or by its deprecated
// integer counterpart (times unit) when only that one was set explicitly.
func (v *Values) quantity(name, raw, oldName string, old int, unit int64) (int64, error) {
	if !v.changed(name) && v.changed(oldName) {
		return int64(old) * unit, nil
	}
	n, err := ParseQuantity(raw)
	if err != nil {
		return 0, flagError(name, raw, err.Error())
	}
	return n, nil
}

func (v *Values) convertHealth(o *Options, _ func(string) string) error {
	o.EnableAppHealthCheck = v.enableHealthCheck
	o.AppHealthCheckPath = v.healthCheckPath
	if !strings.HasPrefix(o.AppHealthCheckPath, "/") {
		o.AppHealthCheckPath = "/" + o.AppHealthCheckPath
	}
	o.AppHealthProbeInterval = 5 * time.Second
	if v.healthProbeInterval > 0 {
		o.AppHealthProbeInterval = time.Duration(v.healthProbeInterval) * time.Second
	}
	o.AppHealthProbeTimeout = 500 * time.Millisecond
	if v.healthProbeTimeout > 0 {
		o.AppHealthProbeTimeout = time.Duration(v.healthProbeTimeout) * time.Millisecond
	}
	if o.AppHealthProbeTimeout > o.AppHealthProbeInterval {
		return flagError("app-health-probe-timeout", v.healthProbeTimeout,
			fmt.Sprintf("timeout (%s) must not exceed --app-health-probe-interval (%s)", o.AppHealthProbeTimeout, o.AppHealthProbeInterval))
	}
	o.AppHealthThreshold = v.healthThreshold
	if o.AppHealthThreshold < 1 {
		o.AppHealthThreshold = 3
	}
	return nil
}

func (v *Values) convertControlPlane(o *Options, env func(string) string) error {
	o.PlacementHostAddresses = splitCSV(v.placementAddress)
	if v.changed("scheduler-host-address") {
		o.SchedulerHostAddresses = nonEmpty(v.schedulerAddresses)
	} else {
		o.SchedulerHostAddresses = splitCSV(env("DAPR_SCHEDULER_HOST_ADDRESS_DNS_A"))
	}
	o.SchedulerJobStreams = v.schedulerJobStreams
	if v.disseminateTimeout <= 0 {
		return flagError("actors-disseminate-timeout", v.disseminateTimeout, "must be greater than zero")
	}
	o.ActorsDisseminateTimeout = v.disseminateTimeout

	o.ControlPlaneAddress = v.controlPlaneAddress
	o.SentryAddress = v.sentryAddress
	o.EnableMTLS = v.enableMTLS
	o.ControlPlaneTrustDomain = v.fromEnvUnlessSet("control-plane-trust-domain", v.trustDomain, env("DAPR_CONTROLPLANE_TRUST_DOMAIN"))
	o.ControlPlaneNamespace = v.fromEnvUnlessSet("control-plane-namespace", v.controlPlaneNS, env("DAPR_CONTROLPLANE_NAMESPACE"))
	o.SentryRequestJWTAudiences = nonEmpty(v.jwtAudiences)
	o.DisableBuiltinK8sSecretStore = v.disableK8sSecretStore
	o.AllowedOrigins = v.allowedOrigins
	return nil
}

// fromEnvUnlessSet returns the environment value when the flag was not given
// explicitly and the variable is set; the flag wins otherwise.
func (v *Values) fromEnvUnlessSet(name, flagValue, envValue string) string {
	if !v.changed(name) && envValue != "" {
		return envValue
	}
	return flagValue
}

var logLevels = []string{"debug", "info", "warn", "error", "fatal"}

func (v *Values) convertLogging(o *Options, _ func(string) string) error {
	level := strings.ToLower(strings.TrimSpace(v.logLevel))
	valid := false
	for _, want := range logLevels {
		valid = valid || level == want
	}
	if !valid {
		return flagError("log-level", v.logLevel, "must be one of "+strings.Join(logLevels, ", "))
	}
	o.LogLevel = level
	o.LogAsJSON = v.logAsJSON
	o.LogFile = v.logFile
	if v.changed("enable-api-logging") {
		enabled := v.enableAPILogging
		o.EnableAPILogging = &enabled
	}
	return nil
}

func convertEnv(o *Options, env func(string) string) error {
	o.APIToken = env("DAPR_API_TOKEN")
	o.AppAPIToken = env("APP_API_TOKEN")
	o.Namespace = env("NAMESPACE")
	o.HostIP = env("DAPR_HOST_IP")
	o.PodName = env("POD_NAME")
	o.DisableH2C = truthy(env("DAPR_HTTP_DISABLE_H2C"))
	o.FixedGOMAXPROCS = strings.TrimSpace(env("GOMAXPROCS")) != ""
	o.FixedGOGC = strings.TrimSpace(env("GOGC")) != ""
	return nil
}

// truthy reads an environment flag the way Dapr does ("1", "true", "yes", "on").
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "t", "yes", "y", "on":
		return true
	}
	return false
}

// splitCSV splits a comma-separated value, dropping blanks.
func splitCSV(s string) []string {
	return nonEmpty(strings.Split(s, ","))
}

// nonEmpty trims each value and drops the empty ones; nil when none remain.
func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func positiveOr(d, fallback time.Duration) time.Duration {
	if d <= 0 {
		return fallback
	}
	return d
}
