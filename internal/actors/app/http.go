// Package app is the app side of the actor runtime: it implements
// actors.App for HTTP apps (GET /dapr/config and the /actors/... callback
// routes, over the app channel) and for gRPC apps, which host actors by
// opening the SubscribeActorEventsAlpha1 stream to the sidecar (StreamHost).
package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/appchannel"
)

// Header names as the app channel reports them (lower-case).
const (
	headerReminderCancel = "x-daprremindercancel"
	headerConfigVersion  = "dapr-app-config-version"
)

// maxErrorBody caps how much of an error answer is quoted in an error.
const maxErrorBody = 4 << 10

// HTTPApp calls an HTTP app's actor routes over the app channel, which adds
// dapr-api-token, applies --app-max-concurrency and limits response bodies
// to --max-body-size.
type HTTPApp struct {
	ch    appchannel.Channel
	appID string
	log   *slog.Logger
}

var _ actors.App = (*HTTPApp)(nil)

// NewHTTP returns the actors.App of an HTTP app (protocol http, https or
// h2c). appID is sent as dapr-app-id on GET /dapr/config.
func NewHTTP(ch appchannel.Channel, appID string, log *slog.Logger) *HTTPApp {
	if log == nil {
		log = slog.Default()
	}
	return &HTTPApp{ch: ch, appID: appID, log: log}
}

// Config is GET /dapr/config. A non-200 answer or an app that cannot be
// reached means the app hosts no actors, as in daprd: many apps don't serve
// the route at all. A 200 with a body that does not parse is an error.
func (a *HTTPApp) Config(ctx context.Context) (actors.AppConfig, error) {
	req := newAppRequest("dapr/config", commonv1.HTTPExtension_GET, "application/json")
	resp, err := a.ch.Invoke(ctx, &appchannel.Request{Message: req, SidecarHeaders: map[string]string{"dapr-app-id": a.appID}})
	if err != nil {
		a.log.Info("app did not answer GET /dapr/config; no actors hosted", "error", err)
		return actors.AppConfig{}, nil
	}
	body, err := readBody(resp)
	if err != nil {
		a.log.Info("reading the answer to GET /dapr/config failed; no actors hosted", "error", err)
		return actors.AppConfig{}, nil
	}
	if code := resp.Message.GetStatus().GetCode(); code != http.StatusOK {
		a.log.Debug("app answered GET /dapr/config with a non-200 status; no actors hosted", "status", code)
		return actors.AppConfig{}, nil
	}
	if v := firstHeader(resp.Message, headerConfigVersion); v != "" && v != "v1" {
		a.log.Warn("unsupported app config version; reading it as v1", "version", v)
	}
	cfg, err := parseConfigJSON(body)
	if err != nil {
		return actors.AppConfig{}, fmt.Errorf("GET /dapr/config: %w", err)
	}
	return cfg, nil
}

// InvokeMethod is PUT /actors/{type}/{id}/method/{method}, whatever verb
// the caller used, with the caller's body, headers and content type. The
// app's answer comes back whatever its status.
func (a *HTTPApp) InvokeMethod(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	actor := req.GetActor()
	if actor == nil {
		return nil, errors.New("actor invocation without an actor")
	}
	path, err := methodPath(actor.GetActorType(), actor.GetActorId(), req.GetMessage().GetMethod())
	if err != nil {
		return nil, err
	}
	contentType := req.GetMessage().GetContentType()
	if contentType == "" && len(req.GetMessage().GetData().GetValue()) > 0 {
		// gRPC callers (InvokeActor) send no content type; Dapr tells the
		// app the body is JSON, which the SDKs' body parsers need.
		contentType = "application/json"
	}
	msg := newAppRequest(path, commonv1.HTTPExtension_PUT, contentType)
	msg.Ver = req.GetVer()
	msg.Actor = actor
	msg.Metadata = req.GetMetadata()
	var body io.Reader
	// An empty body goes as no body at all: a nil reader keeps the app
	// channel from trusting a stale content-length in the caller's headers.
	if data := req.GetMessage().GetData().GetValue(); len(data) > 0 {
		body = bytes.NewReader(data)
	}
	resp, err := a.ch.Invoke(ctx, &appchannel.Request{Message: msg, Body: body})
	if err != nil {
		return nil, fmt.Errorf("invoking actor method: %w", err)
	}
	data, err := readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("reading the actor method's answer: %w", err)
	}
	out := resp.Message
	if out.Message == nil {
		out.Message = &commonv1.InvokeResponse{}
	}
	out.Message.Data = &anypb.Any{Value: data}
	return out, nil
}

// Timer is PUT /actors/{type}/{id}/method/timer/{name}.
func (a *HTTPApp) Timer(ctx context.Context, actorType, actorID, name string, call actors.TimerCall) (bool, error) {
	body, err := timerJSON(call)
	if err != nil {
		return false, fmt.Errorf("encoding timer %s: %w", name, err)
	}
	return a.fire(ctx, actorType, actorID, "timer", name, body)
}

// Reminder is PUT /actors/{type}/{id}/method/remind/{name}.
func (a *HTTPApp) Reminder(ctx context.Context, actorType, actorID, name string, call actors.ReminderCall) (bool, error) {
	body, err := reminderJSON(call)
	if err != nil {
		return false, fmt.Errorf("encoding reminder %s: %w", name, err)
	}
	return a.fire(ctx, actorType, actorID, "remind", name, body)
}

// fire delivers a timer or reminder (kind "timer" or "remind"). A 2xx
// answer with X-Daprremindercancel: true asks to stop further firings.
func (a *HTTPApp) fire(ctx context.Context, actorType, actorID, kind, name string, body []byte) (bool, error) {
	if name == "" {
		return false, fmt.Errorf("%s without a name", kind)
	}
	path, err := actorPath(actorType, actorID)
	if err != nil {
		return false, err
	}
	path += "/method/" + kind + "/" + url.PathEscape(name)
	req := newAppRequest(path, commonv1.HTTPExtension_PUT, "application/json")
	resp, err := a.ch.Invoke(ctx, &appchannel.Request{Message: req, Body: bytes.NewReader(body)})
	if err != nil {
		return false, fmt.Errorf("delivering %s %s: %w", kind, name, err)
	}
	if err := answerError(resp); err != nil {
		return false, err
	}
	return isTruthy(firstHeader(resp.Message, headerReminderCancel)), nil
}

// Deactivate is DELETE /actors/{type}/{id} with an empty body.
func (a *HTTPApp) Deactivate(ctx context.Context, actorType, actorID string) error {
	path, err := actorPath(actorType, actorID)
	if err != nil {
		return err
	}
	// daprd labels this empty body as protobuf; apps ignore it.
	req := newAppRequest(path, commonv1.HTTPExtension_DELETE, "application/x-protobuf")
	resp, err := a.ch.Invoke(ctx, &appchannel.Request{Message: req})
	if err != nil {
		return fmt.Errorf("deactivating actor: %w", err)
	}
	return answerError(resp)
}

// answerError reads and closes the body; a non-2xx answer becomes daprd's
// "error from actor service: (<code>) <body>".
func answerError(resp *appchannel.Response) error {
	code := resp.Message.GetStatus().GetCode()
	if code >= 200 && code <= 299 {
		// Drain a little so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, maxErrorBody)
		resp.Body.Close()
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	return fmt.Errorf("error from actor service: (%d) %s", code, body)
}

func newAppRequest(method string, verb commonv1.HTTPExtension_Verb, contentType string) *internalsv1.InternalInvokeRequest {
	return &internalsv1.InternalInvokeRequest{
		Ver: internalsv1.APIVersion_V1,
		Message: &commonv1.InvokeRequest{
			Method:        method,
			ContentType:   contentType,
			HttpExtension: &commonv1.HTTPExtension{Verb: verb},
		},
	}
}

// readBody reads the whole response body (the channel enforces the size
// limit) and closes it.
func readBody(resp *appchannel.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// actorPath is "actors/{type}/{id}" with both segments escaped, so an ID
// holding "/" or "?" stays one segment.
func actorPath(actorType, actorID string) (string, error) {
	if actorType == "" || actorID == "" {
		return "", errors.New("actor type and id are required")
	}
	return "actors/" + url.PathEscape(actorType) + "/" + url.PathEscape(actorID), nil
}

// methodPath is the invocation path of an actor method. A method may hold
// "/" (kept as a separator); each segment is escaped, and "." or ".."
// segments are refused so a method name cannot climb out of its actor's
// route.
func methodPath(actorType, actorID, method string) (string, error) {
	base, err := actorPath(actorType, actorID)
	if err != nil {
		return "", err
	}
	if method == "" {
		return "", errors.New("actor method is required")
	}
	segs := strings.Split(method, "/")
	for i, s := range segs {
		if s == "." || s == ".." {
			return "", fmt.Errorf("invalid actor method %q", method)
		}
		segs[i] = url.PathEscape(s)
	}
	return base + "/method/" + strings.Join(segs, "/"), nil
}

func firstHeader(resp *internalsv1.InternalInvokeResponse, name string) string {
	if v := resp.GetHeaders()[name].GetValues(); len(v) > 0 {
		return v[0]
	}
	return ""
}

func isTruthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "t", "1", "y", "yes", "on":
		return true
	}
	return false
}
