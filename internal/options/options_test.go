package options

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// parse registers the daprd flags on a fresh set, parses args (after the
// single-dash rewrite) and converts them.
func parse(t *testing.T, args []string, env map[string]string) (Options, error) {
	t.Helper()
	fs := pflag.NewFlagSet("daprd", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	v := Register(fs)
	if err := fs.Parse(NormalizeArgs(args)); err != nil {
		return Options{}, err
	}
	return v.Options(func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	o, err := parse(t, []string{"--app-id", "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{
		AppID:                      "a",
		AppProtocol:                "http",
		AppChannelAddress:          "127.0.0.1",
		AppMaxConcurrency:          -1,
		HTTPPort:                   3500,
		GRPCPort:                   50001,
		MetricsPort:                9090,
		MetricsListenAddress:       "0.0.0.0",
		EnableMetrics:              true,
		ProfilePort:                7777,
		Mode:                       "standalone",
		LogLevel:                   "info",
		MaxBodySize:                4 << 20,
		ReadBufferSize:             4 << 10,
		GracefulShutdown:           5 * time.Second,
		AppHealthCheckPath:         "/healthz",
		AppHealthProbeInterval:     5 * time.Second,
		AppHealthProbeTimeout:      500 * time.Millisecond,
		AppHealthThreshold:         3,
		AppBindingOptionsTimeout:   3 * time.Second,
		HotReloadReconcileInterval: 60 * time.Second,
		SchedulerJobStreams:        3,
		ActorsDisseminateTimeout:   30 * time.Second,
		ControlPlaneTrustDomain:    "localhost",
		ControlPlaneNamespace:      "default",
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", o, want)
	}
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	cfg1 := filepath.Join(dir, "a.yaml")
	cfg2 := filepath.Join(dir, "b.yaml")
	for _, f := range []string{cfg1, cfg2} {
		if err := os.WriteFile(f, []byte("kind: Configuration\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tru, fls := true, false

	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(Options) any // returns the value to compare
		want  any
	}{
		{"single dash flags", []string{"-app-id", "x", "-dapr-http-port", "3600"},
			nil, func(o Options) any { return []any{o.AppID, o.HTTPPort} }, []any{"x", 3600}},
		{"equals form", []string{"--app-id=x", "--dapr-grpc-port=50009"},
			nil, func(o Options) any { return o.GRPCPort }, 50009},
		{"app port", []string{"--app-id", "x", "--app-port", "3000"},
			nil, func(o Options) any { return o.AppPort }, 3000},
		{"app port zero is no app", []string{"--app-id", "x", "--app-port", "0"},
			nil, func(o Options) any { return o.AppPort }, 0},
		{"app port negative is no app", []string{"--app-id", "x", "--app-port", "-1"},
			nil, func(o Options) any { return o.AppPort }, 0},
		{"app protocol case-insensitive", []string{"--app-id", "x", "--app-protocol", "GRPC"},
			nil, func(o Options) any { return o.AppProtocol }, "grpc"},
		{"empty app protocol is http", []string{"--app-id", "x", "--app-protocol", ""},
			nil, func(o Options) any { return o.AppProtocol }, "http"},
		{"app-ssl upgrades http", []string{"--app-id", "x", "--app-ssl"},
			nil, func(o Options) any { return o.AppProtocol }, "https"},
		{"app-ssl upgrades grpc", []string{"--app-id", "x", "--app-ssl", "--app-protocol", "grpc"},
			nil, func(o Options) any { return o.AppProtocol }, "grpcs"},
		{"app-ssl keeps h2c", []string{"--app-id", "x", "--app-ssl", "--app-protocol", "h2c"},
			nil, func(o Options) any { return o.AppProtocol }, "h2c"},
		{"negative max concurrency value", []string{"--app-id", "x", "--app-max-concurrency", "-1"},
			nil, func(o Options) any { return o.AppMaxConcurrency }, -1},
		{"resources paths repeat and csv", []string{"--app-id", "x", "--resources-path", "a,b", "--resources-path", "c"},
			nil, func(o Options) any { return o.ResourcesPaths }, []string{"a", "b", "c"}},
		{"components path alias", []string{"--app-id", "x", "--components-path", "old"},
			nil, func(o Options) any { return o.ResourcesPaths }, []string{"old"}},
		{"resources path wins over alias", []string{"--app-id", "x", "--components-path", "old", "--resources-path", "new"},
			nil, func(o Options) any { return o.ResourcesPaths }, []string{"new"}},
		{"config files in order", []string{"--app-id", "x", "--config", cfg1, "--config", cfg2},
			nil, func(o Options) any { return o.ConfigFiles }, []string{cfg1, cfg2}},
		{"kubernetes config is a name", []string{"--mode", "kubernetes", "--config", "appconfig"},
			nil, func(o Options) any { return o.ConfigFiles }, []string{"appconfig"}},
		{"max body size quantity", []string{"--app-id", "x", "--max-body-size", "16Mi"},
			nil, func(o Options) any { return o.MaxBodySize }, int64(16 << 20)},
		{"max body size decimal", []string{"--app-id", "x", "--max-body-size", "1G"},
			nil, func(o Options) any { return o.MaxBodySize }, int64(1e9)},
		{"max body size zero disables", []string{"--app-id", "x", "--max-body-size", "0"},
			nil, func(o Options) any { return o.MaxBodySize }, int64(0)},
		{"deprecated MB flag", []string{"--app-id", "x", "--dapr-http-max-request-size", "8"},
			nil, func(o Options) any { return o.MaxBodySize }, int64(8 << 20)},
		{"new size flag wins", []string{"--app-id", "x", "--dapr-http-max-request-size", "8", "--max-body-size", "2Mi"},
			nil, func(o Options) any { return o.MaxBodySize }, int64(2 << 20)},
		{"read buffer quantity", []string{"--app-id", "x", "--read-buffer-size", "64Ki"},
			nil, func(o Options) any { return o.ReadBufferSize }, 64 << 10},
		{"deprecated KB flag", []string{"--app-id", "x", "--dapr-http-read-buffer-size", "16"},
			nil, func(o Options) any { return o.ReadBufferSize }, 16 << 10},
		{"graceful negative is 5s", []string{"--app-id", "x", "--dapr-graceful-shutdown-seconds", "-3"},
			nil, func(o Options) any { return o.GracefulShutdown }, 5 * time.Second},
		{"graceful explicit", []string{"--app-id", "x", "--dapr-graceful-shutdown-seconds", "12"},
			nil, func(o Options) any { return o.GracefulShutdown }, 12 * time.Second},
		{"health fallbacks", []string{"--app-id", "x", "--app-health-probe-interval", "0", "--app-health-probe-timeout", "-1", "--app-health-threshold", "0"},
			nil, func(o Options) any {
				return []any{o.AppHealthProbeInterval, o.AppHealthProbeTimeout, o.AppHealthThreshold}
			}, []any{5 * time.Second, 500 * time.Millisecond, 3}},
		{"health path gets slash", []string{"--app-id", "x", "--app-health-check-path", "ready"},
			nil, func(o Options) any { return o.AppHealthCheckPath }, "/ready"},
		{"health timeout equal to interval ok", []string{"--app-id", "x", "--app-health-probe-interval", "1", "--app-health-probe-timeout", "1000"},
			nil, func(o Options) any { return o.AppHealthProbeTimeout }, time.Second},
		{"binding timeout fallback", []string{"--app-id", "x", "--app-binding-options-timeout", "0s"},
			nil, func(o Options) any { return o.AppBindingOptionsTimeout }, 3 * time.Second},
		{"disable init endpoints", []string{"--app-id", "x", "--disable-init-endpoints", "Config,subscribe"},
			nil, func(o Options) any { return o.DisableInitEndpoints }, []string{"config", "subscribe"}},
		{"log level case", []string{"--app-id", "x", "--log-level", "DEBUG"},
			nil, func(o Options) any { return o.LogLevel }, "debug"},
		{"api logging unset", []string{"--app-id", "x"},
			nil, func(o Options) any { return o.EnableAPILogging }, (*bool)(nil)},
		{"api logging true", []string{"--app-id", "x", "--enable-api-logging"},
			nil, func(o Options) any { return o.EnableAPILogging }, &tru},
		{"api logging false", []string{"--app-id", "x", "--enable-api-logging=false"},
			nil, func(o Options) any { return o.EnableAPILogging }, &fls},
		{"listen addresses csv", []string{"--app-id", "x", "--dapr-listen-addresses", "127.0.0.1, [::1]"},
			nil, func(o Options) any { return o.ListenAddresses }, []string{"127.0.0.1", "[::1]"}},
		{"placement csv", []string{"--app-id", "x", "--placement-host-address", "a:50005,b:50005"},
			nil, func(o Options) any { return o.PlacementHostAddresses }, []string{"a:50005", "b:50005"}},
		{"scheduler from env", []string{"--app-id", "x"},
			map[string]string{"DAPR_SCHEDULER_HOST_ADDRESS_DNS_A": "s1:50006,s2:50006"},
			func(o Options) any { return o.SchedulerHostAddresses }, []string{"s1:50006", "s2:50006"}},
		{"scheduler flag wins over env", []string{"--app-id", "x", "--scheduler-host-address", "f:1"},
			map[string]string{"DAPR_SCHEDULER_HOST_ADDRESS_DNS_A": "s1:50006"},
			func(o Options) any { return o.SchedulerHostAddresses }, []string{"f:1"}},
		{"control plane env defaults", []string{"--app-id", "x"},
			map[string]string{"DAPR_CONTROLPLANE_TRUST_DOMAIN": "td", "DAPR_CONTROLPLANE_NAMESPACE": "ns"},
			func(o Options) any { return []string{o.ControlPlaneTrustDomain, o.ControlPlaneNamespace} }, []string{"td", "ns"}},
		{"control plane flag wins", []string{"--app-id", "x", "--control-plane-namespace", "flag"},
			map[string]string{"DAPR_CONTROLPLANE_NAMESPACE": "ns"},
			func(o Options) any { return o.ControlPlaneNamespace }, "flag"},
		{"env tokens", []string{"--app-id", "x"},
			map[string]string{"DAPR_API_TOKEN": "t1", "APP_API_TOKEN": "t2", "NAMESPACE": "n"},
			func(o Options) any { return []string{o.APIToken, o.AppAPIToken, o.Namespace} }, []string{"t1", "t2", "n"}},
		{"GOMAXPROCS set: left alone", []string{"--app-id", "x"},
			map[string]string{"GOMAXPROCS": "2"}, func(o Options) any { return o.FixedGOMAXPROCS }, true},
		{"GOMAXPROCS unset: governed", []string{"--app-id", "x"},
			nil, func(o Options) any { return o.FixedGOMAXPROCS }, false},
		{"GOGC set: left alone", []string{"--app-id", "x"},
			map[string]string{"GOGC": "200"}, func(o Options) any { return o.FixedGOGC }, true},
		{"GOGC unset: paced", []string{"--app-id", "x"},
			nil, func(o Options) any { return o.FixedGOGC }, false},
		{"internal grpc port zero", []string{"--app-id", "x", "--dapr-internal-grpc-port", "0"},
			nil, func(o Options) any { return o.InternalGRPCPort }, 0},
		{"accepted control plane flags", []string{"--app-id", "x", "--enable-mtls", "--sentry-address", "s:50001", "--control-plane-address", "c:1", "--actors-service", "x", "--reminders-service", "y", "--wait=false"},
			nil, func(o Options) any { return []any{o.EnableMTLS, o.SentryAddress} }, []any{true, "s:50001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parse(t, tt.args, tt.env)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got := tt.check(o); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error
	}{
		{"missing app id", nil, []string{"--app-id"}},
		{"dotted app id", []string{"--app-id", "a.b"}, []string{"--app-id", `"a.b"`}},
		{"bad http port", []string{"--app-id", "x", "--dapr-http-port", "abc"}, []string{"--dapr-http-port", `"abc"`}},
		{"port out of range", []string{"--app-id", "x", "--metrics-port", "70000"}, []string{"--metrics-port", "70000"}},
		{"bad app port", []string{"--app-id", "x", "--app-port", "x1"}, []string{"--app-port", `"x1"`}},
		{"app port equals http", []string{"--app-id", "x", "--app-port", "3500"}, []string{"--app-port", "--dapr-http-port"}},
		{"app port equals grpc", []string{"--app-id", "x", "--app-port", "7000", "--dapr-grpc-port", "7000"}, []string{"--app-port", "--dapr-grpc-port"}},
		{"bad app protocol", []string{"--app-id", "x", "--app-protocol", "ftp"}, []string{"--app-protocol", `"ftp"`, "http, https, grpc, grpcs, h2c"}},
		{"bad quantity", []string{"--app-id", "x", "--max-body-size", "lots"}, []string{"--max-body-size", `"lots"`}},
		{"bad quantity suffix", []string{"--app-id", "x", "--read-buffer-size", "4Xi"}, []string{"--read-buffer-size", `"4Xi"`}},
		{"health timeout above interval", []string{"--app-id", "x", "--app-health-probe-interval", "1", "--app-health-probe-timeout", "1500"}, []string{"--app-health-probe-timeout", "1500"}},
		{"bad log level", []string{"--app-id", "x", "--log-level", "verbose"}, []string{"--log-level", `"verbose"`}},
		{"bad init endpoint", []string{"--app-id", "x", "--disable-init-endpoints", "config,healthz"}, []string{"--disable-init-endpoints", `"healthz"`}},
		{"zero disseminate timeout", []string{"--app-id", "x", "--actors-disseminate-timeout", "0s"}, []string{"--actors-disseminate-timeout"}},
		{"bad mode", []string{"--app-id", "x", "--mode", "cloud"}, []string{"--mode", `"cloud"`}},
		{"missing config file", []string{"--app-id", "x", "--config", "/nonexistent/outrigger-config.yaml"}, []string{"--config", "not found"}},
		{"unknown flag", []string{"--app-id", "x", "--no-such-flag"}, []string{"no-such-flag"}},
		{"bad int flag", []string{"--app-id", "x", "--app-max-concurrency", "many"}, []string{"app-max-concurrency"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.args, nil)
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestNormalizeArgs(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{[]string{"-app-id", "x"}, []string{"--app-id", "x"}},
		{[]string{"-app-id=x", "--log-level", "info"}, []string{"--app-id=x", "--log-level", "info"}},
		{[]string{"--app-max-concurrency", "-1"}, []string{"--app-max-concurrency", "-1"}},
		{[]string{"--app-port", "-10"}, []string{"--app-port", "-10"}},
		{[]string{"-", "x"}, []string{"-", "x"}},
		{[]string{"-h"}, []string{"-h"}},
		{[]string{"-a", "--", "-b"}, []string{"--a", "--", "-b"}},
		{nil, []string{}},
	}
	for _, tt := range tests {
		if got := NormalizeArgs(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("NormalizeArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"4096", 4096, false},
		{"4Ki", 4096, false},
		{"4Mi", 4 << 20, false},
		{"2Gi", 2 << 30, false},
		{"1Ti", 1 << 40, false},
		{"16k", 16000, false},
		{"16M", 16e6, false},
		{"1G", 1e9, false},
		{"1.5Ki", 1536, false},
		{"0.5", 1, false}, // fractions round up
		{"1e3", 1000, false},
		{"1E3", 1000, false},
		{"2E", 2e18, false},
		{"-1", -1, false},
		{"+5", 5, false},
		{" 8Mi ", 8 << 20, false},
		{"1500m", 2, false},
		{"0", 0, false},
		{"", 0, true},
		{"Mi", 0, true},
		{"4MB", 0, true},
		{"4 Mi", 0, true},
		{"1.2.3", 0, true},
		{"16Ei", 0, true}, // overflows int64
	}
	for _, tt := range tests {
		got, err := ParseQuantity(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseQuantity(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("ParseQuantity(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestEveryFlagRegistered(t *testing.T) {
	// The flag names of daprd 1.18 (daprd-flags.md §1); the Dapr CLI and
	// scripts pass any of them, and an unknown one would abort startup.
	names := []string{
		"app-id", "dapr-http-port", "dapr-grpc-port", "dapr-internal-grpc-port",
		"dapr-internal-grpc-listen-address", "dapr-listen-addresses", "dapr-public-port",
		"dapr-public-listen-address", "app-port", "app-protocol", "app-channel-address",
		"app-max-concurrency", "app-ssl", "unix-domain-socket", "profile-port", "enable-profiling",
		"resources-path", "components-path", "config", "mode", "hot-reload-reconcile-interval",
		"disable-init-endpoints", "app-binding-options-timeout", "max-body-size",
		"dapr-http-max-request-size", "read-buffer-size", "dapr-http-read-buffer-size",
		"dapr-graceful-shutdown-seconds", "dapr-block-shutdown-duration", "enable-app-health-check",
		"app-health-check-path", "app-health-probe-interval", "app-health-probe-timeout",
		"app-health-threshold", "placement-host-address", "scheduler-host-address",
		"scheduler-job-streams", "actors-disseminate-timeout", "actors-service", "reminders-service",
		"control-plane-address", "sentry-address", "enable-mtls", "control-plane-trust-domain",
		"control-plane-namespace", "sentry-request-jwt-audiences", "disable-builtin-k8s-secret-store",
		"allowed-origins", "log-level", "log-as-json", "log-file", "enable-api-logging",
		"metrics-port", "metrics-listen-address", "enable-metrics", "version", "build-info", "wait",
	}
	fs := pflag.NewFlagSet("daprd", pflag.ContinueOnError)
	Register(fs)
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			t.Errorf("flag --%s not registered", n)
			continue
		}
		if f.Shorthand != "" {
			t.Errorf("flag --%s has shorthand -%s; daprd has none", n, f.Shorthand)
		}
		if notHonoured[n] && !strings.Contains(f.Usage, notHonouredNote) {
			t.Errorf("flag --%s help does not say it is not honoured", n)
		}
	}
	count := 0
	fs.VisitAll(func(*pflag.Flag) { count++ })
	if count != len(names) {
		t.Errorf("registered %d flags, want %d", count, len(names))
	}
}

func TestActionFlags(t *testing.T) {
	fs := pflag.NewFlagSet("daprd", pflag.ContinueOnError)
	v := Register(fs)
	if err := fs.Parse([]string{"--version", "--build-info", "--wait", "--dapr-http-port", "3999"}); err != nil {
		t.Fatal(err)
	}
	port, err := v.HTTPPort()
	if !v.ShowVersion() || !v.ShowBuildInfo() || !v.WaitMode() || err != nil || port != 3999 {
		t.Errorf("got version=%v build-info=%v wait=%v port=%d err=%v", v.ShowVersion(), v.ShowBuildInfo(), v.WaitMode(), port, err)
	}
}

func TestRegisterFor(t *testing.T) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	v := RegisterFor(fs, map[string]string{"app-id": "a", "dapr-http-port": "H"}, func(n string) bool { return n == "version" })
	if fs.Lookup("version") != nil {
		t.Error("skipped flag --version registered")
	}
	if err := fs.Parse([]string{"-a", "x", "-H", "3900", "--app-port", "3000"}); err != nil {
		t.Fatal(err)
	}
	o, err := v.Options(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.AppID != "x" || o.HTTPPort != 3900 || o.AppPort != 3000 || o.GRPCPort != 50001 {
		t.Errorf("got app-id %q http %d app %d grpc %d", o.AppID, o.HTTPPort, o.AppPort, o.GRPCPort)
	}
}
