package http

import (
	"slices"
	"strings"
)

// apiRoutes describes each API's path after its name: the fixed words and
// the parameter names in path order.
var apiRoutes = map[string]struct{ words, params []string }{
	"state":         {[]string{"bulk", "transaction", "query"}, []string{"storeName", "key"}},
	"invoke":        {[]string{"method"}, []string{"id", "method"}},
	"publish":       {[]string{"bulk"}, []string{"pubsubname", "topic"}},
	"bindings":      {nil, []string{"name"}},
	"secrets":       {[]string{"bulk"}, []string{"secretStoreName", "key"}},
	"actors":        {[]string{"method", "state", "reminders", "timers"}, []string{"actorType", "actorId", "name"}},
	"configuration": {[]string{"subscribe", "unsubscribe"}, []string{"storeName", "configurationSubscribeID"}},
	"lock":          {nil, []string{"storeName"}},
	"unlock":        {nil, []string{"storeName"}},
	"crypto":        {[]string{"encrypt", "decrypt"}, []string{"name"}},
	"metadata":      {nil, []string{"key"}},
}

// routeTemplate turns a Dapr API path into its route template for API logs
// with obfuscateURLs: "/v1.0/state/orders/k1" gives
// "/v1.0/state/{storeName}/{key}". The last parameter takes the rest of the
// path (an invoked method or a topic may span several segments). Paths
// outside the Dapr API (invocation by dapr-app-id header) give "/*".
func routeTemplate(escaped string) string {
	rt := splitRoute(escaped)
	if !strings.HasPrefix(rt.version, "v1.0") || len(rt.segs) == 0 {
		return "/*"
	}
	api := rt.segs[0]
	out := []string{"", rt.version, api}
	route, ok := apiRoutes[api]
	if !ok {
		return strings.Join(out, "/")
	}
	words, params := slices.Clone(route.words), route.params
	for _, seg := range rt.segs[1:] {
		if i := slices.Index(words, seg); i >= 0 {
			out = append(out, seg)
			words = slices.Delete(words, i, i+1) // each word appears once
			continue
		}
		if len(params) == 0 {
			break
		}
		out = append(out, "{"+params[0]+"}")
		params = params[1:]
	}
	return strings.Join(out, "/")
}
