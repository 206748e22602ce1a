package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/appchannel"
)

// maxAppAnswer bounds how much of the app's answer is read (and logged).
const maxAppAnswer = 4096

// AppConfigUpdater posts configuration updates to the app through its
// channel: for every changed key, POST /configuration/<store>/<key> with
// the whole update as JSON (app-contract §6). A non-success answer is
// logged, not retried.
type AppConfigUpdater struct {
	ch  appchannel.Channel
	log *slog.Logger
}

// NewAppConfigUpdater builds the updater; log may be nil.
func NewAppConfigUpdater(ch appchannel.Channel, log *slog.Logger) *AppConfigUpdater {
	if log == nil {
		log = slog.Default()
	}
	return &AppConfigUpdater{ch: ch, log: log}
}

// configUpdateJSON is the body the app receives.
type configUpdateJSON struct {
	ID    string                    `json:"id,omitempty"`
	Items map[string]configItemJSON `json:"items,omitempty"`
}

type configItemJSON struct {
	Value    string            `json:"value,omitempty"`
	Version  string            `json:"version,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// UpdateConfiguration implements ConfigUpdater. It fails only when the app
// could not be reached.
func (u *AppConfigUpdater) UpdateConfiguration(ctx context.Context, store string, update *runtimev1.SubscribeConfigurationResponse) error {
	body := configUpdateJSON{ID: update.GetId(), Items: make(map[string]configItemJSON, len(update.GetItems()))}
	for k, it := range update.GetItems() {
		body.Items[k] = configItemJSON{Value: it.GetValue(), Version: it.GetVersion(), Metadata: it.GetMetadata()}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding the configuration update: %w", err)
	}
	keys := make([]string, 0, len(body.Items))
	for k := range body.Items {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := u.post(ctx, store, k, raw); err != nil {
			return err
		}
	}
	return nil
}

func (u *AppConfigUpdater) post(ctx context.Context, store, key string, body []byte) error {
	method := "configuration/" + url.PathEscape(store) + "/" + url.PathEscape(key)
	req := &internalsv1.InternalInvokeRequest{
		Ver: internalsv1.APIVersion_V1,
		Message: &commonv1.InvokeRequest{
			Method:        method,
			ContentType:   "application/json",
			HttpExtension: &commonv1.HTTPExtension{Verb: commonv1.HTTPExtension_POST},
		},
	}
	resp, err := u.ch.Invoke(ctx, &appchannel.Request{Message: req, Body: bytes.NewReader(body)})
	if err != nil {
		return fmt.Errorf("posting configuration update to /%s: %w", method, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAppAnswer))
	if code := resp.Message.GetStatus().GetCode(); !u.succeeded(code) {
		u.log.Error("app rejected a configuration update", "path", "/"+method, "status", code, "body", strings.TrimSpace(string(answer)))
	}
	return nil
}

// succeeded reads the status: an HTTP status for HTTP apps, a gRPC code
// for gRPC apps.
func (u *AppConfigUpdater) succeeded(code int32) bool {
	switch u.ch.Protocol() {
	case "grpc", "grpcs":
		return code == 0
	}
	return code == http.StatusOK
}
