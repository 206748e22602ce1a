package resources

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// decodeComponent parses one Component document.
func decodeComponent(t *testing.T, yamlText string) Component {
	t.Helper()
	v, err := parseYAML([]byte(yamlText), 1)
	if err != nil {
		t.Fatal(err)
	}
	var c Component
	if _, p := decodeValue(v, &c); p != nil {
		t.Fatalf("decode: %v", p)
	}
	return c
}

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestPropertiesValueConversion(t *testing.T) {
	c := decodeComponent(t, `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: x}
spec:
  type: state.redis
  metadata:
  - {name: str, value: hello}
  - {name: quotedNum, value: "42"}
  - {name: int, value: 42}
  - {name: float, value: 1.5}
  - {name: bigint, value: 12345678901234567890}
  - {name: boolean, value: true}
  - {name: yesValue, value: yes}
  - {name: obj, value: {b: 1, a: [x, 2, true]}}
  - {name: list, value: [1, "two"]}
  - {name: nullValue, value: null}
  - {name: missing}
  - {name: multiline, value: "a\nb"}
`)
	props, err := c.Properties(context.Background(), PropertyOptions{LookupEnv: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"str": "hello", "quotedNum": "42", "int": "42", "float": "1.5", "bigint": "12345678901234567890",
		"boolean": "true", "yesValue": "true", "obj": `{"a":["x",2,true],"b":1}`, "list": `[1,"two"]`,
		"nullValue": "", "missing": "", "multiline": "a\nb",
	}
	for k, w := range want {
		if got, ok := props[k]; !ok || got != w {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, w)
		}
	}
	if len(props) != len(want) {
		t.Errorf("got %d properties, want %d: %v", len(props), len(want), props)
	}
}

func TestPropertiesEnvRef(t *testing.T) {
	tests := []struct {
		name    string
		item    MetadataItem
		env     map[string]string
		want    string
		wantErr string
	}{
		{"used when value empty", MetadataItem{Name: "k", EnvRef: "MY_VAR"}, map[string]string{"MY_VAR": "v"}, "v", ""},
		{"value wins", MetadataItem{Name: "k", Value: dv(t, "inline"), EnvRef: "MY_VAR"}, map[string]string{"MY_VAR": "v"}, "inline", ""},
		{"unset gives empty", MetadataItem{Name: "k", EnvRef: "UNSET"}, nil, "", ""},
		{"app token refused", MetadataItem{Name: "k", EnvRef: "APP_API_TOKEN"}, map[string]string{"APP_API_TOKEN": "s"}, "",
			`component "c": metadata "k" uses envRef "APP_API_TOKEN", which is not allowed (it is the app API token)`},
		{"app token any case", MetadataItem{Name: "k", EnvRef: "app_api_token"}, nil, "", `which is not allowed (it is the app API token)`},
		{"DAPR_ refused", MetadataItem{Name: "k", EnvRef: "DAPR_API_TOKEN"}, map[string]string{"DAPR_API_TOKEN": "s"}, "",
			`component "c": metadata "k" uses envRef "DAPR_API_TOKEN", which is not allowed (DAPR_* variables are reserved)`},
		{"dapr_ lower refused", MetadataItem{Name: "k", EnvRef: "dapr_x"}, nil, "", "DAPR_* variables are reserved"},
		{"space refused", MetadataItem{Name: "k", EnvRef: "MY VAR"}, nil, "", "names must not contain spaces"},
		{"allowlist permits", MetadataItem{Name: "k", EnvRef: "MY_VAR"}, map[string]string{"DAPR_ENV_KEYS": "OTHER MY_VAR", "MY_VAR": "v"}, "v", ""},
		{"allowlist is case-insensitive", MetadataItem{Name: "k", EnvRef: "my_var"}, map[string]string{"DAPR_ENV_KEYS": "MY_VAR", "my_var": "v"}, "v", ""},
		{"allowlist refuses", MetadataItem{Name: "k", EnvRef: "MY_VAR"}, map[string]string{"DAPR_ENV_KEYS": "OTHER MY_VAR_2", "MY_VAR": "v"}, "",
			`uses envRef "MY_VAR", which is not allowed (not listed in DAPR_ENV_KEYS)`},
		{"templated after lookup", MetadataItem{Name: "k", EnvRef: "MY_VAR"}, map[string]string{"MY_VAR": "{appID}-x"}, "myapp-x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Component{Metadata: ObjectMeta{Name: "c"}, Spec: ComponentSpec{Type: "state.redis", Metadata: []MetadataItem{tt.item}}}
			props, err := c.Properties(context.Background(), PropertyOptions{AppID: "myapp", LookupEnv: envMap(tt.env)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if props["k"] != tt.want {
				t.Errorf("k = %q, want %q", props["k"], tt.want)
			}
		})
	}
}

func dv(t *testing.T, v any) DynamicValue {
	t.Helper()
	d, err := NewDynamicValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestPropertiesTemplating(t *testing.T) {
	tests := []struct {
		name, value string
		ns          string
		env         map[string]string
		want        string
		wantErr     string
	}{
		{"appID", "{appID}-consumer", "", nil, "orders-consumer", ""},
		{"namespace", "{namespace}", "prod", nil, "prod.orders", ""},
		{"podName", "c-{podName}", "", map[string]string{"POD_NAME": "pod-1"}, "c-pod-1", ""},
		{"podName unset", "{podName}", "", nil, "",
			`component "c": metadata "k" uses {podName}, but the POD_NAME environment variable is not set`},
		{"all at once", "{appID}/{namespace}/{podName}", "dev", map[string]string{"POD_NAME": "p"}, "orders/dev.orders/p", ""},
		{"unknown placeholder left alone", "{other}", "", nil, "{other}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Component{Metadata: ObjectMeta{Name: "c"}, Spec: ComponentSpec{Type: "pubsub.redis",
				Metadata: []MetadataItem{{Name: "k", Value: dv(t, tt.value)}}}}
			props, err := c.Properties(context.Background(), PropertyOptions{AppID: "orders", Namespace: tt.ns, LookupEnv: envMap(tt.env)})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if props["k"] != tt.want {
				t.Errorf("k = %q, want %q", props["k"], tt.want)
			}
		})
	}

	c := Component{Spec: ComponentSpec{Metadata: []MetadataItem{{Name: "k", Value: dv(t, "{uuid}|{uuid}")}}}}
	props, err := c.Properties(context.Background(), PropertyOptions{LookupEnv: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	a, b, _ := strings.Cut(props["k"], "|")
	if !uuidRe.MatchString(a) || !uuidRe.MatchString(b) || a == b {
		t.Errorf("uuids = %q, %q: want two distinct UUIDs", a, b)
	}
}

func TestPropertiesSecretKeyRef(t *testing.T) {
	items := []MetadataItem{
		{Name: "redisPassword", SecretKeyRef: SecretKeyRef{Name: "redis", Key: "password"}},
		{Name: "user", SecretKeyRef: SecretKeyRef{Name: "username"}},
	}
	c := Component{Metadata: ObjectMeta{Name: "x"}, Auth: Auth{SecretStore: "vault"},
		Spec: ComponentSpec{Type: "state.redis", Metadata: items}}

	_, err := c.Properties(context.Background(), PropertyOptions{LookupEnv: envMap(nil)})
	want := `component "x": metadata "redisPassword" uses secretKeyRef but no secret store is loaded ` +
		`(add a secretstores.* component and name it in auth.secretStore, or put the value inline or use envRef)`
	if err == nil || errorLines(err)[0] != want || len(errorLines(err)) != 2 {
		t.Fatalf("err = %v, want first line %q and one per item", err, want)
	}

	var calls []string
	resolve := func(_ context.Context, store, secret, key string) (string, error) {
		calls = append(calls, store+"/"+secret+"/"+key)
		if secret == "username" {
			return "admin", nil
		}
		return "s3cret", nil
	}
	props, err := c.Properties(context.Background(), PropertyOptions{LookupEnv: envMap(nil), ResolveSecret: resolve})
	if err != nil {
		t.Fatal(err)
	}
	if props["redisPassword"] != "s3cret" || props["user"] != "admin" {
		t.Errorf("props = %v", props)
	}
	if strings.Join(calls, ",") != "vault/redis/password,vault/username/username" {
		t.Errorf("resolver calls = %v (key defaults to the secret name)", calls)
	}

	failing := func(context.Context, string, string, string) (string, error) { return "", errors.New("boom") }
	_, err = c.Properties(context.Background(), PropertyOptions{LookupEnv: envMap(nil), ResolveSecret: failing})
	if err == nil || !strings.Contains(err.Error(), `component "x": metadata "redisPassword" could not read secretKeyRef redis/password from secret store "vault": boom`) {
		t.Errorf("err = %v", err)
	}

	// Without auth.secretStore the resolver gets an empty store name and
	// applies the default-store rule itself.
	c.Auth.SecretStore = ""
	var stores []string
	noDefault := func(_ context.Context, store, _, _ string) (string, error) {
		stores = append(stores, store)
		return "", errors.New("no default secret store; set auth.secretStore")
	}
	_, err = c.Properties(context.Background(), PropertyOptions{LookupEnv: envMap(nil), ResolveSecret: noDefault})
	if err == nil || !strings.Contains(err.Error(), "no default secret store; set auth.secretStore") || len(stores) == 0 || stores[0] != "" {
		t.Errorf("err = %v, stores asked = %q", err, stores)
	}
}

func TestComponentHelpers(t *testing.T) {
	tests := []struct {
		typ      string
		category Category
		meta     []MetadataItem
		actor    bool
	}{
		{"state.redis", CategoryState, nil, false},
		{"state.redis", CategoryState, []MetadataItem{{Name: "actorStateStore", Value: dv(t, "true")}}, true},
		{"state.redis", CategoryState, []MetadataItem{{Name: "ACTORSTATESTORE", Value: dv(t, "Yes")}}, true},
		{"state.redis", CategoryState, []MetadataItem{{Name: "actorstatestore", Value: dv(t, true)}}, true},
		{"state.redis", CategoryState, []MetadataItem{{Name: "actorStateStore", Value: dv(t, "false")}}, false},
		{"pubsub.redis", CategoryPubSub, []MetadataItem{{Name: "actorStateStore", Value: dv(t, "true")}}, false},
		{"middleware.http.bearer", CategoryMiddleware, nil, false},
		{"workflowbackend.sqlite", CategoryWorkflowBackend, nil, false},
		{"workflow.dapr", CategoryWorkflow, nil, false},
		{"nameresolution.mdns", "", nil, false},
		{"redis", "", nil, false},
	}
	for _, tt := range tests {
		c := Component{Spec: ComponentSpec{Type: tt.typ, Metadata: tt.meta}}
		if got := c.Category(); got != tt.category {
			t.Errorf("%s: category %q, want %q", tt.typ, got, tt.category)
		}
		if got := c.IsActorStateStore(); got != tt.actor {
			t.Errorf("%s %v: actor state store %v, want %v", tt.typ, tt.meta, got, tt.actor)
		}
	}

	timeouts := map[string]time.Duration{"": 5 * time.Second, "10s": 10 * time.Second, "1m": time.Minute,
		"soon": 5 * time.Second, "0s": 5 * time.Second, "-1s": 5 * time.Second, "10": 5 * time.Second}
	for in, want := range timeouts {
		c := Component{Spec: ComponentSpec{InitTimeout: in}}
		if got := c.InitTimeout(); got != want {
			t.Errorf("initTimeout %q = %v, want %v", in, got, want)
		}
	}
}

func TestHTTPEndpointHeaderValues(t *testing.T) {
	e := HTTPEndpoint{Metadata: ObjectMeta{Name: "gh"}, Spec: HTTPEndpointSpec{Headers: []MetadataItem{
		{Name: "Accept", Value: dv(t, "application/json")},
		{Name: "X-Env", EnvRef: "TOKEN"},
		{Name: "Authorization", SecretKeyRef: SecretKeyRef{Name: "gh"}},
	}}}
	_, err := e.HeaderValues(context.Background(), PropertyOptions{LookupEnv: envMap(map[string]string{"TOKEN": "t"})})
	if err == nil || !strings.Contains(err.Error(), `http endpoint "gh": header "Authorization" uses secretKeyRef but no secret store`) {
		t.Fatalf("err = %v", err)
	}
	e.Spec.Headers = e.Spec.Headers[:2]
	h, err := e.HeaderValues(context.Background(), PropertyOptions{LookupEnv: envMap(map[string]string{"TOKEN": "t"})})
	if err != nil || h["Accept"] != "application/json" || h["X-Env"] != "t" {
		t.Errorf("headers = %v, err = %v", h, err)
	}
}

func TestHasNamespaceTemplate(t *testing.T) {
	c := Component{Spec: ComponentSpec{Metadata: []MetadataItem{{Name: "consumerID", Value: dv(t, "{namespace}")}}}}
	if !c.HasNamespaceTemplate() {
		t.Error("want namespace-scoped")
	}
	c.Spec.Metadata[0].Value = dv(t, "{appID}")
	if c.HasNamespaceTemplate() {
		t.Error("want not namespace-scoped")
	}
}
