package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/placement"
	"github.com/outrigger/outrigger/internal/placement/membership"
	"github.com/outrigger/outrigger/internal/testutil"
)

func TestPlacementFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, o placement.Options)
	}{
		{name: "defaults", check: func(t *testing.T, o placement.Options) {
			want := []membership.Peer{{ID: "dapr-placement-0", Address: "127.0.0.1:8201"}}
			if o.ID != "dapr-placement-0" || len(o.Peers) != 1 || o.Peers[0] != want[0] {
				t.Errorf("id %q peers %v", o.ID, o.Peers)
			}
			if o.ReplicationFactor != 100 || o.DisseminateTimeout != 8*time.Second || o.KeepAliveTime != 2*time.Second || o.KeepAliveTimeout != 3*time.Second {
				t.Errorf("defaults = %+v", o)
			}
			if o.DataDir != "" {
				t.Errorf("data dir %q, want in memory", o.DataDir)
			}
		}},
		{name: "single-dash cluster", args: []string{"-id", "p1", "-initial-cluster", "p0=10.0.0.1:8201, p1=10.0.0.2:8201", "-raft-logstore-path", "/tmp/x", "-replicationFactor", "50"},
			check: func(t *testing.T, o placement.Options) {
				if o.ID != "p1" || len(o.Peers) != 2 || o.Peers[1].Address != "10.0.0.2:8201" || o.DataDir != "/tmp/x" || o.ReplicationFactor != 50 {
					t.Errorf("options = %+v", o)
				}
			}},
		{name: "not honoured flags are accepted", args: []string{"--tls-enabled", "--trust-domain", "cluster.local", "--mode", "kubernetes", "--max-api-level", "20"}},
		{name: "keepalive too short", args: []string{"--keepalive-time", "500ms"}, wantErr: "keepalive-time"},
		{name: "keepalive timeout too long", args: []string{"--keepalive-timeout", "11s"}, wantErr: "keepalive-timeout"},
		{name: "bad cluster entry", args: []string{"--initial-cluster", "p0"}, wantErr: "initial-cluster"},
		{name: "bad cluster address", args: []string{"--initial-cluster", "p0=nohost"}, wantErr: "initial-cluster"},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantErr: "log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("placement", pflag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f := registerPlacementFlags(fs)
			if err := fs.Parse(options.NormalizeArgs(tt.args)); err != nil {
				t.Fatal(err)
			}
			o, err := f.options()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one about %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

func TestPlacementNotHonouredFlagsSaySo(t *testing.T) {
	cmd := newPlacementCommand()
	for _, name := range placementNotHonoured {
		if !strings.Contains(cmd.Flags().Lookup(name).Usage, "not yet honoured") {
			t.Errorf("--%s help does not say it is not honoured", name)
		}
	}
}

func TestRunUsesEmbeddedPlacementByDefault(t *testing.T) {
	tests := []struct {
		args         []string
		wantEmbedded bool
		want         []string
	}{
		{nil, true, []string{"localhost:50005"}},
		{[]string{"--placement-host-address", "p:50005"}, false, []string{"p:50005"}},
		{[]string{"--placement-host-address", ""}, false, nil},
	}
	for _, tt := range tests {
		cmd := newRunCommand()
		if err := cmd.Flags().Parse(append([]string{"--app-id", "x"}, tt.args...)); err != nil {
			t.Fatal(err)
		}
		opts := options.Options{}
		if len(tt.args) == 2 && tt.args[1] != "" {
			opts.PlacementHostAddresses = []string{tt.args[1]}
		}
		got := usePlacementForRun(cmd.Flags(), &opts)
		if got != tt.wantEmbedded || strings.Join(opts.PlacementHostAddresses, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%v: embedded %v addresses %v, want %v %v", tt.args, got, opts.PlacementHostAddresses, tt.wantEmbedded, tt.want)
		}
	}
}

func TestPlacementCommandServes(t *testing.T) {
	port, healthz, metrics, raft := freePort(t), freePort(t), freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"placement", "--port", port, "--healthz-port", healthz, "--metrics-port", metrics,
		"--id", "p0", "--initial-cluster", "p0=127.0.0.1:" + raft, "--raft-logstore-path", t.TempDir(),
		"--listen-address", "127.0.0.1", "--healthz-listen-address", "127.0.0.1", "--metrics-listen-address", "127.0.0.1"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, body := httpGet("http://127.0.0.1:" + metrics); code == http.StatusOK && strings.Contains(body, "\ndapr_placement_leader_status 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("placement did not become leader; output:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := httpGet("http://127.0.0.1:" + healthz + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d; output:\n%s", code, out.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("placement returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("placement did not stop")
	}
}

// freePort is testutil.FreePort in the form flags take.
func freePort(t *testing.T) string {
	t.Helper()
	return strconv.Itoa(testutil.FreePort(t))
}

func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
