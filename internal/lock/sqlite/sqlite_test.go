package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/lock/locktest"
)

func openStore(t *testing.T, props map[string]string) *Store {
	t.Helper()
	s := New()
	if err := s.Init(context.Background(), lock.Metadata{Name: "lockstore", Properties: props}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	file := filepath.Join(t.TempDir(), "locks.db")
	locktest.Run(t, func(t *testing.T) lock.Store {
		return openStore(t, map[string]string{"connectionString": file})
	})
}

// TestConformanceWithoutWAL: the rollback journal must give the same
// guarantees.
func TestConformanceWithoutWAL(t *testing.T) {
	if testing.Short() {
		t.Skip("second full run")
	}
	file := filepath.Join(t.TempDir(), "locks.db")
	locktest.Run(t, func(t *testing.T) lock.Store {
		return openStore(t, map[string]string{"connectionString": file, "disableWAL": "true"})
	})
}

// TestExpiredRowsRemoved: a lapsed lock leaves no row behind once any lock
// is attempted, so the table does not grow with abandoned resources.
func TestExpiredRowsRemoved(t *testing.T) {
	s := openStore(t, map[string]string{"connectionString": filepath.Join(t.TempDir(), "locks.db")})
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now }
	ctx := context.Background()
	for _, res := range []string{"a", "b", "c"} {
		if ok, err := s.TryLock(ctx, res, "o", 5); err != nil || !ok {
			t.Fatalf("TryLock(%s) = %v, %v", res, ok, err)
		}
	}
	now = now.Add(5 * time.Second) // exactly at expiry: lapsed
	if ok, err := s.TryLock(ctx, "d", "o", 5); err != nil || !ok {
		t.Fatalf("TryLock(d) = %v, %v", ok, err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM locks`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d rows after expiry, want 1 (only d)", n)
	}
	// One millisecond before expiry the lock still holds.
	now = now.Add(5*time.Second - time.Millisecond)
	if ok, err := s.TryLock(ctx, "d", "p", 5); err != nil || ok {
		t.Fatalf("TryLock(d) by another owner 1ms before expiry = %v, %v", ok, err)
	}
	if st, err := s.Unlock(ctx, "d", "o"); err != nil || st != lock.UnlockSuccess {
		t.Fatalf("Unlock(d) = %v, %v", st, err)
	}
}

func TestCustomTable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "locks.db")
	a := openStore(t, map[string]string{"connectionString": file, "tableName": "team_a"})
	b := openStore(t, map[string]string{"connectionString": file, "TABLENAME": "team_b"})
	ctx := context.Background()
	// Different tables are different lock spaces.
	for _, s := range []*Store{a, b} {
		if ok, err := s.TryLock(ctx, "r", "o", 10); err != nil || !ok {
			t.Fatalf("TryLock in %s = %v, %v", s.cfg.tableName, ok, err)
		}
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		props   map[string]string
		wantErr string
		check   func(t *testing.T, c config, dsn string)
	}{
		{"defaults", map[string]string{"connectionString": "/tmp/x.db"}, "", func(t *testing.T, c config, dsn string) {
			if c.tableName != "locks" || c.busyTimeout != 5*time.Second || c.timeout != 20*time.Second {
				t.Errorf("config = %+v", c)
			}
			for _, want := range []string{"_txlock=immediate", "busy_timeout%285000%29", "journal_mode%28WAL%29"} {
				if !strings.Contains(dsn, want) {
					t.Errorf("dsn %q lacks %q", dsn, want)
				}
			}
		}},
		{"url alias and durations", map[string]string{"url": "file:/tmp/x.db?cache=shared", "busyTimeout": "250ms", "timeout": "3"}, "", func(t *testing.T, c config, dsn string) {
			if c.busyTimeout != 250*time.Millisecond || c.timeout != 3*time.Second {
				t.Errorf("config = %+v", c)
			}
			if !strings.HasPrefix(dsn, "file:/tmp/x.db?") || !strings.Contains(dsn, "cache=shared") || !strings.Contains(dsn, "busy_timeout%28250%29") {
				t.Errorf("dsn = %q", dsn)
			}
		}},
		{"rollback journal", map[string]string{"connectionString": "x.db", "disableWAL": "true"}, "", func(t *testing.T, _ config, dsn string) {
			if !strings.Contains(dsn, "journal_mode%28DELETE%29") {
				t.Errorf("dsn = %q", dsn)
			}
		}},
		{"exclusive txlock kept", map[string]string{"connectionString": "x.db?_txlock=exclusive"}, "", func(t *testing.T, _ config, dsn string) {
			if !strings.Contains(dsn, "_txlock=exclusive") || strings.Contains(dsn, "immediate") {
				t.Errorf("dsn = %q", dsn)
			}
		}},
		{"in memory", map[string]string{"connectionString": ":memory:"}, "", func(t *testing.T, c config, dsn string) {
			if !c.inMemory() || !strings.Contains(dsn, "journal_mode%28MEMORY%29") {
				t.Errorf("dsn = %q", dsn)
			}
		}},
		{"missing", map[string]string{}, "missing metadata 'connectionString'", nil},
		{"short timeout", map[string]string{"connectionString": "x.db", "timeout": "500ms"}, "at least 1s", nil},
		{"bad duration", map[string]string{"connectionString": "x.db", "busyTimeout": "soon"}, "busytimeout", nil},
		{"bad bool", map[string]string{"connectionString": "x.db", "disableWAL": "maybe"}, "disableWAL", nil},
		{"bad table", map[string]string{"connectionString": "x.db", "tableName": "locks; drop"}, "invalid table name", nil},
		{"deferred txlock", map[string]string{"connectionString": "x.db?_txlock=deferred"}, "_txlock=deferred", nil},
		{"busy pragma", map[string]string{"connectionString": "x.db?_pragma=busy_timeout(1)"}, "_pragma=busy_timeout", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.props)
			var dsn string
			if err == nil {
				dsn, err = c.dsn()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c, dsn)
		})
	}
}

func TestInitErrors(t *testing.T) {
	s := New()
	err := s.Init(context.Background(), lock.Metadata{Properties: map[string]string{"connectionString": filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")}})
	if err == nil {
		t.Fatal("Init in a missing directory succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after failed Init: %v", err)
	}
}
