package sidecar

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testutil"
)

// lockedBuffer is a log sink the sidecar's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A sidecar that is told to stop logs no error for it: a server whose
// listener was closed on the way down has not failed.
func TestCleanShutdownLogsNoError(t *testing.T) {
	var out lockedBuffer
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
