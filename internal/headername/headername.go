// Package headername converts HTTP header names between the canonical
// form net/http keeps ("Content-Type") and the lower-case form of gRPC
// metadata and Dapr's internal messages ("content-type"). Every proxied
// request converts each of its headers once each way; for the common
// names the conversion is a table lookup instead of a new string.
package headername

import (
	"net/textproto"
	"strings"
)

// common are header names seen on most requests and responses, in
// canonical form.
var common = []string{
	"Accept", "Accept-Encoding", "Accept-Language", "Authorization",
	"Baggage", "Cache-Control", "Connection", "Content-Encoding",
	"Content-Length", "Content-Type", "Cookie", "Dapr-App-Id",
	"Dapr-Api-Token", "Dapr-Caller-App-Id", "Dapr-Caller-Namespace",
	"Dapr-Callee-App-Id", "Dapr-Http-Status", "Date", "Destination-App-Id",
	"Etag", "Expires", "Forwarded", "Grpc-Trace-Bin", "Host", "If-Match",
	"If-None-Match", "Keep-Alive", "Last-Modified", "Location", "Origin",
	"Referer", "Server", "Set-Cookie", "Traceparent", "Tracestate",
	"Transfer-Encoding", "User-Agent", "Vary", "X-Forwarded-For",
	"X-Forwarded-Host", "X-Forwarded-Proto", "X-Request-Id",
}

var (
	toLower     = make(map[string]string, len(common))
	toCanonical = make(map[string]string, len(common))
)

func init() {
	for _, c := range common {
		l := strings.ToLower(c)
		toLower[c] = l
		toCanonical[l] = c
	}
}

// Lower returns k in lower case.
func Lower(k string) string {
	if l, ok := toLower[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

// Canonical returns k in net/http's canonical form.
func Canonical(k string) string {
	if c, ok := toCanonical[k]; ok {
		return c
	}
	return textproto.CanonicalMIMEHeaderKey(k)
}
