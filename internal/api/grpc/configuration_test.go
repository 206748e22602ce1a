package grpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/outrigger/outrigger/internal/api"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/configuration/configtest"
)

// newConfigClient serves the gRPC API over one in-memory configuration
// store "cfg" (none when withStore is false).
func newConfigClient(t *testing.T, withStore bool) (runtimev1.DaprClient, *configtest.Memory) {
	t.Helper()
	m := configtest.NewMemory()
	var comps []*configuration.Component
	if withStore {
		comps = append(comps, &configuration.Component{Name: "cfg", Type: "configuration.memory", Version: "v1", Store: m})
	}
	core := api.New(api.Config{AppID: "myapp", Configs: comps})
	srv := apigrpc.NewServer(apigrpc.Config{Core: core})
	ln := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop(); _ = m.Close() })
	return runtimev1.NewDaprClient(conn), m
}

func TestConfigurationGetOverGRPC(t *testing.T) {
	ctx := context.Background()
	c, m := newConfigClient(t, true)
	_ = m.Set(ctx, "a", configuration.Item{Value: "1", Version: "v1", Metadata: map[string]string{"x": "y"}})
	for name, get := range map[string]func(context.Context, *runtimev1.GetConfigurationRequest, ...grpc.CallOption) (*runtimev1.GetConfigurationResponse, error){
		"GetConfiguration": c.GetConfiguration, "GetConfigurationAlpha1": c.GetConfigurationAlpha1,
	} {
		res, err := get(ctx, &runtimev1.GetConfigurationRequest{StoreName: "cfg", Keys: []string{"a", "missing"}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a := res.GetItems()["a"]
		if len(res.GetItems()) != 1 || a.GetValue() != "1" || a.GetVersion() != "v1" || a.GetMetadata()["x"] != "y" {
			t.Fatalf("%s = %v", name, res.GetItems())
		}
	}
}

func TestConfigurationErrorsOverGRPC(t *testing.T) {
	ctx := context.Background()
	c, m := newConfigClient(t, true)
	none, _ := newConfigClient(t, false)
	tests := []struct {
		name       string
		call       func() error
		failStore  bool
		wantCode   codes.Code
		wantReason string
	}{
		{"not configured", func() error {
			_, err := none.GetConfiguration(ctx, &runtimev1.GetConfigurationRequest{StoreName: "cfg"})
			return err
		}, false, codes.FailedPrecondition, "ERR_CONFIGURATION_STORE_NOT_CONFIGURED"},
		{"not found", func() error {
			_, err := c.GetConfigurationAlpha1(ctx, &runtimev1.GetConfigurationRequest{StoreName: "nope"})
			return err
		}, false, codes.InvalidArgument, "ERR_CONFIGURATION_STORE_NOT_FOUND"},
		{"get fails", func() error {
			_, err := c.GetConfiguration(ctx, &runtimev1.GetConfigurationRequest{StoreName: "cfg"})
			return err
		}, true, codes.Internal, "ERR_CONFIGURATION_GET"},
		{"subscribe fails", func() error {
			s, err := c.SubscribeConfiguration(ctx, &runtimev1.SubscribeConfigurationRequest{StoreName: "cfg"})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}, true, codes.Internal, "ERR_CONFIGURATION_SUBSCRIBE"},
		{"subscribe unknown store", func() error {
			s, err := c.SubscribeConfigurationAlpha1(ctx, &runtimev1.SubscribeConfigurationRequest{StoreName: "nope"})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}, false, codes.InvalidArgument, "ERR_CONFIGURATION_STORE_NOT_FOUND"},
		{"unsubscribe unknown id", func() error {
			_, err := c.UnsubscribeConfiguration(ctx, &runtimev1.UnsubscribeConfigurationRequest{StoreName: "cfg", Id: "nope"})
			return err
		}, false, codes.Internal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.failStore {
				m.FailWith(errors.New("boom"))
				defer m.FailWith(nil)
			}
			err := tt.call()
			if status.Code(err) != tt.wantCode || reason(err) != tt.wantReason {
				t.Fatalf("error = %v (reason %q); want %v %q", err, reason(err), tt.wantCode, tt.wantReason)
			}
		})
	}
}

type configStream interface {
	Recv() (*runtimev1.SubscribeConfigurationResponse, error)
}

func recvUpdate(t *testing.T, s configStream) *runtimev1.SubscribeConfigurationResponse {
	t.Helper()
	type result struct {
		m   *runtimev1.SubscribeConfigurationResponse
		err error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := s.Recv()
		ch <- result{m, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Recv: %v", r.err)
		}
		return r.m
	case <-time.After(5 * time.Second):
		t.Fatal("no message on the stream")
	}
	return nil
}

func TestConfigurationSubscribeOverGRPC(t *testing.T) {
	tests := []struct {
		name      string
		subscribe func(runtimev1.DaprClient, context.Context, *runtimev1.SubscribeConfigurationRequest) (configStream, error)
		unsub     func(runtimev1.DaprClient, context.Context, *runtimev1.UnsubscribeConfigurationRequest) (*runtimev1.UnsubscribeConfigurationResponse, error)
	}{
		{"v1", func(c runtimev1.DaprClient, ctx context.Context, r *runtimev1.SubscribeConfigurationRequest) (configStream, error) {
			return c.SubscribeConfiguration(ctx, r)
		}, func(c runtimev1.DaprClient, ctx context.Context, r *runtimev1.UnsubscribeConfigurationRequest) (*runtimev1.UnsubscribeConfigurationResponse, error) {
			return c.UnsubscribeConfiguration(ctx, r)
		}},
		{"alpha1", func(c runtimev1.DaprClient, ctx context.Context, r *runtimev1.SubscribeConfigurationRequest) (configStream, error) {
			return c.SubscribeConfigurationAlpha1(ctx, r)
		}, func(c runtimev1.DaprClient, ctx context.Context, r *runtimev1.UnsubscribeConfigurationRequest) (*runtimev1.UnsubscribeConfigurationResponse, error) {
			return c.UnsubscribeConfigurationAlpha1(ctx, r)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c, m := newConfigClient(t, true)
			s, err := tt.subscribe(c, ctx, &runtimev1.SubscribeConfigurationRequest{StoreName: "cfg", Keys: []string{"a"}})
			if err != nil {
				t.Fatal(err)
			}
			first := recvUpdate(t, s)
			if first.GetId() == "" || len(first.GetItems()) != 0 {
				t.Fatalf("first message = %v; want only the id", first)
			}
			_ = m.Set(ctx, "other", configuration.Item{Value: "x"})
			_ = m.Set(ctx, "a", configuration.Item{Value: "1", Version: "v1"})
			upd := recvUpdate(t, s)
			if upd.GetId() != first.GetId() || len(upd.GetItems()) != 1 || upd.GetItems()["a"].GetValue() != "1" {
				t.Fatalf("update = %v", upd)
			}
			res, err := tt.unsub(c, ctx, &runtimev1.UnsubscribeConfigurationRequest{StoreName: "cfg", Id: first.GetId()})
			if err != nil || !res.GetOk() {
				t.Fatalf("unsubscribe = %v, %v", res, err)
			}
			if _, err := s.Recv(); !errors.Is(err, io.EOF) {
				t.Fatalf("stream after unsubscribe: %v; want EOF", err)
			}
			if n := m.Subscriptions(); n != 0 {
				t.Fatalf("store still has %d subscriptions", n)
			}
		})
	}
}

// TestConfigurationStreamCancel: a client that goes away ends the
// subscription in the store.
func TestConfigurationStreamCancel(t *testing.T) {
	c, m := newConfigClient(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.SubscribeConfiguration(ctx, &runtimev1.SubscribeConfigurationRequest{StoreName: "cfg"})
	if err != nil {
		t.Fatal(err)
	}
	recvUpdate(t, s)
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for m.Subscriptions() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("subscription still active after the client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
