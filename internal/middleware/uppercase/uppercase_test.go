package uppercase

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/middleware"
	mt "github.com/outrigger/outrigger/internal/middleware/middlewaretest"
)

func TestUppercase(t *testing.T) {
	// The app echoes the request body and adds a lower-case suffix, so
	// the response direction is visible on its own.
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt.Echo().ServeHTTP(w, r)
		_, _ = w.Write([]byte(" from app é"))
	})
	tests := []struct {
		direction string
		want      string
	}{
		{"", "POST /x|HELLO WÖRLD from app é"},
		{"request", "POST /x|HELLO WÖRLD from app é"},
		{"response", "POST /X|HELLO WÖRLD FROM APP É"},
		{"both", "POST /X|HELLO WÖRLD FROM APP É"},
	}
	for _, tt := range tests {
		t.Run("direction="+tt.direction, func(t *testing.T) {
			props := map[string]string{}
			if tt.direction != "" {
				props["direction"] = tt.direction
			}
			srv := mt.Serve(t, &Uppercase{}, props, app)
			status, body, resp := mt.Do(t, mt.NewRequest(t, http.MethodPost, srv.URL+"/x", strings.NewReader("hello wörld")))
			if status != http.StatusOK || body != tt.want {
				t.Errorf("got %d %q, want 200 %q", status, body, tt.want)
			}
			if resp.ContentLength != int64(len(tt.want)) {
				t.Errorf("Content-Length = %d, want %d", resp.ContentLength, len(tt.want))
			}
		})
	}
}

func TestUppercaseRejectsUnknownDirection(t *testing.T) {
	err := (&Uppercase{}).Init(context.Background(), middleware.Metadata{Properties: map[string]string{"direction": "sideways"}})
	if err == nil {
		t.Fatal("Init accepted direction sideways")
	}
}
