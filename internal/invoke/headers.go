package invoke

import (
	"net/http"
	"strings"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
)

// Metadata keys daprd adds or consumes.
const (
	hdrAppID          = "dapr-app-id"
	hdrAPIToken       = "dapr-api-token"
	hdrCallerAppID    = "dapr-caller-app-id"
	hdrCallerNS       = "dapr-caller-namespace"
	hdrCalleeAppID    = "dapr-callee-app-id"
	hdrDestinationID  = "destination-app-id"
	hdrHTTPStatus     = "dapr-http-status"
	hdrXForwardedFor  = "x-forwarded-for"
	hdrXForwardedHost = "x-forwarded-host"
	hdrForwarded      = "forwarded"
	hdrContentType    = "content-type"
	hdrContentLength  = "content-length"
)

// hopByHop are the headers that describe one connection, not the message
// (RFC 9110 §7.6.1), so a proxy never forwards them.
var hopByHop = map[string]bool{
	"connection":          true,
	"keep-alive":          true,
	"proxy-authenticate":  true,
	"proxy-authorization": true,
	"proxy-connection":    true,
	"te":                  true,
	"trailer":             true,
	"transfer-encoding":   true,
	"upgrade":             true,
}

// connectionNominated returns the lower-case names listed in Connection
// headers, which are hop-by-hop too; nil when there are none.
func connectionNominated(h http.Header) map[string]bool {
	vals := h.Values("Connection")
	if len(vals) == 0 {
		return nil
	}
	out := map[string]bool{}
	for _, v := range vals {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out[strings.ToLower(name)] = true
			}
		}
	}
	return out
}

// headerMetadata turns HTTP headers into internal metadata with lower-case
// keys, leaving out hop-by-hop headers and those named in skip.
func headerMetadata(h http.Header, skip ...string) map[string]*internalsv1.ListStringValue {
	nominated := connectionNominated(h)
	md := make(map[string]*internalsv1.ListStringValue, len(h))
outer:
	for k, vals := range h {
		lk := strings.ToLower(k)
		if hopByHop[lk] || nominated[lk] {
			continue
		}
		for _, s := range skip {
			if lk == s {
				continue outer
			}
		}
		if prev := md[lk]; prev != nil {
			prev.Values = append(prev.Values, vals...)
			continue
		}
		md[lk] = &internalsv1.ListStringValue{Values: append([]string(nil), vals...)}
	}
	return md
}

// setMD replaces key's values.
func setMD(md map[string]*internalsv1.ListStringValue, key, value string) {
	md[key] = &internalsv1.ListStringValue{Values: []string{value}}
}

// appendMD adds value after any existing values of key.
func appendMD(md map[string]*internalsv1.ListStringValue, key, value string) {
	if prev := md[key]; prev != nil {
		prev.Values = append(prev.Values, value)
		return
	}
	setMD(md, key, value)
}

// firstMD returns key's first value.
func firstMD(md map[string]*internalsv1.ListStringValue, key string) string {
	if v := md[key]; v != nil && len(v.Values) > 0 {
		return v.Values[0]
	}
	return ""
}
