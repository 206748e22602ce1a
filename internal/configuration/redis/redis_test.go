package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/configuration/configtest"
	"github.com/outrigger/outrigger/internal/redisconf"
	"github.com/outrigger/outrigger/internal/testutil"
)

const redisAddr = "127.0.0.1:6379"

// TestMain turns keyspace notifications on for the run when the server has
// them off, and puts the old setting back afterwards. It leaves the server
// alone when it is unreachable (the tests then skip) or when another run
// changed the setting in between.
func TestMain(m *testing.M) {
	restore := enableNotifications()
	code := m.Run()
	restore()
	os.Exit(code)
}

func enableNotifications() (restore func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c := goredis.NewClient(&goredis.Options{Addr: redisAddr, MaxRetries: -1})
	old, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		_ = c.Close()
		return func() {}
	}
	prev := old["notify-keyspace-events"]
	if notificationsEnabled(prev) {
		_ = c.Close()
		return func() {}
	}
	set := prev + "KA"
	if err := c.ConfigSet(ctx, "notify-keyspace-events", set).Err(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot enable Redis keyspace notifications:", err)
		_ = c.Close()
		return func() {}
	}
	return func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		now, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
		if err != nil || !notificationsEnabled(now["notify-keyspace-events"]) {
			return // someone else changed it since; theirs to restore
		}
		_ = c.ConfigSet(ctx, "notify-keyspace-events", prev).Err()
	}
}

// env is one test's unique key prefix, a raw client to change data, and
// cleanup of every key with the prefix.
type env struct {
	prefix string
	db     int
	raw    *goredis.Client
}

func newEnv(t *testing.T, db int) *env {
	t.Helper()
	testutil.RequireService(t, "Redis", redisAddr)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	e := &env{prefix: "ort-cfg-" + hex.EncodeToString(b) + "-", db: db,
		raw: goredis.NewClient(&goredis.Options{Addr: redisAddr, DB: db})}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		it := e.raw.Scan(ctx, 0, e.prefix+"*", 1000).Iterator()
		for it.Next(ctx) {
			e.raw.Del(ctx, it.Val())
		}
		_ = e.raw.Close()
	})
	return e
}

func (e *env) store(t *testing.T) configuration.Store {
	t.Helper()
	s := New()
	md := configuration.Metadata{Name: "cfg", Properties: map[string]string{"redisHost": redisAddr, "redisDB": strconv.Itoa(e.db)}}
	if err := s.Init(context.Background(), md); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (e *env) set(t *testing.T, key string, it configuration.Item) {
	t.Helper()
	v := it.Value
	if it.Version != "" {
		v += versionSep + it.Version
	}
	if err := e.raw.Set(context.Background(), key, v, 0).Err(); err != nil {
		t.Fatal(err)
	}
}

func (e *env) del(t *testing.T, key string) {
	t.Helper()
	if err := e.raw.Del(context.Background(), key).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	e := newEnv(t, 0)
	configtest.Run(t, configtest.Backend{
		Store:  e.store(t),
		Set:    e.set,
		Delete: e.del,
		Prefix: e.prefix,
		Shared: true,
	})
}

func TestParseValue(t *testing.T) {
	tests := []struct{ in, value, version string }{
		{"plain", "plain", ""},
		{"v||1", "v", "1"},
		{"||7", "", "7"},
		{"v||", "v", ""},
		{"a||b||c", "a", "b"},
		{"", "", ""},
		{"with | pipe", "with | pipe", ""},
	}
	for _, tt := range tests {
		got := parseValue(tt.in)
		if got.Value != tt.value || got.Version != tt.version {
			t.Errorf("parseValue(%q) = %q, %q; want %q, %q", tt.in, got.Value, got.Version, tt.value, tt.version)
		}
	}
}

func TestNotificationsEnabled(t *testing.T) {
	tests := []struct {
		flags string
		want  bool
	}{
		{"", false},
		{"KA", true},
		{"AKE", true},
		{"K$g", true},
		{"gxK$", true},
		{"K$", false},
		{"EA", false},
	}
	for _, tt := range tests {
		if got := notificationsEnabled(tt.flags); got != tt.want {
			t.Errorf("notificationsEnabled(%q) = %v, want %v", tt.flags, got, tt.want)
		}
	}
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
	}{
		{"no host", map[string]string{}},
		{"bad db", map[string]string{"redisHost": redisAddr, "redisDB": "x"}},
		{"bad type", map[string]string{"redisHost": redisAddr, "redisType": "ring"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := New().Init(context.Background(), configuration.Metadata{Name: "c", Properties: tt.props}); err == nil {
				t.Fatal("Init succeeded; want an error")
			}
		})
	}
}

// TestGetSkipsOtherTypes: a key of another Redis type is not an item,
// neither when asked for nor in a full read.
func TestGetSkipsOtherTypes(t *testing.T) {
	e := newEnv(t, 0)
	s := e.store(t)
	ctx := context.Background()
	str, hash := e.prefix+"str", e.prefix+"hash"
	e.set(t, str, configuration.Item{Value: "v", Version: "1"})
	if err := e.raw.HSet(ctx, hash, "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, []string{str, hash}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[str] == nil || got[str].Value != "v" {
		t.Fatalf("Get = %v, want only %q", got, str)
	}
	all, err := s.Get(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := all[hash]; ok || all[str] == nil {
		t.Fatalf("Get all: hash present %v, string present %v", ok, all[str] != nil)
	}
}

// TestSubscribeOtherDB: the channel names the configured database, and an
// expiry reaches subscribers as an empty value.
func TestSubscribeOtherDB(t *testing.T) {
	e := newEnv(t, 3)
	s := e.store(t)
	ctx := context.Background()
	k := e.prefix + "expiring"
	got := make(chan configuration.Item, 8)
	id, err := s.Subscribe(ctx, []string{k}, nil, func(_ context.Context, _ string, items map[string]*configuration.Item) error {
		got <- *items[k]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Unsubscribe(ctx, id) }()
	if err := e.raw.Set(ctx, k, "soon gone||9", 50*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	want := []configuration.Item{{Value: "soon gone", Version: "9"}, {}}
	for _, w := range want {
		select {
		case it := <-got:
			// SET with EX also publishes "expire", re-read as the same value.
			for it.Value != w.Value && it.Value == "soon gone" {
				it = <-got
			}
			if it.Value != w.Value || it.Version != w.Version {
				t.Fatalf("update = %+v, want %+v", it, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no update %+v", w)
		}
	}
}

// TestCloseStopsSubscriptions: Close returns with subscriptions running
// and later calls fail cleanly.
func TestCloseStopsSubscriptions(t *testing.T) {
	e := newEnv(t, 0)
	s := New()
	ctx := context.Background()
	if err := s.Init(ctx, configuration.Metadata{Name: "c", Properties: map[string]string{"redisHost": redisAddr}}); err != nil {
		t.Fatal(err)
	}
	noop := func(context.Context, string, map[string]*configuration.Item) error { return nil }
	id, err := s.Subscribe(ctx, []string{e.prefix + "a"}, nil, noop)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	if err := s.Unsubscribe(ctx, id); err == nil {
		t.Error("Unsubscribe after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestReconnect: a subscription whose connection is killed subscribes
// again and keeps delivering.
func TestReconnect(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	name := e.prefix + "reconnect"
	s := New()
	if err := s.Init(ctx, configuration.Metadata{Name: name, Properties: map[string]string{"redisHost": redisAddr}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	k := e.prefix + "k"
	got := make(chan string, 8)
	id, err := s.Subscribe(ctx, []string{k}, nil, func(_ context.Context, _ string, items map[string]*configuration.Item) error {
		got <- items[k].Value
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Unsubscribe(ctx, id) }()
	if n := e.killSubscribers(t, redisconf.ClientName("outrigger-configuration", name)); n != 1 {
		t.Fatalf("killed %d subscriber connections, want 1", n)
	}
	// The subscription is back once Redis lists it again.
	deadline := time.Now().Add(5 * time.Second)
	for e.countSubscribers(t, redisconf.ClientName("outrigger-configuration", name)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the subscription did not reconnect")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.set(t, k, configuration.Item{Value: "after reconnect"})
	select {
	case v := <-got:
		if v != "after reconnect" {
			t.Fatalf("update %q", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no update after reconnecting")
	}
}

// subscribers lists the ids of the Pub/Sub connections named name.
func (e *env) subscribers(t *testing.T, name string) []string {
	t.Helper()
	list, err := e.raw.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(list, "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				f[k] = v
			}
		}
		if f["name"] == name && f["sub"] != "0" && f["sub"] != "" {
			ids = append(ids, f["id"])
		}
	}
	return ids
}

func (e *env) countSubscribers(t *testing.T, name string) int { return len(e.subscribers(t, name)) }

func (e *env) killSubscribers(t *testing.T, name string) int {
	t.Helper()
	ids := e.subscribers(t, name)
	for _, id := range ids {
		if err := e.raw.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return len(ids)
}
