// Package hopbyhop tells which HTTP headers describe one connection
// rather than the message (RFC 9110 §7.6.1, and the older proxy headers of
// RFC 2616 §13.5.1), so that a proxy never forwards them. The sidecar
// applies the same rule on every leg: caller to sidecar, sidecar to app,
// and back.
package hopbyhop

import "strings"

// Is reports whether a lower-case header name is hop-by-hop by itself.
func Is(lower string) bool {
	switch lower {
	case "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
		"proxy-connection", "te", "trailer", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// Nominated returns the lower-case names a message's Connection header
// values list, which are hop-by-hop for that message; nil when none.
func Nominated(connection []string) map[string]struct{} {
	var set map[string]struct{}
	for _, v := range connection {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			if set == nil {
				set = make(map[string]struct{})
			}
			set[name] = struct{}{}
		}
	}
	return set
}

// Dropped reports whether a proxy leaves out the lower-case header name:
// hop-by-hop by itself, or listed in the message's Connection header
// (nominated, from Nominated).
func Dropped(lower string, nominated map[string]struct{}) bool {
	if Is(lower) {
		return true
	}
	_, ok := nominated[lower]
	return ok
}
