package mysql

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storetest"
	"github.com/outrigger/outrigger/internal/state/statetest"
	"github.com/outrigger/outrigger/internal/testutil"
)

const (
	serverAddr = "127.0.0.1:3306"
	serverDSN  = "root:@tcp(" + serverAddr + ")/"
)

// testSchema returns a fresh schema name, dropped when the test ends, and
// an admin connection to the server.
func testSchema(t *testing.T) (string, *sql.DB) {
	t.Helper()
	testutil.RequireService(t, "MariaDB/MySQL", serverAddr)
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "outrigger_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("mysql", serverDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + schema); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return schema, admin
}

func isMariaDB(t *testing.T, db *sql.DB) bool {
	t.Helper()
	var v string
	if err := db.QueryRow("SELECT VERSION()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return strings.Contains(strings.ToLower(v), "mariadb")
}

// killConnections ends every connection using schema, as a server restart
// would.
func killConnections(t *testing.T, admin *sql.DB, schema string) {
	t.Helper()
	rows, err := admin.Query(`SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()`, schema)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) == 0 {
		t.Fatalf("no connections to schema %s to kill", schema)
	}
	for _, id := range ids {
		if _, err := admin.Exec(fmt.Sprintf("KILL %d", id)); err != nil && !strings.Contains(err.Error(), "Unknown thread") {
			t.Fatalf("KILL %d: %v", id, err)
		}
	}
}

func TestConformance(t *testing.T) {
	schema, admin := testSchema(t)
	statetest.Run(t, statetest.Config{
		New: func() state.Store { return New() },
		Metadata: state.Metadata{Name: "statestore", Properties: map[string]string{
			"connectionString": serverDSN,
			"schemaName":       schema,
		}},
		JSONNormalized:     !isMariaDB(t, admin),
		TTLExpireTimeInGet: true,
		Restart:            func(t *testing.T) { killConnections(t, admin, schema) },
	})
}

// openStore initialises a store in a fresh schema.
func openStore(t *testing.T, props map[string]string) (*Store, string, *sql.DB) {
	t.Helper()
	schema, admin := testSchema(t)
	props["connectionString"] = serverDSN
	props["schemaName"] = schema
	s := New()
	if err := s.Init(t.Context(), state.Metadata{Name: "test", Properties: props}); err != nil {
		t.Fatalf("Init(%v): %v", props, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, schema, admin
}

func TestCleanupRemovesExpiredRows(t *testing.T) {
	s, schema, admin := openStore(t, map[string]string{"cleanupInterval": "200ms"})
	ctx := t.Context()
	for _, k := range []string{"old", "live"} {
		if err := s.Set(ctx, state.SetRequest{Key: k, Value: []byte(`1`), Metadata: map[string]string{"ttlInSeconds": "60"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.Exec(`UPDATE ` + schema + `.state SET expiredate = CURRENT_TIMESTAMP - INTERVAL 5 SECOND WHERE id = 'old'`); err != nil {
		t.Fatal(err)
	}
	storetest.Eventually(t, 5*time.Second, 100*time.Millisecond, "expired row still present after 5s with cleanupInterval=200ms", func() bool {
		var n int
		if err := admin.QueryRow(`SELECT COUNT(*) FROM ` + schema + `.state WHERE id = 'old'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
	if res, err := s.Get(ctx, state.GetRequest{Key: "live"}); err != nil || !res.Found {
		t.Fatalf("Get(live) = %+v, %v; want the unexpired row kept", res, err)
	}
	var last string
	if err := admin.QueryRow(`SELECT value FROM ` + schema + `.dapr_metadata WHERE id = 'last-cleanup'`).Scan(&last); err != nil {
		t.Fatalf("last-cleanup not recorded: %v", err)
	}
}

func TestConcurrentTransactions(t *testing.T) {
	s, _, _ := openStore(t, map[string]string{})
	const workers, rounds = 16, 10
	storetest.Concurrently(t, workers, func(w int) error {
		for i := range rounds {
			// Overlapping keys across workers provoke lock waits and
			// deadlocks, which Multi must absorb.
			a, b := fmt.Sprintf("k%d", (w+i)%4), fmt.Sprintf("k%d", (w+i+1)%4)
			ops := []state.Operation{
				{Type: state.OpUpsert, Set: state.SetRequest{Key: a, Value: []byte(`1`)}},
				{Type: state.OpUpsert, Set: state.SetRequest{Key: b, Value: []byte(`2`)}},
			}
			if err := s.Multi(context.Background(), state.TransactionRequest{Operations: ops}); err != nil {
				return fmt.Errorf("worker %d round %d: %w", w, i, err)
			}
		}
		return nil
	})
}

func TestInvalidJSONIsStoredAsBinary(t *testing.T) {
	s, schema, admin := openStore(t, map[string]string{})
	ctx := t.Context()
	tests := []struct {
		key string
		val []byte
	}{
		{"not-json", []byte(`hello world`)},
		{"bad-utf8", []byte("\"\xff\xfe\"")},
		{"empty", []byte{}},
	}
	for _, tc := range tests {
		if err := s.Set(ctx, state.SetRequest{Key: tc.key, Value: tc.val}); err != nil {
			t.Fatalf("Set(%q): %v", tc.key, err)
		}
		res, err := s.Get(ctx, state.GetRequest{Key: tc.key})
		if err != nil || !res.Found || string(res.Data) != string(tc.val) {
			t.Errorf("Get(%q) = %q, %v; want %q", tc.key, res.Data, err, tc.val)
		}
		var bin bool
		if err := admin.QueryRow(`SELECT isbinary FROM `+schema+`.state WHERE id = ?`, tc.key).Scan(&bin); err != nil || !bin {
			t.Errorf("row %q: isbinary = %v, %v; want true", tc.key, bin, err)
		}
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name                string
		props               map[string]string
		schema, table, meta string
		timeout, cleanup    time.Duration
		wantErr             bool
	}{
		{name: "defaults", props: map[string]string{"connectionString": "u:p@tcp(h:3306)/"},
			schema: "dapr_state_store", table: "state", meta: "dapr_metadata", timeout: 20 * time.Second, cleanup: time.Hour},
		{name: "overrides", props: map[string]string{"connectionString": "u:p@tcp(h:3306)/?parseTime=true",
			"schemaName": "s1", "tableName": "t1", "metadataTableName": "m1", "timeoutInSeconds": "5", "cleanupInterval": "10m"},
			schema: "s1", table: "t1", meta: "m1", timeout: 5 * time.Second, cleanup: 10 * time.Minute},
		{name: "cleanup disabled", props: map[string]string{"connectionString": "u:p@tcp(h:3306)/", "cleanupInterval": "-1"},
			schema: "dapr_state_store", table: "state", meta: "dapr_metadata", timeout: 20 * time.Second, cleanup: -time.Second},
		{name: "missing dsn", props: map[string]string{}, wantErr: true},
		{name: "bad dsn", props: map[string]string{"connectionString": "not a dsn"}, wantErr: true},
		{name: "bad schema", props: map[string]string{"connectionString": "u:p@tcp(h:3306)/", "schemaName": "a;b"}, wantErr: true},
		{name: "bad table", props: map[string]string{"connectionString": "u:p@tcp(h:3306)/", "tableName": "a b"}, wantErr: true},
		{name: "bad pem", props: map[string]string{"connectionString": "u:p@tcp(h:3306)/?tls=custom", "pemContents": "nope"}, wantErr: true},
		{name: "tls=custom without pem", props: map[string]string{"connectionString": "u:p@tcp(h:3306)/?tls=custom"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(tc.props)
			if tc.wantErr {
				if err == nil {
					t.Errorf("parseConfig(%v) = nil error, want one", tc.props)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%v): %v", tc.props, err)
			}
			if c.schemaName != tc.schema || c.tableName != tc.table || c.metadataTableName != tc.meta ||
				c.timeout != tc.timeout || c.cleanupInterval != tc.cleanup || !c.driver.ParseTime {
				t.Errorf("parseConfig(%v) = %+v", tc.props, c)
			}
		})
	}
}

func TestPEMReplacesCustomTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	c, err := parseConfig(map[string]string{
		"connectionString": "u:p@tcp(db.example:3306)/?allowNativePasswords=true&tls=custom",
		"pemContents":      pemText,
	})
	if err != nil {
		t.Fatalf("parseConfig with pemContents: %v", err)
	}
	if c.driver.TLS == nil || c.driver.TLS.RootCAs == nil {
		t.Fatalf("driver TLS = %+v, want the PEM's CA as root", c.driver.TLS)
	}
	if c.driver.TLSConfig != "" || !c.driver.AllowNativePasswords {
		t.Errorf("driver config TLSConfig=%q AllowNativePasswords=%v; want tls=custom dropped, other params kept", c.driver.TLSConfig, c.driver.AllowNativePasswords)
	}
}
