package http

import "testing"

func TestRouteTemplate(t *testing.T) {
	tests := map[string]string{
		"/v1.0/state/orders/k1":                       "/v1.0/state/{storeName}/{key}",
		"/v1.0/state/orders/bulk":                     "/v1.0/state/{storeName}/bulk",
		"/v1.0-alpha1/state/orders/query":             "/v1.0-alpha1/state/{storeName}/query",
		"/v1.0/invoke/payments/method/charge/a/b":     "/v1.0/invoke/{id}/method/{method}",
		"/v1.0/publish/ps/orders/new":                 "/v1.0/publish/{pubsubname}/{topic}",
		"/v1.0-alpha1/publish/bulk/ps/t":              "/v1.0-alpha1/publish/bulk/{pubsubname}/{topic}",
		"/v1.0/actors/Cart/42/method/add":             "/v1.0/actors/{actorType}/{actorId}/method/{name}",
		"/v1.0/actors/Cart/42/reminders/r1":           "/v1.0/actors/{actorType}/{actorId}/reminders/{name}",
		"/v1.0/configuration/cfg/subscribe":           "/v1.0/configuration/{storeName}/subscribe",
		"/v1.0/configuration/cfg/abc-123/unsubscribe": "/v1.0/configuration/{storeName}/{configurationSubscribeID}/unsubscribe",
		"/v1.0/healthz":                               "/v1.0/healthz",
		"/v1.0/metadata":                              "/v1.0/metadata",
		"/orders/new":                                 "/*",
	}
	for path, want := range tests {
		if got := routeTemplate(path); got != want {
			t.Errorf("routeTemplate(%s) = %s, want %s", path, got, want)
		}
	}
}
