package appchannel

import (
	"encoding/base64"
	"net/http"
	"net/textproto"
	"strings"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc/metadata"

	"github.com/outrigger/outrigger/internal/headername"
	"github.com/outrigger/outrigger/internal/hopbyhop"
)

// Header and metadata names the app must never see from the caller: routing
// and auth headers meant for the sidecars.
func isSidecarHeader(k string) bool {
	switch k {
	case "dapr-app-id", "dapr-api-token", "destination-app-id":
		return true
	}
	return false
}

// httpHeaderName maps a lower-case metadata key to the header name sent to
// an HTTP app. gRPC-only keys are renamed (":authority", "grpc-*") or
// dropped (other pseudo-headers, binary "-bin" values that are not text).
// ok is false for keys that must not be forwarded.
func httpHeaderName(k string, nominated map[string]struct{}) (name string, ok bool) {
	switch {
	case strings.HasSuffix(k, "-bin"):
		return "", false
	case k == ":authority":
		return "Dapr-Authority", true
	case strings.HasPrefix(k, ":"):
		return "", false
	case strings.HasPrefix(k, "grpc-"):
		return textproto.CanonicalMIMEHeaderKey("dapr-" + k), true
	case isSidecarHeader(k), hopbyhop.Dropped(k, nominated):
		return "", false
	// Content-Type comes from the message; Content-Length and Host are
	// set by the transport from the request itself.
	case k == "content-type", k == "content-length", k == "host":
		return "", false
	}
	return headername.Canonical(k), true
}

// buildHTTPHeader turns the caller's metadata into the headers for an HTTP
// app call.
func buildHTTPHeader(md map[string]*internalsv1.ListStringValue, contentType, token string) http.Header {
	h := make(http.Header, len(md)+2)
	var nominated map[string]struct{}
	if c := md["connection"]; c != nil {
		nominated = hopbyhop.Nominated(c.GetValues())
	}
	for k, v := range md {
		vals := v.GetValues()
		if len(vals) == 0 {
			continue
		}
		name, ok := httpHeaderName(headername.Lower(k), nominated)
		if !ok {
			continue
		}
		if h[name] == nil {
			// Share the caller's slice; the capped capacity makes a later
			// append for a duplicate key copy instead of writing into it.
			h[name] = vals[:len(vals):len(vals)]
		} else {
			h[name] = append(h[name], vals...)
		}
	}
	if contentType != "" {
		h["Content-Type"] = []string{contentType}
	}
	if token != "" {
		h["Dapr-Api-Token"] = []string{token}
	}
	return h
}

// httpHeaderToMetadata converts the app's response headers to lower-case
// metadata, without hop-by-hop headers.
func httpHeaderToMetadata(h http.Header) map[string]*internalsv1.ListStringValue {
	m := make(map[string]*internalsv1.ListStringValue, len(h))
	lists := make([]internalsv1.ListStringValue, len(h)) // one allocation for all entries
	nominated := hopbyhop.Nominated(h["Connection"])
	n := 0
	for k, v := range h {
		lk := headername.Lower(k)
		if hopbyhop.Dropped(lk, nominated) {
			continue
		}
		l := &lists[n]
		n++
		l.Values = v
		m[lk] = l
	}
	return m
}

// prefixedHeaders are the request headers an HTTP caller's call carries
// to a gRPC app as "dapr-<name>", so that they do not pass for gRPC's own
// metadata. The set is daprd 1.18.3's, taken from what its gRPC app
// received: every other end-to-end header (authorization, forwarded, etag,
// range, …) keeps its name, and the caller's user-agent gives way to
// gRPC's. Host, which Go keeps out of the header map, is prefixed too.
var prefixedHeaders = func() map[string]string {
	names := []string{
		"accept", "accept-charset", "accept-language", "accept-ranges",
		"cache-control", "content-length", "content-type", "cookie", "date",
		"from", "host", "if-match", "if-modified-since", "if-none-match",
		"if-unmodified-since", "max-forwards", "origin", "pragma", "referer",
		"via", "warning",
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = "dapr-" + n
	}
	return m
}()

// grpcMetadataKey maps a lower-case metadata key to the key sent to a gRPC
// app; ok is false for keys that must not be forwarded.
func grpcMetadataKey(k string, fromHTTP bool) (key string, ok bool) {
	if isSidecarHeader(k) {
		return "", false
	}
	if fromHTTP {
		if p, found := prefixedHeaders[k]; found {
			return p, true
		}
		if hopbyhop.Is(k) {
			return "", false
		}
	}
	switch {
	case k == ":authority" && fromHTTP:
		return "dapr-authority", true
	case strings.HasPrefix(k, ":"):
		// Pseudo-headers belong to the caller's own HTTP/2 stream.
		return "", false
	case strings.HasPrefix(k, "grpc-") && k != "grpc-trace-bin":
		// Transport-level gRPC headers (timeout, encoding, status…).
		return "", false
	case k == "content-type", k == "user-agent", k == "te":
		// Reserved: gRPC sets these itself.
		return "", false
	}
	if !validGRPCKey(k) {
		return "", false
	}
	return k, true
}

// buildGRPCMetadata turns the caller's metadata into outgoing metadata for a
// gRPC app. Binary ("-bin") values travel base64-encoded between sidecars and
// are decoded here; text values gRPC would reject are dropped rather than
// failing the whole call.
func buildGRPCMetadata(md map[string]*internalsv1.ListStringValue, fromHTTP bool, token string) metadata.MD {
	out := make(metadata.MD, len(md)+1)
	for k, v := range md {
		key, ok := grpcMetadataKey(strings.ToLower(k), fromHTTP)
		if !ok {
			continue
		}
		bin := strings.HasSuffix(key, "-bin")
		for _, val := range v.GetValues() {
			if bin {
				val = decodeBinary(val)
			} else if !printableASCII(val) {
				continue
			}
			out[key] = append(out[key], val)
		}
	}
	if token != "" {
		out["dapr-api-token"] = []string{token}
	}
	return out
}

func decodeBinary(s string) string {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return string(b)
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return string(b)
	}
	return s
}

func validGRPCKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// grpcMetadataToMap converts gRPC header or trailer metadata (already
// lower-case) to the internal form; binary values are base64-encoded so
// they survive proto string fields.
func grpcMetadataToMap(md metadata.MD) map[string]*internalsv1.ListStringValue {
	if len(md) == 0 {
		return nil
	}
	m := make(map[string]*internalsv1.ListStringValue, len(md))
	for k, vals := range md {
		if strings.HasSuffix(k, "-bin") {
			enc := make([]string, len(vals))
			for i, v := range vals {
				enc[i] = base64.StdEncoding.EncodeToString([]byte(v))
			}
			vals = enc
		}
		m[k] = &internalsv1.ListStringValue{Values: vals}
	}
	return m
}
