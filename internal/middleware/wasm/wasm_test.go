package wasm

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/outrigger/outrigger/internal/middleware"
	mt "github.com/outrigger/outrigger/internal/middleware/middlewaretest"
)

var (
	guestOnce sync.Once
	guestPath string
	guestErr  error
)

// guest compiles testdata/guest for wasip1 once per test run.
func guest(t *testing.T) string {
	t.Helper()
	guestOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wasm-guest")
		if err != nil {
			guestErr = err
			return
		}
		guestPath = filepath.Join(dir, "guest.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", guestPath, ".")
		cmd.Dir = filepath.Join("testdata", "guest")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			guestErr = err
			guestPath = string(out)
		}
	})
	if guestErr != nil {
		t.Fatalf("building the test guest: %v\n%s", guestErr, guestPath)
	}
	return guestPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if guestPath != "" && guestErr == nil {
		_ = os.RemoveAll(filepath.Dir(guestPath))
	}
	os.Exit(code)
}

// app answers with what it received, and sets X-App.
var app = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-App", "yes")
	_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" cfg="+r.Header.Get("X-Wasm-Config")+" body="+string(body))
})

func TestWasmGuest(t *testing.T) {
	srv := mt.Serve(t, &Wasm{}, map[string]string{"url": "file://" + guest(t), "guestConfig": `{"env":"test"}`}, app)
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string
		wantHeader map[string]string
	}{
		{"guest answers itself", "GET", "/deny", "", 403, "denied by wasm", map[string]string{"Content-Type": "text/plain"}},
		{"request rewritten, response buffered and changed", "GET", "/orders?id=1", "", 200,
			`wasm:GET /rewritten/orders?id=1 cfg={"env":"test"} body=`, map[string]string{"X-Wasm-Response": "seen yes", "X-App": "yes"}},
		{"request body read and replaced", "POST", "/echo-body", "hello, wasm world", 200,
			"POST /echo-body cfg= body=HELLO, WASM WORLD", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 3 { // instances are reused: the answer must not change
				status, body, resp := mt.Do(t, mt.NewRequest(t, tt.method, srv.URL+tt.path, strings.NewReader(tt.body)))
				if status != tt.wantStatus || body != tt.wantBody {
					t.Fatalf("got %d %q, want %d %q", status, body, tt.wantStatus, tt.wantBody)
				}
				for k, v := range tt.wantHeader {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
			}
		})
	}
}

func TestWasmConcurrentRequests(t *testing.T) {
	srv := mt.Serve(t, &Wasm{}, map[string]string{"url": "file://" + guest(t)}, app)
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/p" + strings.Repeat("x", i)
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if want := "wasm:GET /rewritten" + path + " cfg= body="; string(b) != want {
				errs <- string(b) + " != " + want
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestWasmLoadsOverHTTP(t *testing.T) {
	code, err := os.ReadFile(guest(t))
	if err != nil {
		t.Fatal(err)
	}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(code) }))
	defer files.Close()
	srv := mt.Serve(t, &Wasm{}, map[string]string{"url": files.URL + "/guest.wasm"}, app)
	if status, body, _ := mt.Do(t, mt.NewRequest(t, "GET", srv.URL+"/deny", nil)); status != 403 || body != "denied by wasm" {
		t.Errorf("got %d %q", status, body)
	}
}

func TestWasmConfig(t *testing.T) {
	notWasm := filepath.Join(t.TempDir(), "x.wasm")
	if err := os.WriteFile(notWasm, []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A valid module that is not an http-wasm handler: the empty module.
	empty := filepath.Join(t.TempDir(), "empty.wasm")
	if err := os.WriteFile(empty, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"", "ftp://x/y.wasm", "file:///does/not/exist.wasm", "file://" + notWasm, "file://" + empty} {
		w := &Wasm{}
		if err := w.Init(context.Background(), middleware.Metadata{Properties: map[string]string{"url": u}}); err == nil {
			t.Errorf("Init(url=%q) succeeded", u)
		}
		_ = w.Close()
	}
}

// The sidecar cancels the init context (initTimeout) once Init returns;
// the instance made during Init must keep working.
func TestWasmOutlivesInitContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Wasm{}
	if err := w.Init(ctx, middleware.Metadata{Properties: map[string]string{"url": "file://" + guest(t)}}); err != nil {
		t.Fatal(err)
	}
	cancel()
	defer w.Close()
	srv := httptest.NewServer(w.Handler(app))
	defer srv.Close()
	for range 2 {
		if status, body, _ := mt.Do(t, mt.NewRequest(t, "GET", srv.URL+"/deny", nil)); status != 403 || body != "denied by wasm" {
			t.Fatalf("got %d %q", status, body)
		}
	}
}
