package invoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/resiliency"
)

// invokeWithPolicy calls the target under its resiliency policy (apps.<id>
// or the default app policies). An answer with a failing status (HTTP
// outside 200-399, a gRPC code other than OK) is a failed attempt, which
// retry matching can filter by code; when the policy gives up, the app's
// last answer is returned as it is, as daprd does.
//
// Retries need a request that can be sent again: a body of known size
// (Content-Length, gRPC bytes) up to replayLimit is read into memory
// first. A streamed body of unknown size is sent once, with the policy's
// timeout and circuit breaker but without its retries (Dapr bypasses
// retries for such requests too).
//
// The timeout covers the whole call, including reading the response body:
// the attempt's context lives until the caller closes the body.
func (i *Invoker) invokeWithPolicy(ctx context.Context, appID string, t target, req *appchannel.Request, pol resiliency.Policy) (*appchannel.Response, error) {
	var body []byte
	if pol.HasRetries() {
		var ok bool
		var err error
		if body, ok, err = bufferRequestBody(req.Body); err != nil {
			return nil, apierr.DirectInvoke(appID, err)
		}
		if !ok {
			i.log.DebugContext(ctx, "service invocation: streamed request body, resiliency retries are bypassed", "app_id", appID)
			pol = pol.WithoutRetries()
		}
	}
	replay := pol.HasRetries()
	var resp *appchannel.Response
	release, err := pol.RunKeep(ctx, func(ctx context.Context) error {
		closeResponse(resp) // the previous attempt's failed answer
		resp = nil
		r := req
		if replay {
			r = &appchannel.Request{Message: attemptMessage(req.Message), SidecarHeaders: req.SidecarHeaders}
			if len(body) > 0 {
				r.Body = bytes.NewReader(body)
			}
		}
		var err error
		if resp, err = i.dispatch(ctx, appID, t, r); err != nil {
			return err
		}
		return failedStatus(resp)
	})
	var failed *resiliency.StatusError
	switch {
	case err == nil:
		resp.Body = &releasingBody{ReadCloser: bodyOrEmpty(resp.Body), release: release}
		return resp, nil
	case errors.As(err, &failed) && resp != nil:
		return resp, nil // the app's own answer, already in memory
	}
	closeResponse(resp)
	var apiErr *apierr.Error
	if errors.As(err, &apiErr) {
		return nil, apiErr
	}
	return nil, apierr.DirectInvoke(appID, err)
}

// attemptMessage copies, for one attempt, the parts of a request that
// sending it changes: the metadata (the caller's and forwarding headers
// are added) and the message (its data is moved out into the body). The
// rest is shared. It replaces proto.Clone, whose reflective deep copy of
// every header cost more than the rest of the policy.
func attemptMessage(m *internalsv1.InternalInvokeRequest) *internalsv1.InternalInvokeRequest {
	out := &internalsv1.InternalInvokeRequest{Ver: m.GetVer(), Actor: m.GetActor()}
	if md := m.GetMetadata(); md != nil {
		out.Metadata = make(map[string]*internalsv1.ListStringValue, len(md))
		for k, v := range md {
			out.Metadata[k] = &internalsv1.ListStringValue{Values: slices.Clone(v.GetValues())}
		}
	}
	if in := m.GetMessage(); in != nil {
		out.Message = &commonv1.InvokeRequest{
			Method: in.GetMethod(), Data: in.GetData(), ContentType: in.GetContentType(), HttpExtension: in.GetHttpExtension(),
		}
	}
	return out
}

// failedStatus reports an answer with a failing status as a
// *resiliency.StatusError, after reading its body into memory so it can
// still be returned once the attempt's context is gone. An error body
// larger than replayLimit is left streaming and the answer is final (nil).
func failedStatus(resp *appchannel.Response) error {
	code := int(resp.Message.GetStatus().GetCode())
	grpcApp := code < 100 // the status of a gRPC app is a gRPC code
	if (grpcApp && code == 0) || (!grpcApp && code >= 200 && code <= 399) {
		return nil
	}
	src := bodyOrEmpty(resp.Body)
	data, err := io.ReadAll(io.LimitReader(src, replayLimit+1))
	if err == nil && len(data) > replayLimit {
		resp.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(data), src), Closer: src}
		return nil
	}
	_ = src.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if grpcApp {
		return resiliency.GRPCStatusError(code, fmt.Errorf("the app answered gRPC code %d", code))
	}
	return resiliency.HTTPStatusError(code, fmt.Errorf("the app answered HTTP %d", code))
}

// bufferRequestBody reads a body of known size, up to replayLimit, into
// memory; ok is false (and src untouched) for a streamed or bigger body.
func bufferRequestBody(src io.Reader) (data []byte, ok bool, err error) {
	if src == nil {
		return nil, true, nil
	}
	sized, isSized := src.(interface{ Len() int })
	if !isSized || sized.Len() > replayLimit {
		return nil, false, nil
	}
	data, err = io.ReadAll(src)
	if err != nil {
		return nil, false, fmt.Errorf("read request body: %w", err)
	}
	return data, true, nil
}

// sizedBody is a request body whose size the caller declared (HTTP
// Content-Length), so a resiliency policy may buffer it for retries.
type sizedBody struct {
	io.Reader
	size int64
}

// Len is the declared size.
func (b *sizedBody) Len() int { return int(min(b.size, int64(replayLimit)+1)) }

// releasingBody ends the attempt's context (the policy's timeout) when the
// response body is closed.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

type readCloser struct {
	io.Reader
	io.Closer
}

func bodyOrEmpty(b io.ReadCloser) io.ReadCloser {
	if b == nil {
		return io.NopCloser(bytes.NewReader(nil))
	}
	return b
}

func closeResponse(resp *appchannel.Response) {
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
}

// builtInRetries is the back-off of daprd's built-in retries for calls to
// other sidecars: DaprBuiltInServiceRetries when a Resiliency resource
// overrides it, else defaultRetries RetryInterval apart. An app with a
// named policy (apps.<id>) has none: its policy replaces them, as in Dapr.
func (i *Invoker) builtInRetries(appID string) *resiliency.Backoff {
	if i.cfg.Resiliency.HasAppTarget(appID) {
		return nil
	}
	if pol, overridden := i.cfg.Resiliency.BuiltIn(resiliency.BuiltInServiceRetries); overridden {
		return pol.NewBackoff()
	}
	return resiliency.ConstantBackoff(i.cfg.RetryInterval, defaultRetries)
}

// nextWait takes the next wait from b; false when no retry is left.
func nextWait(b *resiliency.Backoff, wait *time.Duration) bool {
	d, ok := b.Next()
	*wait = d
	return ok
}
