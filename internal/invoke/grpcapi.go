package invoke

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/hopbyhop"
)

// RequestFromGRPC turns a (deprecated) InvokeService call into an
// invocation. The incoming metadata md is forwarded except dapr-api-token,
// dapr-app-id and the gRPC transport's content-type; binary (-bin) values
// are base64-encoded as in Dapr's internal metadata. The data's type URL is
// kept on the message and its bytes become the body.
func RequestFromGRPC(req *runtimev1.InvokeServiceRequest, md metadata.MD) *appchannel.Request {
	in := req.GetMessage()
	msg := &internalsv1.InternalInvokeRequest{
		Ver:      internalsv1.APIVersion_V1,
		Metadata: grpcMetadata(md),
		Message: &commonv1.InvokeRequest{
			Method:        in.GetMethod(),
			ContentType:   in.GetContentType(),
			HttpExtension: in.GetHttpExtension(),
		},
	}
	if url := in.GetData().GetTypeUrl(); url != "" {
		msg.Message.Data = &anypb.Any{TypeUrl: url}
	}
	out := &appchannel.Request{Message: msg}
	if data := in.GetData().GetValue(); len(data) > 0 {
		out.Body = bytes.NewReader(data)
	}
	return out
}

func grpcMetadata(md metadata.MD) map[string]*internalsv1.ListStringValue {
	out := make(map[string]*internalsv1.ListStringValue, len(md))
	for k, vals := range md {
		k = strings.ToLower(k)
		switch k {
		case hdrAPIToken, hdrAppID, hdrContentType:
			continue
		}
		if strings.HasSuffix(k, "-bin") {
			enc := make([]string, len(vals))
			for i, v := range vals {
				enc[i] = base64.StdEncoding.EncodeToString([]byte(v))
			}
			vals = enc
		} else {
			vals = append([]string(nil), vals...)
		}
		out[k] = &internalsv1.ListStringValue{Values: vals}
	}
	return out
}

// InvokeServiceResponse turns an invocation response into InvokeService's
// answer and closes the body. For an HTTP target, header always carries
// dapr-http-status and the response headers (IANA permanent names prefixed
// "dapr-"); a non-2xx status becomes an error whose code follows the HTTP
// status, with the status text as message and an ErrorInfo holding the
// status and the start of the body. For a gRPC target, its headers,
// trailers and status are relayed. maxBody (when > 0) bounds the body read.
func InvokeServiceResponse(appID string, resp *appchannel.Response, maxBody int64) (out *commonv1.InvokeResponse, header, trailer metadata.MD, err error) {
	body, err := readAll(resp.Body, maxBody)
	if err != nil {
		return nil, nil, nil, apierr.DirectInvoke(appID, err)
	}
	msg := resp.Message
	code := msg.GetStatus().GetCode()
	if code >= 100 {
		return httpTargetResponse(msg, body)
	}
	header = grpcTargetMD(msg.GetHeaders())
	trailer = grpcTargetMD(msg.GetTrailers())
	if codes.Code(code) != codes.OK {
		st := msg.GetStatus()
		return nil, header, trailer, status.FromProto(&spb.Status{Code: st.GetCode(), Message: st.GetMessage(), Details: st.GetDetails()}).Err()
	}
	out = &commonv1.InvokeResponse{
		Data:        &anypb.Any{TypeUrl: msg.GetMessage().GetData().GetTypeUrl(), Value: body},
		ContentType: msg.GetMessage().GetContentType(),
	}
	return out, header, trailer, nil
}

func httpTargetResponse(msg *internalsv1.InternalInvokeResponse, body []byte) (*commonv1.InvokeResponse, metadata.MD, metadata.MD, error) {
	code := int(msg.GetStatus().GetCode())
	header := metadata.MD{}
	for k, v := range msg.GetHeaders() {
		lk := strings.ToLower(k)
		if hopbyhop.Is(lk) {
			continue
		}
		if ianaPermanent[lk] {
			lk = "dapr-" + lk
		}
		for _, s := range v.GetValues() {
			if printableASCII(s) {
				header.Append(lk, s)
			}
		}
	}
	header.Set(hdrHTTPStatus, strconv.Itoa(code))
	if code < 200 || code > 299 {
		return nil, header, nil, apierr.FromHTTPStatus(code, string(body))
	}
	out := &commonv1.InvokeResponse{Data: &anypb.Any{Value: body}, ContentType: msg.GetMessage().GetContentType()}
	return out, header, nil, nil
}

// grpcTargetMD relays a gRPC app's metadata, minus what grpc-go manages.
func grpcTargetMD(md map[string]*internalsv1.ListStringValue) metadata.MD {
	out := metadata.MD{}
	for k, v := range md {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, ":") || strings.HasPrefix(lk, "grpc-") || lk == hdrContentType {
			continue
		}
		out[lk] = append(out[lk], v.GetValues()...)
	}
	return out
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// readAll reads and closes body, failing beyond limit bytes (limit <= 0:
// no limit).
func readAll(body io.ReadCloser, limit int64) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	defer body.Close()
	r := io.Reader(body)
	if limit > 0 {
		r = io.LimitReader(body, limit+1)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	if limit > 0 && int64(len(b)) > limit {
		return nil, fmt.Errorf("response body is larger than %d bytes", limit)
	}
	return b, nil
}

// ianaPermanent lists the IANA permanent HTTP header field names that
// daprd prefixes with "dapr-" when turning headers into gRPC metadata, so
// they cannot clash with the gRPC transport's own headers.
var ianaPermanent = func() map[string]bool {
	names := []string{
		"a-im", "accept", "accept-additions", "accept-ch", "accept-charset", "accept-datetime", "accept-encoding",
		"accept-features", "accept-language", "accept-patch", "accept-post", "accept-ranges", "access-control-allow-credentials",
		"access-control-allow-headers", "access-control-allow-methods", "access-control-allow-origin",
		"access-control-expose-headers", "access-control-max-age", "access-control-request-headers",
		"access-control-request-method", "age", "allow", "alpn", "alt-svc", "alt-used", "alternates", "apply-to-redirect-ref",
		"authentication-control", "authentication-info", "authorization", "c-ext", "c-man", "c-opt", "c-pep", "c-pep-info",
		"cache-control", "cache-status", "cal-managed-id", "caldav-timezones", "cdn-cache-control", "cdn-loop", "cert-not-after",
		"cert-not-before", "clear-site-data", "close", "content-base", "content-disposition", "content-encoding", "content-id",
		"content-language", "content-length", "content-location", "content-md5", "content-range", "content-script-type",
		"content-security-policy", "content-security-policy-report-only", "content-style-type", "content-type",
		"content-version", "cookie", "cookie2", "cross-origin-embedder-policy", "cross-origin-embedder-policy-report-only",
		"cross-origin-opener-policy", "cross-origin-opener-policy-report-only", "cross-origin-resource-policy", "dasl", "date",
		"dav", "default-style", "delta-base", "depth", "derived-from", "destination", "differential-id", "digest",
		"early-data", "etag", "expect", "expect-ct", "expires", "ext", "forwarded", "from", "getprofile", "hobareg", "host",
		"http2-settings", "if", "if-match", "if-modified-since", "if-none-match", "if-range", "if-schedule-tag-match",
		"if-unmodified-since", "im", "include-referred-token-binding-id", "keep-alive", "label", "last-event-id",
		"last-modified", "link", "location", "lock-token", "man", "max-forwards", "memento-datetime", "meter", "mime-version",
		"negotiate", "odata-entityid", "odata-isolation", "odata-maxversion", "odata-version", "opt", "optional-www-authenticate",
		"ordering-type", "origin", "origin-agent-cluster", "oscore", "oslc-core-version", "overwrite", "p3p", "pep",
		"pep-info", "pics-label", "ping-from", "ping-to", "position", "pragma", "prefer", "preference-applied", "priority",
		"profileobject", "protocol", "protocol-info", "protocol-query", "protocol-request", "proxy-authenticate",
		"proxy-authentication-info", "proxy-authorization", "proxy-features", "proxy-instruction", "proxy-status", "public",
		"public-key-pins", "public-key-pins-report-only", "range", "redirect-ref", "referer", "refresh", "repeatability-client-id",
		"repeatability-first-sent", "repeatability-request-id", "repeatability-result", "replay-nonce", "retry-after",
		"safe", "schedule-reply", "schedule-tag", "sec-gpc", "sec-purpose", "sec-token-binding", "sec-websocket-accept",
		"sec-websocket-extensions", "sec-websocket-key", "sec-websocket-protocol", "sec-websocket-version", "security-scheme",
		"server", "server-timing", "set-cookie", "set-cookie2", "setprofile", "slug", "soapaction", "status-uri",
		"strict-transport-security", "sunset", "surrogate-capability", "surrogate-control", "tcn", "te", "timeout",
		"timing-allow-origin", "topic", "trailer", "transfer-encoding", "ttl", "upgrade",
		"urgency", "uri", "user-agent", "variant-vary", "vary", "via", "want-digest", "warning", "www-authenticate",
		"x-content-type-options", "x-frame-options",
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}()
