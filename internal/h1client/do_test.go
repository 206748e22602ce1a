package h1client

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Do answers and fails as http.Client.Do does for the same transport:
// a 3xx is handed back, and an error reads the same.
func TestDoMatchesClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/m"
	ln.Close()

	tr, _ := newTransport(t)
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct{ method, url string }{
		{http.MethodGet, srv.URL + "/a"},
		{http.MethodPost, srv.URL + "/a"},
		{http.MethodPost, refused},
		{http.MethodDelete, "http://user:secret@" + refused[len("http://"):]},
	}
	for _, tt := range tests {
		want, wantErr := client.Do(newRequest(t, tt.method, tt.url))
		got, gotErr := Do(tr, newRequest(t, tt.method, tt.url))
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%s %s: error %v, client's %v", tt.method, tt.url, gotErr, wantErr)
		}
		if wantErr != nil {
			if gotErr.Error() != wantErr.Error() {
				t.Errorf("%s %s: error %q, client's %q", tt.method, tt.url, gotErr, wantErr)
			}
			continue
		}
		for _, r := range []*http.Response{want, got} {
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		if got.StatusCode != want.StatusCode || got.Header.Get("Location") != want.Header.Get("Location") {
			t.Errorf("%s %s: %d to %q, client's %d to %q", tt.method, tt.url,
				got.StatusCode, got.Header.Get("Location"), want.StatusCode, want.Header.Get("Location"))
		}
	}
}

func newRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
