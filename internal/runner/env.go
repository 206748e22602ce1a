package runner

import (
	"strconv"

	"github.com/outrigger/outrigger/internal/options"
)

// AppEnv is what `dapr run` gives the app on top of the parent environment,
// so SDKs find the sidecar without configuration.
func AppEnv(o options.Options) []string {
	env := []string{
		"APP_ID=" + o.AppID,
		"APP_PROTOCOL=" + o.AppProtocol,
		"DAPR_HTTP_PORT=" + strconv.Itoa(o.HTTPPort),
		"DAPR_GRPC_PORT=" + strconv.Itoa(o.GRPCPort),
	}
	if o.AppPort > 0 {
		env = append(env, "APP_PORT="+strconv.Itoa(o.AppPort))
	}
	if o.AppChannelAddress != "" && o.AppChannelAddress != "127.0.0.1" {
		env = append(env, "APP_CHANNEL_ADDRESS="+o.AppChannelAddress)
	}
	if o.MetricsPort > 0 {
		env = append(env, "DAPR_METRICS_PORT="+strconv.Itoa(o.MetricsPort))
	}
	return env
}
