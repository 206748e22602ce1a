package localstorage

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/bindings"
)

func newBinding(t *testing.T) (*Binding, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root", "nested") // created by Init
	b := New()
	if err := b.Init(context.Background(), bindings.Metadata{Name: "ls", Properties: map[string]string{"RootPath": dir}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, b.rootPath
}

func invoke(t *testing.T, b *Binding, op, name string, data []byte) (*bindings.InvokeResponse, error) {
	t.Helper()
	md := map[string]string{}
	if name != "" {
		md["fileName"] = name
	}
	return b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: op, Data: data, Metadata: md})
}

func TestCreateDecodesData(t *testing.T) {
	b, root := newBinding(t)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"quoted", `"hello"`, "hello"},                  // JSON string from the HTTP API
		{"base64", `"aGVsbG8gd29ybGQ="`, "hello world"}, // quoted base64 is decoded
		{"raw base64", `aGk=`, "hi"},
		{"object", `{"a":1}`, `{"a":1}`},
		{"escapes", `"a\"b\\c\u00e9"`, `a"b\cé`},
		{"binary", "\x00\x01\xff", "\x00\x01\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := invoke(t, b, "create", tt.name+".txt", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Data) != `{"fileName":"`+tt.name+`.txt"}` {
				t.Fatalf("response %s", res.Data)
			}
			got, err := os.ReadFile(filepath.Join(root, tt.name+".txt"))
			if err != nil || string(got) != tt.want {
				t.Fatalf("file = %q, %v; want %q", got, err, tt.want)
			}
			res, err = invoke(t, b, "get", tt.name+".txt", nil)
			if err != nil || string(res.Data) != tt.want {
				t.Fatalf("get = %q, %v", res.Data, err)
			}
		})
	}
}

func TestCreateGeneratesNameAndSubdirs(t *testing.T) {
	b, root := newBinding(t)
	res, err := invoke(t, b, "create", "", []byte(`"x"`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ FileName string }
	if err := json.Unmarshal(res.Data, &out); err != nil || len(out.FileName) != 36 {
		t.Fatalf("generated name %q (%v)", out.FileName, err)
	}
	if _, err := invoke(t, b, "create", "a/b/c.txt", []byte(`"deep!"`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "a", "b", "c.txt")); string(got) != "deep!" {
		t.Fatalf("nested file = %q", got)
	}
}

func TestListAndDelete(t *testing.T) {
	b, root := newBinding(t)
	for _, n := range []string{"one", "dir/two", "dir/sub/three"} {
		if _, err := invoke(t, b, "create", n, []byte(`"v"`)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := invoke(t, b, "list", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	if err := json.Unmarshal(res.Data, &files); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(root, "dir/sub/three"), filepath.Join(root, "dir/two"), filepath.Join(root, "one")}
	slices.Sort(files)
	if !slices.Equal(files, want) {
		t.Fatalf("list = %v, want %v", files, want)
	}
	res, err = invoke(t, b, "list", "dir/sub", nil)
	if err != nil || string(res.Data) != `["`+filepath.Join(root, "dir/sub/three")+`"]` {
		t.Fatalf("list dir/sub = %s, %v", res.Data, err)
	}
	if _, err := invoke(t, b, "list", "one", nil); err == nil {
		t.Fatal("listing a file succeeded")
	}
	res, err = invoke(t, b, "delete", "one", nil)
	if err != nil || res != nil {
		t.Fatalf("delete = %v, %v", res, err)
	}
	if _, err := invoke(t, b, "get", "one", nil); err == nil || !strings.Contains(err.Error(), "file not found") {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := invoke(t, b, "delete", "one", nil); err == nil {
		t.Fatal("deleting a missing file succeeded")
	}
}

// TestRefusesEscapes checks that no operation reaches outside the root:
// dot-dot paths, absolute paths and symbolic links pointing out.
func TestRefusesEscapes(t *testing.T) {
	b, root := newBinding(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("top secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "linkfile")); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(root, secret)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{rel, "../secret", "a/../../x", "..", secret, "/etc/passwd", "linkdir/secret", "linkfile", "linkdir/new"}
	for _, op := range []string{"create", "get", "delete", "list"} {
		for _, n := range names {
			if (op == "list" || op == "delete") && n == "linkfile" {
				continue // listing a file fails anyway; deleting removes the link itself
			}
			if _, err := invoke(t, b, op, n, []byte(`"pwned"`)); err == nil {
				t.Errorf("%s %q succeeded", op, n)
			}
		}
	}
	if _, err := invoke(t, b, "delete", "linkfile", nil); err != nil {
		t.Fatalf("deleting the link itself: %v", err)
	}
	if got, _ := os.ReadFile(secret); string(got) != "top secret" {
		t.Fatalf("outside file changed: %q", got)
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Fatal("a file was created outside the root")
	}
}

// TestSymlinkInsideRoot: links that stay inside the root keep working.
func TestSymlinkInsideRoot(t *testing.T) {
	b, root := newBinding(t)
	if _, err := invoke(t, b, "create", "real/file", []byte(`"inside"`)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	res, err := invoke(t, b, "get", "alias/file", nil)
	if err != nil || string(res.Data) != "inside" {
		t.Fatalf("get via inside link = %q, %v", res.Data, err)
	}
}

func TestInitErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"", file, "/proc/self", "/sys/x", "/var/run/secrets/kubernetes.io"} {
		if err := New().Init(context.Background(), bindings.Metadata{Properties: map[string]string{"rootPath": root}}); err == nil {
			t.Errorf("Init(rootPath=%q) succeeded", root)
		}
	}
}

func TestUnsupportedOperation(t *testing.T) {
	b, _ := newBinding(t)
	if _, err := invoke(t, b, "update", "x", nil); err == nil {
		t.Fatal("unknown operation succeeded")
	}
}
