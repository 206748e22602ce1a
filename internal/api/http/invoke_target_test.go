package http

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"
)

func TestInvokeTarget(t *testing.T) {
	tests := []struct {
		name, url  string
		hdr        map[string]string
		wantApp    string
		wantMethod string
		wantOK     bool
		wantErr    bool
	}{
		{"path", "/v1.0/invoke/orders/method/charge", nil, "orders", "charge", true, false},
		{"nested method", "/v1.0/invoke/orders/method/api/v1/items?x=1", nil, "orders", "api/v1/items", true, false},
		{"namespaced id", "/v1.0/invoke/orders.prod/method/x", nil, "orders.prod", "x", true, false},
		{"url id", "/v1.0/invoke/http%3A%2F%2Flocalhost%3A8080/method/a/b", nil, "http://localhost:8080", "a/b", true, false},
		{"dot segments", "/v1.0/invoke/orders/method/../../a/./b", nil, "orders", "a/b", true, false},
		{"double slash", "/v1.0//invoke/orders/method//x", nil, "orders", "x", true, false},
		{"escaped method", "/v1.0/invoke/orders/method/a%20b", nil, "orders", "a b", true, false},
		{"control char", "/v1.0/invoke/orders/method/a%00b", nil, "orders", "", true, true},
		{"empty method", "/v1.0/invoke/orders/method/", nil, "orders", "", true, false},
		{"method segment without slash", "/v1.0/invoke/orders/method", nil, "", "", false, false},
		{"method segment without slash, with query", "/v1.0/invoke/orders/method?x=1", nil, "", "", false, false},
		{"header form", "/any/path", map[string]string{"dapr-app-id": "orders"}, "orders", "any/path", true, false},
		{"basic auth form", "/p", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("dapr-app-id:orders"))}, "orders", "p", true, false},
		{"basic auth other user", "/p", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:pw"))}, "", "", false, false},
		{"no target", "/v1.0/nothing", nil, "", "", false, false},
		{"no method segment", "/v1.0/invoke/orders/other", nil, "", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.url, nil)
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			app, method, ok, err := invokeTarget(r)
			if ok != tt.wantOK || (err != nil) != tt.wantErr {
				t.Fatalf("ok=%v err=%v, want ok=%v err=%v", ok, err, tt.wantOK, tt.wantErr)
			}
			if err == nil && (app != tt.wantApp || method != tt.wantMethod) {
				t.Fatalf("got %q %q, want %q %q", app, method, tt.wantApp, tt.wantMethod)
			}
			if tt.hdr["dapr-app-id"] != "" && r.Header.Get("dapr-app-id") != "" {
				t.Error("dapr-app-id header not removed")
			}
		})
	}
}
