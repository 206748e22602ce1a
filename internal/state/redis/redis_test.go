package redis

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/redisconf"
	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/statetest"
	"github.com/outrigger/outrigger/internal/testutil"
)

const testAddr = "127.0.0.1:6379"

// testEnv is one test's view of the shared server: a raw client for
// checking the layout and a key prefix unique to the test.
type testEnv struct {
	raw    *goredis.Client
	prefix string
	name   string // component name, unique per test
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	testutil.RequireService(t, "Redis", testAddr)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	e := &testEnv{
		raw:    goredis.NewClient(&goredis.Options{Addr: testAddr}),
		prefix: "redistest-" + id + "||",
		name:   "redistest-" + id,
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.deleteKeys(ctx, t)
		_ = e.raw.Close()
	})
	return e
}

// deleteKeys removes every key under the test's prefix.
func (e *testEnv) deleteKeys(ctx context.Context, t *testing.T) {
	iter := e.raw.Scan(ctx, 0, e.prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		e.raw.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("cleanup scan: %v", err)
	}
}

func (e *testEnv) key(name string) string { return e.prefix + name }

func (e *testEnv) metadata(extra ...string) state.Metadata {
	p := map[string]string{"redisHost": testAddr}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return state.Metadata{Name: e.name, Properties: p}
}

// store returns an initialised store closed at the end of the test.
func (e *testEnv) store(t *testing.T, extra ...string) *Store {
	t.Helper()
	s := New().(*Store)
	if err := s.Init(t.Context(), e.metadata(extra...)); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// killStoreConns closes, server side, every connection whose client name
// is the test component's. Killing only those (rather than every client)
// keeps other tests sharing the server undisturbed.
func (e *testEnv) killStoreConns(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	list, err := e.raw.ClientList(ctx).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	killed := 0
	sc := bufio.NewScanner(strings.NewReader(list))
	for sc.Scan() {
		fields := map[string]string{}
		for _, f := range strings.Fields(sc.Text()) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		if fields["name"] != redisconf.ClientName("outrigger-state", e.name) {
			continue
		}
		if err := e.raw.Do(ctx, "CLIENT", "KILL", "ID", fields["id"]).Err(); err != nil {
			t.Fatalf("CLIENT KILL ID %s: %v", fields["id"], err)
		}
		killed++
	}
	if killed == 0 {
		t.Fatalf("no connection named %q to kill", redisconf.ClientName("outrigger-state", e.name))
	}
}

func TestConformance(t *testing.T) {
	e := newEnv(t)
	statetest.Run(t, statetest.Config{
		New:                New,
		Metadata:           e.metadata(),
		Restart:            e.killStoreConns,
		TTLExpireTimeInGet: true,
	})
}

// TestReadsDaprLayout writes items the way Dapr's store does and reads them
// back through the store.
func TestReadsDaprLayout(t *testing.T) {
	e := newEnv(t)
	s := e.store(t)
	ctx := t.Context()
	k := e.key("dapr-written")
	value := []byte{0x00, 0xff, '"', 'x', '\n'}
	e.raw.HSet(ctx, k, "data", value, "version", 7, "first-write", 0)

	res, err := s.Get(ctx, state.GetRequest{Key: k})
	if err != nil || !res.Found || string(res.Data) != string(value) || res.ETag != "7" {
		t.Fatalf("Get = %+v, %v; want data %q etag 7", res, err, value)
	}
	if res.Metadata[state.MetaTTLExpireTime] != "" {
		t.Errorf("Get of a key without TTL: metadata %v", res.Metadata)
	}

	etag := "7"
	if err := s.Set(ctx, state.SetRequest{Key: k, Value: []byte(`"new"`), ETag: &etag}); err != nil {
		t.Fatalf("Set with etag 7: %v", err)
	}
	got := e.raw.HGetAll(ctx, k).Val()
	want := map[string]string{"data": `"new"`, "version": "8", "first-write": "0"}
	if len(got) != len(want) || got["data"] != want["data"] || got["version"] != want["version"] || got["first-write"] != "0" {
		t.Errorf("HGETALL after Set = %v, want %v", got, want)
	}
}

// TestWritesDaprLayout checks what the store leaves in Redis.
func TestWritesDaprLayout(t *testing.T) {
	e := newEnv(t)
	s := e.store(t)
	ctx := t.Context()
	k := e.key("outrigger-written")
	value := []byte{0xfe, 0x00, 0x01}
	for i, want := range []string{"1", "2"} {
		if err := s.Set(ctx, state.SetRequest{Key: k, Value: value}); err != nil {
			t.Fatalf("Set #%d: %v", i+1, err)
		}
		got := e.raw.HGetAll(ctx, k).Val()
		if len(got) != 2 || got["data"] != string(value) || got["version"] != want {
			t.Errorf("HGETALL after write %d = %q, want data %q version %s", i+1, got, value, want)
		}
	}
	// Dapr increments the version with HINCRBY: it must stay an integer.
	if err := e.raw.HIncrBy(ctx, k, "version", 1).Err(); err != nil {
		t.Errorf("HINCRBY version after our writes: %v", err)
	}
	if typ := e.raw.Type(ctx, k).Val(); typ != "hash" {
		t.Errorf("TYPE = %s, want hash", typ)
	}
}

// TestLegacyStringValue reads a key holding a plain string, as Dapr does.
func TestLegacyStringValue(t *testing.T) {
	e := newEnv(t)
	s := e.store(t)
	ctx := t.Context()
	k := e.key("legacy")
	e.raw.Set(ctx, k, "plain", 0)

	res, err := s.Get(ctx, state.GetRequest{Key: k})
	if err != nil || !res.Found || string(res.Data) != "plain" || res.ETag != "" {
		t.Fatalf("Get = %+v, %v; want data \"plain\" without etag", res, err)
	}
	etag := "1"
	err = s.Set(ctx, state.SetRequest{Key: k, Value: []byte("x"), ETag: &etag})
	if e, ok := state.AsETagError(err); !ok || e.Kind != state.ETagMismatch {
		t.Errorf("Set with etag over a legacy string: %v, want ETag mismatch", err)
	}
	if err := s.Set(ctx, state.SetRequest{Key: k, Value: []byte("x")}); err != nil {
		t.Fatalf("Set over a legacy string: %v", err)
	}
	if got := e.raw.HGetAll(ctx, k).Val(); got["data"] != "x" || got["version"] != "1" {
		t.Errorf("HGETALL after overwrite = %v", got)
	}
}

func TestBadStoredItems(t *testing.T) {
	e := newEnv(t)
	s := e.store(t)
	ctx := t.Context()
	noVersion, list := e.key("no-version"), e.key("list")
	e.raw.HSet(ctx, noVersion, "data", "x")
	e.raw.RPush(ctx, list, "a")

	tests := []struct{ key, want string }{
		{noVersion, "'version'"},
		{list, "list"},
	}
	for _, tt := range tests {
		_, err := s.Get(ctx, state.GetRequest{Key: tt.key})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Get(%s) error = %v, want one mentioning %s", tt.key, err, tt.want)
		}
	}
	items, err := s.BulkGet(ctx, []state.GetRequest{{Key: list}, {Key: e.key("missing")}})
	if err != nil || len(items) != 2 || !strings.Contains(items[0].Error, "list") || items[1].Found || items[1].Error != "" {
		t.Errorf("BulkGet = %+v, %v; want an error for the list and not-found for the missing key", items, err)
	}
}

func TestMalformedETag(t *testing.T) {
	e := newEnv(t)
	s := e.store(t)
	ctx := t.Context()
	k := e.key("etag")
	if err := s.Set(ctx, state.SetRequest{Key: k, Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	bad := "abc"
	errs := map[string]error{
		"Set":    s.Set(ctx, state.SetRequest{Key: k, Value: []byte("2"), ETag: &bad}),
		"Delete": s.Delete(ctx, state.DeleteRequest{Key: k, ETag: &bad}),
		"Multi": s.Multi(ctx, state.TransactionRequest{Operations: []state.Operation{
			{Type: state.OpUpsert, Set: state.SetRequest{Key: k, Value: []byte("3"), ETag: &bad}},
		}}),
	}
	for op, err := range errs {
		if e, ok := state.AsETagError(err); !ok || e.Kind != state.ETagInvalid {
			t.Errorf("%s with etag %q: %v, want ETag invalid", op, bad, err)
		}
	}
}

// TestLastWriteHonoursETag: unlike Dapr's store, an ETag counts in
// last-write mode too.
func TestLastWriteHonoursETag(t *testing.T) {
	e := newEnv(t)
	s := e.store(t)
	ctx := t.Context()
	k := e.key("lw")
	e.raw.HSet(ctx, k, "data", "v", "version", 3)
	stale := "2"
	err := s.Set(ctx, state.SetRequest{Key: k, Value: []byte("w"), ETag: &stale, Options: state.Options{Concurrency: state.LastWrite}})
	if e, ok := state.AsETagError(err); !ok || e.Kind != state.ETagMismatch {
		t.Errorf("last-write Set with stale etag: %v, want ETag mismatch", err)
	}
}

func TestMultiFailureNamesKeyAndWritesNothing(t *testing.T) {
	e := newEnv(t)
	s := e.store(t)
	ctx := t.Context()
	fresh, victim, stale := e.key("fresh"), e.key("victim"), e.key("stale")
	e.raw.HSet(ctx, victim, "data", "keep", "version", 1)
	e.raw.HSet(ctx, stale, "data", "old", "version", 5)
	etag := "4"
	err := s.Multi(ctx, state.TransactionRequest{Operations: []state.Operation{
		{Type: state.OpUpsert, Set: state.SetRequest{Key: fresh, Value: []byte("x"), Metadata: map[string]string{"ttlInSeconds": "100"}}},
		{Type: state.OpDelete, Delete: state.DeleteRequest{Key: victim}},
		{Type: state.OpUpsert, Set: state.SetRequest{Key: stale, Value: []byte("y"), ETag: &etag}},
	}})
	if e, ok := state.AsETagError(err); !ok || e.Kind != state.ETagMismatch || !strings.Contains(err.Error(), stale) {
		t.Fatalf("Multi = %v, want an ETag mismatch naming %s", err, stale)
	}
	if n := e.raw.Exists(ctx, fresh).Val(); n != 0 {
		t.Errorf("%s was written by a failed transaction", fresh)
	}
	if got := e.raw.HGet(ctx, victim, "data").Val(); got != "keep" {
		t.Errorf("%s data = %q, want it kept", victim, got)
	}
	if got := e.raw.HGetAll(ctx, stale).Val(); got["data"] != "old" || got["version"] != "5" {
		t.Errorf("%s = %v, want it untouched", stale, got)
	}
}

// TestMultiSeesEarlierOperations: conditions are checked against the state
// left by the operations before them in the same transaction.
func TestMultiSeesEarlierOperations(t *testing.T) {
	e := newEnv(t)
	s := e.store(t)
	ctx := t.Context()
	k := e.key("seq")
	e.raw.HSet(ctx, k, "data", "a", "version", 1)
	one, two := "1", "2"
	err := s.Multi(ctx, state.TransactionRequest{Operations: []state.Operation{
		{Type: state.OpUpsert, Set: state.SetRequest{Key: k, Value: []byte("b"), ETag: &one}},
		{Type: state.OpUpsert, Set: state.SetRequest{Key: k, Value: []byte("c"), ETag: &two}},
	}})
	if err != nil {
		t.Fatalf("Multi with chained etags: %v", err)
	}
	if got := e.raw.HGetAll(ctx, k).Val(); got["data"] != "c" || got["version"] != "3" {
		t.Errorf("after chained upserts: %v, want data c version 3", got)
	}
	err = s.Multi(ctx, state.TransactionRequest{Operations: []state.Operation{
		{Type: state.OpDelete, Delete: state.DeleteRequest{Key: k}},
		{Type: state.OpUpsert, Set: state.SetRequest{Key: k, Value: []byte("d"), Options: state.Options{Concurrency: state.FirstWrite}}},
	}})
	if err != nil {
		t.Fatalf("Multi delete then first-write of the same key: %v", err)
	}
	if got := e.raw.HGetAll(ctx, k).Val(); got["data"] != "d" || got["version"] != "1" {
		t.Errorf("after delete + insert: %v, want data d version 1", got)
	}
}

func TestTTL(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ttl := func(k string) time.Duration { return e.raw.TTL(ctx, k).Val() }
	set := func(t *testing.T, s *Store, k, ttl string) {
		t.Helper()
		md := map[string]string{}
		if ttl != "" {
			md["ttlInSeconds"] = ttl
		}
		if err := s.Set(ctx, state.SetRequest{Key: k, Value: []byte("v"), Metadata: md}); err != nil {
			t.Fatalf("Set(%s, ttl %q): %v", k, ttl, err)
		}
	}

	t.Run("per-request", func(t *testing.T) {
		s := e.store(t)
		k := e.key("ttl")
		set(t, s, k, "100")
		if d := ttl(k); d < 95*time.Second || d > 100*time.Second {
			t.Errorf("TTL after ttlInSeconds=100: %s", d)
		}
		res, err := s.Get(ctx, state.GetRequest{Key: k})
		if err != nil {
			t.Fatal(err)
		}
		exp, err := time.Parse(time.RFC3339, res.Metadata[state.MetaTTLExpireTime])
		if err != nil || time.Until(exp) < 90*time.Second || time.Until(exp) > 101*time.Second {
			t.Errorf("ttlExpireTime = %q (%v), want about 100s from now", res.Metadata[state.MetaTTLExpireTime], err)
		}
		set(t, s, k, "-1")
		if d := ttl(k); d != -1 {
			t.Errorf("TTL after ttlInSeconds=-1: %s, want none", d)
		}
		set(t, s, k, "100")
		set(t, s, k, "")
		if d := ttl(k); d != -1 {
			t.Errorf("TTL after a write without ttlInSeconds: %s, want none", d)
		}
	})
	t.Run("component-default", func(t *testing.T) {
		s := e.store(t, "ttlInSeconds", "50")
		k := e.key("ttl-default")
		set(t, s, k, "")
		if d := ttl(k); d < 45*time.Second || d > 50*time.Second {
			t.Errorf("TTL with component ttlInSeconds=50: %s", d)
		}
		set(t, s, k, "200")
		if d := ttl(k); d < 195*time.Second {
			t.Errorf("TTL with request ttlInSeconds=200 over the default: %s", d)
		}
		set(t, s, k, "-1")
		if d := ttl(k); d != -1 {
			t.Errorf("TTL with request ttlInSeconds=-1 over the default: %s, want none", d)
		}
	})
	t.Run("too-large", func(t *testing.T) {
		s := e.store(t)
		err := s.Set(ctx, state.SetRequest{Key: e.key("ttl-big"), Value: []byte("v"), Metadata: map[string]string{"ttlInSeconds": "18446744074"}})
		var ire *state.InvalidRequestError
		if !errors.As(err, &ire) {
			t.Errorf("Set with a huge TTL: %v, want an invalid request", err)
		}
	})
}

func TestKeysLike(t *testing.T) {
	e := newEnv(t)
	s := e.store(t)
	ctx := t.Context()
	want := map[string]bool{}
	for _, n := range []string{"a1", "a2", "a3", "a4", "a5", "b1"} {
		k := e.key("kl||" + n)
		if err := s.Set(ctx, state.SetRequest{Key: k, Value: []byte("1")}); err != nil {
			t.Fatal(err)
		}
		if n[0] == 'a' {
			want[k] = true
		}
	}
	got := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("KeysLike did not finish")
		}
		keys, next, err := s.KeysLike(ctx, e.key("kl||a_"), token, 2)
		if err != nil {
			t.Fatalf("KeysLike: %v", err)
		}
		for _, k := range keys {
			got[k] = true
		}
		if next == "" {
			break
		}
		token = next
	}
	if len(got) != len(want) {
		t.Errorf("KeysLike = %v, want %v", got, want)
	}
	for k := range want {
		if !got[k] {
			t.Errorf("KeysLike missed %s", k)
		}
	}
	if _, _, err := s.KeysLike(ctx, "%", "not-a-cursor", 1); err == nil {
		t.Error("KeysLike with a bad token: want an error")
	}
}

// TestScriptCacheMiss runs scripts the server has never seen through both
// helpers: they must fall back to sending the source.
func TestScriptCacheMiss(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	fresh := func() *goredis.Script {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		return goredis.NewScript("-- " + hex.EncodeToString(b) + "\nreturn ARGV[1]")
	}
	if got, err := runScript(ctx, e.raw, fresh(), nil, "one").Text(); err != nil || got != "one" {
		t.Errorf("runScript = %q, %v", got, err)
	}
	calls := []scriptCall{{args: []any{"a"}}, {args: []any{"b"}}}
	runPipelined(ctx, e.raw, fresh(), calls)
	for i, want := range []string{"a", "b"} {
		if got, err := calls[i].cmd.Text(); err != nil || got != want {
			t.Errorf("pipelined call %d = %q, %v; want %q", i, got, err, want)
		}
	}
}

func TestInitUnreachable(t *testing.T) {
	s := New()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := s.Init(ctx, state.Metadata{Properties: map[string]string{"redisHost": "127.0.0.1:1", "redisMaxRetries": "-1"}})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Init against a closed port: %v, want an error naming the host", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after failed Init: %v", err)
	}
}

// TestRESP2Replies decodes script replies over RESP2, where a missing
// field arrives as nil rather than RESP3's false.
func TestRESP2Replies(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c := goredis.NewClient(&goredis.Options{Addr: testAddr, Protocol: 2})
	t.Cleanup(func() { _ = c.Close() })
	s := &Store{client: c, cfg: config{Config: redisconf.Config{Host: testAddr}}}
	legacy, item := e.key("resp2-legacy"), e.key("resp2-item")
	e.raw.Set(ctx, legacy, "plain", 0)
	if err := s.Set(ctx, state.SetRequest{Key: item, Value: []byte("v"), Metadata: map[string]string{"ttlInSeconds": "60"}}); err != nil {
		t.Fatal(err)
	}
	items, err := s.BulkGet(ctx, []state.GetRequest{{Key: legacy}, {Key: item}, {Key: e.key("resp2-missing")}})
	if err != nil || len(items) != 3 {
		t.Fatalf("BulkGet = %v, %v", items, err)
	}
	if it := items[0]; it.Error != "" || string(it.Data) != "plain" || it.ETag != "" {
		t.Errorf("legacy item = %+v", it)
	}
	if it := items[1]; it.Error != "" || string(it.Data) != "v" || it.ETag != "1" || it.Metadata[state.MetaTTLExpireTime] == "" {
		t.Errorf("item = %+v", it)
	}
	if it := items[2]; it.Found || it.Error != "" {
		t.Errorf("missing item = %+v", it)
	}
}
