package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/configuration/configtest"
	"github.com/outrigger/outrigger/internal/testutil"
)

const (
	pgAddr    = "127.0.0.1:5432"
	adminConn = "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable"
)

// env is one test's table, trigger function and channel, all named after
// a random id and dropped when the test ends.
type env struct {
	id, table, channel string
	admin              *pgx.Conn
}

func newEnv(t *testing.T) *env {
	t.Helper()
	testutil.RequireService(t, "PostgreSQL", pgAddr)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	id := "ort_cfg_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminConn)
	if err != nil {
		t.Fatalf("connect to PostgreSQL at %s: %v", pgAddr, err)
	}
	e := &env{id: id, table: id, channel: id + "_changes", admin: admin}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, q := range []string{"DROP TABLE IF EXISTS " + e.table, "DROP FUNCTION IF EXISTS " + e.id + "_notify()"} {
			if _, err := admin.Exec(ctx, q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
		_ = admin.Close(ctx)
	})
	e.exec(t, fmt.Sprintf(`CREATE TABLE %s (KEY VARCHAR NOT NULL, VALUE VARCHAR NOT NULL, VERSION VARCHAR NOT NULL, METADATA JSON)`, e.table))
	// The trigger a user adds for subscriptions: the changed row goes out
	// as the "data" member of a JSON payload on the channel named by the
	// trigger's argument.
	e.exec(t, fmt.Sprintf(`CREATE FUNCTION %s_notify() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
	PERFORM pg_notify(TG_ARGV[0], json_build_object(
		'table', TG_TABLE_NAME,
		'action', TG_OP,
		'data', CASE TG_OP WHEN 'DELETE' THEN row_to_json(OLD) ELSE row_to_json(NEW) END
	)::text);
	RETURN NULL;
END
$body$`, e.id))
	e.exec(t, fmt.Sprintf(`CREATE TRIGGER %s_trg AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s_notify('%s')`, e.id, e.table, e.id, e.channel))
	return e
}

func (e *env) exec(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	tag, err := e.admin.Exec(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return tag.RowsAffected()
}

func (e *env) props() map[string]string {
	return map[string]string{"connectionString": adminConn, "table": e.table, "notifyChannel": e.channel}
}

func (e *env) store(t *testing.T, props map[string]string) configuration.Store {
	t.Helper()
	s := New()
	if err := s.Init(context.Background(), configuration.Metadata{Name: "cfg", Properties: props}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// set updates the row in place when it exists, so one change sends one
// notification.
func (e *env) set(t *testing.T, key string, it configuration.Item) {
	t.Helper()
	var md any
	if it.Metadata != nil {
		b, _ := json.Marshal(it.Metadata)
		md = string(b)
	}
	if e.exec(t, "UPDATE "+e.table+" SET value = $2, version = $3, metadata = $4 WHERE key = $1", key, it.Value, it.Version, md) == 0 {
		e.exec(t, "INSERT INTO "+e.table+" (key, value, version, metadata) VALUES ($1, $2, $3, $4)", key, it.Value, it.Version, md)
	}
}

func (e *env) del(t *testing.T, key string) {
	t.Helper()
	e.exec(t, "DELETE FROM "+e.table+" WHERE key = $1", key)
}

func TestConformance(t *testing.T) {
	e := newEnv(t)
	configtest.Run(t, configtest.Backend{
		Store:            e.store(t, e.props()),
		Set:              e.set,
		Delete:           e.del,
		Prefix:           "k-",
		Metadata:         true,
		DeleteKeepsValue: true,
	})
}

func TestRegisteredNames(t *testing.T) {
	for _, name := range []string{"configuration.postgresql", "configuration.postgres"} {
		if _, err := configuration.Registry.Create(name, "v1"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestInitErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		props map[string]string
	}{
		{"no connection string", map[string]string{"table": e.table}},
		{"no table", map[string]string{"connectionString": adminConn}},
		{"unsafe table name", map[string]string{"connectionString": adminConn, "table": "x; DROP TABLE y"}},
		{"missing table", map[string]string{"connectionString": adminConn, "table": e.id + "_nope"}},
		{"bad timeout", map[string]string{"connectionString": adminConn, "table": e.table, "timeout": "soon"}},
		{"bad exec mode", map[string]string{"connectionString": adminConn, "table": e.table, "queryExecMode": "fast"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New()
			if err := s.Init(context.Background(), configuration.Metadata{Name: "c", Properties: tt.props}); err == nil {
				_ = s.Close()
				t.Fatal("Init succeeded; want an error")
			}
		})
	}
}

// TestRequestChannel: without notifyChannel a subscription needs
// pgNotifyChannel in the request.
func TestRequestChannel(t *testing.T) {
	e := newEnv(t)
	s := e.store(t, map[string]string{"connectionString": adminConn, "table": e.table, "timeoutInSeconds": "5"})
	ctx := context.Background()
	got := make(chan string, 4)
	h := func(_ context.Context, _ string, items map[string]*configuration.Item) error {
		for k, it := range items {
			got <- k + "=" + it.Value
		}
		return nil
	}
	if _, err := s.Subscribe(ctx, nil, nil, h); err == nil {
		t.Fatal("Subscribe without a channel succeeded")
	}
	id, err := s.Subscribe(ctx, nil, map[string]string{metaNotifyChannel: e.channel}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Unsubscribe(ctx, id) }()
	e.set(t, "k", configuration.Item{Value: "v", Version: "1"})
	select {
	case u := <-got:
		if u != "k=v" {
			t.Fatalf("update %q, want k=v", u)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no update")
	}
}

func TestParseNotification(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		key     string
		want    configuration.Item
		wantErr bool
	}{
		{"lower-case columns", `{"action":"INSERT","data":{"key":"a","value":"1","version":"v1","metadata":{"x":"y"}}}`,
			"a", configuration.Item{Value: "1", Version: "v1", Metadata: map[string]string{"x": "y"}}, false},
		{"quoted upper-case columns", `{"data":{"KEY":"b","VALUE":"2","VERSION":"v2","METADATA":null}}`,
			"b", configuration.Item{Value: "2", Version: "v2"}, false},
		{"non-string metadata kept as JSON", `{"data":{"key":"c","value":"3","version":"","metadata":{"n":5,"ok":true}}}`,
			"c", configuration.Item{Value: "3", Metadata: map[string]string{"n": "5", "ok": "true"}}, false},
		{"metadata in a text column", `{"data":{"key":"d","value":"4","version":"1","metadata":"{\"a\":\"b\"}"}}`,
			"d", configuration.Item{Value: "4", Version: "1", Metadata: map[string]string{"a": "b"}}, false},
		{"no row", `{"action":"INSERT"}`, "", configuration.Item{}, true},
		{"not JSON", `a`, "", configuration.Item{}, true},
		{"metadata not an object", `{"data":{"key":"e","metadata":[1]}}`, "", configuration.Item{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, it, err := parseNotification(tt.payload)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parsed %q %+v; want an error", key, it)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key != tt.key || it.Value != tt.want.Value || it.Version != tt.want.Version || fmt.Sprint(it.Metadata) != fmt.Sprint(tt.want.Metadata) {
				t.Fatalf("got %q %+v, want %q %+v", key, *it, tt.key, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"30", 30 * time.Second, false},
		{"1m", time.Minute, false},
		{"500ms", 500 * time.Millisecond, false},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestCloseStopsSubscriptions: Close ends the LISTEN connections and later
// calls fail cleanly.
func TestCloseStopsSubscriptions(t *testing.T) {
	e := newEnv(t)
	s := New()
	ctx := context.Background()
	if err := s.Init(ctx, configuration.Metadata{Name: "c", Properties: e.props()}); err != nil {
		t.Fatal(err)
	}
	noop := func(context.Context, string, map[string]*configuration.Item) error { return nil }
	id, err := s.Subscribe(ctx, nil, nil, noop)
	if err != nil {
		t.Fatal(err)
	}
	e.awaitListeners(t, 1)
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
	e.awaitListeners(t, 0)
}

// awaitListeners waits until want connections LISTEN on the channel; a
// backend leaves pg_stat_activity shortly after its client hangs up.
func (e *env) awaitListeners(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		var n int
		err := e.admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE query = $1", `LISTEN "`+e.channel+`"`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections listen on %s, want %d", n, e.channel, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReconnect: a subscription whose connection is killed listens again
// and keeps delivering.
func TestReconnect(t *testing.T) {
	e := newEnv(t)
	s := e.store(t, e.props())
	ctx := context.Background()
	got := make(chan string, 4)
	id, err := s.Subscribe(ctx, []string{"k"}, nil, func(_ context.Context, _ string, items map[string]*configuration.Item) error {
		got <- items["k"].Value
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Unsubscribe(ctx, id) }()
	e.awaitListeners(t, 1)
	e.exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1", `LISTEN "`+e.channel+`"`)
	e.awaitListeners(t, 0)
	e.awaitListeners(t, 1)
	e.set(t, "k", configuration.Item{Value: "after reconnect", Version: "1"})
	select {
	case v := <-got:
		if v != "after reconnect" {
			t.Fatalf("update %q", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no update after the connection was replaced")
	}
}
