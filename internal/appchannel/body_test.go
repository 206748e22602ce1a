package appchannel

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// streamReader hides the in-memory type of its data, as a request body
// read off a connection does.
type streamReader struct{ r io.Reader }

func (s streamReader) Read(p []byte) (int, error) { return s.r.Read(p) }

func TestInMemoryBody(t *testing.T) {
	mem := bytes.NewReader([]byte("abc"))
	large := streamReader{strings.NewReader("x")}
	tests := []struct {
		name     string
		body     io.Reader
		declared int64
		want     string // body content read back
		same     io.Reader
		inMemory bool
		wantErr  bool
	}{
		{name: "nil body is no body", body: nil, declared: 0, same: http.NoBody},
		{name: "in-memory body kept", body: mem, declared: 3, same: mem},
		{name: "small stream read up front", body: streamReader{strings.NewReader("hello")}, declared: 5, want: "hello", inMemory: true},
		{name: "stream without a declared size streams", body: large, declared: -1, same: large},
		{name: "stream over the limit streams", body: large, declared: smallBodyLimit + 1, same: large},
		{name: "short stream is an error", body: streamReader{strings.NewReader("hi")}, declared: 5, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := inMemoryBody(tt.body, tt.declared)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error for a body shorter than declared")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.same != nil {
				if got != tt.same {
					t.Fatalf("got %T, want the reader passed through", got)
				}
				return
			}
			br, ok := got.(*bytes.Reader)
			if tt.inMemory && !ok {
				t.Fatalf("got %T, want *bytes.Reader", got)
			}
			b, _ := io.ReadAll(br)
			if string(b) != tt.want {
				t.Fatalf("body %q, want %q", b, tt.want)
			}
		})
	}
}
