package sidecar

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/spf13/pflag"

	_ "github.com/outrigger/outrigger/internal/nameresolution/static"
	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/testutil"
)

// BenchmarkInvokeThroughSidecars is one 1 KB HTTP invocation through two
// whole sidecars in this process: client → A's HTTP API → B's internal
// port → echo app and back. Its allocations per call are those of the
// whole path (both sidecars, the client and the app; the echo app alone
// is measured as "direct"), counted exactly, where the loadgen suite
// measures CPU time on a noisy machine.
func BenchmarkInvokeThroughSidecars(b *testing.B) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		_, _ = w.Write(body)
	}))
	defer app.Close()
	appPort := app.Listener.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calleePorts := startTestSidecar(ctx, b, discardLog, "bench-callee", "--app-port", strconv.Itoa(appPort))
	// The caller finds the callee through the static resolver, as in the
	// loadgen suite: no mDNS traffic, nothing from the machine's network.
	config := filepath.Join(b.TempDir(), "config.yaml")
	err := os.WriteFile(config, []byte(`apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: bench
spec:
  nameResolution:
    component: static
    configuration:
      apps:
        bench-callee: ["127.0.0.1:`+strconv.Itoa(calleePorts.internal)+`"]
`), 0o644)
	if err != nil {
		b.Fatal(err)
	}
	callerPorts := startTestSidecar(ctx, b, discardLog, "bench-caller", "--config", config)

	body := bytes.Repeat([]byte("x"), 1024)
	client := &http.Client{}
	b.Run("direct", func(b *testing.B) {
		benchmarkPost(b, client, app.URL+"/echo", body)
	})
	b.Run("sidecars", func(b *testing.B) {
		url := fmt.Sprintf("http://127.0.0.1:%d/v1.0/invoke/bench-callee/method/echo", callerPorts.http)
		seen := ""
		testutil.Eventually(b, 20*time.Second, "the callee to answer through the caller (errors logged above)", func() bool {
			err := post(client, url, body)
			if err != nil && err.Error() != seen {
				seen = err.Error()
				b.Log(seen)
			}
			return err == nil
		})
		benchmarkPost(b, client, url, body)
	})
}

func benchmarkPost(b *testing.B, client *http.Client, url string, body []byte) {
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := post(client, url, body); err != nil {
			b.Fatal(err)
		}
	}
}

func post(client *http.Client, url string, body []byte) error {
	resp, err := client.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		return err
	}
	got, _ := io.ReadAll(resp.Body)
	n := len(got)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || n != len(body) {
		return fmt.Errorf("status %d: %s", resp.StatusCode, got)
	}
	return nil
}

// benchPorts are a test sidecar's HTTP API and internal ports.
type benchPorts struct{ http, internal int }

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// startTestSidecar runs a sidecar with its own ports and an empty
// resources folder until ctx ends; cleanup waits for it to stop.
func startTestSidecar(ctx context.Context, b testing.TB, log *slog.Logger, appID string, extra ...string) benchPorts {
	b.Helper()
	ports := make([]int, 4)
	for i := range ports {
		ports[i] = testutil.FreePort(b)
	}
	args := append([]string{"--app-id", appID,
		"--dapr-http-port", strconv.Itoa(ports[0]), "--dapr-grpc-port", strconv.Itoa(ports[1]),
		"--dapr-internal-grpc-port", strconv.Itoa(ports[2]), "--metrics-port", strconv.Itoa(ports[3]),
		"--resources-path", b.TempDir()}, extra...)
	fs := pflag.NewFlagSet("daprd", pflag.ContinueOnError)
	v := options.Register(fs)
	if err := fs.Parse(args); err != nil {
		b.Fatal(err)
	}
	opts, err := v.Options(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts, log) }()
	b.Cleanup(func() {
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("sidecar %s: %v", appID, err)
			}
		case <-time.After(30 * time.Second):
			b.Errorf("sidecar %s did not stop", appID)
		}
	})
	return benchPorts{http: ports[0], internal: ports[2]}
}
