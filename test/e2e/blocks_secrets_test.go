package e2e

import (
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// blkSecretsFile is nested JSON: with nestedSeparator "." its leaves are
// the secrets db.host, db.port, api, hidden and redis.host.
const blkSecretsFile = `{
  "db": {"host": "db.internal", "port": 5432},
  "api": "k-123",
  "hidden": "do not read",
  "redis": {"host": "` + blkRedisAddr + `"}
}`

// blkSecretsConfig scopes both stores: filesecrets allows all but
// "hidden", envsecrets denies all but BLK_OPEN.
const blkSecretsConfig = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: secretscfg
spec:
  secrets:
    scopes:
    - storeName: filesecrets
      defaultAccess: allow
      deniedSecrets: ["hidden"]
    - storeName: envsecrets
      defaultAccess: deny
      allowedSecrets: ["BLK_OPEN"]
`

// blkSecretStoreDir writes the secrets file and its local.file component
// (named filesecrets) plus further docs, and returns the resources dir.
func blkSecretStoreDir(t *testing.T, docs ...string) string {
	t.Helper()
	dataDir := t.TempDir()
	writeFile(t, dataDir, "secrets.json", blkSecretsFile)
	file := blkComponent("filesecrets", "secretstores.local.file", map[string]string{
		"secretsFile": filepath.Join(dataDir, "secrets.json"), "nestedSeparator": "."})
	return blkResources(t, append([]string{file}, docs...)...)
}

func TestBlocksSecrets(t *testing.T) {
	dir := blkSecretStoreDir(t, blkComponent("envsecrets", "secretstores.local.env", nil))
	cfgDir := t.TempDir()
	writeFile(t, cfgDir, "config.yaml", blkSecretsConfig)
	s := blkStart(t, blkSidecar{appID: blkUnique("secrets"), resources: dir,
		config: filepath.Join(cfgDir, "config.yaml"), env: []string{"BLK_OPEN=yes", "BLK_CLOSED=no"}})[0]

	t.Run("get", func(t *testing.T) {
		tests := []struct {
			store, key, want string
		}{
			{"filesecrets", "db.host", "db.internal"},
			{"filesecrets", "db.port", "5432"},
			{"filesecrets", "api", "k-123"},
			{"envsecrets", "BLK_OPEN", "yes"},
		}
		for _, tt := range tests {
			var got map[string]string
			blkJSON(t, blkCall(t, "GET", s.url("/v1.0/secrets/"+tt.store+"/"+tt.key), ""), 200, &got)
			if want := map[string]string{tt.key: tt.want}; !maps.Equal(got, want) {
				t.Errorf("%s/%s = %v, want %v", tt.store, tt.key, got, want)
			}
		}
	})

	t.Run("bulk", func(t *testing.T) {
		tests := []struct {
			store string
			want  map[string]string // secret name -> its one value
		}{
			// "hidden" is silently left out by the deny list.
			{"filesecrets", map[string]string{"db.host": "db.internal", "db.port": "5432", "api": "k-123", "redis.host": blkRedisAddr}},
			// Of the whole environment only the allowed variable remains.
			{"envsecrets", map[string]string{"BLK_OPEN": "yes"}},
		}
		for _, tt := range tests {
			var got map[string]map[string]string
			blkJSON(t, blkCall(t, "GET", s.url("/v1.0/secrets/"+tt.store+"/bulk"), ""), 200, &got)
			if len(got) != len(tt.want) {
				t.Errorf("%s bulk has %d secrets, want %d: %v", tt.store, len(got), len(tt.want), got)
			}
			for name, v := range tt.want {
				if want := map[string]string{name: v}; !maps.Equal(got[name], want) {
					t.Errorf("%s bulk[%s] = %v, want %v", tt.store, name, got[name], want)
				}
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			path   string
			status int
			code   string
			parts  []string
		}{
			{"/v1.0/secrets/filesecrets/hidden", 403, "ERR_PERMISSION_DENIED", []string{`access denied by policy to get "hidden" from "filesecrets"`}},
			{"/v1.0/secrets/envsecrets/BLK_CLOSED", 403, "ERR_PERMISSION_DENIED", []string{`"BLK_CLOSED"`, `"envsecrets"`}},
			{"/v1.0/secrets/nosuch/api", 401, "ERR_SECRET_STORE_NOT_FOUND", []string{"failed finding secret store with key nosuch"}},
			{"/v1.0/secrets/nosuch/bulk", 401, "ERR_SECRET_STORE_NOT_FOUND", []string{"nosuch"}},
			{"/v1.0/secrets/filesecrets/missing", 500, "ERR_SECRET_GET", []string{"missing", "filesecrets"}},
		}
		for _, tt := range tests {
			blkWantError(t, blkCall(t, "GET", s.url(tt.path), ""), tt.status, tt.code, tt.parts...)
		}
	})
}

// blkRefStateStore is a state.redis component whose redisHost is read
// from filesecrets through a secretKeyRef; it has no inline host.
func blkRefStateStore(secret string) string {
	return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: refstate
spec:
  type: state.redis
  version: v1
  initTimeout: 3s
  metadata:
  - name: redisHost
    secretKeyRef:
      name: ` + secret + `
      key: ` + secret + `
auth:
  secretStore: filesecrets
`
}

func TestBlocksSecretKeyRef(t *testing.T) {
	blkRedis(t)
	t.Run("state store works", func(t *testing.T) {
		appID := blkUnique("secretref")
		s := blkStart(t, blkSidecar{appID: appID, resources: blkSecretStoreDir(t, blkRefStateStore("redis.host"))})[0]
		key := blkUnique("k")
		if r := blkCall(t, "POST", s.url("/v1.0/state/refstate"), `[{"key":"`+key+`","value":{"via":"secret"}}]`); r.status != 204 {
			t.Fatalf("save: %d %s", r.status, r.body)
		}
		t.Cleanup(func() { blkCall(t, "DELETE", s.url("/v1.0/state/refstate/"+key), "") })
		r := blkCall(t, "GET", s.url("/v1.0/state/refstate/"+key), "")
		if r.status != 200 || string(r.body) != `{"via":"secret"}` {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
		// The value went to the Redis named by the secret.
		n, err := blkRedis(t).Exists(context.Background(), appID+"||"+key).Result()
		if err != nil || n != 1 {
			t.Fatalf("Redis has %d keys %s||%s (%v), want 1", n, appID, key, err)
		}
	})
	t.Run("missing secret stops startup", func(t *testing.T) {
		dir := blkSecretStoreDir(t, blkRefStateStore("redis.nohost"))
		s := blkLaunch(t, blkSidecar{appID: blkUnique("secretref"), resources: dir})
		if code := s.exitCode(t, 15*time.Second); code == 0 {
			t.Fatal("want a non-zero exit code")
		}
		if out := s.out.String(); !strings.Contains(out, "refstate") || !strings.Contains(out, "redis.nohost") {
			t.Errorf("output does not name the component and the secret:\n%s", out)
		}
	})
}
