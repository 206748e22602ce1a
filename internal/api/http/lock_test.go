package http_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/outrigger/outrigger/internal/api"
	apihttp "github.com/outrigger/outrigger/internal/api/http"
	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/lock/sqlite"
)

// failingLockStore fails every call.
type failingLockStore struct{}

func (failingLockStore) Init(context.Context, lock.Metadata) error { return nil }
func (failingLockStore) Close() error                              { return nil }
func (failingLockStore) TryLock(context.Context, string, string, int32) (bool, error) {
	return false, errors.New("backend down")
}
func (failingLockStore) Unlock(context.Context, string, string) (lock.UnlockStatus, error) {
	return lock.UnlockInternalError, errors.New("backend down")
}

// newLockServer serves the HTTP API with a SQLite lock store "lockstore"
// and a failing one "broken"; withStores=false configures no lock store.
func newLockServer(t *testing.T, withStores bool) *httptest.Server {
	t.Helper()
	var locks []*lock.Component
	if withStores {
		s := sqlite.New()
		md := lock.Metadata{Name: "lockstore", Properties: map[string]string{"connectionString": filepath.Join(t.TempDir(), "locks.db")}}
		if err := s.Init(context.Background(), md); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		locks = []*lock.Component{
			{Name: "lockstore", Type: "lock.sqlite", Version: "v1", Store: s, Prefix: "myapp"},
			{Name: "broken", Type: "lock.broken", Version: "v1", Store: failingLockStore{}},
		}
	}
	core := api.New(api.Config{AppID: "myapp", Locks: locks})
	srv := httptest.NewServer(apihttp.New(apihttp.Config{Core: core, MaxBodySize: 1024}))
	t.Cleanup(srv.Close)
	return srv
}

// TestLockHTTP runs in order: each step depends on the lock's state.
func TestLockHTTP(t *testing.T) {
	srv := newLockServer(t, true)
	steps := []struct {
		name, path, body string
		want             string
	}{
		{"unlock missing", "/v1.0-alpha1/unlock/lockstore", `{"resourceId":"r","lockOwner":"a"}`, `{"status":1}`},
		{"lock", "/v1.0-alpha1/lock/lockstore", `{"resourceId":"r","lockOwner":"a","expiryInSeconds":30}`, `{"success":true}`},
		// false is written out, not omitted.
		{"lock held", "/v1.0-alpha1/lock/lockstore", `{"resourceId":"r","lockOwner":"b","expiryInSeconds":30}`, `{"success":false}`},
		// Proto field names work too; unknown fields are ignored; the body's
		// store name loses to the path's.
		{"snake case and extras", "/v1.0-alpha1/lock/lockstore", `{"resource_id":"r","lock_owner":"a","expiry_in_seconds":30,"storeName":"other","x":1}`, `{"success":false}`},
		{"unlock by other", "/v1.0-alpha1/unlock/lockstore", `{"resourceId":"r","lockOwner":"b"}`, `{"status":2}`},
		{"unlock", "/v1.0-alpha1/unlock/lockstore", `{"resourceId":"r","lockOwner":"a"}`, `{"status":0}`},
		{"escaped store name", "/v1.0-alpha1/lock/lock%73tore", `{"resourceId":"r2","lockOwner":"a","expiryInSeconds":"5"}`, `{"success":true}`},
	}
	for _, s := range steps {
		r := do(t, srv, "POST", s.path, s.body, map[string]string{"Content-Type": "application/json"})
		if r.status != 200 || r.body != s.want {
			t.Fatalf("%s: %d %s; want 200 %s", s.name, r.status, r.body, s.want)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s: Content-Type = %q", s.name, ct)
		}
	}
}

func TestLockHTTPErrors(t *testing.T) {
	srv := newLockServer(t, true)
	bare := newLockServer(t, false)
	tests := []struct {
		name       string
		srv        *httptest.Server
		method     string
		path, body string
		wantStatus int
		wantBody   string
	}{
		{"expiry zero", srv, "POST", "/v1.0-alpha1/lock/lockstore", `{"resourceId":"r","lockOwner":"o"}`, 400,
			`{"errorCode":"ERR_MALFORMED_REQUEST","message":"ExpiryInSeconds is not positive in lock store lockstore"}`},
		{"expiry before configured", bare, "POST", "/v1.0-alpha1/lock/x", ``, 400,
			`{"errorCode":"ERR_MALFORMED_REQUEST","message":"ExpiryInSeconds is not positive in lock store x"}`},
		{"not configured", bare, "POST", "/v1.0-alpha1/lock/x", `{"expiryInSeconds":1}`, 500,
			`{"errorCode":"ERR_LOCK_STORE_NOT_CONFIGURED","message":"lock store is not configured"}`},
		{"unlock not configured", bare, "POST", "/v1.0-alpha1/unlock/x", `{}`, 500,
			`{"errorCode":"ERR_LOCK_STORE_NOT_CONFIGURED","message":"lock store is not configured"}`},
		{"empty resource", srv, "POST", "/v1.0-alpha1/lock/nope", `{"lockOwner":"o","expiryInSeconds":1}`, 400,
			`{"errorCode":"ERR_MALFORMED_REQUEST","message":"ResourceId is empty in lock store nope"}`},
		{"empty owner", srv, "POST", "/v1.0-alpha1/unlock/nope", `{"resourceId":"r"}`, 400,
			`{"errorCode":"ERR_MALFORMED_REQUEST","message":"LockOwner is empty in lock store nope"}`},
		{"unknown store", srv, "POST", "/v1.0-alpha1/lock/nope", `{"resourceId":"r","lockOwner":"o","expiryInSeconds":1}`, 400,
			`{"errorCode":"ERR_LOCK_STORE_NOT_FOUND","message":"lock store nope not found"}`},
		{"store failure", srv, "POST", "/v1.0-alpha1/lock/broken", `{"resourceId":"r","lockOwner":"o","expiryInSeconds":1}`, 500,
			`{"errorCode":"ERR_TRY_LOCK","message":"failed to try acquiring lock: backend down"}`},
		{"unlock failure", srv, "POST", "/v1.0-alpha1/unlock/broken", `{"resourceId":"r","lockOwner":"o"}`, 500,
			`{"errorCode":"ERR_UNLOCK","message":"failed to release lock: backend down"}`},
		{"bad json", srv, "POST", "/v1.0-alpha1/lock/lockstore", `{"resourceId":`, 400, ""},
		{"wrong type", srv, "POST", "/v1.0-alpha1/unlock/lockstore", `{"resourceId":5}`, 400, ""},
		{"oversized", srv, "POST", "/v1.0-alpha1/lock/lockstore", `{"resourceId":"` + string(make([]byte, 2000)) + `"}`, 400, ""},
		// Only POST is routed; anything else falls to service invocation.
		{"wrong method", srv, "PUT", "/v1.0-alpha1/lock/lockstore", `{}`, 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`},
		{"wrong version", srv, "POST", "/v1.0/lock/lockstore", `{}`, 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.srv, tt.method, tt.path, tt.body, nil)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", r.status, tt.wantStatus, r.body)
			}
			if tt.wantBody == "" {
				// Decoder messages are not ours to pin; the code is.
				if code := errorCode(t, r.body); code != "ERR_MALFORMED_REQUEST" {
					t.Fatalf("errorCode = %q (body %s)", code, r.body)
				}
				return
			}
			if r.body != tt.wantBody {
				t.Fatalf("body =\n%s\nwant\n%s", r.body, tt.wantBody)
			}
		})
	}
}
