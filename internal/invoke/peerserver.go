package invoke

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/outrigger/outrigger/internal/appchannel"
)

// SetPeerTracing sets how calls over the peer protocol are traced.
func (s *Server) SetPeerTracing(t PeerTracing) { s.peerTracing = t }

// ServeHTTP serves the peer protocol (see peer.go): calls from other
// Outrigger sidecars to the local app, as CallLocalStream does for
// gRPC.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != peerPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx := r.Context()
	if v := r.Header.Get(peerTimeout); v != "" {
		ns, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ns <= 0 {
			writePeerError(w, status.Errorf(codes.InvalidArgument, "invalid %s %q", peerTimeout, v))
			return
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ns))
		defer cancel()
	}
	head, err := readHead(r.Body)
	if err != nil {
		writePeerError(w, status.Error(codes.InvalidArgument, err.Error()))
		return
	}
	msg, err := decodeRequestHead(head)
	if err != nil {
		writePeerError(w, status.Errorf(codes.InvalidArgument, "decoding the request head: %v", err))
		return
	}
	end := func(error) {}
	if t := s.peerTracing.StartCallee; t != nil {
		ctx, end = t(ctx, r.Header, msg)
	}
	err = s.servePeer(ctx, w, r, msg, int64(4+len(head)))
	end(err)
	var abort peerAbort
	if errors.As(err, &abort) {
		panic(http.ErrAbortHandler)
	}
}

// servePeer calls the app and writes its answer; the error is the call's
// outcome, already written when it happened before the answer started.
func (s *Server) servePeer(ctx context.Context, w http.ResponseWriter, r *http.Request, msg *internalsv1.InternalInvokeRequest, headLen int64) error {
	ch, err := s.channel()
	if err == nil {
		err = prepare(msg)
	}
	var body io.Reader
	if err == nil {
		body, err = peerRequestBody(r, headLen)
	}
	if err != nil {
		writePeerError(w, err)
		return err
	}
	// The app may answer before it has read the whole request.
	_ = http.NewResponseController(w).EnableFullDuplex()
	resp, err := ch.Invoke(ctx, &appchannel.Request{Message: msg, Body: body})
	if err != nil {
		err = status.Errorf(codes.Internal, "error invoking app channel: %v", err)
		writePeerError(w, err)
		return err
	}
	return writePeerResponse(w, resp, msg.GetMessage().GetHttpExtension().GetVerb() == commonv1.HTTPExtension_HEAD)
}

// peerRequestBody is the body for the app: nil when empty, in memory when
// small and sized (the app channel then sends it with the headers), the
// connection's stream otherwise.
func peerRequestBody(r *http.Request, headLen int64) (io.Reader, error) {
	if r.ContentLength < 0 {
		return r.Body, nil
	}
	n := r.ContentLength - headLen
	switch {
	case n < 0:
		return nil, status.Error(codes.InvalidArgument, "the request is shorter than its head")
	case n == 0:
		return nil, nil
	case n > smallBody:
		return r.Body, nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.Body, b); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "reading the request body: %v", noEOF(err))
	}
	return bytes.NewReader(b), nil
}

// smallBody is the largest body passed on in memory rather than streamed.
const smallBody = 64 << 10

// writePeerError answers with a gRPC status, before any of the answer went
// out.
func writePeerError(w http.ResponseWriter, err error) {
	b, merr := proto.Marshal(status.Convert(err).Proto())
	if merr != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	setPeerAnswerType(h, peerStatusTypeValue)
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// writePeerResponse sends the app's answer: the head, then the body as
// the app sends it. A small answer goes out sized, in one write; a longer
// one chunked, each read flushed so streamed responses keep their pace.
// toHEAD tells that the call was a HEAD request, whose answer has no body
// whatever its Content-Length says.
func writePeerResponse(w http.ResponseWriter, resp *appchannel.Response, toHEAD bool) error {
	defer closeBody(resp)
	msg, body, err := splitResponse(resp)
	if err != nil {
		writePeerError(w, err)
		return err
	}
	// first is the start of the body, sent with the head; whole tells
	// whether it is all of it.
	var buf, first []byte
	whole := body == nil
	var rerr error
	if body != nil {
		bp := getChunk()
		defer putChunk(bp)
		buf = *bp
		if n, ok := knownLength(msg, body, toHEAD); ok && n <= len(buf) {
			if _, err := io.ReadFull(body, buf[:n]); err != nil {
				err = status.Errorf(codes.Internal, "error reading app response: %v", noEOF(err))
				writePeerError(w, err) // nothing went out yet
				return err
			}
			first, whole = buf[:n], true
		} else if !isEventStream(responseContentType(msg)) {
			var n int
			n, rerr = readSome(body, buf)
			first, whole = buf[:n], rerr == io.EOF
		}
	}
	head, err := framedHead((&responseStreamOut{m: &internalsv1.InternalInvokeResponseStream{Response: msg}}).parts(), len(first))
	if err != nil {
		err = status.Errorf(codes.Internal, "encoding the response head: %v", err)
		writePeerError(w, err)
		return err
	}
	out := append(head, first...)
	h := w.Header()
	setPeerAnswerType(h, peerInvokeTypeValue)
	if whole {
		h["Content-Length"] = []string{strconv.Itoa(len(out))}
		_, err := w.Write(out)
		return err
	}
	if _, err := w.Write(out); err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return err
	}
	if rerr == nil {
		var werr error
		if rerr, werr = pump(w, rc, body, buf, true); werr != nil {
			return werr
		}
	}
	if rerr != nil {
		return peerAbort{status.Errorf(codes.Internal, "error reading app response: %v", rerr)}
	}
	return nil
}

// knownLength is the length of the app's answer when known up front: an
// in-memory body, or the Content-Length an HTTP app sent, except where
// that describes content the answer never carries (to HEAD; 1xx, 204 and
// 304, RFC 9110 section 8.6): there the body is read as it comes. gRPC
// status codes (0 to 16) are never taken for HTTP ones here.
func knownLength(msg *internalsv1.InternalInvokeResponse, body io.Reader, toHEAD bool) (int, bool) {
	if b, ok := body.(interface{ Len() int }); ok {
		return b.Len(), true
	}
	code := msg.GetStatus().GetCode()
	if toHEAD || (code >= 100 && code < 200) || code == http.StatusNoContent || code == http.StatusNotModified {
		return 0, false
	}
	for k, v := range msg.GetHeaders() {
		if strings.EqualFold(k, "Content-Length") && len(v.GetValues()) == 1 {
			n, err := strconv.Atoi(v.GetValues()[0])
			return n, err == nil && n >= 0
		}
	}
	return 0, false
}

// peerAbort is a failure after the head went out: there is no way to
// report it but to cut the connection, so the caller sees the answer
// short.
type peerAbort struct{ err error }

func (a peerAbort) Error() string { return a.err.Error() }
func (a peerAbort) Unwrap() error { return a.err }
