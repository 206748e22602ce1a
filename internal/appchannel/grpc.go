package appchannel

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/outrigger/outrigger/internal/rawsock"
)

// grpcChannel calls a gRPC app (grpc or grpcs) over one shared connection.
type grpcChannel struct {
	protocol string
	conn     *grpc.ClientConn
	app      runtimev1.AppCallbackClient
	health   runtimev1.AppCallbackHealthCheckClient
	token    string
	maxBody  int64
	lim      limiter
}

// msgOverhead is room for the protobuf envelope around a body of the
// maximum size; the body itself is checked exactly.
const msgOverhead = 64 << 10

// appFlowWindow is the HTTP/2 stream and connection window to a gRPC
// app, as invoke.FlowWindow between sidecars.
const appFlowWindow = 4 << 20

func newGRPCChannel(_ context.Context, cfg Config) (*grpcChannel, error) {
	creds := insecure.NewCredentials()
	if cfg.Protocol == "grpcs" {
		// Apps commonly use self-signed certificates; daprd does not verify.
		creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // matches daprd
	}
	maxMsg := math.MaxInt32
	if cfg.MaxResponseBodySize > 0 && cfg.MaxResponseBodySize < math.MaxInt32-msgOverhead {
		maxMsg = int(cfg.MaxResponseBodySize) + msgOverhead
	}
	target := net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port))
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(rawsock.DialTCP(&net.Dialer{})),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: cfg.DialTimeout}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg)),
		// Fixed windows turn off gRPC's bandwidth-delay probing: a PING to
		// the app after every answer's data (see invoke.FlowWindow, which
		// this package cannot import).
		grpc.WithInitialWindowSize(appFlowWindow),
		grpc.WithInitialConnWindowSize(appFlowWindow),
	)
	if err != nil {
		return nil, fmt.Errorf("app channel: connecting to gRPC app at %s: %w", target, err)
	}
	return &grpcChannel{
		protocol: cfg.Protocol,
		conn:     conn,
		app:      runtimev1.NewAppCallbackClient(conn),
		health:   runtimev1.NewAppCallbackHealthCheckClient(conn),
		token:    cfg.AppAPIToken,
		maxBody:  cfg.MaxResponseBodySize,
		lim:      newLimiter(cfg.MaxConcurrency),
	}, nil
}

func (c *grpcChannel) Protocol() string           { return c.protocol }
func (c *grpcChannel) GRPCConn() *grpc.ClientConn { return c.conn }
func (c *grpcChannel) Close() error               { return c.conn.Close() }

// Invoke calls AppCallback.OnInvoke. The app's gRPC status (error or not)
// is a successful Invoke carrying that status.
func (c *grpcChannel) Invoke(ctx context.Context, req *Request) (*Response, error) {
	if req == nil || req.Message == nil || req.Message.GetMessage() == nil {
		return nil, errors.New("app channel: invoke request has no message")
	}
	if err := c.lim.acquire(ctx); err != nil {
		return nil, err
	}
	// Unary: the app is done once OnInvoke returns.
	defer c.lim.release()

	data, err := readLimited(req.Body, c.maxBody)
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	msg := req.Message.GetMessage()
	fromHTTP := msg.GetHttpExtension().GetVerb() != commonv1.HTTPExtension_NONE
	in := &commonv1.InvokeRequest{
		Method:        msg.GetMethod(),
		Data:          &anypb.Any{Value: data},
		ContentType:   msg.GetContentType(),
		HttpExtension: msg.GetHttpExtension(),
	}
	md := buildGRPCMetadata(req.Message.GetMetadata(), fromHTTP, c.token)
	for k, v := range req.SidecarHeaders {
		md.Set(k, v)
	}
	callCtx := metadata.NewOutgoingContext(ctx, md)
	var header, trailer metadata.MD
	out, err := c.app.OnInvoke(callCtx, in, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		return c.errorResponse(ctx, err, header, trailer)
	}
	value := out.GetData().GetValue()
	if c.maxBody > 0 && int64(len(value)) > c.maxBody {
		return nil, fmt.Errorf("app response of %d bytes: %w", len(value), ErrBodyTooLarge)
	}
	resMsg := &commonv1.InvokeResponse{ContentType: out.GetContentType()}
	if t := out.GetData().GetTypeUrl(); t != "" {
		// Keep the type so a gRPC caller can rebuild the Any; the bytes
		// travel in Body.
		resMsg.Data = &anypb.Any{TypeUrl: t}
	}
	return &Response{
		Message: &internalsv1.InternalInvokeResponse{
			Status:   &internalsv1.Status{},
			Headers:  grpcMetadataToMap(header),
			Trailers: grpcMetadataToMap(trailer),
			Message:  resMsg,
		},
		Body: io.NopCloser(bytes.NewReader(value)),
	}, nil
}

// errorResponse relays the app's error status; only a cancelled caller or
// an error without a gRPC status is an Invoke error.
func (c *grpcChannel) errorResponse(ctx context.Context, err error, header, trailer metadata.MD) (*Response, error) {
	if ctx.Err() != nil {
		return nil, fmt.Errorf("calling the app: %w", ctx.Err())
	}
	st, ok := status.FromError(err)
	if !ok {
		return nil, fmt.Errorf("calling the app: %w", err)
	}
	return &Response{
		Message: &internalsv1.InternalInvokeResponse{
			Status: &internalsv1.Status{
				Code:    int32(st.Code()),
				Message: st.Message(),
				Details: st.Proto().GetDetails(),
			},
			Headers:  grpcMetadataToMap(header),
			Trailers: grpcMetadataToMap(trailer),
			Message:  &commonv1.InvokeResponse{},
		},
		Body: emptyBody(),
	}, nil
}

func emptyBody() io.ReadCloser { return io.NopCloser(bytes.NewReader(nil)) }

// readLimited reads r fully, failing with ErrBodyTooLarge past max bytes
// (max <= 0: no limit).
func readLimited(r io.Reader, max int64) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	if max <= 0 {
		return io.ReadAll(r)
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, ErrBodyTooLarge
	}
	return b, nil
}

// probeHealth is the gRPC health probe: any error means unhealthy.
func (c *grpcChannel) probeHealth(ctx context.Context, _ string) error {
	if c.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "dapr-api-token", c.token)
	}
	if _, err := c.health.HealthCheck(ctx, &emptypb.Empty{}); err != nil {
		return fmt.Errorf("health probe: %w", err)
	}
	return nil
}
