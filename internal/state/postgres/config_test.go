package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outrigger/outrigger/internal/state"
)

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name    string
		props   map[string]string
		check   func(t *testing.T, c config)
		wantErr string
	}{
		{"defaults", map[string]string{"connectionString": "host=x"}, func(t *testing.T, c config) {
			if c.timeout != 20*time.Second || c.cleanupInterval != time.Hour || c.tableName != "state" ||
				c.metadataTableName != "dapr_metadata" || c.tablePrefix != "" {
				t.Errorf("defaults: %+v", c)
			}
		}, ""},
		{"url alias and seconds", map[string]string{"url": "host=x", "timeoutInSeconds": "5", "cleanupIntervalInSeconds": "30"},
			func(t *testing.T, c config) {
				if c.connString != "host=x" || c.timeout != 5*time.Second || c.cleanupInterval != 30*time.Second {
					t.Errorf("got %+v", c)
				}
			}, ""},
		{"durations and case-insensitive keys", map[string]string{"ConnectionString": "host=x", "timeout": "1m", "cleanupInterval": "90s", "connectionMaxIdleTime": "5m"},
			func(t *testing.T, c config) {
				if c.timeout != time.Minute || c.cleanupInterval != 90*time.Second || c.maxConnIdleTime != 5*time.Minute {
					t.Errorf("got %+v", c)
				}
			}, ""},
		{"cleanup disabled", map[string]string{"connectionString": "host=x", "cleanupInterval": "-1"}, func(t *testing.T, c config) {
			if c.cleanupInterval != 0 {
				t.Errorf("cleanupInterval %v, want disabled", c.cleanupInterval)
			}
		}, ""},
		{"separate keys", map[string]string{"host": "db.local", "port": "6543", "database": "app", "user": "u", "password": "p w'x"},
			func(t *testing.T, c config) {
				pc, err := c.poolConfig()
				if err != nil {
					t.Fatal(err)
				}
				cc := pc.ConnConfig
				if cc.Host != "db.local" || cc.Port != 6543 || cc.Database != "app" || cc.User != "u" || cc.Password != "p w'x" {
					t.Errorf("conn config %s:%d/%s user=%s password=%q", cc.Host, cc.Port, cc.Database, cc.User, cc.Password)
				}
			}, ""},
		{"pool options", map[string]string{"connectionString": "host=x", "maxConns": "7", "queryExecMode": "simple_protocol"},
			func(t *testing.T, c config) {
				pc, err := c.poolConfig()
				if err != nil {
					t.Fatal(err)
				}
				if pc.MaxConns != 7 || pc.ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeSimpleProtocol {
					t.Errorf("MaxConns %d mode %v", pc.MaxConns, pc.ConnConfig.DefaultQueryExecMode)
				}
			}, ""},
		{"missing connection", map[string]string{}, nil, "missing connection string"},
		{"timeout too small", map[string]string{"connectionString": "host=x", "timeout": "500ms"}, nil, "at least 1s"},
		{"bad timeout", map[string]string{"connectionString": "host=x", "timeout": "soon"}, nil, "timeout"},
		{"bad maxConns", map[string]string{"connectionString": "host=x", "maxConns": "many"}, nil, "maxConns"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parseConfig(c.props)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
}

func TestBadQueryExecMode(t *testing.T) {
	c, err := parseConfig(map[string]string{"connectionString": "host=x", "queryExecMode": "fast"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.poolConfig(); err == nil || !strings.Contains(err.Error(), "queryExecMode") {
		t.Errorf("poolConfig() err = %v, want a queryExecMode error", err)
	}
}

func TestTableNames(t *testing.T) {
	cases := []struct {
		in, want string // want "" = invalid
	}{
		{"state", `"state"`},
		{"MyState", `"mystate"`},
		{"app.state_1", `"app"."state_1"`},
		{"_x", `"_x"`},
		{"a.b.c", ""},
		{"state; DROP TABLE x", ""},
		{`"quoted"`, ""},
		{"1abc", ""},
		{"", ""},
		{"schema.", ""},
		{strings.Repeat("a", 64), ""},
	}
	for _, c := range cases {
		got, err := parseTableIdent(c.in)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("parseTableIdent(%q) = %s, want an error", c.in, got.SQL())
		case c.want != "" && (err != nil || got.SQL() != c.want):
			t.Errorf("parseTableIdent(%q) = %s, %v; want %s", c.in, got.SQL(), err, c.want)
		}
	}
}

func TestV2TablePrefix(t *testing.T) {
	cases := []struct{ prefix, table string }{
		{"", `"state"`},
		{"my_", `"my_state"`},
		{"app.", `"app"."state"`},
		{"app.my_", `"app"."my_state"`},
	}
	for _, c := range cases {
		l, err := newLayout(config{tablePrefix: c.prefix, metadataTableName: "dapr_metadata"}, true)
		if err != nil || l.table.SQL() != c.table {
			t.Errorf("prefix %q: table %v, %v; want %s", c.prefix, l, err, c.table)
			continue
		}
		if l.migrationKey != "migrations-state-v2-"+c.prefix || l.cleanupKey != "last-cleanup-state-v2-"+c.prefix {
			t.Errorf("prefix %q: metadata keys %q %q", c.prefix, l.migrationKey, l.cleanupKey)
		}
	}
	if _, err := newLayout(config{tablePrefix: "bad-", metadataTableName: "m"}, true); err == nil {
		t.Error(`prefix "bad-" accepted`)
	}
}

func TestNewVersions(t *testing.T) {
	for v, wantV2 := range map[string]bool{"": false, "v0": false, "v1": false, "v2": true} {
		s := New(v)
		_, querier := s.(state.Querier)
		if querier == wantV2 {
			t.Errorf("New(%q): implements Querier = %v, want %v", v, querier, !wantV2)
		}
		if got := state.HasFeature(s.Features(), state.FeatureQueryAPI); got == wantV2 {
			t.Errorf("New(%q): QUERY_API advertised = %v, want %v", v, got, !wantV2)
		}
	}
}
