package sidecar

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testutil"
)

// A sidecar that is told to stop logs no error for it: a server whose
// listener was closed on the way down has not failed.
func TestCleanShutdownLogsNoError(t *testing.T) {
	var out testutil.SyncBuffer
	// Cleanups run last first: this one runs after the sidecar stopped.
	t.Cleanup(func() {
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("error logged on a clean shutdown: %s", line)
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ports := startTestSidecar(ctx, t, slog.New(slog.NewTextHandler(&out, nil)), "shutdown")
	healthz := "http://127.0.0.1:" + strconv.Itoa(ports.http) + "/v1.0/healthz"
	testutil.Eventually(t, 20*time.Second, "the sidecar to be ready", func() bool {
		resp, err := http.Get(healthz)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	})
}
