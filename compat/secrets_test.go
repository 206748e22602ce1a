package compat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/compat/harness"
)

// The secret stores of the secrets scenarios, all on one sidecar.
const (
	// fileStore is secretstores.local.file with nestedSeparator "." and
	// one name/value pair per secret.
	fileStore = "filestore"
	// multiStore is secretstores.local.file with multiValued: true and
	// the default separator ":".
	multiStore = "multistore"
	// envStore is secretstores.local.env with a prefix unique to the run.
	envStore = "envstore"
	// envAllStore is secretstores.local.env without a prefix.
	envAllStore = "envallstore"
)

// secretsJSON is the secretsFile both file stores read.
const secretsJSON = `{
  "plain": "value-plain",
  "db": {"user": "admin", "password": "s3cr3t ✓"},
  "nested": {"deep": {"key": "deep-value"}},
  "denied": "must-not-leak"
}`

// secretScopes denies "denied" in fileStore and allows only "db" and
// "nested" in multiStore (resources.md: allowedSecrets wins over
// deniedSecrets and defaultAccess).
const secretScopes = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: compat-secrets
spec:
  secrets:
    scopes:
    - storeName: ` + fileStore + `
      defaultAccess: allow
      deniedSecrets: ["denied"]
    - storeName: ` + multiStore + `
      defaultAccess: allow
      allowedSecrets: ["db", "nested"]
`

// secretsFixture is a running sidecar with the four secret stores and
// what each must answer.
type secretsFixture struct {
	sc *harness.Sidecar
	// envPrefix is envStore's prefix; envToken and envOther are the
	// variables under it, envDapr a DAPR_* variable no store may return.
	envPrefix, envToken, envOther, envDapr string
	// fileBulk and multiBulk are the bulk answers of the file stores
	// once scopes have filtered them.
	fileBulk, multiBulk map[string]map[string]string
}

// startSecrets starts a sidecar with the secret stores and the scope
// Configuration.
func startSecrets(t *testing.T, appID string) *secretsFixture {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "secrets.json")
	if err := os.WriteFile(file, []byte(secretsJSON), 0o600); err != nil {
		t.Fatalf("write secrets file: %v", err)
	}
	run := strings.ToUpper(uniq(t))
	f := &secretsFixture{
		envPrefix: "COMPAT_" + run + "_",
		envToken:  "token-" + run,
		envOther:  "other " + run,
		envDapr:   "DAPR_COMPAT_" + run,
		fileBulk: map[string]map[string]string{
			"plain":           {"plain": "value-plain"},
			"db.user":         {"db.user": "admin"},
			"db.password":     {"db.password": "s3cr3t ✓"},
			"nested.deep.key": {"nested.deep.key": "deep-value"},
		},
		multiBulk: map[string]map[string]string{
			"db":     {"user": "admin", "password": "s3cr3t ✓"},
			"nested": {"deep:key": "deep-value"},
		},
	}
	f.sc = harness.Start(t, harness.Options{
		AppID: appID,
		Components: []string{
			harness.Component(fileStore, "secretstores.local.file", "v1", map[string]string{
				"secretsFile": file, "nestedSeparator": ".",
			}),
			harness.Component(multiStore, "secretstores.local.file", "v1", map[string]string{
				"secretsFile": file, "multiValued": "true",
			}),
			harness.Component(envStore, "secretstores.local.env", "v1", map[string]string{"prefix": f.envPrefix}),
			harness.Component(envAllStore, "secretstores.local.env", "v1", nil),
		},
		Config: secretScopes,
		Env: []string{
			f.envPrefix + "TOKEN=" + f.envToken,
			f.envPrefix + "OTHER=" + f.envOther,
			f.envDapr + "=dapr-variable",
		},
	})
	return f
}

// jsonEnv encodes v for a JS scenario's environment.
func jsonEnv(t *testing.T, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %s: %v", name, err)
	}
	return name + "=" + string(b)
}
