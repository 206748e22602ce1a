package invoke

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/headername"
	"github.com/outrigger/outrigger/internal/hopbyhop"
)

// RequestFromHTTP turns an HTTP API request into an invocation of method:
// verb, raw query string, Content-Type, the headers as metadata (lower-case
// keys, without hop-by-hop headers, dapr-app-id and dapr-api-token;
// content-type stays there too, as daprd keeps it: a gRPC app sees it as
// dapr-content-type) and the body, which streams from r.Body.
func RequestFromHTTP(r *http.Request, method string) *appchannel.Request {
	md := headerMetadata(r.Header, ownMetadataEntries, hdrAppID, hdrAPIToken)
	msg := &internalsv1.InternalInvokeRequest{
		Ver:      internalsv1.APIVersion_V1,
		Metadata: md,
		Message: &commonv1.InvokeRequest{
			Method:      method,
			ContentType: r.Header.Get("Content-Type"),
			HttpExtension: &commonv1.HTTPExtension{
				Verb:        verbFromHTTP(r.Method),
				Querystring: r.URL.RawQuery,
			},
		},
	}
	req := &appchannel.Request{Message: msg}
	if r.Body != nil && r.Body != http.NoBody {
		req.Body = r.Body
		if r.ContentLength > 0 { // a declared size lets a retry policy buffer it
			req.Body = &sizedBody{Reader: r.Body, size: r.ContentLength}
		}
	}
	return req
}

// verbFromHTTP maps an HTTP method to Dapr's verb enum; methods the enum
// lacks become POST, as in daprd.
func verbFromHTTP(m string) commonv1.HTTPExtension_Verb {
	v, ok := commonv1.HTTPExtension_Verb_value[strings.ToUpper(m)]
	if !ok {
		return commonv1.HTTPExtension_POST
	}
	return commonv1.HTTPExtension_Verb(v)
}

// WriteHTTP relays an invocation response to an HTTP caller and closes its
// body. An HTTP app's status, headers (minus hop-by-hop ones) and body pass
// through verbatim; a gRPC app's status (code < 100) is mapped to an HTTP
// status, and a non-OK status is written as its JSON. text/event-stream
// bodies are flushed chunk by chunk. An error after the header was written
// means the body was cut off: the caller should abort the response (for
// example with panic(http.ErrAbortHandler)) so the client notices.
func WriteHTTP(w http.ResponseWriter, resp *appchannel.Response) error {
	if resp.Body != nil {
		defer resp.Body.Close()
	}
	msg := resp.Message
	code := int(msg.GetStatus().GetCode())
	if code < 100 {
		return writeGRPCApp(w, resp)
	}
	h := w.Header()
	copyMetadataHeaders(h, msg.GetHeaders(), false)
	setContentType(h, msg.GetMessage().GetContentType())
	w.WriteHeader(code)
	return copyBody(w, resp.Body, isEventStream(h.Get("Content-Type")))
}

// writeGRPCApp writes the answer of a gRPC app: OK carries the data,
// anything else the status as JSON.
func writeGRPCApp(w http.ResponseWriter, resp *appchannel.Response) error {
	msg := resp.Message
	st := msg.GetStatus()
	h := w.Header()
	copyMetadataHeaders(h, msg.GetHeaders(), true)
	if codes.Code(st.GetCode()) == codes.OK {
		setContentType(h, msg.GetMessage().GetContentType())
		w.WriteHeader(http.StatusOK)
		return copyBody(w, resp.Body, isEventStream(h.Get("Content-Type")))
	}
	if st == nil {
		st = &internalsv1.Status{}
	}
	body, err := protojson.Marshal(st)
	if err != nil {
		e := apierr.MalformedResponse(err)
		h.Del("Content-Length")
		h.Set("Content-Type", "application/json")
		w.WriteHeader(e.HTTPStatus)
		_, _ = w.Write(e.HTTPBody())
		return nil
	}
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(apierr.HTTPStatusFromCode(codes.Code(st.GetCode())))
	_, err = w.Write(body)
	return err
}

// copyMetadataHeaders adds response metadata to h, dropping hop-by-hop
// headers. fromGRPC also drops what only makes sense on a gRPC transport:
// pseudo-headers, binary (-bin) keys and the application/grpc content type.
func copyMetadataHeaders(h http.Header, md map[string]*internalsv1.ListStringValue, fromGRPC bool) {
	for k, v := range md {
		lk := strings.ToLower(k)
		if hopbyhop.Is(lk) || len(v.GetValues()) == 0 {
			continue
		}
		if fromGRPC && (strings.HasPrefix(lk, ":") || strings.HasSuffix(lk, "-bin") || lk == hdrContentType) {
			continue
		}
		ck := headername.Canonical(k)
		h[ck] = append(h[ck], v.GetValues()...)
	}
}

// setContentType applies the message's content type; without one and
// without a Content-Type header the body goes out untyped, as the app sent
// it (net/http would otherwise sniff a type).
func setContentType(h http.Header, ct string) {
	switch {
	case ct != "":
		h.Set("Content-Type", ct)
	case h.Get("Content-Type") == "":
		h["Content-Type"] = nil
	}
}

func isEventStream(ct string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "text/event-stream")
}

// copyBody streams body to w through a pooled buffer, flushing after each
// chunk when flush is set (server-sent events).
func copyBody(w http.ResponseWriter, body io.Reader, flush bool) error {
	if body == nil {
		return nil
	}
	rc := http.NewResponseController(w)
	bp := getChunk()
	defer putChunk(bp)
	readErr, writeErr := pump(w, rc, body, *bp, flush)
	switch {
	case writeErr != nil:
		return writeErr
	case readErr != nil:
		return fmt.Errorf("read response body: %w", readErr)
	}
	return flushDeclared(w, rc)
}

// pump copies body to w through buf until the body ends, flushing after
// each write when flush is set so streamed answers keep their pace. A
// failed read and a failed write come back apart: callers owe the client
// different endings for them.
func pump(w http.ResponseWriter, rc *http.ResponseController, body io.Reader, buf []byte, flush bool) (readErr, writeErr error) {
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil, fmt.Errorf("write response body: %w", werr)
			}
			if flush {
				if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
					return nil, fmt.Errorf("flush response body: %w", ferr)
				}
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}

// flushDeclared sends a complete response whose length the header
// declares at once, so the client has it before the handler's callers
// (metrics, tracing) finish their bookkeeping. Without a declared length
// it waits for the handler to return, which lets net/http add the length
// itself instead of switching to chunked encoding.
func flushDeclared(w http.ResponseWriter, rc *http.ResponseController) error {
	if w.Header().Get("Content-Length") == "" {
		return nil
	}
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("flush response body: %w", err)
	}
	return nil
}
