package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/bindings/inputs"
	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/pubsub/delivery"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

func TestDiffComponents(t *testing.T) {
	comp := func(name, typ, value string, scopes ...string) resources.Component {
		c := resources.Component{Metadata: resources.ObjectMeta{Name: name}, Scopes: scopes}
		c.Spec.Type = typ
		v, err := resources.NewDynamicValue(value)
		if err != nil {
			t.Fatal(err)
		}
		c.Spec.Metadata = []resources.MetadataItem{{Name: "k", Value: v}}
		return c
	}
	old := map[string]resources.Component{
		"state/a":  comp("a", "state.in-memory", "1"),
		"state/b":  comp("b", "state.in-memory", "1"),
		"pubsub/a": comp("a", "pubsub.in-memory", "1"),
	}
	tests := []struct {
		name string
		next []resources.Component
		want map[string]string // key -> added/changed/removed
	}{
		{"unchanged", []resources.Component{comp("a", "state.in-memory", "1"), comp("b", "state.in-memory", "1"), comp("a", "pubsub.in-memory", "1")}, map[string]string{}},
		{"metadata changed", []resources.Component{comp("a", "state.in-memory", "2"), comp("b", "state.in-memory", "1"), comp("a", "pubsub.in-memory", "1")}, map[string]string{"state/a": "changed"}},
		{"scopes changed", []resources.Component{comp("a", "state.in-memory", "1", "app1"), comp("b", "state.in-memory", "1"), comp("a", "pubsub.in-memory", "1")}, map[string]string{"state/a": "changed"}},
		{"added and removed", []resources.Component{comp("a", "state.in-memory", "1"), comp("c", "state.in-memory", "1")}, map[string]string{"state/c": "added", "state/b": "removed", "pubsub/a": "removed"}},
		{"source file ignored", func() []resources.Component {
			a := comp("a", "state.in-memory", "1")
			a.Source.File = "elsewhere.yaml"
			return []resources.Component{a, comp("b", "state.in-memory", "1"), comp("a", "pubsub.in-memory", "1")}
		}(), map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			for _, ch := range diffComponents(old, tt.next) {
				switch {
				case ch.old == nil:
					got[ch.key] = "added"
				case ch.new == nil:
					got[ch.key] = "removed"
				default:
					got[ch.key] = "changed"
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("diff = %v, want %v", got, tt.want)
			}
		})
	}
}

// fakeLocks are the instances of the lock.hotreload-fake type, by the
// "instance" metadata value.
var fakeLocks sync.Map

// fakeLock is a lock store whose TryLock can be held open (gate) and which
// records Close. Init fails when metadata "fail" is "true".
type fakeLock struct {
	instance string
	gate     chan struct{}
	entered  chan struct{}
	calls    atomic.Int32
	closed   atomic.Bool
}

func (f *fakeLock) Init(_ context.Context, md lock.Metadata) error {
	if md.Properties["fail"] == "true" {
		return errors.New("init refused on purpose")
	}
	f.instance = md.Properties["instance"]
	f.gate = make(chan struct{})
	f.entered = make(chan struct{}, 16)
	fakeLocks.Store(f.instance, f)
	return nil
}

func (f *fakeLock) TryLock(ctx context.Context, resourceID, _ string, _ int32) (bool, error) {
	if f.closed.Load() {
		return false, errors.New("store is closed")
	}
	f.calls.Add(1)
	if strings.HasSuffix(resourceID, "slow") { // the key carries the store prefix
		f.entered <- struct{}{}
		select {
		case <-f.gate:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	if f.closed.Load() {
		return false, errors.New("store closed during the call")
	}
	return true, nil
}

func (f *fakeLock) Unlock(context.Context, string, string) (lock.UnlockStatus, error) {
	return lock.UnlockSuccess, nil
}

func (f *fakeLock) Close() error { f.closed.Store(true); return nil }

func init() {
	lock.Registry.Register("lock.hotreload-fake", func() lock.Store { return &fakeLock{} })
}

func fakeLockByInstance(t *testing.T, instance string) *fakeLock {
	t.Helper()
	v, ok := fakeLocks.Load(instance)
	if !ok {
		t.Fatalf("no lock instance %q was initialised", instance)
	}
	return v.(*fakeLock)
}

func writeLockFile(t *testing.T, dir, instance string, fail bool) {
	t.Helper()
	doc := fmt.Sprintf(`apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: locks
spec:
  type: lock.hotreload-fake
  version: v1
  metadata:
  - name: instance
    value: %q
  - name: fail
    value: "%t"
`, instance, fail)
	if err := os.WriteFile(filepath.Join(dir, "locks.yaml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newTestReloader loads dir like Run does and returns the Core and a
// reloader wired to it (no watcher: the test calls reload itself).
func newTestReloader(t *testing.T, dir string) (*api.Core, *reloader) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	opts := options.Options{AppID: "hr-app", ResourcesPaths: []string{dir}}
	set, err := resources.Load(ctx, resources.LoadOptions{ResourcesPaths: opts.ResourcesPaths, AppID: opts.AppID})
	if err != nil {
		t.Fatal(err)
	}
	env := componentEnv{appID: opts.AppID, log: log}
	comps, err := loadComponents(ctx, env, set.Components)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { comps.close(log) })
	md := api.NewMetadata(api.MetadataInfo{AppID: opts.AppID, Components: comps.registered})
	core := api.New(api.Config{AppID: opts.AppID, Locks: comps.locks, Metadata: md})
	engine, err := delivery.New(delivery.Config{AppID: opts.AppID, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	res, err := resiliency.New(nil, resiliency.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]resources.Component{}
	for _, c := range set.Components {
		live[componentKey(c)] = c
	}
	return core, &reloader{
		opts: opts, env: env, log: log, core: core, md: md, engine: engine,
		inputs: inputs.New(inputs.Config{Logger: log}), res: res,
		comps: comps, pinned: pinnedComponents(comps), set: set, live: live,
	}
}

func tryLock(core *api.Core, resource string) error {
	leave := core.EnterCall() // as the transports do
	defer leave()
	_, err := core.TryLock(context.Background(), &runtimev1.TryLockRequest{StoreName: "locks", ResourceId: resource, LockOwner: "me", ExpiryInSeconds: 10})
	return err
}

func TestReloadSwapsAfterInFlightCallsFinish(t *testing.T) {
	dir := t.TempDir()
	writeLockFile(t, dir, "swap-v1", false)
	core, r := newTestReloader(t, dir)
	v1 := fakeLockByInstance(t, "swap-v1")

	// A call holds the old instance while the reload happens.
	inFlight := make(chan error, 1)
	go func() { inFlight <- tryLock(core, "slow") }()
	select {
	case <-v1.entered:
	case err := <-inFlight:
		t.Fatalf("call returned before reaching the store: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("call never reached the store")
	}

	writeLockFile(t, dir, "swap-v2", false)
	reloaded := make(chan struct{})
	go func() { r.reload(context.Background()); close(reloaded) }()

	// New calls reach the new instance while the old call is still open.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v, ok := fakeLocks.Load("swap-v2"); ok && v.(*fakeLock).calls.Load() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new instance never served a call")
		}
		if err := tryLock(core, "fast"); err != nil {
			t.Fatalf("call during reload failed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v1.closed.Load() {
		t.Fatal("old instance closed while a call was using it")
	}
	close(v1.gate)
	if err := <-inFlight; err != nil {
		t.Fatalf("in-flight call on the old instance failed: %v", err)
	}
	select {
	case <-reloaded:
	case <-time.After(drainTimeout + 5*time.Second):
		t.Fatal("reload did not finish")
	}
	if !v1.closed.Load() {
		t.Fatal("old instance not closed after its calls finished")
	}
	if fakeLockByInstance(t, "swap-v2").closed.Load() {
		t.Fatal("new instance closed")
	}
}

func TestReloadFailingInitKeepsOld(t *testing.T) {
	dir := t.TempDir()
	writeLockFile(t, dir, "keep-v1", false)
	core, r := newTestReloader(t, dir)
	v1 := fakeLockByInstance(t, "keep-v1")

	writeLockFile(t, dir, "keep-v2", true)
	r.reload(context.Background())
	if err := tryLock(core, "x"); err != nil {
		t.Fatalf("old instance stopped serving: %v", err)
	}
	if v1.closed.Load() || v1.calls.Load() != 1 {
		t.Fatalf("old instance: closed=%v calls=%d; want open with 1 call", v1.closed.Load(), v1.calls.Load())
	}

	// A file that does not parse changes nothing either.
	if err := os.WriteFile(filepath.Join(dir, "locks.yaml"), []byte("kind: Component\nmetadata: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.reload(context.Background())
	if err := tryLock(core, "y"); err != nil || v1.calls.Load() != 2 {
		t.Fatalf("after a bad file: err=%v calls=%d", err, v1.calls.Load())
	}

	// Removing the file removes the store and closes it.
	if err := os.Remove(filepath.Join(dir, "locks.yaml")); err != nil {
		t.Fatal(err)
	}
	r.reload(context.Background())
	if err := tryLock(core, "z"); err == nil {
		t.Fatal("removed lock store still answers")
	}
	if !v1.closed.Load() {
		t.Fatal("removed lock store not closed")
	}
	md, _ := core.GetMetadata(context.Background(), nil)
	if len(md.GetRegisteredComponents()) != 0 {
		t.Fatalf("metadata still lists %v", md.GetRegisteredComponents())
	}
}
