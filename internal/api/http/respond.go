package http

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
)

var (
	jsonContentType = []string{"application/json"}
)

// writeError renders err in Dapr's JSON error format.
func writeError(w http.ResponseWriter, err error) {
	e := apierr.From(err)
	metrics.RecordHTTPErrorCode(w, e.Code)
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(e.HTTPStatus)
	_, _ = w.Write(e.HTTPBody())
}

// writeJSON encodes v as the 200 response.
func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, apierr.Internal("failed to encode response: "+err.Error()))
		return
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeNoContent answers 204.
func writeNoContent(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNoContent)
}

// queryMetadata collects `metadata.<key>=<value>` query parameters (first
// value wins; the prefix is case-sensitive). It returns nil when there are none.
func queryMetadata(u *url.URL) map[string]string {
	if u.RawQuery == "" || !strings.Contains(u.RawQuery, "metadata.") {
		return nil
	}
	var md map[string]string
	for k, vs := range u.Query() {
		if !strings.HasPrefix(k, "metadata.") || len(vs) == 0 {
			continue
		}
		if md == nil {
			md = map[string]string{}
		}
		md[strings.TrimPrefix(k, "metadata.")] = vs[0]
	}
	return md
}

// setMetadataHeaders writes response metadata as `metadata.<k>` headers.
func setMetadataHeaders(w http.ResponseWriter, md map[string]string) {
	for k, v := range md {
		w.Header().Set("metadata."+k, v)
	}
}

// rawOrString renders stored bytes inside a JSON response: JSON values are
// embedded as they are; anything else (binary saved over gRPC) becomes a
// JSON string so the response stays valid JSON.
func rawOrString(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(b) // base64, as Go encodes []byte
	return s
}
