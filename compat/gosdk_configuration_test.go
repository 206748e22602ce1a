package compat

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/compat/harness"
)

// configQuiet is how long a test waits to see that no update arrives.
const configQuiet = 500 * time.Millisecond

// TestGoSDKConfiguration reads and watches configuration.redis items with
// the Go SDK: GetConfigurationItem(s), SubscribeConfigurationItems and
// UnsubscribeConfigurationItems.
func TestGoSDKConfiguration(t *testing.T) {
	t.Parallel()
	f := startConfig(t, "config-go-"+uniq(t))
	c := goClient(t, f.sc)
	t.Run("metadata", func(t *testing.T) { wantComponent(t, c, configStoreName, "configuration.redis") })
	t.Run("get", func(t *testing.T) { goConfigGet(t, c, f.prefix) })
	t.Run("get-all", func(t *testing.T) { goConfigGetAll(t, c, f.prefix) })
	t.Run("subscribe", func(t *testing.T) { goConfigSubscribe(t, c, f.prefix) })
	t.Run("subscribe-cancel", func(t *testing.T) { goConfigCancel(t, c, f.prefix) })
	t.Run("errors", func(t *testing.T) { goConfigErrors(t, c, rawClient(t, f.sc)) })
}

// cfgItem is a ConfigurationItem's value and version, for comparisons.
// configuration.redis items carry no metadata: cfgItems appends any to the
// version so that comparisons catch it.
type cfgItem struct{ value, version string }

func cfgItems(in map[string]*dapr.ConfigurationItem) map[string]cfgItem {
	out := make(map[string]cfgItem, len(in))
	for k, v := range in {
		out[k] = cfgItem{v.Value, v.Version}
		if len(v.Metadata) != 0 {
			out[k] = cfgItem{v.Value, v.Version + " metadata=" + fmt.Sprint(v.Metadata)}
		}
	}
	return out
}

func goConfigGet(t *testing.T, c dapr.Client, p string) {
	ctx := callCtx(t)
	a, err := c.GetConfigurationItem(ctx, configStoreName, p+"a")
	if err != nil {
		t.Fatalf("GetConfigurationItem(%sa): %v", p, err)
	}
	if a == nil || a.Value != "value-a" || a.Version != "1" {
		t.Errorf("GetConfigurationItem(%sa) = %+v, want value %q version %q", p, a, "value-a", "1")
	}
	// A missing key is left out of the answer, not an error.
	got, err := c.GetConfigurationItems(ctx, configStoreName, []string{p + "a", p + "b", p + "missing"})
	if err != nil {
		t.Fatalf("GetConfigurationItems: %v", err)
	}
	want := map[string]cfgItem{p + "a": {"value-a", "1"}, p + "b": {"value b ✓", ""}}
	if g := cfgItems(got); !maps.Equal(g, want) {
		t.Errorf("GetConfigurationItems(a, b, missing) = %v, want %v", g, want)
	}
	missing, err := c.GetConfigurationItem(ctx, configStoreName, p+"missing")
	if err != nil || missing != nil {
		t.Errorf("GetConfigurationItem(missing) = %+v, %v; want nil, nil", missing, err)
	}
}

// goConfigGetAll asks for no keys: every item of the store. The database
// may hold other tests' keys (and keys of other types), so only this
// test's items are compared.
func goConfigGetAll(t *testing.T, c dapr.Client, p string) {
	got, err := c.GetConfigurationItems(callCtx(t), configStoreName, nil)
	if err != nil {
		t.Fatalf("GetConfigurationItems(no keys): %v", err)
	}
	mine := map[string]cfgItem{}
	for k, v := range cfgItems(got) {
		if strings.HasPrefix(k, p) {
			mine[k] = v
		}
	}
	want := map[string]cfgItem{p + "a": {"value-a", "1"}, p + "b": {"value b ✓", ""}}
	if !maps.Equal(mine, want) {
		t.Errorf("GetConfigurationItems(no keys) has %v of this test's keys, want %v", mine, want)
	}
}

// updates collects what a subscription's handler receives.
type updates struct {
	mu  sync.Mutex
	ids []string
	got []map[string]cfgItem
}

func (u *updates) handle(id string, in map[string]*dapr.ConfigurationItem) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.ids = append(u.ids, id)
	u.got = append(u.got, cfgItems(in))
}

func (u *updates) snapshot() ([]string, []map[string]cfgItem) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.ids...), append([]map[string]cfgItem(nil), u.got...)
}

// waitKey waits for an update that carries key and returns its items.
func (u *updates) waitKey(t *testing.T, key string) map[string]cfgItem {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		_, got := u.snapshot()
		for _, g := range got {
			if _, ok := g[key]; ok {
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no update for %s after %s; got %v", key, deliveryTimeout, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func goConfigSubscribe(t *testing.T, c dapr.Client, p string) {
	u := &updates{}
	// The stream lives as long as this context.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	id := goSubscribeConfig(t, ctx, c, []string{p + "a", p + "b"}, u.handle)
	if id == "" {
		t.Fatal("SubscribeConfigurationItems returned an empty subscription id")
	}

	harness.MustRedis(t, redisAddr, "SET", p+"a", "value-a2||2")
	if got := u.waitKey(t, p+"a"); got[p+"a"] != (cfgItem{"value-a2", "2"}) {
		t.Errorf("update of %sa = %v, want value-a2 version 2", p, got)
	}
	// A key outside the subscription brings no update; b's change comes
	// after it, so once b's update is in, c's would have been too.
	harness.MustRedis(t, redisAddr, "SET", p+"c", "value-c")
	harness.MustRedis(t, redisAddr, "SET", p+"b", "value-b2||7")
	if got := u.waitKey(t, p+"b"); got[p+"b"] != (cfgItem{"value-b2", "7"}) {
		t.Errorf("update of %sb = %v, want value-b2 version 7", p, got)
	}
	ids, got := u.snapshot()
	for i, g := range got {
		if _, ok := g[p+"c"]; ok {
			t.Errorf("update %v carries %sc, which is not subscribed", g, p)
		}
		if ids[i] != id {
			t.Errorf("update %v came with subscription id %q, want %q", g, ids[i], id)
		}
	}

	//lint:ignore SA1019 deprecated in the SDK but still a Dapr API apps call
	if err := c.UnsubscribeConfigurationItems(callCtx(t), configStoreName, id); err != nil {
		t.Fatalf("UnsubscribeConfigurationItems(%s): %v", id, err)
	}
	waitNoListeners(t, p)
	n := len(got)
	harness.MustRedis(t, redisAddr, "SET", p+"a", "value-a3||3")
	time.Sleep(configQuiet)
	if _, after := u.snapshot(); len(after) != n {
		t.Errorf("updates after UnsubscribeConfigurationItems: %v", after[n:])
	}
	//lint:ignore SA1019 deprecated in the SDK but still a Dapr API apps call
	if err := c.UnsubscribeConfigurationItems(callCtx(t), configStoreName, id); err == nil {
		t.Errorf("second UnsubscribeConfigurationItems(%s) succeeded, want an error for an unknown id", id)
	}
}

// goConfigCancel ends a subscription the way the SDK recommends, by
// cancelling the stream's context: the sidecar must stop listening.
func goConfigCancel(t *testing.T, c dapr.Client, p string) {
	u := &updates{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	goSubscribeConfig(t, ctx, c, []string{p + "d"}, u.handle)
	harness.MustRedis(t, redisAddr, "SET", p+"d", "value-d||1")
	if got := u.waitKey(t, p+"d"); got[p+"d"] != (cfgItem{"value-d", "1"}) {
		t.Errorf("update of %sd = %v, want value-d version 1", p, got)
	}
	cancel()
	waitNoListeners(t, p)
}

// waitNoListeners waits until no Redis connection listens to keyspace
// notifications of this test's keys any more: an ended subscription must
// release them. (PUBSUB CHANNELS lists channels, not patterns: a store
// subscribing with patterns would pass unchecked.)
func waitNoListeners(t *testing.T, p string) {
	t.Helper()
	pattern := "__keyspace@0__:" + p + "*"
	deadline := time.Now().Add(deliveryTimeout)
	for {
		got := harness.MustRedis(t, redisAddr, "PUBSUB", "CHANNELS", pattern)
		if l, ok := got.([]any); ok && len(l) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis channels %v still have subscribers %s after the subscription ended", got, deliveryTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goSubscribeConfig calls SubscribeConfigurationItems with a deadline: the
// SDK waits for the stream's first message without one, and would hang the
// test if the sidecar ended the stream before sending it.
func goSubscribeConfig(t *testing.T, ctx context.Context, c dapr.Client, keys []string, h dapr.ConfigurationHandleFunction) string {
	t.Helper()
	type result struct {
		id  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		id, err := c.SubscribeConfigurationItems(ctx, configStoreName, keys, h)
		done <- result{id, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("SubscribeConfigurationItems(%v): %v", keys, r.err)
		}
		return r.id
	case <-time.After(deliveryTimeout):
		t.Fatalf("SubscribeConfigurationItems(%v) did not return within %s: the sidecar sent no first message with the subscription id", keys, deliveryTimeout)
		return ""
	}
}

func goConfigErrors(t *testing.T, c dapr.Client, raw runtimev1.DaprClient) {
	if _, err := c.GetConfigurationItem(callCtx(t), "no-such-store", "k"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetConfigurationItem(no-such-store) error = %v, want code %v", err, codes.InvalidArgument)
	}
	// The SDK cannot report a subscription the sidecar refuses (it waits
	// for an id forever), so this one uses the generated client.
	stream, err := raw.SubscribeConfiguration(callCtx(t), &runtimev1.SubscribeConfigurationRequest{StoreName: "no-such-store", Keys: []string{"k"}})
	if err == nil {
		var msg *runtimev1.SubscribeConfigurationResponse
		msg, err = stream.Recv()
		if err == nil {
			t.Fatalf("SubscribeConfiguration(no-such-store) sent %v, want an error", msg)
		}
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("SubscribeConfiguration(no-such-store) error = %v, want code %v", err, codes.InvalidArgument)
	}
}
