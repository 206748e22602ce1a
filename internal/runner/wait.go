package runner

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// WaitOutbound implements daprd's --wait helper: poll the sidecar's
// /v1.0/healthz/outbound on localhost:port every 100ms (500ms per request)
// until it answers 204 or timeout passes. It reports whether the sidecar
// became ready, printing progress to out.
func WaitOutbound(ctx context.Context, port int, timeout time.Duration, out io.Writer) bool {
	url := fmt.Sprintf("http://localhost:%d/v1.0/healthz/outbound", port)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 500 * time.Millisecond}
	fmt.Fprintf(out, "Waiting for the sidecar at %s\n", url)

	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if outboundReady(ctx, client, url) {
			fmt.Fprintln(out, "Sidecar is ready")
			return true
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(out, "Sidecar not ready after %s\n", timeout)
			return false
		case <-tick.C:
		}
	}
}

func outboundReady(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusNoContent
}
