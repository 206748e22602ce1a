package invoke

import (
	"net/http"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"

	"github.com/outrigger/outrigger/internal/headername"
	"github.com/outrigger/outrigger/internal/hopbyhop"
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

// headerMetadata turns HTTP headers into internal metadata with lower-case
// keys, leaving out hop-by-hop headers and those named in skip. room is
// how many more entries the caller will add. The values share the
// header's slices (capped, so a later append copies), and the entries one
// array: a proxied request's headers cost a few allocations, not two each.
func headerMetadata(h http.Header, room int, skip ...string) map[string]*internalsv1.ListStringValue {
	nominated := hopbyhop.Nominated(h["Connection"])
	md := make(map[string]*internalsv1.ListStringValue, len(h)+room)
	lists := make([]internalsv1.ListStringValue, len(h))
	n := 0
outer:
	for k, vals := range h {
		lk := headername.Lower(k)
		if hopbyhop.Dropped(lk, nominated) {
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
		l := &lists[n]
		n++
		l.Values = vals[:len(vals):len(vals)]
		md[lk] = l
	}
	return md
}

// firstMD returns key's first value.
func firstMD(md map[string]*internalsv1.ListStringValue, key string) string {
	if v := md[key]; v != nil && len(v.Values) > 0 {
		return v.Values[0]
	}
	return ""
}
