package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"github.com/outrigger/outrigger/internal/resiliency"
)

// maxAppAnswer bounds how much of the app's answer is read (and logged).
const maxAppAnswer = 4096

// AppConfigUpdater posts configuration updates to the app through its
// channel: for every changed key, POST /configuration/<store>/<key> with
// the whole update as JSON (app-contract §6). Each post runs under the
// store's inbound resiliency policy, where a non-success answer is a
// failed attempt (daprd's rule); once the policy gives up, a non-success
// answer is logged and the update goes on with the next key.
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
// could not be reached (or the policy's circuit breaker refused the call).
func (u *AppConfigUpdater) UpdateConfiguration(ctx context.Context, store string, update *runtimev1.SubscribeConfigurationResponse, pol resiliency.Policy) error {
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
		if err := u.post(ctx, store, k, raw, pol); err != nil {
			return err
		}
	}
	return nil
}

// post delivers the update for one key under pol.
func (u *AppConfigUpdater) post(ctx context.Context, store, key string, body []byte, pol resiliency.Policy) error {
	method := "configuration/" + url.PathEscape(store) + "/" + url.PathEscape(key)
	var code int32
	var answer []byte
	err := pol.Run(ctx, func(ctx context.Context) (err error) {
		code, answer, err = u.postOnce(ctx, method, body)
		if err != nil || u.succeeded(code) {
			return err
		}
		if u.grpcApp() {
			return resiliency.GRPCStatusError(int(code), fmt.Errorf("the app answered gRPC code %d", code))
		}
		return resiliency.HTTPStatusError(int(code), fmt.Errorf("the app answered HTTP %d", code))
	})
	var rejected *resiliency.StatusError
	if errors.As(err, &rejected) {
		u.log.Error("app rejected a configuration update", "path", "/"+method, "status", code, "body", strings.TrimSpace(string(answer)))
		return nil
	}
	return err
}

// postOnce makes one call to the app and returns its status and the start
// of its answer.
func (u *AppConfigUpdater) postOnce(ctx context.Context, method string, body []byte) (int32, []byte, error) {
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
		return 0, nil, fmt.Errorf("posting configuration update to /%s: %w", method, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAppAnswer))
	return resp.Message.GetStatus().GetCode(), answer, nil
}

// succeeded reads the status: an HTTP status for HTTP apps, a gRPC code
// for gRPC apps.
func (u *AppConfigUpdater) succeeded(code int32) bool {
	if u.grpcApp() {
		return code == 0
	}
	return code == http.StatusOK
}

func (u *AppConfigUpdater) grpcApp() bool {
	switch u.ch.Protocol() {
	case "grpc", "grpcs":
		return true
	}
	return false
}
