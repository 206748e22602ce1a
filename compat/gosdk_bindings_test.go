package compat

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/dapr/go-sdk/service/common"
	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	daprhttp "github.com/dapr/go-sdk/service/http"
	"github.com/go-chi/chi/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/compat/harness"
)

// TestGoSDKOutputBinding drives bindings.localstorage with the Go SDK's
// InvokeBinding and InvokeOutputBinding and checks the files on disk.
func TestGoSDKOutputBinding(t *testing.T) {
	t.Parallel()
	comp, root := filesComponent(t)
	sc := harness.Start(t, harness.Options{AppID: "bind-go-" + uniq(t), Components: []string{comp}})
	c := goClient(t, sc)

	t.Run("create-get-delete", func(t *testing.T) { goFilesCRUD(t, c, root) })
	t.Run("create-decoding", func(t *testing.T) { goFilesDecoding(t, c, root) })
	t.Run("generated-name", func(t *testing.T) { goFilesGeneratedName(t, c, root) })
	t.Run("output-only", func(t *testing.T) { goFilesOutputOnly(t, c, root) })
	t.Run("list", func(t *testing.T) { goFilesList(t, c, root) })
	t.Run("errors", func(t *testing.T) { goFilesErrors(t, c) })
	t.Run("metadata", func(t *testing.T) {
		wantComponent(t, c, filesBinding, "bindings.localstorage", "OUTPUT_BINDING")
	})
}

// wantComponent checks that GetMetadata lists a component with its type,
// version v1 and the given capabilities (among others).
func wantComponent(t *testing.T, c dapr.Client, name, typ string, capabilities ...string) {
	t.Helper()
	md, err := c.GetMetadata(callCtx(t))
	if err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	comp := findComponent(md.RegisteredComponents, name)
	if comp == nil {
		t.Fatalf("GetMetadata components %s do not list %q", describeComponents(md.RegisteredComponents), name)
	}
	if comp.Type != typ || comp.Version != "v1" {
		t.Errorf("component %q: type %q version %q, want %q v1", name, comp.Type, comp.Version, typ)
	}
	for _, capability := range capabilities {
		if !slices.Contains(comp.Capabilities, capability) {
			t.Errorf("component %q capabilities %v lack %s", name, comp.Capabilities, capability)
		}
	}
}

func invoke(t *testing.T, c dapr.Client, op string, data []byte, md map[string]string) *dapr.BindingEvent {
	t.Helper()
	out, err := c.InvokeBinding(callCtx(t), &dapr.InvokeBindingRequest{Name: filesBinding, Operation: op, Data: data, Metadata: md})
	if err != nil {
		t.Fatalf("InvokeBinding(%s, %v): %v", op, md, err)
	}
	return out
}

// createdName decodes the {"fileName": …} answer of create.
func createdName(t *testing.T, out *dapr.BindingEvent) string {
	t.Helper()
	var r struct {
		FileName string `json:"fileName"`
	}
	if err := json.Unmarshal(out.Data, &r); err != nil || r.FileName == "" {
		t.Fatalf("create answered %q (%v), want {\"fileName\": …}", out.Data, err)
	}
	return r.FileName
}

func wantFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("read %s: %v", path, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
}

func goFilesCRUD(t *testing.T, c dapr.Client, root string) {
	name := "crud-" + uniq(t) + ".txt"
	md := map[string]string{"fileName": name}
	content := []byte("hello, bindings ✓")
	if got := createdName(t, invoke(t, c, "create", content, md)); got != name {
		t.Errorf("create answered fileName %q, want %q", got, name)
	}
	wantFile(t, filepath.Join(root, name), content)
	if got := invoke(t, c, "get", nil, md); !bytes.Equal(got.Data, content) {
		t.Errorf("get %s = %q, want %q", name, got.Data, content)
	}
	// create overwrites.
	invoke(t, c, "create", []byte("second version"), md)
	wantFile(t, filepath.Join(root, name), []byte("second version"))
	invoke(t, c, "delete", nil, md)
	if _, err := os.Stat(filepath.Join(root, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after delete, stat %s: %v; want not exist", name, err)
	}
	_, err := c.InvokeBinding(callCtx(t), &dapr.InvokeBindingRequest{Name: filesBinding, Operation: "get", Metadata: md})
	if status.Code(err) != codes.Internal {
		t.Errorf("get of a deleted file: error %v, want code %v", err, codes.Internal)
	}
}

// goFilesDecoding checks what create writes for data that is a JSON string
// or valid base64 (components.md: unquoted, then base64-decoded) and for
// data that is neither.
func goFilesDecoding(t *testing.T, c dapr.Client, root string) {
	binary := []byte{0x00, 0xff, 0x10, 0x80, '"', 0x7f}
	cases := []struct {
		name string
		data []byte
		want []byte
	}{
		{"base64", []byte(base64.StdEncoding.EncodeToString(binary)), binary},
		{"json-string", []byte(`"quoted text"`), []byte("quoted text")},
		{"json-string-base64", []byte(`"` + base64.StdEncoding.EncodeToString(binary) + `"`), binary},
		{"json-object", []byte(`{"a":1,"b":[true,null]}`), []byte(`{"a":1,"b":[true,null]}`)},
		{"text", []byte("plain text, not base64"), []byte("plain text, not base64")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.name + "-" + uniq(t)
			invoke(t, c, "create", tc.data, map[string]string{"fileName": name})
			wantFile(t, filepath.Join(root, name), tc.want)
			if got := invoke(t, c, "get", nil, map[string]string{"fileName": name}); !bytes.Equal(got.Data, tc.want) {
				t.Errorf("get %s = %q, want %q", name, got.Data, tc.want)
			}
		})
	}
}

func goFilesGeneratedName(t *testing.T, c dapr.Client, root string) {
	content := []byte("no name given " + uniq(t))
	name := createdName(t, invoke(t, c, "create", content, nil))
	if len(name) != 36 || strings.Count(name, "-") != 4 {
		t.Errorf("generated fileName %q is not a UUID", name)
	}
	wantFile(t, filepath.Join(root, name), content)
}

// goFilesOutputOnly uses InvokeOutputBinding, which drops the answer.
func goFilesOutputOnly(t *testing.T, c dapr.Client, root string) {
	name := "output-" + uniq(t)
	err := c.InvokeOutputBinding(callCtx(t), &dapr.InvokeBindingRequest{
		Name: filesBinding, Operation: "create", Data: []byte("via InvokeOutputBinding"),
		Metadata: map[string]string{"fileName": name},
	})
	if err != nil {
		t.Fatalf("InvokeOutputBinding(create): %v", err)
	}
	wantFile(t, filepath.Join(root, name), []byte("via InvokeOutputBinding"))
}

// goFilesList creates files in a directory of their own (create makes the
// missing directories) and lists it: the answer is a JSON array of
// absolute paths, subdirectories included.
func goFilesList(t *testing.T, c dapr.Client, root string) {
	dir := "listed-" + uniq(t)
	var want []string
	for _, n := range []string{"one", "sub/two"} {
		name := dir + "/" + n
		invoke(t, c, "create", []byte(n), map[string]string{"fileName": name})
		want = append(want, filepath.Join(root, dir, n))
	}
	out := invoke(t, c, "list", nil, map[string]string{"fileName": dir})
	var got []string
	if err := json.Unmarshal(out.Data, &got); err != nil {
		t.Fatalf("list answered %q: %v", out.Data, err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("list %s = %q, want %q", dir, got, want)
	}
	// Without fileName the whole root is listed.
	if err := json.Unmarshal(invoke(t, c, "list", nil, nil).Data, &got); err != nil {
		t.Fatalf("list of the root: %v", err)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("list of the root %q lacks %s", got, w)
		}
	}
}

func goFilesErrors(t *testing.T, c dapr.Client) {
	cases := []struct {
		name string
		req  dapr.InvokeBindingRequest
	}{
		{"missing file", dapr.InvokeBindingRequest{Name: filesBinding, Operation: "get", Metadata: map[string]string{"fileName": "missing-" + uniq(t)}}},
		{"unsupported operation", dapr.InvokeBindingRequest{Name: filesBinding, Operation: "explode"}},
		{"unknown binding", dapr.InvokeBindingRequest{Name: "no-such-binding", Operation: "create", Data: []byte("x")}},
	}
	for _, tc := range cases {
		out, err := c.InvokeBinding(callCtx(t), &tc.req)
		if status.Code(err) != codes.Internal {
			t.Errorf("InvokeBinding with %s = %+v, %v; want code %v", tc.name, out, err, codes.Internal)
		}
	}
}

// TestGoSDKInputBinding delivers bindings.cron events to apps written with
// the Go SDK's service/http and service/grpc (AddBindingInvocationHandler).
func TestGoSDKInputBinding(t *testing.T) {
	t.Parallel()
	for _, protocol := range []string{"http", "grpc"} {
		t.Run(protocol, func(t *testing.T) {
			t.Parallel()
			in := &bindingInbox{}
			port := startBindingApp(t, protocol, in)
			sc := harness.Start(t, harness.Options{
				AppID: "cron-go-" + protocol + "-" + uniq(t), AppPort: port, AppProtocol: protocol,
				Components: cronComponents(),
			})
			wantComponent(t, goClient(t, sc), cronBinding, "bindings.cron", "INPUT_BINDING")
			first := in.waitFor(t, cronBinding, 2)
			if gap := first[1].at.Sub(first[0].at); gap < 500*time.Millisecond {
				t.Errorf("two events of an @every 1s schedule came %s apart", gap)
			}
			routed := in.waitFor(t, cronRoutedBinding, 1)
			if protocol == "http" {
				// app-contract.md §3: OPTIONS /<route> decides; the
				// SDK's router answers 404 for a route it lacks.
				if got := in.unknownRequests(); !slices.Equal(got, []string{"OPTIONS /" + cronIgnoredBinding}) {
					t.Errorf("requests to routes the app does not serve = %q, want only the discovery %q", got, "OPTIONS /"+cronIgnoredBinding)
				}
			}
			for _, ev := range append(first, routed...) {
				if len(ev.data) != 0 {
					t.Errorf("%s event data = %q, want empty", ev.binding, ev.data)
				}
				if readTime := lookup(ev.metadata, "readTimeUTC"); readTime == "" {
					t.Errorf("%s event metadata %v lacks readTimeUTC", ev.binding, ev.metadata)
				}
			}
		})
	}
}

// bindingEvent is one delivery of an input binding to the app.
type bindingEvent struct {
	binding  string
	at       time.Time
	data     []byte
	metadata map[string]string
}

type bindingInbox struct {
	mu  sync.Mutex
	got []bindingEvent
	// unknown lists requests to routes the HTTP app does not serve, as
	// "METHOD /path".
	unknown []string
}

func (in *bindingInbox) notFound(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	in.unknown = append(in.unknown, r.Method+" "+r.URL.Path)
	in.mu.Unlock()
	http.NotFound(w, r)
}

func (in *bindingInbox) unknownRequests() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.unknown)
}

func (in *bindingInbox) handler(binding string) common.BindingInvocationHandler {
	return func(_ context.Context, ev *common.BindingEvent) ([]byte, error) {
		in.mu.Lock()
		defer in.mu.Unlock()
		in.got = append(in.got, bindingEvent{binding: binding, at: time.Now(), data: ev.Data, metadata: ev.Metadata})
		return nil, nil
	}
}

// waitFor polls until the binding has n deliveries and returns them.
func (in *bindingInbox) waitFor(t *testing.T, binding string, n int) []bindingEvent {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		in.mu.Lock()
		var got []bindingEvent
		for _, ev := range in.got {
			if ev.binding == binding {
				got = append(got, ev)
			}
		}
		in.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d %s events after %s", len(got), n, binding, deliveryTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lookup finds a metadata key case-insensitively: HTTP apps get metadata
// as headers, whose names Go canonicalises.
func lookup(md map[string]string, key string) string {
	for k, v := range md {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// startBindingApp runs a Go SDK service handling both cron bindings. HTTP
// apps are addressed by route, gRPC apps by binding name. Register it
// before its sidecar so it stops after it.
func startBindingApp(t *testing.T, protocol string, in *bindingInbox) int {
	t.Helper()
	var s common.Service
	var port int
	routes := map[string]string{cronBinding: "/" + cronBinding, cronRoutedBinding: cronRoute}
	if protocol == "grpc" {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen for %s app: %v", protocol, err)
		}
		port = lis.Addr().(*net.TCPAddr).Port
		s = daprgrpc.NewServiceWithListener(lis)
		routes = map[string]string{cronBinding: cronBinding, cronRoutedBinding: cronRoutedBinding}
	} else {
		// service/http listens itself, on a port outside the ephemeral range.
		port = harness.FreePort(t)
		mux := chi.NewRouter()
		mux.NotFound(in.notFound)
		s = daprhttp.NewServiceWithMux(harness.LoopbackAddr(port), mux)
	}
	for binding, route := range routes {
		if err := s.AddBindingInvocationHandler(route, in.handler(binding)); err != nil {
			t.Fatalf("AddBindingInvocationHandler(%s): %v", route, err)
		}
	}
	served := make(chan error, 1)
	go func() { served <- s.Start() }()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop %s app: %v", protocol, err)
		}
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("%s app: %v", protocol, err)
		}
	})
	return port
}
